package pcaps_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/internal/netlab"
	"github.com/tcptrack/tcptrack/metrics"
	"github.com/tcptrack/tcptrack/tracker"
)

// TestByPortMatchesKernel holds `tcptrack --by port` on every committed
// capture to the per-port one-liner run on the kernel's ss beside it:
//
//	ss -tan | grep :PORT | awk '{++S[$1]} END {for (a in S) print a, S[a]}'
//
// for every port the kernel listens on or tcptrack reports, LISTEN aside
// (netstat -n lists no listener). A socket counts under PORT when its
// local or its peer port is PORT, as grep matches either column. Where the
// wire is a documented ambiguity, the kernel's socket is expected in the
// tracker's reading, as in TestKernelCaptures.
func TestByPortMatchesKernel(t *testing.T) {
	paths, err := filepath.Glob("*.pcap")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no captures: %v", err)
	}
	for _, p := range paths {
		name := strings.TrimSuffix(p, ".pcap")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc, err := netlab.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(name + ".ss")
			if err != nil {
				t.Fatal(err)
			}
			kernel, err := netlab.ParseSS(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			tr := track(t, p, sc.Config)
			if at, ok := netlab.SnapshotTime(bytes.NewReader(raw)); ok {
				tr.Advance(at)
			}
			var out bytes.Buffer
			if err := metrics.WriteBy(&out, metrics.GroupBy(metrics.Collect(tr, false), metrics.By{Kind: metrics.ByPort}, false), metrics.By{Kind: metrics.ByPort}); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			ports := map[uint16]bool{}
			for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
				if l == "" {
					continue
				}
				got[l] = true
				var port uint16
				fmt.Sscan(l, &port)
				ports[port] = true
			}
			for _, s := range kernel {
				if s.State == tracker.Listen {
					ports[s.Local.Port()] = true
				}
			}
			// The one-liner, port by port.
			want := map[string]bool{}
			for port := range ports {
				var states [tracker.NumStates]int
				for _, s := range kernel {
					if !s.State.Counted() || s.Local.Port() != port && s.Peer.Port() != port {
						continue
					}
					st := s.State
					if a, ok := s.Reading(); ok {
						if a.Unconfirmed || !a.Reading.Counted() {
							continue // not in the counts: reported apart
						}
						st = a.Reading
					}
					states[st]++
				}
				for st, n := range states {
					if n > 0 {
						want[fmt.Sprintf("%d %s %d", port, tracker.State(st), n)] = true
					}
				}
			}
			var missing, extra []string
			for l := range want {
				if !got[l] {
					missing = append(missing, l)
				}
			}
			for l := range got {
				if !want[l] {
					extra = append(extra, l)
				}
			}
			slices.Sort(missing)
			slices.Sort(extra)
			if len(missing)+len(extra) > 0 {
				t.Errorf("--by port differs from the one-liner on %s.ss\nkernel only:\n\t%s\ntcptrack only:\n\t%s",
					name, strings.Join(missing, "\n\t"), strings.Join(extra, "\n\t"))
			}
		})
	}
}
