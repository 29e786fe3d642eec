package pcaps_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/decode"
	"github.com/tcptrack/tcptrack/internal/netlab"
	"github.com/tcptrack/tcptrack/internal/testkit"
	"github.com/tcptrack/tcptrack/tracker"
)

// The harness of the spoofing tests (spoof_test.go): a lab whose server's
// veth0 is captured, an injector on each side, and a comparison of the
// tracker's reading of the capture with the kernel's ss.

func needRootToInject(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("injects crafted segments into network namespaces: needs root (CI runs as root)")
	}
}

var families = []struct {
	name string
	fam  netlab.Family
}{{"IPv4", netlab.IPv4}, {"IPv6", netlab.IPv6}}

// Waits, as the recorder's: a delayed ACK has gone out after ackDelay;
// a SYN or SYN+ACK has been retransmitted once (+1 s) after synRetrans.
const (
	ackDelay   = 200 * time.Millisecond
	synRetrans = 1300 * time.Millisecond
	settle     = 100 * time.Millisecond // as netlab's: for tcpdump to drain its ring
	waitLimit  = 5 * time.Second
)

// spoofRun is one kernel-refereed run.
type spoofRun struct {
	t        *testing.T
	l        *netlab.Lab
	path     string
	capture  *netlab.Capture
	toServer *netlab.Injector // on the client's veth0: what it sends arrives at the server
	toClient *netlab.Injector // on the server's veth0: what it sends arrives at the client
	// phantom is an address on the link that no kernel holds: the
	// server's frames for it cross the veth (and the capture) and are
	// dropped by the client's kernel as addressed to another host. Its
	// endpoints have no socket to compare with.
	phantom netip.Addr
}

func newSpoofRun(t *testing.T, fam netlab.Family) *spoofRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	l, err := netlab.New(ctx, netlab.Veth, fam)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("closing the lab: %v", err)
		}
	})
	r := &spoofRun{t: t, l: l, path: filepath.Join(t.TempDir(), "spoof.pcap"),
		phantom: netip.MustParseAddr("192.0.2.9")}
	if fam == netlab.IPv6 {
		r.phantom = netip.MustParseAddr("2001:db8::9")
	}
	if err := l.Server.Neighbour(r.phantom, netlab.PhantomMAC); err != nil {
		t.Fatal(err)
	}
	if r.toServer, err = l.Client.Injector(); err != nil {
		t.Fatal(err)
	}
	if r.toClient, err = l.Server.Injector(); err != nil {
		t.Fatal(err)
	}
	return r
}

// start starts tcpdump on the server's veth0.
func (r *spoofRun) start(tcpdumpArgs ...string) {
	r.t.Helper()
	var err error
	if r.capture, err = r.l.Server.StartCaptureWith("veth0", "", r.path, tcpdumpArgs...); err != nil {
		r.t.Fatal(err)
	}
}

// finish takes the snapshot and stops the capture, in Record's order.
func (r *spoofRun) finish() []byte {
	r.t.Helper()
	ss, err := r.l.Snapshot()
	if err != nil {
		r.t.Fatal(err)
	}
	time.Sleep(settle)
	if _, err := r.capture.Stop(); err != nil {
		r.t.Fatal(err)
	}
	return ss
}

func (r *spoofRun) server(port uint16) netip.AddrPort {
	return netip.AddrPortFrom(r.l.Server.Addr, port)
}

func (r *spoofRun) inject(inj *netlab.Injector, c netlab.Crafted) {
	r.t.Helper()
	if err := inj.Send(c); err != nil {
		r.t.Fatal(err)
	}
}

func (r *spoofRun) nft(h *netlab.Host, script string) {
	r.t.Helper()
	if err := h.AddNftables(script); err != nil {
		r.t.Fatal(err)
	}
}

// conn is one connection of a run, both of its sockets.
type conn struct {
	c, s           *net.TCPConn
	client, server netip.AddrPort
}

func (r *spoofRun) listen(port uint16) *net.TCPListener {
	r.t.Helper()
	ln, err := r.l.Server.Listen(port)
	if err != nil {
		r.t.Fatal(err)
	}
	return ln
}

// open makes n connections to ln and accepts them.
func (r *spoofRun) open(ln *net.TCPListener, n int) []conn {
	r.t.Helper()
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	out := make([]conn, 0, n)
	for range n {
		c, err := r.l.Client.Dial(r.server(port))
		if err != nil {
			r.t.Fatal(err)
		}
		out = append(out, r.accept(ln, c))
	}
	return out
}

