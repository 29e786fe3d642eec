package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/tcptrack/tcptrack/tracker"
)

// Test addresses: RFC 5737 and RFC 3849 documentation ranges.
var (
	v4src, v4dst = net.IP{192, 0, 2, 1}, net.IP{198, 51, 100, 2}
	v6src, v6dst = net.ParseIP("2001:db8::1"), net.ParseIP("2001:db8:0:1::2")
	testTime     = time.Date(2026, 11, 21, 8, 0, 0, 123456789, time.UTC)
	testPayload  = []byte("GET / HTTP/1.1\r\n\r\n")
)

// testTCP is a SYN carrying every option the decoder reads, with a sequence
// number just before the wrap.
func testTCP() *layers.TCP {
	return &layers.TCP{
		SrcPort: 40000, DstPort: 443,
		Seq: 0xfffffff0, Ack: 0x01020304,
		SYN: true, ACK: true, PSH: true,
		Window: 64240,
		Options: []layers.TCPOption{
			{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
			{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
			{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0, 7, 0, 0, 0, 9}},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
		},
	}
}

// wantSegment is what testTCP over the given addresses means, per RFC 9293
// and RFC 7323, written down independently of the decoder.
func wantSegment(src, dst net.IP, vlan uint16) tracker.Segment {
	a := func(ip net.IP) netip.Addr {
		if v4 := ip.To4(); v4 != nil {
			return netip.AddrFrom4([4]byte(v4))
		}
		return netip.AddrFrom16([16]byte(ip))
	}
	return tracker.Segment{
		UnixNano: testTime.UnixNano(), Src: a(src), Dst: a(dst),
		SrcPort: 40000, DstPort: 443, VLAN: vlan,
		Seq: 0xfffffff0, Ack: 0x01020304,
		Flags:      tracker.SYN | tracker.ACK | tracker.PSH,
		Window:     64240,
		PayloadLen: uint32(len(testPayload)),
		Options: tracker.Options{
			MSS: 1460, SACKPermitted: true, HasTimestamps: true, TSVal: 7, TSEcr: 9,
			WScale: 7, HasWScale: true,
		},
	}
}

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// ipv4Packet is an IPv4 datagram carrying testTCP and testPayload.
func ipv4Packet(t testing.TB, opts ...layers.IPv4Option) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: v4src, DstIP: v4dst, Options: opts}
	tcp := testTCP()
	tcp.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, tcp, gopacket.Payload(testPayload))
}

// ipv6Packet is an IPv6 datagram carrying testTCP behind the given
// extension headers (raw bytes, each starting with its next-header byte,
// chained by first).
func ipv6Packet(t testing.TB, first layers.IPProtocol, ext []byte) []byte {
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: v6src, DstIP: v6dst}
	tcp := testTCP()
	tcp.SetNetworkLayerForChecksum(ip)
	seg := serialize(t, tcp, gopacket.Payload(testPayload))
	if ext != nil {
		ip.NextHeader = first
	}
	return serialize(t, ip, gopacket.Payload(append(ext, seg...)))
}

func ether(t testing.TB, typ layers.EthernetType, tags []uint16, payload []byte) []byte {
	ls := []gopacket.SerializableLayer{&layers.Ethernet{
		SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: typ,
	}}
	for i, id := range tags {
		next := typ
		if i+1 < len(tags) {
			next = layers.EthernetTypeDot1Q
		}
		if i == 0 {
			outer := layers.EthernetTypeDot1Q
			if len(tags) > 1 {
				outer = layers.EthernetTypeQinQ
			}
			ls[0].(*layers.Ethernet).EthernetType = outer
		}
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: id, Type: next})
	}
	return serialize(t, append(ls, gopacket.Payload(payload))...)
}

