package pcaps_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/netlab"
	"github.com/tcptrack/tcptrack/tracker"
)

// The spoofing tests: crafted segments injected next to real Linux sockets
// (netlab.Injector), the kernel's ss taken at the end, and the tracker's
// listing of the same capture held to it. Each test also checks that the
// kernel did what the case is about (expectKernel), so that a lab that
// failed to inject cannot pass by accident, and logs how the kernel
// answered. pcaps/README.md sums up what the kernel does.

// mssWscale are the TCP options of an injected SYN: MSS 1460, NOP, window
// scale 7, as Linux's own.
var mssWscale = []byte{2, 4, 0x05, 0xb4, 1, 3, 3, 7}

// sweepOffsets are the RST sequence numbers tried, relative to the
// receiver's RCV.NXT, for a receive window of wnd bytes: densely around
// RCV.NXT, powers of two across the window, its edges, and beyond.
func sweepOffsets(wnd uint32) []int64 {
	offs := []int64{-3, -2, -1, 0, 1, 2, 3}
	for p := int64(4); p < int64(wnd)-1; p *= 2 {
		offs = append(offs, p)
	}
	w := int64(wnd)
	return append(offs, w-1, w, w+1, w+1<<16, -w, 1<<31)
}

// TestSpoofRSTSweep injects RSTs into established connections at offsets
// from the receiver's RCV.NXT, one fresh connection per offset, plus two
// connections that take every offset in turn (one ending with the exact
// one), two in CLOSE_WAIT (RCV.NXT-1 and -2), and one whose client speaks
// after the exact RST. The kernel resets only at exactly RCV.NXT (and, in
// CLOSE_WAIT, at RCV.NXT-1: the FIN's own number), answers an RST inside
// the window with a challenge ACK, and ignores one outside it in silence.
func TestSpoofRSTSweep(t *testing.T) {
	needRootToInject(t)
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			rstSweep(t, f.fam)
		})
	}
}