func (r *spoofRun) accept(ln *net.TCPListener, c *net.TCPConn) conn {
	r.t.Helper()
	if err := ln.SetDeadline(time.Now().Add(waitLimit)); err != nil {
		r.t.Fatal(err)
	}
	s, err := ln.AcceptTCP()
	if err != nil {
		r.t.Fatal(err)
	}
	return conn{c: c, s: s, client: c.LocalAddr().(*net.TCPAddr).AddrPort(),
		server: c.RemoteAddr().(*net.TCPAddr).AddrPort()}
}

// send writes msg on from and reads it all on to.
func (r *spoofRun) send(from, to *net.TCPConn, msg string) {
	r.t.Helper()
	deadline := time.Now().Add(waitLimit)
	from.SetWriteDeadline(deadline)
	if _, err := io.WriteString(from, msg); err != nil {
		r.t.Fatalf("write: %v", err)
	}
	to.SetReadDeadline(deadline)
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(to, buf); err != nil {
		r.t.Fatalf("read: %v", err)
	}
}

// exchange sends a few bytes each way on every connection.
func (r *spoofRun) exchange(cs []conn) {
	r.t.Helper()
	for _, c := range cs {
		r.send(c.c, c.s, "ping\n")
		r.send(c.s, c.c, "pong\n")
	}
}

// segments returns every TCP segment the capture holds so far. tcpdump
// writes one packet at a time; a record it is still writing ends the read.
func (r *spoofRun) segments() []tracker.Segment {
	src, err := decode.OpenFile(r.path)
	if err != nil {
		return nil // not even the file header yet
	}
	defer src.Close()
	dec := decode.NewDecoder()
	var (
		fr  decode.Frame
		seg tracker.Segment
		out []tracker.Segment
	)
	for src.Next(&fr) == nil {
		if dec.Decode(&fr, &seg) == nil {
			out = append(out, seg)
		}
	}
	return out
}

