package livetest

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/netlab"
)

// The soak's phases: a minute of churn (new connections that carry a
// request and close, next to long ones that keep talking), then quiet
// long enough for every TIME_WAIT of the churn to run out in the kernel
// (60 s) and in tcptrack alike, so that the end compares no socket whose
// timer is about to run out.
const (
	soakChurn   = 60 * time.Second
	soakQuiet   = 63 * time.Second
	soakWarmUp  = 20 * time.Second
	soakEvery   = 50 * time.Millisecond // a new connection
	soakLong    = 20                    // connections that live through the soak
	soakRSSGrow = 8 << 20               // allowed RSS growth after warm-up
)

// TestSoak runs tcptrack live on a veth for about two minutes under a
// steady mix of new, closing and long connections: its resident memory
// stays flat after warm-up (no growth beyond soakRSSGrow: a leak of 7 KB per
// connection would show), and at the end its counts equal the kernel's
// `ss -tan` of both namespaces.
func TestSoak(t *testing.T) {
	requireRoot(t)
	if testing.Short() {
		t.Skip("runs for two minutes; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), soakChurn+soakQuiet+60*time.Second)
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
	const port = 8080
	ln, err := l.Server.Listen(port)
	if err != nil {
		t.Fatal(err)
	}
	lt := startLive(ctx, t, l.Server.Netns, l.Server.Iface)

	// The server echoes every line back; a connection ends when its
	// client closes.
	var serving sync.WaitGroup
	serving.Add(1)
	go func() {
		defer serving.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	addr := netip.AddrPortFrom(l.Server.Addr, port)
	exchange := func(c *net.TCPConn) error {
		if err := c.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			return err
		}
		if _, err := c.Write([]byte("ping\n")); err != nil {
			return err
		}
		var b [5]byte
		_, err := io.ReadFull(c, b[:])
		return err
	}
	var long []*net.TCPConn
	for range soakLong {
		c, err := l.Client.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		long = append(long, c)
	}

	pid := lt.cmd.Process.Pid
	var rss []int64
	start := time.Now()
	next := start
	churned := 0
	for time.Since(start) < soakChurn+soakQuiet {
		if time.Since(start) < soakChurn {
			// One new connection: a request, then the client closes
			// (it ends in TIME_WAIT); every fifth is reset instead.
			c, err := l.Client.Dial(addr)
			if err != nil {
				t.Fatal(err)
			}
			if err := exchange(c); err != nil {
				t.Fatal(err)
			}
			if churned%5 == 4 {
				c.SetLinger(0)
			}
			c.Close()
			churned++
		}
		if churned%20 == 0 || time.Since(start) >= soakChurn {
			for _, c := range long {
				if err := exchange(c); err != nil {
					t.Fatalf("a long connection: %v", err)
				}
			}
		}
		if el := time.Since(start); el >= soakWarmUp && el < soakChurn && len(rss) < int((el-soakWarmUp)/(5*time.Second))+1 {
			rss = append(rss, vmRSS(t, pid))
		}
		next = next.Add(soakEvery)
		time.Sleep(time.Until(next))
	}
	lo, hi := rss[0], rss[0]
	for _, r := range rss {
		lo, hi = min(lo, r), max(hi, r)
	}
	t.Logf("%d connections churned beside %d long ones; RSS after warm-up %d to %d KiB over %d samples",
		churned, soakLong, lo>>10, hi>>10, len(rss))
	if hi-lo > soakRSSGrow {
		t.Errorf("RSS grew by %d KiB after warm-up, more than %d KiB: %v", (hi-lo)>>10, soakRSSGrow>>10, rss)
	}

	raw, err := l.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	want, ssText, err := countSS(raw)
	if err != nil {
		t.Fatal(err)
	}
	err = lt.agrees(ctx, want)
	if err != nil {
		t.Fatalf("after the soak, tcptrack_connection_states never equalled ss -tan: %v\n%s", err, ssText)
	}
	ln.Close()
	if code := lt.stop(t); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
	serving.Wait()
}

// vmRSS returns the resident memory of process pid.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmRSS for %d", pid)
	return 0
}