func rstSweep(t *testing.T, fam netlab.Family) {
	r := newSpoofRun(t, fam)
	ln := r.listen(100)
	r.start()
	probe := r.open(ln, 1)
	r.exchange(probe)
	time.Sleep(ackDelay)
	wnd := window(r.segments(), probe[0].server, probe[0].client)
	if wnd == 0 {
		t.Fatal("no window advertised by the server")
	}
	offsets := sweepOffsets(wnd)
	cs := r.open(ln, len(offsets)+4)
	r.exchange(cs)
	single := cs[:len(offsets)]
	survivor, gauntlet := probe[0], cs[len(offsets)]
	closeWait1, closeWait2, speaks := cs[len(offsets)+1], cs[len(offsets)+2], cs[len(offsets)+3]
	for _, c := range []conn{closeWait1, closeWait2} {
		if err := c.c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		readEOF(t, c.s)
	}
	time.Sleep(ackDelay)

	segs := r.segments()
	rcvNxt := func(c conn) tracker.Seq { return nextSeq(segs, c.client, c.server) }
	rst := func(c conn, seq tracker.Seq) {
		r.inject(r.toServer, netlab.Crafted{Src: c.client, Dst: c.server, Seq: uint32(seq), Flags: tracker.RST})
	}
	for i, off := range offsets {
		rst(single[i], rcvNxt(single[i]).Add(uint32(off)))
	}
	for _, c := range []conn{survivor, gauntlet} {
		for _, off := range offsets {
			if off != 0 {
				rst(c, rcvNxt(c).Add(uint32(off)))
			}
		}
	}
	rst(gauntlet, rcvNxt(gauntlet))
	rst(closeWait1, rcvNxt(closeWait1)-1)
	rst(closeWait2, rcvNxt(closeWait2)-2)
	rst(speaks, rcvNxt(speaks))
	time.Sleep(10 * time.Millisecond)
	// The server has no socket left: its kernel answers the data with
	// an RST, which resets the client.
	speaks.c.SetWriteDeadline(time.Now().Add(waitLimit))
	if _, err := io.WriteString(speaks.c, "more\n"); err != nil {
		t.Fatal(err)
	}
	if err := expectReset(speaks.c); err != nil {
		t.Errorf("lab: the client that spoke after the exact RST: %v", err)
	}
	time.Sleep(ackDelay)
	ss := r.finish()

	// What the kernel did, offset by offset: its state, and the
	// segments the server sent after the RST (challenge ACKs).
	segs = r.segments()
	answers := func(c conn, seq tracker.Seq) int {
		var at int64 = -1
		for _, s := range between(segs, c.client, c.server) {
			if s.Flags.Has(tracker.RST) && tracker.Seq(s.Seq) == seq {
				at = s.UnixNano
				break
			}
		}
		if at < 0 {
			t.Fatalf("the capture does not show the RST at %d to %s", seq, c.server)
		}
		n := 0
		for _, s := range between(segs, c.server, c.client) {
			if s.UnixNano >= at {
				n++
			}
		}
		return n
	}
	readings := map[netip.AddrPort]reading{}
	ownRST := reading{tracker.Unknown, "an RST at the client's SND.NXT with the client silent after it: on the wire the client's own RST, which closes its sender; the kernel's client never sent it and stays ESTABLISHED"}
	var table strings.Builder
	fmt.Fprintf(&table, "window %d; offset from RCV.NXT: server state, segments the server sent after the RST\n", wnd)
	for i, off := range offsets {
		c := single[i]
		n := answers(c, rcvNxt(c).Add(uint32(off)))
		st := kernelState(t, ss, c.server, c.client)
		fmt.Fprintf(&table, "\t%+d: %v, %d\n", off, st, n)
		switch {
		case off == 0:
			expectKernel(t, ss, c.server, c.client, tracker.Unknown, "RST at RCV.NXT")
			expectKernel(t, ss, c.client, c.server, tracker.Established, "RST at RCV.NXT, the client")
			readings[c.client] = ownRST
			if n != 0 {
				t.Errorf("lab: the server answered the RST at RCV.NXT with %d segments", n)
			}
		case off > 0 && off < int64(wnd):
			expectKernel(t, ss, c.server, c.client, tracker.Established, fmt.Sprintf("RST at RCV.NXT%+d", off))
			if n != 1 {
				t.Errorf("lab: RST at RCV.NXT%+d: the server sent %d segments, want one challenge ACK", off, n)
			}
		case off < 0 || off > int64(wnd):
			expectKernel(t, ss, c.server, c.client, tracker.Established, fmt.Sprintf("RST at RCV.NXT%+d", off))
			if n != 0 {
				t.Errorf("lab: RST at RCV.NXT%+d, outside the window: the server sent %d segments, want none", off, n)
			}
		}
	}
	t.Logf("kernel:\n%s", table.String())
	expectKernel(t, ss, survivor.server, survivor.client, tracker.Established, "every offset but RCV.NXT on one connection")
	expectKernel(t, ss, gauntlet.server, gauntlet.client, tracker.Unknown, "every offset, RCV.NXT last")
	readings[gauntlet.client] = ownRST
	expectKernel(t, ss, closeWait1.server, closeWait1.client, tracker.Unknown, "CLOSE_WAIT, RST at RCV.NXT-1")
	expectKernel(t, ss, closeWait1.client, closeWait1.server, tracker.FinWait2, "CLOSE_WAIT, RST at RCV.NXT-1, the client")
	expectKernel(t, ss, closeWait2.server, closeWait2.client, tracker.CloseWait, "CLOSE_WAIT, RST at RCV.NXT-2")
	expectKernel(t, ss, speaks.server, speaks.client, tracker.Unknown, "RST at RCV.NXT, then client data")
	expectKernel(t, ss, speaks.client, speaks.server, tracker.Unknown, "RST at RCV.NXT, then client data, the client")
	t.Logf("kernel: CLOSE_WAIT, RST at RCV.NXT-1: server %v; at RCV.NXT-2: server %v, %d segments after it",
		kernelState(t, ss, closeWait1.server, closeWait1.client), kernelState(t, ss, closeWait2.server, closeWait2.client),
		answers(closeWait2, rcvNxt(closeWait2)-2))

	tr := r.compare(ss, compareOpts{readings: readings})
	st := tr.Stats()
	t.Logf("tracker: %d RSTs ignored as outside the window", st.IgnoredRST)
}

// readEOF reads c until the peer's FIN.
func readEOF(t *testing.T, c *net.TCPConn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitLimit))
	var buf [64]byte
	for {
		_, err := c.Read(buf[:])
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("waiting for EOF: %v", err)
		}
	}
}