// wait polls the capture until a segment that match accepts is in it.
func (r *spoofRun) wait(what string, match func(*tracker.Segment) bool) tracker.Segment {
	r.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		segs := r.segments()
		for i := range segs {
			if match(&segs[i]) {
				return segs[i]
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.t.Fatalf("the capture never showed %s", what)
	return tracker.Segment{}
}

func from(s *tracker.Segment) netip.AddrPort { return netip.AddrPortFrom(s.Src, s.SrcPort) }
func to(s *tracker.Segment) netip.AddrPort   { return netip.AddrPortFrom(s.Dst, s.DstPort) }

// between selects the segments sent from a to b.
func between(segs []tracker.Segment, a, b netip.AddrPort) []tracker.Segment {
	var out []tracker.Segment
	for _, s := range segs {
		if from(&s) == a && to(&s) == b {
			out = append(out, s)
		}
	}
	return out
}

// nextSeq returns the sequence number after everything a sent b so far:
// b's RCV.NXT once it has all of it.
func nextSeq(segs []tracker.Segment, a, b netip.AddrPort) tracker.Seq {
	var nxt tracker.Seq
	have := false
	for _, s := range between(segs, a, b) {
		if s.Flags.Has(tracker.RST) {
			continue
		}
		end := tracker.Seq(s.Seq).Add(s.PayloadLen)
		if s.Flags.Has(tracker.SYN) {
			end = end.Add(1)
		}
		if s.Flags.Has(tracker.FIN) {
			end = end.Add(1)
		}
		if !have || nxt.LessThan(end) {
			nxt, have = end, true
		}
	}
	return nxt
}

// window returns the receive window that a's last segment to b
// advertised, scaled by the shift a announced in its SYN.
func window(segs []tracker.Segment, a, b netip.AddrPort) uint32 {
	var shift uint8
	var w uint32
	for _, s := range between(segs, a, b) {
		if s.Flags.Has(tracker.SYN) {
			if s.Options.HasWScale {
				shift = s.Options.WScale
			}
			w = uint32(s.Window) // never scaled in a SYN
			continue
		}
		w = uint32(s.Window) << shift
	}
	return w
}

// reading is what a kernel socket is expected as instead of its own state,
// where the wire cannot tell the kernel's state: a documented reading.
type reading struct {
	state tracker.State // Unknown: not listed
	why   string
}

// compareOpts says how a run's capture is held to its ss.
type compareOpts struct {
	cfg tracker.Config
	// phantom: the tracker's endpoints on this address have no kernel
	// socket (the injector played them); they are logged, not compared.
	phantom netip.Addr
	// noSendQ leaves Send-Q out: a one-sided capture never shows the
	// peer's acknowledgments that Send-Q is made of.
	noSendQ bool
	// readings, by the kernel socket's local address.
	readings map[netip.AddrPort]reading
	// listeners that the tracker must have inferred.
	listeners []netip.AddrPort
	// pcap, when set, is read instead of the run's capture.
	pcap string
}

// compare holds the tracker's listing of the capture, clock run up to the
// snapshot, to the kernel's ss socket by socket (state, local, peer,
// Send-Q), LISTEN aside; and its inferred listeners to the kernel's
// listening sockets. It returns the tracker.
func (r *spoofRun) compare(ssText []byte, o compareOpts) *tracker.Tracker {
	t := r.t
	t.Helper()
	kernel, err := netlab.ParseSS(bytes.NewReader(ssText))
	if err != nil {
		t.Fatal(err)
	}
	path := r.path
	if o.pcap != "" {
		path = o.pcap
	}
	tr := track(t, path, o.cfg)
	if at, ok := netlab.SnapshotTime(bytes.NewReader(ssText)); ok {
		tr.Advance(at)
	}
	key := func(st tracker.State, local, peer netip.AddrPort, sendQ uint32) string {
		if o.noSendQ {
			sendQ = 0
		}
		return testkit.Key(st, local, peer, sendQ)
	}
	want, got := map[string]int{}, map[string]int{}
	kernelListeners := map[netip.AddrPort]bool{}
	for _, s := range kernel {
		if s.State == tracker.Listen {
			kernelListeners[s.Local] = true
			continue
		}
		if !s.State.Counted() {
			continue
		}
		st := s.State
		if rd, ok := o.readings[s.Local]; ok {
			t.Logf("kernel %s %s %s: expected as %v: %s", s.State, s.Local, s.Peer, rd.state, rd.why)
			st = rd.state
			if !st.Counted() {
				continue
			}
		}
		want[key(st, s.Local, s.Peer, s.SendQ)]++
	}
	tr.Sockets(func(s tracker.Socket) {
		if o.phantom.IsValid() && s.Local.Addr() == o.phantom {
			t.Logf("tracker: %s %s %s (the injector's side: no kernel socket)", s.State, s.Local, s.Peer)
			return
		}
		got[key(s.State, s.Local, s.Peer, s.SendQ)]++
	})
	tr.Unconfirmed(func(s tracker.Socket) {
		t.Logf("tracker, unconfirmed: %s %s %s", s.State, s.Local, s.Peer)
	})
	if missing, extra := testkit.Diff(want, got), testkit.Diff(got, want); len(missing)+len(extra) > 0 {
		ssShown := string(ssText)
		if len(kernel) > 60 {
			ssShown = fmt.Sprintf("(%d sockets)\n", len(kernel))
		}
		t.Errorf("%s: the tracker's sockets differ from the kernel's\nkernel only (missed by tracker), %d:\n\t%s\ntracker only (not in kernel), %d:\n\t%s\nss:\n%s",
			path, len(missing), strings.Join(firstFew(missing), "\n\t"), len(extra), strings.Join(firstFew(extra), "\n\t"), ssShown)
	}
	inferred := map[netip.AddrPort]bool{}
	tr.Listeners(func(a netip.AddrPort, _ uint16, _ uint32) {
		inferred[a] = true
		if !kernelListeners[a] {
			t.Errorf("tracker infers a listener on %s; the kernel has none", a)
		}
	})
	for _, a := range o.listeners {
		if !inferred[a] {
			t.Errorf("tracker infers no listener on %s; the kernel listens there", a)
		}
	}
	return tr
}

// kernelState returns the state of the kernel socket local-peer in ss, or
// Unknown when there is none.
func kernelState(t *testing.T, ssText []byte, local, peer netip.AddrPort) tracker.State {
	t.Helper()
	socks, err := netlab.ParseSS(bytes.NewReader(ssText))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range socks {
		if s.Local == local && s.Peer == peer {
			return s.State
		}
	}
	return tracker.Unknown
}

// expectKernel checks the lab did what a case means to do: that the
// kernel's socket local-peer is in state want (Unknown: gone). A failure
// here is a broken lab or a kernel that changed, not a tracker bug.
func expectKernel(t *testing.T, ssText []byte, local, peer netip.AddrPort, want tracker.State, what string) {
	t.Helper()
	if got := kernelState(t, ssText, local, peer); got != want {
		t.Errorf("lab: %s: kernel socket %s %s is %v, the case needs %v", what, local, peer, got, want)
	}
}

var errNoReset = errors.New("no reset")

// expectReset reads c until an error, which must be a reset.
func expectReset(c *net.TCPConn) error {
	c.SetReadDeadline(time.Now().Add(waitLimit))
	var buf [64]byte
	for {
		_, err := c.Read(buf[:])
		if err == nil {
			continue
		}
		if errors.Is(err, syscall.ECONNRESET) {
			return nil
		}
		return fmt.Errorf("%w: %v", errNoReset, err)
	}
}

// firstFew cuts a long list of differences to its first 20.
func firstFew(lines []string) []string {
	if len(lines) <= 20 {
		return lines
	}
	return append(lines[:20:20], fmt.Sprintf("... and %d more", len(lines)-20))
}
