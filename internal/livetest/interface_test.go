package livetest

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/netlab"
	"github.com/tcptrack/tcptrack/tracker"
)

// Bounds for the outage. tcptrack notices a deleted interface when its
// next read fails, and retries the open 1 s after, doubling to 30 s; the
// link is back within a fraction of a second of being seen gone, so the
// first or second retry (at most 1 + 2 s later) finds it.
const (
	reopenFirst = time.Second
	downTimeout = 5 * time.Second
	upTimeout   = 10 * time.Second
)

// TestCaptureInterfaceReturns deletes the veth tcptrack captures on while
// it runs, and re-creates it with the same name and addresses:
// tcptrack_capture_up must go to 0 while the exporter keeps serving and the
// process keeps running, back to 1, and a connection made across the new
// link must be counted. It does so as root, and after --user has dropped
// root keeping CAP_NET_RAW, which is what the reopen needs, with either
// capture engine.
func TestCaptureInterfaceReturns(t *testing.T) {
	requireRoot(t)
	tcptrackBinary(t) // once, before the parallel subtests
	for _, tc := range []struct {
		name  string
		flags []string
	}{
		{"root", nil},
		// nobody exists on every Debian system.
		{"user-nobody", []string{"--user", "nobody"}},
		{"user-nobody-afpacket", []string{"--user", "nobody", "--capture-engine", "afpacket"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testInterfaceReturns(t, tc.flags)
		})
	}
}

func testInterfaceReturns(t *testing.T, flags []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	l, err := netlab.New(ctx, netlab.Veth, netlab.IPv4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("closing the lab: %v", err)
		}
	})
	const port = 80
	if _, err := l.Server.Listen(port); err != nil {
		t.Fatal(err)
	}
	// tcptrack runs in the server's namespace and serves on its loopback,
	// which deleting the veth leaves alone.
	lt := startLive(ctx, t, l.Server.Netns, l.Server.Iface, flags...)
	dst := netip.AddrPortFrom(l.Server.Addr, port)

	// connect dials across the veth and waits until the scraped gauge
	// shows as many ESTABLISHED endpoints as the kernel has.
	connect := func(stage string) int {
		t.Helper()
		if _, err := l.Client.Dial(dst); err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
		want, ssText, err := kernelCounts(l)
		if err != nil {
			t.Fatal(err)
		}
		err = lt.poll(ctx, agreeTimeout, func(m metrics) error {
			got, err := m.states()
			if err != nil {
				return err
			}
			if got[tracker.Established] != want[tracker.Established] {
				return fmt.Errorf("established: tcptrack %d, kernel %d", got[tracker.Established], want[tracker.Established])
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v\nss -tan:\n%s", stage, err, ssText)
		}
		return want[tracker.Established]
	}
	before := connect("before the outage")

	start := time.Now()
	if err := ipIn(ctx, l.Server.Netns, "link", "del", l.Server.Iface); err != nil {
		t.Fatal(err)
	}
	err = lt.poll(ctx, downTimeout, func(m metrics) error {
		if up := m.captureUp(); up != 0 {
			return fmt.Errorf("tcptrack_capture_up %v with %s deleted", up, l.Server.Iface)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("capture_up 0 %s after the delete", time.Since(start).Round(time.Millisecond))
	// Still serving, still running, and still down while the link is
	// missing, past the first reopen attempt: a failed reopen must not
	// pretend to succeed, nor end the process.
	if err := lt.hold(ctx, reopenFirst+500*time.Millisecond, func(m metrics) error {
		if up := m.captureUp(); up != 0 {
			return fmt.Errorf("tcptrack_capture_up %v with %s still deleted", up, l.Server.Iface)
		}
		_, err := m.states()
		return err
	}); err != nil {
		t.Fatal(err)
	}

	start = time.Now()
	if err := recreateVeth(ctx, l); err != nil {
		t.Fatal(err)
	}
	err = lt.poll(ctx, upTimeout, func(m metrics) error {
		if up := m.captureUp(); up != 1 {
			return fmt.Errorf("tcptrack_capture_up %v after %s came back", up, l.Server.Iface)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("capture_up 1 %s after the re-create", time.Since(start).Round(time.Millisecond))

	if after := connect("after the outage"); after <= before {
		t.Fatalf("kernel ESTABLISHED went from %d to %d: the new connection did not count", before, after)
	}
	if lt.exited() {
		t.Fatalf("tcptrack exited on its own: %v", lt.waitErr)
	}
	if code := lt.stop(t); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
}

// recreateVeth makes the lab's veth pair again as netlab.New made it, with the
// same names, link-layer addresses and IP addresses on both ends.
func recreateVeth(ctx context.Context, l *netlab.Lab) error {
	c, s := l.Client, l.Server
	if err := ipIn(ctx, "", "link", "add", c.Iface, "netns", c.Netns, "address", c.MAC,
		"type", "veth", "peer", "name", s.Iface, "netns", s.Netns, "address", s.MAC); err != nil {
		return err
	}
	for _, h := range []*netlab.Host{c, s} {
		bits := 24
		if h.Addr.Is6() {
			bits = 64
		}
		if err := ipIn(ctx, h.Netns, "addr", "add", netip.PrefixFrom(h.Addr, bits).String(), "dev", h.Iface); err != nil {
			return err
		}
		if err := ipIn(ctx, h.Netns, "link", "set", h.Iface, "up"); err != nil {
			return err
		}
	}
	return nil
}

// ipIn runs ip(8) in netns, or in the initial namespace if netns is empty.
func ipIn(ctx context.Context, netns string, args ...string) error {
	if netns != "" {
		args = append([]string{"-n", netns}, args...)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