// TestSpoofSynSentRST looks at the RSTs a client in SYN_SENT sends, and
// what the kernel has done with the client when it sends them:
//   - alive: a SYN+ACK acknowledging its ISN rather than ISN+1 (injected) is
//     answered with an RST at the ISN, and the socket stays SYN_SENT: it
//     retransmits its SYN a second later;
//   - closed: the same SYN+ACK to a port whose SYN_SENT socket was closed
//     draws the same RST at the ISN, from no socket;
//   - late: the server's SYN+ACK is dropped at the client's input, the
//     client's socket is closed, and the retransmitted SYN+ACK (+1 s) draws an
//     RST at ISN+1, from no socket, which resets the server's SYN_RECV.
func TestSpoofSynSentRST(t *testing.T) {
	needRootToInject(t)
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			synSentRST(t, f.fam)
		})
	}
}

func synSentRST(t *testing.T, fam netlab.Family) {
	r := newSpoofRun(t, fam)
	// Nothing the client sends to 102 or 103 reaches a socket.
	r.nft(r.l.Server, "add rule inet netlab input tcp dport { 102, 103 } drop")
	r.listen(104)
	r.nft(r.l.Client, `add set inet netlab synack104 { type inet_service; flags dynamic; }
add rule inet netlab input tcp sport 104 tcp flags & (syn|ack) == syn|ack tcp dport @synack104 accept
add rule inet netlab input tcp sport 104 tcp flags & (syn|ack) == syn|ack add @synack104 { tcp dport } drop`)
	r.start()

	if err := r.l.Client.Connect(r.server(102)); err != nil {
		t.Fatal(err)
	}
	syn := r.wait("the SYN to port 102", func(s *tracker.Segment) bool {
		return s.DstPort == 102 && s.Flags == tracker.SYN
	})
	alive := from(&syn)
	badSynAck := func(src, dst netip.AddrPort, isn uint32) {
		r.inject(r.toClient, netlab.Crafted{Src: src, Dst: dst, Seq: 0x50000000, Ack: isn,
			Flags: tracker.SYN | tracker.ACK, Window: 1000, Options: mssWscale})
	}
	badSynAck(r.server(102), alive, syn.Seq)
	rstFrom := func(a netip.AddrPort) func(*tracker.Segment) bool {
		return func(s *tracker.Segment) bool { return from(s) == a && s.Flags.Has(tracker.RST) }
	}
	rstAlive := r.wait("the SYN_SENT client's RST", rstFrom(alive))

	late := netip.AddrPortFrom(r.l.Client.Addr, 61104)
	ctx, cancel := context.WithTimeout(context.Background(), ackDelay)
	_, err := r.l.Client.DialFrom(ctx, late.Port(), r.server(104))
	cancel()
	if err == nil {
		t.Fatal("lab: the connection to 104 completed though its SYN+ACK was dropped")
	}
	synLate := r.wait("the SYN from the late client", func(s *tracker.Segment) bool {
		return from(s) == late && s.Flags == tracker.SYN
	})

	closed := netip.AddrPortFrom(r.l.Client.Addr, 61103)
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err = r.l.Client.DialFrom(ctx, closed.Port(), r.server(103))
	cancel()
	if err == nil {
		t.Fatal("lab: the connection to 103 completed")
	}
	synClosed := r.wait("the SYN from the closed client", func(s *tracker.Segment) bool {
		return from(s) == closed && s.Flags == tracker.SYN
	})
	badSynAck(r.server(103), closed, synClosed.Seq)
	rstClosed := r.wait("the closed client's RST", rstFrom(closed))

	r.wait("the SYN_SENT client's retransmitted SYN", func(s *tracker.Segment) bool {
		return from(s) == alive && s.Flags == tracker.SYN && s.UnixNano > rstAlive.UnixNano
	})
	rstLate := r.wait("the late client's RST", rstFrom(late))
	time.Sleep(ackDelay)
	ss := r.finish()

	for _, x := range []struct {
		what     string
		syn, rst tracker.Segment
	}{{"alive, bad SYN+ACK", syn, rstAlive}, {"closed, bad SYN+ACK", synClosed, rstClosed}, {"closed, late SYN+ACK", synLate, rstLate}} {
		t.Logf("kernel: %s: the client's RST has flags %s, seq ISN%+d", x.what, x.rst.Flags, int32(x.rst.Seq-x.syn.Seq))
	}
	expectKernel(t, ss, alive, r.server(102), tracker.SynSent, "RST at the ISN from a SYN_SENT socket")
	expectKernel(t, ss, closed, r.server(103), tracker.Unknown, "RST at the ISN from a closed socket")
	expectKernel(t, ss, late, r.server(104), tracker.Unknown, "RST at ISN+1 from a closed socket")
	expectKernel(t, ss, r.server(104), late, tracker.Unknown, "the server reset by the RST at ISN+1")
	if rstAlive.Seq != syn.Seq || rstClosed.Seq != synClosed.Seq || rstLate.Seq != synLate.Seq+1 {
		t.Errorf("lab: the RSTs are not at ISN, ISN, ISN+1")
	}
	r.compare(ss, compareOpts{listeners: []netip.AddrPort{r.server(104)}})
}

