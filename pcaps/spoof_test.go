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
// one) and one whose client speaks after the exact RST. The kernel resets
// only at exactly RCV.NXT, answers an RST inside the window with a
// challenge ACK, and ignores one outside it in silence.
func TestSpoofRSTSweep(t *testing.T) {
	needRootToInject(t)
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			rstSweep(t, f.fam)
		})
	}
}

// rstInjector returns what injects a bare RST at seq, as from c's client
// to its server.
func (r *spoofRun) rstInjector() func(c conn, seq tracker.Seq) {
	return func(c conn, seq tracker.Seq) {
		r.inject(r.toServer, netlab.Crafted{Src: c.client, Dst: c.server, Seq: uint32(seq), Flags: tracker.RST})
	}
}

// answers counts the segments that c's server sent after the capture
// shows the RST at seq reaching it: challenge ACKs.
func answers(t *testing.T, segs []tracker.Segment, c conn, seq tracker.Seq) int {
	t.Helper()
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
	cs := r.open(ln, len(offsets)+2)
	r.exchange(cs)
	single := cs[:len(offsets)]
	survivor, gauntlet, speaks := probe[0], cs[len(offsets)], cs[len(offsets)+1]
	time.Sleep(ackDelay)

	segs := r.segments()
	rcvNxt := func(c conn) tracker.Seq { return nextSeq(segs, c.client, c.server) }
	rst := r.rstInjector()
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
	readings := map[netip.AddrPort]reading{}
	ownRST := reading{tracker.Unknown, "an RST at the client's SND.NXT with the client silent after it: on the wire the client's own RST, which closes its sender; the kernel's client never sent it and stays ESTABLISHED"}
	var table strings.Builder
	fmt.Fprintf(&table, "window %d; offset from RCV.NXT: server state, segments the server sent after the RST\n", wnd)
	for i, off := range offsets {
		c := single[i]
		n := answers(t, segs, c, rcvNxt(c).Add(uint32(off)))
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
	expectKernel(t, ss, speaks.server, speaks.client, tracker.Unknown, "RST at RCV.NXT, then client data")
	expectKernel(t, ss, speaks.client, speaks.server, tracker.Unknown, "RST at RCV.NXT, then client data, the client")

	tr := r.compare(ss, compareOpts{readings: readings})
	st := tr.Stats()
	t.Logf("tracker: %d RSTs ignored as outside the window", st.IgnoredRST)
}

// TestSpoofRSTCloseWait injects RSTs into a server in CLOSE_WAIT (its
// client shut down writing) at RCV.NXT-1, the received FIN's own sequence
// number, and at RCV.NXT-2. Linux resets at RCV.NXT-1 as well as at
// RCV.NXT in CLOSE_WAIT, LAST_ACK and CLOSING (tcp_reset_check), and drops
// RCV.NXT-2 in silence; the client stays FIN_WAIT2.
func TestSpoofRSTCloseWait(t *testing.T) {
	needRootToInject(t)
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			r := newSpoofRun(t, f.fam)
			ln := r.listen(101)
			r.start()
			cs := r.open(ln, 2)
			r.exchange(cs)
			for _, c := range cs {
				if err := c.c.CloseWrite(); err != nil {
					t.Fatal(err)
				}
				readEOF(t, c.s)
			}
			time.Sleep(ackDelay)
			segs := r.segments()
			rst := r.rstInjector()
			seqs := []tracker.Seq{nextSeq(segs, cs[0].client, cs[0].server) - 1, nextSeq(segs, cs[1].client, cs[1].server) - 2}
			for i, c := range cs {
				rst(c, seqs[i])
			}
			time.Sleep(ackDelay)
			ss := r.finish()
			segs = r.segments()
			t.Logf("kernel: CLOSE_WAIT, RST at RCV.NXT-1: server %v, %d segments after it; at RCV.NXT-2: server %v, %d segments after it",
				kernelState(t, ss, cs[0].server, cs[0].client), answers(t, segs, cs[0], seqs[0]),
				kernelState(t, ss, cs[1].server, cs[1].client), answers(t, segs, cs[1], seqs[1]))
			expectKernel(t, ss, cs[0].server, cs[0].client, tracker.Unknown, "CLOSE_WAIT, RST at RCV.NXT-1")
			expectKernel(t, ss, cs[1].server, cs[1].client, tracker.CloseWait, "CLOSE_WAIT, RST at RCV.NXT-2")
			for _, c := range cs {
				expectKernel(t, ss, c.client, c.server, tracker.FinWait2, "CLOSE_WAIT, RST, the client")
			}
			r.compare(ss, compareOpts{})
		})
	}
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
//     retransmits its SYN within milliseconds (Linux rearms its timer to
//     TCP_TIMEOUT_MIN, in case its own RST is the one lost), and ss is
//     taken after that;
//   - closed: the same SYN+ACK to a port whose SYN_SENT socket was closed
//     draws the same RST at the ISN, from no socket;
//   - late: the server's SYN+ACK is dropped at the client's input, the
//     client's socket is closed, and the retransmitted SYN+ACK (+1 s) draws an
//     RST at ISN+1, from no socket, which resets the server's SYN_RECV.
//
// No port but the late case's has a listener: a SYN+ACK that does not ack
// ISN+1 answers no SYN, and proves none.
func TestSpoofSynSentRST(t *testing.T) {
	needRootToInject(t)
	for _, f := range families {
		for _, c := range []struct {
			name string
			play func(*testing.T, netlab.Family)
		}{{"alive", synSentAlive}, {"closed", synSentClosed}, {"late", synSentLate}} {
			t.Run(c.name+"-"+f.name, func(t *testing.T) {
				t.Parallel()
				c.play(t, f.fam)
			})
		}
	}
}