// Linux cooked headers as in the kernel's and libpcap's sll.h.
func sll(proto uint16, payload []byte) []byte {
	h := make([]byte, 16, 16+len(payload))
	binary.BigEndian.PutUint16(h[2:], 1) // ARPHRD_ETHER
	binary.BigEndian.PutUint16(h[4:], 6)
	binary.BigEndian.PutUint16(h[14:], proto)
	return append(h, payload...)
}

func sll2(proto uint16, payload []byte) []byte {
	h := make([]byte, 20, 20+len(payload))
	binary.BigEndian.PutUint16(h[0:], proto)
	binary.BigEndian.PutUint32(h[4:], 2) // ifindex
	binary.BigEndian.PutUint16(h[8:], 1) // ARPHRD_ETHER
	h[11] = 6
	return append(h, payload...)
}

func null(order binary.AppendByteOrder, family uint32, payload []byte) []byte {
	h := order.AppendUint32(nil, family)
	return append(h, payload...)
}

// extHdr is a generic IPv6 extension header of n 8-octet units after the
// first (RFC 8200 4.3-4.6), zero-filled (Pad options).
func extHdr(next layers.IPProtocol, units int) []byte {
	h := make([]byte, 8*(units+1))
	h[0], h[1] = byte(next), byte(units)
	return h
}