// TestSpoofFinWithoutACK injects a FIN without ACK at the receiver's
// RCV.NXT into two established connections, one towards each end, and
// then data keeps flowing both ways: Linux discards a segment without ACK
// in a synchronized state, so all four sockets stay ESTABLISHED.
func TestSpoofFinWithoutACK(t *testing.T) {
	needRootToInject(t)
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			r := newSpoofRun(t, f.fam)
			ln := r.listen(105)
			r.start()
			cs := r.open(ln, 2)
			r.exchange(cs)
			time.Sleep(ackDelay)
			segs := r.segments()
			a, b := cs[0], cs[1]
			finA := netlab.Crafted{Src: a.client, Dst: a.server, Seq: uint32(nextSeq(segs, a.client, a.server)),
				Flags: tracker.FIN, Window: 502}
			finB := netlab.Crafted{Src: b.server, Dst: b.client, Seq: uint32(nextSeq(segs, b.server, b.client)),
				Flags: tracker.FIN, Window: 502}
			r.inject(r.toServer, finA)
			r.inject(r.toClient, finB)
			time.Sleep(ackDelay)
			after := r.segments()
			answered := len(between(after, a.server, a.client)) - len(between(segs, a.server, a.client)) +
				len(between(after, b.client, b.server)) - len(between(segs, b.client, b.server))
			t.Logf("kernel: %d segments in answer to the two FINs without ACK", answered)
			if answered != 0 {
				t.Errorf("lab: the kernel answered a FIN without ACK")
			}
			for range 3 {
				r.exchange(cs)
			}
			time.Sleep(ackDelay)
			ss := r.finish()
			for _, c := range cs {
				expectKernel(t, ss, c.client, c.server, tracker.Established, "FIN without ACK, then data")
				expectKernel(t, ss, c.server, c.client, tracker.Established, "FIN without ACK, then data")
			}
			r.compare(ss, compareOpts{})
		})
	}
}

// TestSpoofReconnect has a client reconnect from the same port with a new
// ISN while its first SYN is unanswered: the server's input drops the SYNs
// of the first attempt (a set of held ports), the client's socket is
// closed (Linux sends nothing for a SYN_SENT socket), the port released,
// and a new socket connects from it. Once after 200 ms, before any
// retransmission; once after 1.5 s, after one. The kernel completes the
// second handshake: both ends ESTABLISHED, and the listener.
func TestSpoofReconnect(t *testing.T) {
	needRootToInject(t)
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			r := newSpoofRun(t, f.fam)
			ln := r.listen(106)
			r.nft(r.l.Server, `add set inet netlab held { type inet_service; elements = { 61001, 61002 }; }
add rule inet netlab input tcp dport 106 tcp sport @held drop`)
			r.start()
			var cs []conn
			for _, x := range []struct {
				port  uint16
				first time.Duration
			}{{61001, ackDelay}, {61002, 1500 * time.Millisecond}} {
				ctx, cancel := context.WithTimeout(context.Background(), x.first)
				_, err := r.l.Client.DialFrom(ctx, x.port, r.server(106))
				cancel()
				if err == nil {
					t.Fatalf("lab: the first connect from port %d completed", x.port)
				}
				r.nft(r.l.Server, fmt.Sprintf("delete element inet netlab held { %d }", x.port))
				c, err := r.l.Client.DialFrom(context.Background(), x.port, r.server(106))
				if err != nil {
					t.Fatal(err)
				}
				cs = append(cs, r.accept(ln, c))
			}
			time.Sleep(ackDelay)
			ss := r.finish()
			segs := r.segments()
			for _, c := range cs {
				var isns []string
				for _, s := range between(segs, c.client, c.server) {
					if s.Flags == tracker.SYN {
						isns = append(isns, fmt.Sprint(s.Seq))
					}
				}
				t.Logf("kernel: port %d: SYNs with ISN %s", c.client.Port(), strings.Join(isns, ", "))
				expectKernel(t, ss, c.client, c.server, tracker.Established, "reconnect")
				expectKernel(t, ss, c.server, c.client, tracker.Established, "reconnect")
			}
			r.compare(ss, compareOpts{listeners: []netip.AddrPort{r.server(106)}})
		})
	}
}