// badSynAck injects, as from the server's src to the client's dst, a
// SYN+ACK that acknowledges the client's ISN itself rather than ISN+1.
func (r *spoofRun) badSynAck(src, dst netip.AddrPort, isn uint32) {
	r.inject(r.toClient, netlab.Crafted{Src: src, Dst: dst, Seq: 0x50000000, Ack: isn,
		Flags: tracker.SYN | tracker.ACK, Window: 1000, Options: mssWscale})
}

func rstFrom(a netip.AddrPort) func(*tracker.Segment) bool {
	return func(s *tracker.Segment) bool { return from(s) == a && s.Flags.Has(tracker.RST) }
}

func synFrom(a netip.AddrPort) func(*tracker.Segment) bool {
	return func(s *tracker.Segment) bool { return from(s) == a && s.Flags == tracker.SYN }
}

func logClientRST(t *testing.T, what string, syn, rst tracker.Segment, want uint32) {
	t.Helper()
	t.Logf("kernel: %s: the client's RST has flags %s, seq ISN%+d", what, rst.Flags, int32(rst.Seq-syn.Seq))
	if rst.Seq != syn.Seq+want {
		t.Errorf("lab: %s: the client's RST is not at ISN+%d", what, want)
	}
}

func synSentAlive(t *testing.T, fam netlab.Family) {
	r := newSpoofRun(t, fam)
	// Nothing the client sends to 102 reaches a socket.
	r.nft(r.l.Server, "add rule inet netlab input tcp dport 102 drop")
	r.start()
	if err := r.l.Client.Connect(r.server(102)); err != nil {
		t.Fatal(err)
	}
	syn := r.wait("the SYN to port 102", func(s *tracker.Segment) bool {
		return s.DstPort == 102 && s.Flags == tracker.SYN
	})
	alive := from(&syn)
	r.badSynAck(r.server(102), alive, syn.Seq)
	rst := r.wait("the SYN_SENT client's RST", rstFrom(alive))
	again := r.wait("the SYN_SENT client's retransmitted SYN", func(s *tracker.Segment) bool {
		return synFrom(alive)(s) && s.Seq == syn.Seq && s.UnixNano > rst.UnixNano
	})
	time.Sleep(ackDelay)
	ss := r.finish()
	logClientRST(t, "alive, SYN+ACK acking the ISN", syn, rst, 0)
	t.Logf("kernel: the SYN_SENT client's SYN at 0, the bad SYN+ACK's RST at %v, the SYN again at %v",
		time.Duration(rst.UnixNano-syn.UnixNano), time.Duration(again.UnixNano-syn.UnixNano))
	expectKernel(t, ss, alive, r.server(102), tracker.SynSent, "RST at the ISN from a SYN_SENT socket")
	r.compare(ss, compareOpts{})
}

