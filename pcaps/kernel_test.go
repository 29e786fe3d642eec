package pcaps_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/decode"
	"github.com/tcptrack/tcptrack/internal/netlab"
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
			compareWithKernel(t, p, name+".ss")
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
}

// TestKernelFresh records freshScenarios into a temporary directory with
// netlab and compares them like TestKernelCaptures.
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
			compareWithKernel(t, filepath.Join(dir, name+".pcap"), filepath.Join(dir, name+".ss"))
		})
	}
}

// compareWithKernel runs a capture through decode and tracker and reports
// every difference from the kernel's snapshot.
func compareWithKernel(t *testing.T, pcapPath, ssPath string) {
	t.Helper()
	f, err := os.Open(ssPath)
	if err != nil {
		t.Fatal(err)
	}
	kernel, err := netlab.ParseSS(f)
	f.Close()
	if err != nil {
		t.Fatalf("%s: %v", ssPath, err)
	}

	tr := track(t, pcapPath)

	var want [tracker.NumStates]int
	wantSet := map[string]int{}
	for _, s := range kernel {
		if !s.State.Counted() { // LISTEN
			continue
		}
		want[s.State]++
		wantSet[socketKey(s.State, s.Local, s.Peer)]++
	}
	got := tr.Stats().States
	for st := range tracker.NumStates {
		if got[st] != want[st] {
			t.Errorf("%s: %s: tracker counts %d, kernel has %d", pcapPath, st, got[st], want[st])
		}
	}
	gotSet := map[string]int{}
	tr.Sockets(func(s tracker.Socket) {
		gotSet[socketKey(s.State, s.Local, s.Peer)]++
	})
	if missing, extra := diff(wantSet, gotSet), diff(gotSet, wantSet); len(missing)+len(extra) > 0 {
		t.Errorf("%s: sockets differ from %s\nkernel only (missed by tracker):\n\t%s\ntracker only (not in kernel):\n\t%s",
			pcapPath, ssPath, strings.Join(missing, "\n\t"), strings.Join(extra, "\n\t"))
	}
}

// track feeds every TCP segment of the capture to a fresh tracker with the
// default configuration, as tcptrack -r does. Frames that are not TCP (ARP,
// neighbour discovery) are skipped; a malformed frame is an error, since
// the kernel wrote them all.
func track(t *testing.T, path string) *tracker.Tracker {
	t.Helper()
	src, err := decode.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dec := decode.NewDecoder()
	tr := tracker.New(tracker.Config{})
	var (
		fr  decode.Frame
		seg tracker.Segment
	)
	for {
		err := src.Next(&fr)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := dec.Decode(&fr, &seg); err != nil {
			if !errors.Is(err, decode.ErrNotTCP) {
				t.Errorf("%s: frame %d: %v", path, fr.Number, err)
			}
			continue
		}
		tr.Track(&seg)
	}
	return tr
}

func socketKey(st tracker.State, local, peer fmt.Stringer) string {
	return fmt.Sprintf("%-11s %s %s", st, local, peer)
}

// diff lists what a holds more often than b, sorted.
func diff(a, b map[string]int) []string {
	var out []string
	for k, n := range a {
		for range n - b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