// TestSpoofOddHandshakes injects handshakes that Linux completes though
// they look malformed: from source port 0 (IPv4 and IPv6), and over IPv6
// with ten destination-options headers before TCP in the SYN and the ACK.
// The injector plays the client from a phantom address; the server's
// SYN+ACK, read from the capture, gives the ACK's number.
func TestSpoofOddHandshakes(t *testing.T) {
	needRootToInject(t)
	type odd struct {
		port     uint16
		destOpts int
	}
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			r := newSpoofRun(t, f.fam)
			r.listen(107)
			// Ten destination-options headers take 80 bytes: more
			// than netlab.Snaplen leaves for them.
			r.start("-s", "512")
			odds := []odd{{0, 0}}
			if f.fam == netlab.IPv6 {
				odds = append(odds, odd{41000, 10})
			}
			for i, o := range odds {
				src := netip.AddrPortFrom(r.phantom, o.port)
				isn := uint32(1_000_000 * (i + 1))
				r.inject(r.toServer, netlab.Crafted{SrcMAC: netlab.PhantomMAC, Src: src, Dst: r.server(107),
					Seq: isn, Flags: tracker.SYN, Window: 64240, Options: mssWscale, DestOpts: o.destOpts})
				sa := r.wait(fmt.Sprintf("the SYN+ACK to %s", src), func(s *tracker.Segment) bool {
					return to(s) == src && s.Flags == tracker.SYN|tracker.ACK
				})
				if sa.Ack != isn+1 {
					t.Fatalf("lab: the SYN+ACK to %s acks %d, want %d", src, sa.Ack, isn+1)
				}
				r.inject(r.toServer, netlab.Crafted{SrcMAC: netlab.PhantomMAC, Src: src, Dst: r.server(107),
					Seq: isn + 1, Ack: sa.Seq + 1, Flags: tracker.ACK, Window: 502, DestOpts: o.destOpts})
			}
			time.Sleep(ackDelay)
			ss := r.finish()
			for _, o := range odds {
				src := netip.AddrPortFrom(r.phantom, o.port)
				expectKernel(t, ss, r.server(107), src, tracker.Established,
					fmt.Sprintf("handshake from port %d, %d destination-options headers", o.port, o.destOpts))
			}
			r.compare(ss, compareOpts{phantom: r.phantom, listeners: []netip.AddrPort{r.server(107)}})
		})
	}
}

