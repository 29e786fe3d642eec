package decode

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/google/gopacket/layers"
	"github.com/tcptrack/tcptrack/tracker"
)

// piece is one fragment to cut from a datagram's payload: [from, to) of
// it, and whether more fragments follow (set when to is short of the end).
type piece struct{ from, to int }

// fragments4 cuts an IPv4 datagram (20-byte header) into fragments of
// identification id, one per piece, in the order given. to == -1 means the
// payload's end.
func fragments4(pkt []byte, id uint16, ps ...piece) [][]byte {
	payload := pkt[20:]
	var out [][]byte
	for _, p := range ps {
		to := p.to
		if to < 0 {
			to = len(payload)
		}
		f := cat(pkt[:20], payload[p.from:to])
		binary.BigEndian.PutUint16(f[2:], uint16(len(f)))
		binary.BigEndian.PutUint16(f[4:], id)
		v := uint16(p.from / 8)
		if to < len(payload) {
			v |= ipv4MoreFragments
		}
		binary.BigEndian.PutUint16(f[6:], v)
		binary.BigEndian.PutUint16(f[10:], 0)
		binary.BigEndian.PutUint16(f[10:], ipv4HeaderChecksum(f[:20]))
		out = append(out, f)
	}
	return out
}

// ipv4HeaderChecksum is RFC 791's header checksum: the kernel drops a
// fragment without it.
func ipv4HeaderChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// fragments6 cuts an IPv6 datagram without extension headers into
// fragments, putting a fragment header of identification id after the
// IPv6 header of each.
func fragments6(pkt []byte, id uint32, ps ...piece) [][]byte {
	payload := pkt[40:]
	var out [][]byte
	for _, p := range ps {
		to := p.to
		if to < 0 {
			to = len(payload)
		}
		fh := fragHdr(layers.IPProtocol(pkt[6]), uint16(p.from/8), to < len(payload))
		binary.BigEndian.PutUint32(fh[4:], id)
		f := cat(pkt[:40], fh, payload[p.from:to])
		f[6] = byte(layers.IPProtocolIPv6Fragment)
		binary.BigEndian.PutUint16(f[4:], uint16(len(f)-40))
		out = append(out, f)
	}
	return out
}

// rstPacket is an IPv4 RST+ACK carrying no options and no data.
func rstPacket(t testing.TB) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: v4src, DstIP: v4dst}
	tcp := &layers.TCP{SrcPort: 40000, DstPort: 443, Seq: 0xfffffff0, Ack: 0x01020304, RST: true, ACK: true, Window: 64240}
	tcp.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, tcp)
}

// lastOf clears the more-fragments flag of an IPv4 fragment.
func lastOf(b []byte) []byte { return mutate(b, func(b []byte) []byte { b[6] &^= 0x20; return b }) }

// decodeFrames decodes the frames, a millisecond apart, and returns the
// segments and the reasons of the frames that gave none.
func decodeFrames(t *testing.T, d *Decoder, frames [][]byte) ([]tracker.Segment, []Reason) {
	t.Helper()
	var segs []tracker.Segment
	var reasons []Reason
	for i, b := range frames {
		f := frame(LinkRaw, b)
		f.UnixNano += int64(i) * int64(time.Millisecond)
		var seg tracker.Segment
		err := d.Decode(f, &seg)
		var re *ReasonError
		switch {
		case err == nil:
			segs = append(segs, seg)
		case errors.As(err, &re):
			reasons = append(reasons, re.Reason)
		default:
			t.Fatalf("frame %d: %v", i, err)
		}
	}
	return segs, reasons
}

