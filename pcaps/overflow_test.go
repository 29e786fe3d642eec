package pcaps_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/netlab"
	"github.com/tcptrack/tcptrack/tracker"
)

// TestAcceptQueueOverflow fills a real listener's accept queue in a
// namespace and holds tcptrack's overflow counter for it to the kernel's
// TcpExtListenOverflows of that namespace; a second listener in the same
// capture, whose queue has room, must show none.
//
// Port 9001 listens with backlog 2 and never accepts. Two clients connect
// while their final ACKs are stolen at the client's egress (before the
// capture point): their SYNs are answered while the accept queue is empty,
// and the server holds two request sockets, as many as backlog 2 allows
// (further SYNs get SYN cookies). Then three more connect and complete (by
// cookie), filling the accept queue (three is over the backlog). At the
// server's first SYN+ACK retransmission (1 s) the first two clients' ACKs
// get through and find the queue full: the kernel drops them and counts
// ListenOverflows; at the next retransmission (3 s) again, and tcptrack
// sees the SYN+ACK resent after the client's ACK. So every overflow is a
// dropped final ACK, not a dropped SYN (which the kernel counts too, and
// the wire shows only as an unanswered SYN).
//
// Tolerance: the kernel counts a drop when the ACK arrives, tcptrack when
// the server's SYN+ACK retransmission shows it, so at the snapshot each
// connection still waiting in SYN_RECV may have one drop the kernel counted
// and tcptrack not yet:
//
//	overflows ≤ ListenOverflows ≤ overflows + half-open
func TestAcceptQueueOverflow(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("fills an accept queue in network namespaces: needs root (CI runs as root)")
	}
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lab, err := netlab.New(ctx, netlab.Veth, netlab.IPv4)
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()
	const full, roomy = 9001, 9002
	if err := lab.Server.ListenBacklog(full, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := lab.Server.Listen(roomy); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "overflow.pcap")
	capture, err := lab.Client.StartCapture("veth0", "", path)
	if err != nil {
		t.Fatal(err)
	}
	restore, err := lab.Client.StealEgress("by_overflow", fmt.Sprintf("tcp dport %d tcp flags & (syn|fin|rst) == 0", full))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for range 2 {
		if err := lab.Client.Connect(netip.AddrPortFrom(lab.Server.Addr, full)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if err := restore(); err != nil {
		t.Fatal(err)
	}
	for _, port := range []uint16{full, full, full, roomy, roomy, roomy} {
		if _, err := lab.Client.Dial(netip.AddrPortFrom(lab.Server.Addr, port)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Until(start.Add(4500 * time.Millisecond))) // past the retransmissions at 1 s and 3 s
	if err := lab.Freeze(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	at := time.Now()
	kernel, err := lab.Server.Nstat("TcpExtListenOverflows", "TcpExtListenDrops")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := capture.Stop(); err != nil {
		t.Fatal(err)
	}

	tr := track(t, path, tracker.Config{})
	tr.Advance(at)
	health := map[uint16]tracker.ListenerHealth{}
	tr.ListenersHealth(func(h tracker.ListenerHealth) { health[h.Addr.Port()] = h })
	f, r := health[full], health[roomy]
	k := kernel["TcpExtListenOverflows"]
	t.Logf("kernel: ListenOverflows %d, ListenDrops %d; tcptrack port %d: %+v; port %d: %+v",
		k, kernel["TcpExtListenDrops"], full, f, roomy, r)
	switch {
	case k == 0:
		t.Fatal("the kernel counted no overflow: the scenario did not fill the queue")
	case f.Overflows == 0 || f.Overflows > k || k > f.Overflows+uint64(f.HalfOpen):
		t.Errorf("port %d: tcptrack counts %d overflows with %d half-open; the kernel %d: want %d ≤ kernel ≤ %d",
			full, f.Overflows, f.HalfOpen, k, f.Overflows, f.Overflows+uint64(f.HalfOpen))
	}
	if r.Overflows != 0 || r.Handshakes != 3 {
		t.Errorf("port %d, whose queue has room: %d overflows, %d handshakes; want 0 and 3", roomy, r.Overflows, r.Handshakes)
	}
	// Handshakes counts what the wire showed complete: the two whose ACK
	// the kernel dropped too, before their SYN+ACK came again.
	if f.SYNs != 5 || f.Handshakes != 5 || f.HalfOpen != 2 {
		t.Errorf("port %d: %d SYNs, %d handshakes, %d half-open; want 5, 5 and 2", full, f.SYNs, f.Handshakes, f.HalfOpen)
	}
}