// TestSpoofedAckFlood makes 1,000 real connections, then appends to their
// capture 200,000 spoofed one-sided 4-tuples of two ACKs each, as a blind
// spoofer would send them (half bare ACKs with two acknowledgment numbers,
// half two 100-byte data segments, contiguous), and reads it with a flow
// table of 100,000. The kernel's 2,000 ESTABLISHED sockets must all be
// there, and no spoofed endpoint among the counted ones.
func TestSpoofedAckFlood(t *testing.T) {
	needRootToInject(t)
	t.Parallel()
	const real, spoofed = 1000, 200_000
	r := newSpoofRun(t, netlab.IPv4)
	r.listen(80)
	r.start()
	for range real {
		if _, err := r.l.Client.Dial(r.server(80)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(ackDelay)
	ss := r.finish()
	at, ok := netlab.SnapshotTime(strings.NewReader(string(ss)))
	if !ok {
		t.Fatal("no time in the snapshot")
	}
	if n := strings.Count(string(ss), "ESTAB"); n != 2*real {
		t.Fatalf("lab: the kernel has %d ESTABLISHED sockets, want %d", n, 2*real)
	}
	flood := filepath.Join(t.TempDir(), "flood.pcap")
	appendSpoofedACKs(t, r.path, flood, r.server(80), at, spoofed)
	tr := r.compare(ss, compareOpts{cfg: tracker.Config{MaxFlows: 100_000}, pcap: flood})
	st := tr.Stats()
	var unconfirmed int
	for _, n := range st.Unconfirmed {
		unconfirmed += n
	}
	t.Logf("tracker: ESTABLISHED %d, unconfirmed %d, flows %d, evictions %v",
		st.States[tracker.Established], unconfirmed, st.Flows, st.Evictions)
	if st.States[tracker.Established] != 2*real {
		t.Errorf("tracker counts %d ESTABLISHED, the kernel %d", st.States[tracker.Established], 2*real)
	}
}

// appendSpoofedACKs copies the pcap at src to dst and appends n spoofed
// 4-tuples towards server, two segments each, in pairs, timestamped
// between the last real frame and the snapshot at.
func appendSpoofedACKs(t *testing.T, src, dst string, server netip.AddrPort, at time.Time, n int) {
	t.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) < 24 {
		t.Fatalf("%s: no pcap header", src)
	}
	var bo binary.ByteOrder = binary.LittleEndian
	magic := bo.Uint32(raw)
	if magic != 0xa1b2c3d4 && magic != 0xa1b23c4d {
		bo = binary.BigEndian
		magic = bo.Uint32(raw)
	}
	nano := magic == 0xa1b23c4d
	if magic != 0xa1b2c3d4 && !nano {
		t.Fatalf("%s: not a pcap file", src)
	}
	snaplen := int(bo.Uint32(raw[16:]))
	var last int64
	for off := 24; off+16 <= len(raw); {
		sec, frac := int64(bo.Uint32(raw[off:])), int64(bo.Uint32(raw[off+4:]))
		if !nano {
			frac *= 1000
		}
		last = sec*1e9 + frac
		off += 16 + int(bo.Uint32(raw[off+8:]))
	}
	step := (at.UnixNano() - last) / int64(2*n+2)
	out := append([]byte(nil), raw...)
	rng := rand.New(rand.NewPCG(1, 2))
	payload := make([]byte, 100)
	record := func(ts int64, c netlab.Crafted) {
		f, err := c.Frame()
		if err != nil {
			t.Fatal(err)
		}
		frac := ts % 1e9
		if !nano {
			frac /= 1000
		}
		capLen := min(len(f), snaplen)
		var h [16]byte
		bo.PutUint32(h[0:], uint32(ts/1e9))
		bo.PutUint32(h[4:], uint32(frac))
		bo.PutUint32(h[8:], uint32(capLen))
		bo.PutUint32(h[12:], uint32(len(f)))
		out = append(append(out, h[:]...), f[:capLen]...)
	}
	ts := last
	for i := range n {
		a := 0x0A000000 + uint32(i) + 1 // 10.0.0.1 on
		c := netlab.Crafted{SrcMAC: netlab.PhantomMAC, DstMAC: "02:00:00:00:00:02",
			Src:   netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), uint16(1024+i%60000)),
			Dst:   server,
			Seq:   rng.Uint32(),
			Ack:   rng.Uint32(),
			Flags: tracker.ACK, Window: 502}
		second := c
		if i%2 == 0 {
			second.Ack += 1448
		} else {
			c.Payload, second.Payload = payload, payload
			c.Flags |= tracker.PSH
			second.Flags |= tracker.PSH
			second.Seq += uint32(len(payload))
		}
		ts += step
		record(ts, c)
		ts += step
		record(ts, second)
	}
	if err := os.WriteFile(dst, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSpoofOneSided captures only what the server receives (tcpdump -Q
// in), as a tap on one direction of a link does, while two clients send
// five 100-byte messages each: one connection opened during the capture
// (its SYN and ACK seen, the SYN+ACK not), one opened before it. The kernel
// has both ends of both ESTABLISHED; the capture shows the clients alone,
// whose data advances contiguously and whose ACKs acknowledge a server
// that answered. Send-Q is left out: it is made of the server's ACKs,
// which this capture never holds.
func TestSpoofOneSided(t *testing.T) {
	needRootToInject(t)
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			r := newSpoofRun(t, f.fam)
			ln := r.listen(81)
			cs := r.open(ln, 1)
			r.exchange(cs)
			time.Sleep(ackDelay)
			r.start("-Q", "in")
			cs = append(cs, r.open(ln, 1)...)
			msg := strings.Repeat("x", 99) + "\n"
			for range 5 {
				for _, c := range cs {
					r.send(c.c, c.s, msg)
				}
			}
			time.Sleep(ackDelay)
			ss := r.finish()
			for _, s := range r.segments() {
				if s.SrcPort == 81 {
					t.Fatalf("lab: the one-sided capture holds a segment from the server: %+v", s)
				}
			}
			for _, c := range cs {
				expectKernel(t, ss, c.client, c.server, tracker.Established, "one-sided")
				expectKernel(t, ss, c.server, c.client, tracker.Established, "one-sided")
			}
			r.compare(ss, compareOpts{noSendQ: true})
		})
	}
}