func TestReassembly(t *testing.T) {
	v4, v6 := ipv4Packet(t), ipv6Packet(t, 0, nil)
	rst := rstPacket(t)
	gre := outer4(t, layers.IPProtocolGRE, greWith(0, 0x0800, nil, v4))
	want4, want6 := wantSegment(v4src, v4dst, 0), wantSegment(v6src, v6dst, 0)
	want4.UnixNano += int64(time.Millisecond)
	want6.UnixNano += int64(time.Millisecond)
	wantRST := want4
	wantRST.Flags, wantRST.Options, wantRST.PayloadLen, wantRST.Window = tracker.RST|tracker.ACK, tracker.Options{}, 0, 64240
	tests := []struct {
		name    string
		frames  [][]byte
		want    *tracker.Segment // the one segment, from the last frame; nil for none
		reasons []Reason         // of the frames without a segment, in order
		held    uint64           // fragments held at the end
	}{
		// The TCP header (20 bytes and 40 of options) cut after 24.
		{"ipv4 tcp header split", fragments4(v4, 1, piece{0, 24}, piece{24, -1}), &want4, []Reason{ReasonFragment}, 0},
		{"ipv6 tcp header split", fragments6(v6, 1, piece{0, 24}, piece{24, -1}), &want6, []Reason{ReasonFragment}, 0},
		{"ipv4 in reverse order", fragments4(v4, 1, piece{48, -1}, piece{24, 48}, piece{0, 24}), &tracker.Segment{}, []Reason{ReasonFragment, ReasonFragment}, 0},
		{"ipv6 out of order", fragments6(v6, 1, piece{24, 48}, piece{0, 24}, piece{48, -1}), &tracker.Segment{}, []Reason{ReasonFragment, ReasonFragment}, 0},
		// An RST whose flags come in the second fragment, after the
		// ports and sequence number.
		{"ipv4 rst split after 8 bytes", fragments4(rst, 2, piece{0, 8}, piece{8, -1}), &wantRST, []Reason{ReasonFragment}, 0},
		{"ipv4 gre datagram split", fragments4(gre, 3, piece{0, 16}, piece{16, -1}), &tracker.Segment{}, []Reason{ReasonFragment}, 0},
		{"duplicate kept apart", fragments4(v4, 1, piece{0, 24}, piece{0, 24}, piece{24, -1}), &tracker.Segment{}, []Reason{ReasonFragment, ReasonFragmentDuplicate}, 0},
		{"ipv4 overlap drops the datagram", fragments4(v4, 1, piece{0, 24}, piece{16, -1}), nil, []Reason{ReasonFragment, ReasonFragmentOverlap}, 0},
		{"ipv6 overlap drops the datagram", fragments6(v6, 1, piece{0, 24}, piece{16, 48}, piece{48, -1}), nil, []Reason{ReasonFragment, ReasonFragmentOverlap, ReasonFragment}, 1},
		// Linux's runs: 0-8 and 16-24 apart, then 8-16 on its own run;
		// 0-16 spans two runs and is an overlap, not a duplicate.
		{"ipv4 duplicate across runs is an overlap", fragments4(v4, 1, piece{0, 8}, piece{16, 24}, piece{8, 16}, piece{0, 16}), nil,
			[]Reason{ReasonFragment, ReasonFragment, ReasonFragment, ReasonFragmentOverlap}, 0},
		{"after an overlap the identification starts afresh", append(fragments4(v4, 1, piece{0, 24}, piece{16, -1}), fragments4(v4, 1, piece{0, 24}, piece{24, -1})...), &tracker.Segment{},
			[]Reason{ReasonFragment, ReasonFragmentOverlap, ReasonFragment}, 0},
		{"two different last fragments", append(fragments4(v4, 1, piece{24, -1}), lastOf(fragments4(v4, 1, piece{24, 48})[0])), nil, []Reason{ReasonFragment, ReasonFragmentLength}, 0},
		{"a last fragment before bytes held", append(fragments4(v4, 1, piece{24, -1}), lastOf(fragments4(v4, 1, piece{8, 16})[0])), nil, []Reason{ReasonFragment, ReasonFragmentLength}, 0},
		{"a fragment inside the last one's run is a duplicate", fragments4(v4, 1, piece{24, -1}, piece{24, 48}), nil, []Reason{ReasonFragment, ReasonFragmentDuplicate}, 1},
		// RFC 7112: Linux drops an IPv6 first fragment that holds part
		// of a TCP header, and keeps the rest waiting.
		{"ipv6 first fragment with half a tcp header", fragments6(v6, 1, piece{0, 16}, piece{16, -1}), nil, []Reason{ReasonFragmentLength, ReasonFragment}, 1},
		{"ipv6 fragment not a multiple of 8", fragments6(v6, 1, piece{0, 28}), nil, []Reason{ReasonFragmentLength}, 0},
		{"different identifications", cat2(fragments4(v4, 1, piece{0, 24}), fragments4(v4, 2, piece{24, -1})), nil, []Reason{ReasonFragment, ReasonFragment}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder()
			d.VerifyChecksums = true
			segs, reasons := decodeFrames(t, d, tt.frames)
			if tt.want == nil && len(segs) != 0 || tt.want != nil && len(segs) != 1 {
				t.Fatalf("%d segments %+v, want %v", len(segs), segs, tt.want != nil)
			}
			if tt.want != nil && *tt.want != (tracker.Segment{}) && segs[0] != *tt.want {
				t.Errorf("segment\n%+v, want\n%+v", segs[0], *tt.want)
			}
			if tt.want != nil && segs[0].SrcPort != 40000 {
				t.Errorf("segment %+v not the test's", segs[0])
			}
			if !equalReasons(reasons, tt.reasons) {
				t.Errorf("reasons %v, want %v", reasons, tt.reasons)
			}
			s := d.Stats()
			accounted(t, s, uint64(len(tt.frames)))
			if s.Held != tt.held {
				t.Errorf("held %d, want %d", s.Held, tt.held)
			}
			if tt.want != nil && s.Reassembled != 1 {
				t.Errorf("reassembled %d, want 1", s.Reassembled)
			}
		})
	}
}

func cat2(a, b [][]byte) [][]byte { return append(append([][]byte(nil), a...), b...) }