func synSentClosed(t *testing.T, fam netlab.Family) {
	r := newSpoofRun(t, fam)
	r.nft(r.l.Server, "add rule inet netlab input tcp dport 103 drop")
	r.start()
	closed := netip.AddrPortFrom(r.l.Client.Addr, 61103)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err := r.l.Client.DialFrom(ctx, closed.Port(), r.server(103))
	cancel()
	if err == nil {
		t.Fatal("lab: the connection to 103 completed")
	}
	syn := r.wait("the SYN from the closed client", synFrom(closed))
	r.badSynAck(r.server(103), closed, syn.Seq)
	rst := r.wait("the closed client's RST", rstFrom(closed))
	time.Sleep(ackDelay)
	ss := r.finish()
	logClientRST(t, "closed, SYN+ACK acking the ISN", syn, rst, 0)
	expectKernel(t, ss, closed, r.server(103), tracker.Unknown, "RST at the ISN from a closed socket")
	r.compare(ss, compareOpts{})
}

func synSentLate(t *testing.T, fam netlab.Family) {
	r := newSpoofRun(t, fam)
	r.listen(104)
	// The first SYN+ACK to each client port is dropped at the client's
	// input, the next let through.
	r.nft(r.l.Client, `add set inet netlab synack104 { type inet_service; flags dynamic; }
add rule inet netlab input tcp sport 104 tcp flags & (syn|ack) == syn|ack tcp dport @synack104 accept
add rule inet netlab input tcp sport 104 tcp flags & (syn|ack) == syn|ack add @synack104 { tcp dport } drop`)
	r.start()
	late := netip.AddrPortFrom(r.l.Client.Addr, 61104)
	ctx, cancel := context.WithTimeout(context.Background(), ackDelay)
	_, err := r.l.Client.DialFrom(ctx, late.Port(), r.server(104))
	cancel()
	if err == nil {
		t.Fatal("lab: the connection to 104 completed though its SYN+ACK was dropped")
	}
	syn := r.wait("the SYN from the late client", synFrom(late))
	rst := r.wait("the late client's RST", rstFrom(late))
	time.Sleep(ackDelay)
	ss := r.finish()
	logClientRST(t, "closed, the server's retransmitted SYN+ACK", syn, rst, 1)
	expectKernel(t, ss, late, r.server(104), tracker.Unknown, "RST at ISN+1 from a closed socket")
	expectKernel(t, ss, r.server(104), late, tracker.Unknown, "the server reset by the RST at ISN+1")
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
// in), as a tap on one direction of a link does, while a client sends five
// 100-byte messages: on a connection opened before the capture
// (midstream), and on one opened during it (handshake: its SYN and ACK
// seen, the SYN+ACK not). The kernel has both ends ESTABLISHED; the
// capture shows the client alone, whose data advances contiguously and
// whose ACKs acknowledge a server that answered. Send-Q is left out: it is
// made of the server's ACKs, which this capture never holds.
func TestSpoofOneSided(t *testing.T) {
	needRootToInject(t)
	for _, f := range families {
		for _, midstream := range []bool{true, false} {
			name := "handshake-" + f.name
			if midstream {
				name = "midstream-" + f.name
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				r := newSpoofRun(t, f.fam)
				ln := r.listen(81)
				var cs []conn
				if midstream {
					cs = r.open(ln, 1)
					r.exchange(cs)
					time.Sleep(ackDelay)
					r.start("-Q", "in")
				} else {
					r.start("-Q", "in")
					cs = r.open(ln, 1)
				}
				msg := strings.Repeat("x", 99) + "\n"
				for range 5 {
					r.send(cs[0].c, cs[0].s, msg)
				}
				time.Sleep(ackDelay)
				ss := r.finish()
				for _, s := range r.segments() {
					if s.SrcPort == 81 {
						t.Fatalf("lab: the one-sided capture holds a segment from the server: %+v", s)
					}
				}
				expectKernel(t, ss, cs[0].client, cs[0].server, tracker.Established, "one-sided")
				expectKernel(t, ss, cs[0].server, cs[0].client, tracker.Established, "one-sided")
				r.compare(ss, compareOpts{noSendQ: true})
			})
		}
	}
}