func fragHdr(next layers.IPProtocol, offset uint16, more bool) []byte {
	h := make([]byte, 8)
	h[0] = byte(next)
	v := offset << 3
	if more {
		v |= 1
	}
	binary.BigEndian.PutUint16(h[2:], v)
	binary.BigEndian.PutUint32(h[4:], 0xabcd)
	return h
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func frame(link LinkType, data []byte) *Frame {
	return &Frame{Data: data, UnixNano: testTime.UnixNano(), CaptureLen: len(data), WireLen: len(data), LinkType: link, Number: 1}
}

func TestDecodeLinkTypes(t *testing.T) {
	v4 := ipv4Packet(t)
	v6 := ipv6Packet(t, 0, nil)
	v4opts := ipv4Packet(t,
		layers.IPv4Option{OptionType: 0x94, OptionLength: 4, OptionData: []byte{0, 0}},            // router alert, RFC 2113
		layers.IPv4Option{OptionType: 0x01, OptionLength: 1},                                      // no-op
		layers.IPv4Option{OptionType: 0x83, OptionLength: 7, OptionData: []byte{4, 192, 0, 2, 9}}, // loose source route
	)
	hbh := extHdr(layers.IPProtocolIPv6Routing, 0)
	routing := extHdr(layers.IPProtocolIPv6Destination, 2)
	dest := extHdr(layers.IPProtocolIPv6Fragment, 1)
	frag := fragHdr(layers.IPProtocolTCP, 0, false)
	v6ext := ipv6Packet(t, layers.IPProtocolIPv6HopByHop, cat(hbh, routing, dest, frag))
	ah := []byte{byte(layers.IPProtocolTCP), 4, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12} // RFC 4302: 6 words, len field 4
	v6ah := ipv6Packet(t, layers.IPProtocolAH, ah)

	tests := []struct {
		name string
		link LinkType
		data []byte
		want tracker.Segment
	}{
		{"ethernet/ipv4", LinkEthernet, ether(t, layers.EthernetTypeIPv4, nil, v4), wantSegment(v4src, v4dst, 0)},
		{"ethernet/ipv6", LinkEthernet, ether(t, layers.EthernetTypeIPv6, nil, v6), wantSegment(v6src, v6dst, 0)},
		{"ethernet/802.1q/ipv4", LinkEthernet, ether(t, layers.EthernetTypeIPv4, []uint16{100}, v4), wantSegment(v4src, v4dst, 100)},
		{"ethernet/qinq/ipv6 innermost vlan", LinkEthernet, ether(t, layers.EthernetTypeIPv6, []uint16{300, 42}, v6), wantSegment(v6src, v6dst, 42)},
		{"ethernet/ipv4 options", LinkEthernet, ether(t, layers.EthernetTypeIPv4, nil, v4opts), wantSegment(v4src, v4dst, 0)},
		{"ethernet/ipv6 hop-by-hop routing dstopts fragment", LinkEthernet, ether(t, layers.EthernetTypeIPv6, nil, v6ext), wantSegment(v6src, v6dst, 0)},
		{"ethernet/ipv6 authentication header", LinkEthernet, ether(t, layers.EthernetTypeIPv6, nil, v6ah), wantSegment(v6src, v6dst, 0)},
		{"sll/ipv4", LinkLinuxSLL, sll(0x0800, v4), wantSegment(v4src, v4dst, 0)},
		{"sll/ipv6", LinkLinuxSLL, sll(0x86dd, v6), wantSegment(v6src, v6dst, 0)},
		{"sll/802.1q/ipv4", LinkLinuxSLL, sll(0x8100, cat([]byte{0x20, 0x07, 0x08, 0x00}, v4)), wantSegment(v4src, v4dst, 7)},
		{"sll2/ipv4", LinkLinuxSLL2, sll2(0x0800, v4), wantSegment(v4src, v4dst, 0)},
		{"sll2/ipv6", LinkLinuxSLL2, sll2(0x86dd, v6), wantSegment(v6src, v6dst, 0)},
		{"raw/ipv4", LinkRaw, v4, wantSegment(v4src, v4dst, 0)},
		{"raw/ipv6", LinkRaw, v6, wantSegment(v6src, v6dst, 0)},
		{"dlt12 raw/ipv4", LinkRawDLT12, v4, wantSegment(v4src, v4dst, 0)},
		{"dlt14 raw/ipv6", LinkRawDLT14, v6, wantSegment(v6src, v6dst, 0)},
		{"ipv4 link type", LinkIPv4, v4, wantSegment(v4src, v4dst, 0)},
		{"ipv6 link type", LinkIPv6, v6, wantSegment(v6src, v6dst, 0)},
		{"null little-endian/ipv4", LinkNull, null(binary.LittleEndian, 2, v4), wantSegment(v4src, v4dst, 0)},
		{"null big-endian/ipv4", LinkNull, null(binary.BigEndian, 2, v4), wantSegment(v4src, v4dst, 0)},
		{"null linux AF_INET6", LinkNull, null(binary.LittleEndian, 10, v6), wantSegment(v6src, v6dst, 0)},
		{"null freebsd AF_INET6", LinkNull, null(binary.LittleEndian, 28, v6), wantSegment(v6src, v6dst, 0)},
		{"null macos AF_INET6 big-endian", LinkNull, null(binary.BigEndian, 30, v6), wantSegment(v6src, v6dst, 0)},
		{"null netbsd AF_INET6", LinkNull, null(binary.LittleEndian, 24, v6), wantSegment(v6src, v6dst, 0)},
		{"loop/ipv4", LinkLoop, null(binary.BigEndian, 2, v4), wantSegment(v4src, v4dst, 0)},
		{"loop/ipv6", LinkLoop, null(binary.BigEndian, 24, v6), wantSegment(v6src, v6dst, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder()
			d.VerifyChecksums = true // every frame here is built with a correct checksum
			var got tracker.Segment
			if err := d.Decode(frame(tt.link, tt.data), &got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if !got.Src.Is4() && tt.want.Src.Is4() {
				t.Errorf("IPv4 source %v is not a plain 4-byte address", got.Src)
			}
			if s := d.Stats(); s.Segments != 1 || s.Frames != 1 {
				t.Errorf("stats %+v, want 1 frame, 1 segment", s)
			}
		})
	}
}

// mutate returns a copy of b changed by fn.
func mutate(b []byte, fn func(b []byte) []byte) []byte {
	return fn(append([]byte(nil), b...))
}

func TestDecodeSkipped(t *testing.T) {
	v4 := ipv4Packet(t)
	v6 := ipv6Packet(t, 0, nil)
	eth4 := ether(t, layers.EthernetTypeIPv4, nil, v4)
	const l2, tcp4 = 14, 14 + 20 // offsets in eth4 of the IPv4 and TCP headers
	udp := func() []byte {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: v4src, DstIP: v4dst}
		u := &layers.UDP{SrcPort: 53, DstPort: 53}
		u.SetNetworkLayerForChecksum(ip)
		return serialize(t, ip, u, gopacket.Payload("x"))
	}()
	tests := []struct {
		name  string
		frame *Frame
		want  Reason
	}{
		{"zero-length frame", frame(LinkEthernet, nil), ReasonZeroLength},
		{"unsupported link type (802.11)", frame(105, eth4), ReasonUnsupportedLink},
		{"arp", frame(LinkEthernet, ether(t, layers.EthernetTypeARP, nil, make([]byte, 28))), ReasonNotIP},
		{"802.3 llc length field", frame(LinkEthernet, mutate(eth4, func(b []byte) []byte { b[12], b[13] = 0, 46; return b })), ReasonNotIP},
		{"null unknown family", frame(LinkNull, null(binary.LittleEndian, 7, v4)), ReasonNotIP},
		{"raw version 5", frame(LinkRaw, mutate(v4, func(b []byte) []byte { b[0] = 0x55; return b })), ReasonNotIP},
		{"udp", frame(LinkRaw, udp), ReasonNotTCP},
		{"ipv6 no next header", frame(LinkRaw, mutate(v6, func(b []byte) []byte { b[6] = 59; return b })), ReasonNotTCP},
		{"ipv6 esp", frame(LinkRaw, mutate(v6, func(b []byte) []byte { b[6] = 50; return b })), ReasonNotTCP},
		{"ethernet header cut", frame(LinkEthernet, eth4[:10]), ReasonTruncated},
		{"vlan tag cut", frame(LinkEthernet, ether(t, layers.EthernetTypeIPv4, []uint16{5}, v4)[:16]), ReasonTruncated},
		{"snaplen inside the ipv4 header", &Frame{Data: eth4[:l2+12], CaptureLen: l2 + 12, WireLen: len(eth4), LinkType: LinkEthernet}, ReasonTruncated},
		{"snaplen inside the ipv6 header", &Frame{Data: v6[:30], CaptureLen: 30, WireLen: len(v6), LinkType: LinkRaw}, ReasonTruncated},
		{"snaplen inside the fixed tcp header", &Frame{Data: eth4[:tcp4+12], CaptureLen: tcp4 + 12, WireLen: len(eth4), LinkType: LinkEthernet}, ReasonTruncated},
		{"ethertype ipv4, version 6", frame(LinkEthernet, ether(t, layers.EthernetTypeIPv4, nil, v6)), ReasonIPVersion},
		{"ethertype ipv6, version 4", frame(LinkEthernet, ether(t, layers.EthernetTypeIPv6, nil, mutate(v4, func(b []byte) []byte { return append(b, make([]byte, 40)...) }))), ReasonIPVersion},
		{"ipv4 ihl 4", frame(LinkRaw, mutate(v4, func(b []byte) []byte { b[0] = 0x44; return b })), ReasonIPv4HeaderLength},
		{"ipv4 total length beyond the frame", frame(LinkRaw, mutate(v4, func(b []byte) []byte { binary.BigEndian.PutUint16(b[2:], uint16(len(b)+1)); return b })), ReasonIPLength},
		{"ipv4 total length shorter than the headers", frame(LinkRaw, mutate(v4, func(b []byte) []byte { binary.BigEndian.PutUint16(b[2:], 39); return b })), ReasonIPLength},
		{"ipv6 payload length beyond the frame", frame(LinkRaw, mutate(v6, func(b []byte) []byte { binary.BigEndian.PutUint16(b[4:], uint16(len(b))); return b })), ReasonIPLength},
		{"ipv6 payload shorter than a tcp header", frame(LinkRaw, mutate(v6, func(b []byte) []byte { binary.BigEndian.PutUint16(b[4:], 19); return b })), ReasonIPLength},
		{"ipv6 extension header past the payload", frame(LinkRaw, ipv6Packet(t, layers.IPProtocolIPv6Destination, mutate(extHdr(layers.IPProtocolTCP, 0), func(b []byte) []byte { b[1] = 200; return b }))), ReasonIPv6ExtHeaders},
		{"ipv6 hop-by-hop not first", frame(LinkRaw, ipv6Packet(t, layers.IPProtocolIPv6Destination, cat(extHdr(layers.IPProtocolIPv6HopByHop, 0), extHdr(layers.IPProtocolTCP, 0)))), ReasonIPv6ExtHeaders},
		{"ipv6 extension chain past the payload", frame(LinkRaw, ipv6Packet(t, layers.IPProtocolIPv6Destination, cat(
			extHdr(60, 0), extHdr(60, 0), extHdr(60, 0), mutate(extHdr(layers.IPProtocolTCP, 0), func(b []byte) []byte { b[1] = 10; return b })))), ReasonIPv6ExtHeaders},
		{"ipv6 extension header cut by snaplen", &Frame{Data: ipv6Packet(t, layers.IPProtocolIPv6Destination, extHdr(layers.IPProtocolTCP, 3))[:52], CaptureLen: 52, WireLen: 40 + 32 + 20 + 20 + len(testPayload), LinkType: LinkRaw}, ReasonTruncated},
		{"tcp data offset 4", frame(LinkEthernet, mutate(eth4, func(b []byte) []byte { b[tcp4+12] = 4 << 4; return b })), ReasonTCPDataOffset},
		{"tcp data offset past the segment", frame(LinkRaw, mutate(v4, func(b []byte) []byte {
			b[20+12] = 15 << 4
			binary.BigEndian.PutUint16(b[2:], 20+40)
			return b[:20+40] // a 40-byte segment whose header claims 60
		})), ReasonTCPDataOffset},
		{"tcp option length 1", frame(LinkEthernet, mutate(eth4, func(b []byte) []byte { b[tcp4+20+1] = 1; return b })), ReasonTCPOptions},
		{"tcp option past the header", frame(LinkEthernet, mutate(eth4, func(b []byte) []byte { b[tcp4+20+1] = 30; return b })), ReasonTCPOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder()
			var seg tracker.Segment
			err := d.Decode(tt.frame, &seg)
			var re *ReasonError
			if !errors.As(err, &re) || re.Reason != tt.want {
				t.Fatalf("Decode error %v, want reason %v", err, tt.want)
			}
			sentinel := ErrNotTCP
			if tt.want.Malformed() {
				sentinel = ErrMalformed
			}
			if !errors.Is(err, sentinel) {
				t.Errorf("errors.Is(%v, %v) is false", err, sentinel)
			}
			s := d.Stats()
			for r, n := range s.Skipped {
				if want := uint64(0); Reason(r) == tt.want && n != 1 || Reason(r) != tt.want && n != want {
					t.Errorf("count for %v = %d", Reason(r), n)
				}
			}
			if s.Segments != 0 || s.Frames != 1 {
				t.Errorf("stats %+v, want 1 frame and no segment", s)
			}
		})
	}
}

