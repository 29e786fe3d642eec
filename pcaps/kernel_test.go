package pcaps_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/netlab"
	"github.com/tcptrack/tcptrack/internal/testkit"
	"github.com/tcptrack/tcptrack/tracker"
)

// TestKernelCaptures holds every committed capture to the kernel's own
// snapshot beside it: per-state counts and the per-socket listing must
// equal ss -tan of every namespace, LISTEN aside (a listener sends nothing;
// inferred listeners are reported apart).
func TestKernelCaptures(t *testing.T) {
	paths, err := filepath.Glob("*.pcap")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no captures in pcaps/")
	}
	for _, p := range paths {
		name := strings.TrimSuffix(p, ".pcap")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc, err := netlab.Lookup(name)
			if err != nil {
				t.Fatalf("%s: no scenario of that name: %v", p, err)
			}
			compareWithKernel(t, sc, p, name+".ss")
		})
	}
}

// freshScenarios are recorded anew on every root run, so that the referee
// is today's kernel and not only the one that recorded the committed files.
// One of each hard case, both families and both link types; together they
// take about 10 s when run in parallel.
var freshScenarios = []string{
	"handshake", "last-ack", "fin-wait1-v6", "closing", "syn-recv", "syn-sent-v6",
	"midstream", "rst-v6", "loopback", "any-sll2",
	"syn-recv-unseen", "last-ack-unseen-v6", "fin-wait1-unseen", "fin-retransmit-v6",
	"fin-timeout", "retry-timeout", "synack-lost-v6", "synack-unseen", "fin-lost-data", "fin-unseen-data-v6",
	"facts-v6", "facts-noopts",
}

// TestKernelFresh records freshScenarios into a temporary directory with
// netlab and compares them like TestKernelCaptures, and their connection
// facts like TestKernelFacts.
func TestKernelFresh(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("records from the kernel in network namespaces: needs root (CI runs as root)")
	}
	for _, name := range freshScenarios {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc, err := netlab.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			// Record deletes its namespaces before it returns,
			// failed or not.
			if err := netlab.Record(ctx, sc, dir); err != nil {
				t.Fatalf("record: %v", err)
			}
			compareWithKernel(t, sc, filepath.Join(dir, name+".pcap"), filepath.Join(dir, name+".ss"))
			compareFacts(t, sc, filepath.Join(dir, name+".pcap"), filepath.Join(dir, name+".ssi"))
		})
	}
}

// compareWithKernel runs a capture through decode and tracker, with the
// scenario's tracker configuration and the capture clock run up to the
// moment of the snapshot, and reports every difference from the kernel's
// snapshot: per-state counts, and the listing of every socket with its
// state and Send-Q (the SYN and FIN count one, as in the kernel's). Where
// the scenario's wire is a documented ambiguity (netlab.Ambiguity), the
// kernel's socket is expected in the tracker's reading instead, and the
// test says so.
func compareWithKernel(t *testing.T, sc netlab.Scenario, pcapPath, ssPath string) {
	t.Helper()
	raw, err := os.ReadFile(ssPath)
	if err != nil {
		t.Fatal(err)
	}
	kernel, err := netlab.ParseSS(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: %v", ssPath, err)
	}

	tr := track(t, pcapPath, sc.Config)
	if at, ok := netlab.SnapshotTime(bytes.NewReader(raw)); ok {
		tr.Advance(at)
	}

	var want, wantUnconfirmed [tracker.NumStates]int
	wantSet, wantUnconfirmedSet := map[string]int{}, map[string]int{}
	for _, s := range kernel {
		if !s.State.Counted() { // LISTEN
			continue
		}
		st, unconfirmed := s.State, false
		if a, ok := s.Reading(); ok {
			t.Logf("%s: %s %s: documented ambiguity, expected as %s (unconfirmed %v): %s",
				pcapPath, s.Local, s.State, a.Reading, a.Unconfirmed, a.Why)
			st, unconfirmed = a.Reading, a.Unconfirmed
			if !st.Counted() {
				continue // the tracker reads nothing there
			}
		}
		if unconfirmed {
			wantUnconfirmed[st]++
			wantUnconfirmedSet[testkit.Key(st, s.Local, s.Peer, s.SendQ)]++
			continue
		}
		want[st]++
		wantSet[testkit.Key(st, s.Local, s.Peer, s.SendQ)]++
	}
	stats := tr.Stats()
	for st := range tracker.NumStates {
		if stats.States[st] != want[st] {
			t.Errorf("%s: %s: tracker counts %d, kernel has %d", pcapPath, st, stats.States[st], want[st])
		}
		if stats.Unconfirmed[st] != wantUnconfirmed[st] {
			t.Errorf("%s: %s: tracker counts %d unconfirmed, want %d", pcapPath, st, stats.Unconfirmed[st], wantUnconfirmed[st])
		}
	}
	compareSets(t, pcapPath, ssPath, "", wantSet, tr.Sockets)
	compareSets(t, pcapPath, ssPath, "unconfirmed ", wantUnconfirmedSet, tr.Unconfirmed)
}

// compareSets reports the differences between the sockets wanted and those
// list gives.
func compareSets(t *testing.T, pcapPath, ssPath, what string, want map[string]int, list func(func(tracker.Socket))) {
	t.Helper()
	got := map[string]int{}
	list(func(s tracker.Socket) {
		got[testkit.Key(s.State, s.Local, s.Peer, s.SendQ)]++
	})
	if missing, extra := testkit.Diff(want, got), testkit.Diff(got, want); len(missing)+len(extra) > 0 {
		t.Errorf("%s: %ssockets differ from %s\nkernel only (missed by tracker):\n\t%s\ntracker only (not in kernel):\n\t%s",
			pcapPath, what, ssPath, strings.Join(missing, "\n\t"), strings.Join(extra, "\n\t"))
	}
}

// track feeds every TCP segment of the capture to a fresh tracker with the
// configuration cfg, as tcptrack -r does. Frames that are not TCP (ARP,
// neighbour discovery) are skipped; a malformed frame is an error, since
// the kernel wrote them all.
func track(t *testing.T, path string, cfg tracker.Config) *tracker.Tracker {
	t.Helper()
	return trackEach(t, path, cfg, nil)
}

// trackEach is track that also calls each, if not nil, with every segment
// after the tracker has seen it.
func trackEach(t *testing.T, path string, cfg tracker.Config, each func(*tracker.Segment)) *tracker.Tracker {
	t.Helper()
	tr := tracker.New(cfg)
	testkit.File(t, path, func(seg *tracker.Segment) {
		tr.Track(seg)
		if each != nil {
			each(seg)
		}
	})
	return tr
}
