package decode

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/tracker"
	"golang.org/x/sys/unix"
)

// ip runs ip(8) and fails the test on error.
func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// inNetns runs fn on an OS thread that has joined network namespace ns, so
// that the sockets and capture handles fn opens live there, and returns when
// fn does. The thread is never handed back to the scheduler (the goroutine
// exits locked), so no other goroutine runs in the namespace by accident.
func inNetns(ns string, fn func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := syscall.Open("/var/run/netns/"+ns, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer syscall.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		fn()
		errc <- nil
	}()
	return <-errc
}

// TestLive captures on one end of a veth pair joining two namespaces the
// test creates, sees a real TCP handshake cross it, then deletes the veth
// and expects Next to report ErrInterfaceGone.
func TestLive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root to create network namespaces and open a capture")
	}
	id := os.Getpid() % 100000
	nsA, nsB := fmt.Sprintf("ttdecA%d", id), fmt.Sprintf("ttdecB%d", id)
	vethA, vethB := fmt.Sprintf("ttda%d", id), fmt.Sprintf("ttdb%d", id)
	for _, ns := range []string{nsA, nsB} {
		ip(t, "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	ip(t, "link", "add", vethA, "netns", nsA, "type", "veth", "peer", "name", vethB, "netns", nsB)
	// Documentation addresses (RFC 5737), reachable only inside the test's
	// namespaces.
	ip(t, "-n", nsA, "addr", "add", "192.0.2.1/24", "dev", vethA)
	ip(t, "-n", nsB, "addr", "add", "192.0.2.2/24", "dev", vethB)
	ip(t, "-n", nsA, "link", "set", vethA, "up")
	ip(t, "-n", nsB, "link", "set", vethB, "up")

	type result struct {
		segs  []tracker.Segment
		stats CaptureStats
		err   error // the error that ended the capture
	}
	opened := make(chan error, 1)
	seen := make(chan struct{})
	done := make(chan result, 1)
	// capture runs on a thread inside nsA from opening the handle to the
	// last Next, so that its interface checks look in nsA.
	capture := func() {
		if err := interfaceExists("lo-not-there"); !errors.Is(err, ErrInterfaceGone) {
			opened <- fmt.Errorf("missing interface: got %v, want ErrInterfaceGone", err)
			return
		}
		l, err := OpenLive(vethA, LiveConfig{Filter: "tcp port 8099", Immediate: true, Timeout: 100 * time.Millisecond})
		if err != nil {
			opened <- err
			return
		}
		defer l.Close()
		var (
			res  result
			f    Frame
			seg  tracker.Segment
			d    = NewDecoder()
			tick = time.Now()
		)
		// Nothing is sent yet: Next must come back on its own.
		if err := l.Next(&f); err != ErrTimeout || time.Since(tick) > 5*time.Second {
			opened <- fmt.Errorf("idle link: Next returned %v after %v, want ErrTimeout after about 100ms", err, time.Since(tick))
			return
		}
		opened <- nil
		// Bounded: 30 s of reads at most.
		for time.Since(tick) < 30*time.Second {
			err := l.Next(&f)
			if errors.Is(err, ErrTimeout) {
				continue
			}
			if err != nil {
				res.err = err
				break
			}
			if err := d.Decode(&f, &seg); err == nil {
				res.segs = append(res.segs, seg)
				if len(res.segs) == 3 {
					res.stats, res.err = l.Stats()
					if res.err != nil {
						break
					}
					close(seen)
				}
			}
		}
		done <- res
	}
	go func() {
		if err := inNetns(nsA, capture); err != nil {
			opened <- err
		}
	}()
	if err := <-opened; err != nil {
		t.Fatal(err)
	}

	var (
		ln        net.Listener
		listenErr error
	)
	if err := inNetns(nsB, func() { ln, listenErr = net.Listen("tcp4", "192.0.2.2:8099") }); err != nil || listenErr != nil {
		t.Fatalf("listen in %s: %v %v", nsB, err, listenErr)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	var dialErr error
	if err := inNetns(nsA, func() {
		var c net.Conn
		if c, dialErr = net.DialTimeout("tcp4", "192.0.2.2:8099", 5*time.Second); dialErr == nil {
			c.Close()
		}
	}); err != nil || dialErr != nil {
		t.Fatalf("dial from %s: %v %v", nsA, err, dialErr)
	}

	select {
	case <-seen:
	case res := <-done:
		t.Fatalf("capture ended before the handshake was seen: %v", res.err)
	case <-time.After(20 * time.Second):
		t.Fatal("handshake not captured within 20 s")
	}
	ip(t, "-n", nsA, "link", "del", vethA)

	var res result
	select {
	case res = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Next did not fail within 20 s of the interface's deletion")
	}
	if !errors.Is(res.err, ErrInterfaceGone) {
		t.Errorf("after deleting %s: Next error %v, want ErrInterfaceGone", vethA, res.err)
	}
	syn := res.segs[0]
	want := netip4("192.0.2.1")
	if syn.Flags != tracker.SYN || syn.Src != want || syn.DstPort != 8099 || syn.Options.MSS != 1460 {
		t.Errorf("first segment %+v, want a SYN from %v to port 8099 with MSS 1460 (MTU 1500)", syn, want)
	}
	if res.segs[1].Flags != tracker.SYN|tracker.ACK || res.segs[1].Ack != syn.Seq+1 {
		t.Errorf("second segment %+v, want SYN+ACK acking %d", res.segs[1], syn.Seq+1)
	}
	if res.stats.Received < 3 {
		t.Errorf("pcap stats received %d, want at least the 3 handshake packets", res.stats.Received)
	}
}

func netip4(s string) netip.Addr { return netip.MustParseAddr(s) }