// equalReasons compares the reasons after counting: a fragment held is
// reported as ReasonFragment when it comes.
func equalReasons(a, b []Reason) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestReassemblySnaplen holds fragments cut by the snaplen, as live
// capture's default of 320 bytes cuts them: the headers come through and
// the payload length is the datagram's.
func TestReassemblySnaplen(t *testing.T) {
	v4 := ipv4Packet(t)
	big := mutate(v4, func(b []byte) []byte {
		b = append(b, make([]byte, 2000)...)
		binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
		return b
	})
	d := NewDecoder()
	d.VerifyChecksums = true // cut: not verifiable, so not checked
	var seg tracker.Segment
	for i, b := range fragments4(big, 9, piece{0, 1480}, piece{1480, -1}) {
		f := &Frame{Data: b[:min(len(b), 100)], CaptureLen: min(len(b), 100), WireLen: len(b), LinkType: LinkRaw, UnixNano: testTime.UnixNano()}
		err := d.Decode(f, &seg)
		if i == 0 && !errors.Is(err, ErrNotTCP) || i == 1 && err != nil {
			t.Fatalf("fragment %d: %v", i, err)
		}
	}
	if want := uint32(len(testPayload) + 2000); seg.PayloadLen != want || seg.DstPort != 443 {
		t.Errorf("segment %+v, want payload %d", seg, want)
	}
}

// TestReassemblyTimeout drops a datagram whose last fragment came more
// than 30 seconds after its first, on the capture clock.
func TestReassemblyTimeout(t *testing.T) {
	fs := fragments4(ipv4Packet(t), 1, piece{0, 24}, piece{24, -1})
	d := NewDecoder()
	var seg tracker.Segment
	d.Decode(frame(LinkRaw, fs[0]), &seg)
	late := frame(LinkRaw, fs[1])
	late.UnixNano += int64(30*time.Second) + 1
	if err := d.Decode(late, &seg); !errors.Is(err, ErrNotTCP) {
		t.Fatalf("late fragment: %v, want it held", err)
	}
	s := d.Stats()
	if s.Skipped[ReasonFragmentTimeout] != 1 || s.Held != 1 || s.Reassembled != 0 {
		t.Errorf("stats %+v: want the first fragment timed out, the second held", s)
	}
	accounted(t, s, 2)
}

// TestReassemblyBound fills the store past its bound with first fragments
// never completed: the oldest are evicted, the newest still complete.
func TestReassemblyBound(t *testing.T) {
	v4 := ipv4Packet(t)
	d := NewDecoder()
	var seg tracker.Segment
	const n = maxDatagrams + 100
	for id := range n {
		d.Decode(frame(LinkRaw, fragments4(v4, uint16(id), piece{0, 24})[0]), &seg)
	}
	s := d.Stats()
	if s.Held != maxDatagrams || s.Skipped[ReasonFragmentEvicted] != 100 {
		t.Fatalf("stats %+v: want %d held, 100 evicted", s, maxDatagrams)
	}
	if err := d.Decode(frame(LinkRaw, fragments4(v4, 0, piece{24, -1})[0]), &seg); !errors.Is(err, ErrNotTCP) {
		t.Errorf("the oldest datagram's last fragment: %v, want held (its datagram was evicted)", err)
	}
	if err := d.Decode(frame(LinkRaw, fragments4(v4, n-1, piece{24, -1})[0]), &seg); err != nil {
		t.Errorf("the newest datagram's last fragment: %v", err)
	}
	accounted(t, d.Stats(), n+2)
}

// TestReassemblyIndex adds and removes datagrams in every order the
// backward-shift deletion must handle, checking each lookup.
func TestReassemblyIndex(t *testing.T) {
	var st Stats
	r := newReassembler(&st)
	live := map[uint32]int32{}
	key := func(id uint32) fragKey { return fragKey{id: id} }
	for step := range 20000 {
		id := uint32(step*7919) % 3000
		k := key(id)
		h := r.hash(&k)
		if i, ok := live[id]; ok {
			if got := r.lookup(&k, h); got != i {
				t.Fatalf("step %d: lookup %d = %d, want %d", step, id, got, i)
			}
			r.release(i)
			delete(live, id)
		} else {
			if got := r.lookup(&k, h); got != -1 {
				t.Fatalf("step %d: lookup of absent %d = %d", step, id, got)
			}
			if r.free < 0 {
				continue
			}
			live[id] = r.create(0, &k, h)
		}
	}
	for id, i := range live {
		k := key(id)
		if got := r.lookup(&k, r.hash(&k)); got != i {
			t.Fatalf("lookup %d = %d, want %d", id, got, i)
		}
	}
}

// TestReassemblyZeroAllocs holds, completes and drops datagrams without
// allocating, once the store exists.
func TestReassemblyZeroAllocs(t *testing.T) {
	v4, v6 := ipv4Packet(t), ipv6Packet(t, 0, nil)
	frames := cat2(fragments4(v4, 1, piece{0, 24}, piece{24, -1}), fragments6(v6, 1, piece{24, -1}, piece{0, 24}))
	frames = cat2(frames, fragments4(v4, 2, piece{0, 24}, piece{16, -1}))
	d := NewDecoder()
	var seg tracker.Segment
	decodeFrames(t, d, frames)
	if n := testing.AllocsPerRun(100, func() {
		for _, b := range frames {
			d.Decode(frame(LinkRaw, b), &seg)
		}
	}); n != 0 {
		t.Errorf("%v allocations per round of fragments, want 0", n)
	}
}
