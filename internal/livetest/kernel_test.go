package livetest

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/netlab"
	"github.com/tcptrack/tcptrack/tracker"
)

// required are the states the kernel must show for the comparison to mean
// something: every state a live socket can be in, LISTEN aside.
var required = []tracker.State{
	tracker.Established, tracker.SynSent, tracker.SynRecv, tracker.FinWait1, tracker.FinWait2,
	tracker.CloseWait, tracker.Closing, tracker.LastAck, tracker.TimeWait,
}

// liveParts puts sockets into every required state, more than one of most,
// plus connections that leave nothing behind (reset, refused) so that
// tcptrack must also let endpoints go. Every kind's states hold for well
// over a minute once the lab is frozen: the sockets are attached (no orphan
// timeouts), and the kernel's TIME_WAIT (60 s) and SYN_RECV (63 s of
// SYN+ACK retries) outlast the test. MidStream is left out: tcptrack runs
// from before the first connection.
var liveParts = []netlab.Part{
	{Kind: netlab.Established, N: 3},
	{Kind: netlab.CloseClient, N: 2},
	{Kind: netlab.CloseServer, N: 1},
	{Kind: netlab.HalfClose, N: 2},
	{Kind: netlab.TimeWait, N: 1},
	{Kind: netlab.LastAck, N: 2},
	{Kind: netlab.FinWait1, N: 2},
	{Kind: netlab.SimultaneousClose, N: 2},
	{Kind: netlab.SynSent, N: 2},
	{Kind: netlab.SynRecv, N: 2},
	{Kind: netlab.Reset, N: 1},
	{Kind: netlab.Refused, N: 1},
}

// TestLiveMatchesKernel runs tcptrack live on the server's end of a veth
// pair from before the first connection, drives real kernel sockets into
// every state, freezes the link, and requires the scraped per-state gauge,
// then the counts printed on SIGTERM, to equal `ss -tan` of both
// namespaces, state by state; for each address family and capture engine.
func TestLiveMatchesKernel(t *testing.T) {
	requireRoot(t)
	tcptrackBinary(t) // once, before the parallel subtests
	for _, tc := range []struct {
		name   string
		fam    netlab.Family
		engine string
	}{
		{"ipv4", netlab.IPv4, "pcap"},
		{"ipv6", netlab.IPv6, "pcap"},
		{"ipv4-afpacket", netlab.IPv4, "afpacket"},
		{"ipv6-afpacket", netlab.IPv6, "afpacket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			l, err := netlab.New(ctx, netlab.Veth, tc.fam)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := l.Close(); err != nil {
					t.Errorf("closing the lab: %v", err)
				}
			})
			sc := netlab.Scenario{Name: "live-" + tc.name, Topology: netlab.Veth, Family: tc.fam,
				Iface: "veth0", Parts: liveParts}

			var lt *liveTracker
			err = sc.Play(l, func() error {
				lt = startLive(ctx, t, l.Server.Netns, l.Server.Iface, "--capture-engine", tc.engine)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// From here no frame leaves a veth, so nothing tcptrack can
			// see changes any more, nor does anything ss shows.
			raw, err := l.Snapshot()
			if err != nil {
				t.Fatal(err)
			}
			want, ssText, err := countSS(raw)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("ss -tan:\n%s", ssText)
			for _, st := range required {
				if want[st] == 0 {
					t.Fatalf("the lab left no socket in %s, so the comparison would prove nothing:\n%s", st, ssText)
				}
			}

			err = lt.agrees(ctx, want)
			if err != nil {
				t.Fatalf("scraped tcptrack_connection_states never equalled ss -tan: %v", err)
			}
			// The kernel still agrees with itself: nothing moved while
			// tcptrack caught up.
			if again, _, err := kernelCounts(l); err != nil {
				t.Fatal(err)
			} else if d := diff(again, want); d != "" {
				t.Fatalf("kernel states moved during the test (a scenario is not stable): %s", d)
			}

			// The two ways of asking while it runs print the same.
			if c, err := lt.counts(ctx); err != nil {
				t.Error(err)
			} else if d := diff(c, want); d != "" {
				t.Errorf("GET /counts differs from ss -tan: %s", d)
			}
			if err := lt.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			if err := waitFor(ctx, agreeTimeout, func() error {
				c, err := parseCounts(lt.stdout.String())
				if err != nil {
					return err
				}
				if d := diff(c, want); d != "" {
					return errors.New(d)
				}
				return nil
			}); err != nil {
				t.Errorf("counts printed on SIGUSR1 differ from ss -tan: %v\nstdout:\n%s", err, lt.stdout.String())
			}
			printed := len(lt.stdout.String())

			if code := lt.stop(t); code != 0 {
				t.Errorf("exit status %d after SIGTERM, want 0", code)
			}
			final, err := parseCounts(lt.stdout.String()[printed:])
			if err != nil {
				t.Fatalf("%v\nstdout:\n%s", err, lt.stdout.String())
			}
			if d := diff(final, want); d != "" {
				t.Errorf("final counts on SIGTERM differ from ss -tan: %s\nstdout:\n%s", d, lt.stdout.String())
			}
		})
	}
}