// TestDecodeOddButValid covers frames that look wrong but are what real
// capture points record, and flag combinations the tracker, not the
// decoder, must judge.
func TestDecodeOddButValid(t *testing.T) {
	v4 := ipv4Packet(t)
	eth4 := ether(t, layers.EthernetTypeIPv4, nil, v4)
	const tcp4 = 14 + 20
	withFlags := func(flags byte) []byte {
		return mutate(eth4, func(b []byte) []byte { b[tcp4+13] = flags; return b })
	}
	base := wantSegment(v4src, v4dst, 0)
	tests := []struct {
		name  string
		frame *Frame
		check func(t *testing.T, s tracker.Segment)
	}{
		{"syn+fin", frame(LinkEthernet, withFlags(0x03)), func(t *testing.T, s tracker.Segment) {
			if s.Flags != tracker.SYN|tracker.FIN {
				t.Errorf("flags %v", s.Flags)
			}
		}},
		{"syn+rst", frame(LinkEthernet, withFlags(0x06)), func(t *testing.T, s tracker.Segment) {
			if s.Flags != tracker.SYN|tracker.RST {
				t.Errorf("flags %v", s.Flags)
			}
		}},
		{"all flags", frame(LinkEthernet, withFlags(0xff)), func(t *testing.T, s tracker.Segment) {
			if s.Flags != tracker.FIN|tracker.SYN|tracker.RST|tracker.PSH|tracker.ACK|tracker.URG|tracker.ECE|tracker.CWR {
				t.Errorf("flags %v", s.Flags)
			}
		}},
		{"snaplen cuts the payload", &Frame{Data: eth4[:tcp4+40+2], CaptureLen: tcp4 + 42, WireLen: len(eth4), LinkType: LinkEthernet}, func(t *testing.T, s tracker.Segment) {
			if s.PayloadLen != uint32(len(testPayload)) || s.Options != base.Options {
				t.Errorf("payload %d options %+v, want %d and all options", s.PayloadLen, s.Options, len(testPayload))
			}
		}},
		{"snaplen cuts the options", &Frame{Data: eth4[:tcp4+20+8], CaptureLen: tcp4 + 28, WireLen: len(eth4), LinkType: LinkEthernet}, func(t *testing.T, s tracker.Segment) {
			// MSS (4 bytes) and SACK-permitted (2) are whole; the
			// timestamps option starts at byte 6 and is cut.
			want := tracker.Options{MSS: 1460, SACKPermitted: true}
			if s.Options != want || s.PayloadLen != uint32(len(testPayload)) {
				t.Errorf("options %+v payload %d, want %+v and %d", s.Options, s.PayloadLen, want, len(testPayload))
			}
		}},
		{"options in another order", frame(LinkEthernet, mutate(eth4, func(b []byte) []byte {
			// NOP and window scale first: the same options, which
			// parseOptions walks instead of Decode reading them at
			// their places in the order Linux writes.
			opts := b[tcp4+20 : tcp4+40]
			copy(opts, append(bytes.Clone(opts[16:]), opts[:16]...))
			return b
		})), func(t *testing.T, s tracker.Segment) {
			if s.Options != base.Options {
				t.Errorf("options %+v, want %+v", s.Options, base.Options)
			}
		}},
		{"ethernet padding and fcs", frame(LinkEthernet, append(append([]byte(nil), eth4...), make([]byte, 10)...)), func(t *testing.T, s tracker.Segment) {
			if s.PayloadLen != uint32(len(testPayload)) {
				t.Errorf("payload %d, want %d: trailer bytes are not payload", s.PayloadLen, len(testPayload))
			}
		}},
		{"ipv4 total length 0 (segmentation offload)", frame(LinkEthernet, mutate(eth4, func(b []byte) []byte { b[14+2], b[14+3] = 0, 0; return b })), func(t *testing.T, s tracker.Segment) {
			if s.PayloadLen != uint32(len(testPayload)) {
				t.Errorf("payload %d, want %d", s.PayloadLen, len(testPayload))
			}
		}},
		{"source and destination port 0", frame(LinkEthernet, mutate(eth4, func(b []byte) []byte { copy(b[tcp4:], []byte{0, 0, 0, 0}); return b })), func(t *testing.T, s tracker.Segment) {
			// Linux completes handshakes from and to port 0.
			if s.SrcPort != 0 || s.DstPort != 0 || s.Seq != base.Seq {
				t.Errorf("not decoded with ports 0: %+v", s)
			}
		}},
		{"ipv6 ten destination options headers", frame(LinkRaw, ipv6Packet(t, layers.IPProtocolIPv6Destination, cat(
			extHdr(60, 0), extHdr(60, 1), extHdr(60, 0), extHdr(60, 0), extHdr(60, 0),
			extHdr(60, 0), extHdr(60, 0), extHdr(60, 2), extHdr(60, 0), extHdr(layers.IPProtocolTCP, 0)))), func(t *testing.T, s tracker.Segment) {
			// Linux accepts any number of extension headers; this
			// chain completes a handshake with a Linux socket.
			if s != wantSegment(v6src, v6dst, 0) {
				t.Errorf("got %+v", s)
			}
		}},
		{"bad checksum, not verified", frame(LinkEthernet, mutate(eth4, func(b []byte) []byte { b[tcp4+16] ^= 0xff; return b })), func(t *testing.T, s tracker.Segment) {
			if s.SrcPort != 40000 {
				t.Errorf("not decoded: %+v", s)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var seg tracker.Segment
			if err := NewDecoder().Decode(tt.frame, &seg); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			tt.check(t, seg)
		})
	}
}

func TestDecodeVerifyChecksums(t *testing.T) {
	eth4 := ether(t, layers.EthernetTypeIPv4, nil, ipv4Packet(t))
	eth6 := ether(t, layers.EthernetTypeIPv6, nil, ipv6Packet(t, 0, nil))
	tests := []struct {
		name string
		data []byte
		want error // nil: decoded
	}{
		{"ipv4 good", eth4, nil},
		{"ipv6 good", eth6, nil},
		{"ipv4 checksum field flipped", mutate(eth4, func(b []byte) []byte { b[14+20+16] ^= 1; return b }), ErrMalformed},
		{"ipv6 payload byte flipped", mutate(eth6, func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder()
			d.VerifyChecksums = true
			var seg tracker.Segment
			err := d.Decode(frame(LinkEthernet, tt.data), &seg)
			if !errors.Is(err, tt.want) && err != tt.want {
				t.Fatalf("Decode: %v, want %v", err, tt.want)
			}
			if n := d.Stats().Skipped[ReasonChecksum]; tt.want != nil && n != 1 {
				t.Errorf("checksum count %d, want 1", n)
			}
		})
	}
}

func TestReasonNames(t *testing.T) {
	seen := map[string]bool{}
	var s Stats
	s.Skipped[ReasonTCPOptions] = 3
	n := 0
	s.Each(func(name string, malformed bool, c uint64) {
		if seen[name] || name == "" || name == "unknown" {
			t.Errorf("reason name %q empty or repeated", name)
		}
		seen[name] = true
		if (name == "tcp_options") != (c == 3) || (name == "not_tcp" && malformed) || (name == "truncated" && !malformed) {
			t.Errorf("reason %q: malformed %v count %d", name, malformed, c)
		}
		n++
	})
	if n != int(NumReasons) {
		t.Errorf("Each visited %d reasons, want %d", n, NumReasons)
	}
}

// benchFrames are an established flow's data segment on the link types seen
// most.
func benchFrames(t testing.TB) []*Frame {
	return []*Frame{
		frame(LinkEthernet, ether(t, layers.EthernetTypeIPv4, nil, ipv4Packet(t))),
		frame(LinkEthernet, ether(t, layers.EthernetTypeIPv6, []uint16{10}, ipv6Packet(t, 0, nil))),
		frame(LinkLinuxSLL2, sll2(0x0800, ipv4Packet(t))),
	}
}

func TestDecodeAllocations(t *testing.T) {
	frames := benchFrames(t)
	// Malformed frames must not allocate either: a flood of them is the
	// hostile case.
	frames = append(frames, frame(LinkRaw, []byte{0x45, 0, 0}), frame(LinkEthernet, nil))
	for _, c := range tunnelCases(t) {
		frames = append(frames, frame(c.link, c.data))
	}
	d := NewDecoder()
	d.VerifyChecksums = true
	var seg tracker.Segment
	for _, f := range frames {
		if n := testing.AllocsPerRun(1000, func() { d.Decode(f, &seg) }); n != 0 {
			t.Errorf("%v frame: %v allocations per Decode, want 0", f.LinkType, n)
		}
	}
}

// asCooked returns an Ethernet frame as a Linux cooked v1 capture of the
// same bytes after the link header, which only the walk reads.
func asCooked(fr *Frame) *Frame {
	c := *fr
	c.Data = sll(binary.BigEndian.Uint16(fr.Data[12:]), fr.Data[14:])
	c.CaptureLen, c.WireLen, c.LinkType = len(c.Data), fr.WireLen+2, LinkLinuxSLL
	return &c
}

// sameAsWalk fails the test unless Decode, which may read an Ethernet frame
// on its fast path, says of it what the walk says of the same bytes.
func sameAsWalk(t testing.TB, fr *Frame) {
	t.Helper()
	var fast, walked tracker.Segment
	err := NewDecoder().Decode(fr, &fast)
	if err2 := NewDecoder().Decode(asCooked(fr), &walked); err != err2 || err == nil && fast != walked {
		t.Fatalf("frame % x (wire %d): Decode says %v %+v, the walk %v %+v", fr.Data, fr.WireLen, err, fast, err2, walked)
	}
}

// TestPlainFrameAsWalk holds the fast path of Decode to the walk on the
// frames it takes and on their near misses: every byte of the link, IP and
// fixed TCP headers changed, and every snaplen, on a frame cut by the
// snaplen or that short on the wire.
func TestPlainFrameAsWalk(t *testing.T) {
	v4, v6 := ipv4Packet(t), ipv6Packet(t, 0, nil)
	for _, base := range [][]byte{
		ether(t, layers.EthernetTypeIPv4, nil, v4),
		ether(t, layers.EthernetTypeIPv6, nil, v6),
		ether(t, layers.EthernetTypeIPv4, []uint16{10}, v4),
		ether(t, layers.EthernetTypeIPv6, []uint16{10}, v6),
	} {
		var seg tracker.Segment
		if err := NewDecoder().Decode(frame(LinkEthernet, base), &seg); err != nil {
			t.Fatalf("frame % x: %v", base, err)
		}
		for i := range min(len(base), 18+40+20) {
			for _, v := range []byte{0, 1, 4, 6, 0x11, 0x28, 0x45, 0x46, 0x60, 0x81, 0x86, 0xdd, 0xff, base[i] + 1, base[i] - 1, base[i] ^ 0x20} {
				b := bytes.Clone(base)
				b[i] = v
				sameAsWalk(t, frame(LinkEthernet, b))
			}
		}
		for n := 14; n <= len(base); n++ {
			sameAsWalk(t, &Frame{Data: base[:n], CaptureLen: n, WireLen: len(base), LinkType: LinkEthernet})
			sameAsWalk(t, frame(LinkEthernet, base[:n]))
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	f := benchFrames(b)[0]
	d := NewDecoder()
	var seg tracker.Segment
	b.ReportAllocs()
	b.SetBytes(int64(len(f.Data)))
	for b.Loop() {
		if err := d.Decode(f, &seg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGopacketParser decodes the same frame with gopacket's
// DecodingLayerParser, the alternative the decoder was measured against.
func BenchmarkGopacketParser(b *testing.B) {
	f := benchFrames(b)[0]
	var (
		eth     layers.Ethernet
		ip4     layers.IPv4
		ip6     layers.IPv6
		tcp     layers.TCP
		payload gopacket.Payload
	)
	p := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip4, &ip6, &tcp, &payload)
	p.IgnoreUnsupported = true
	decoded := make([]gopacket.LayerType, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		if err := p.DecodeLayers(f.Data, &decoded); err != nil {
			b.Fatal(err)
		}
	}
}
