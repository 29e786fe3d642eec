package tracker_test

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"testing"

	"github.com/tcptrack/tcptrack/decode"
	"github.com/tcptrack/tcptrack/internal/gen"
	"github.com/tcptrack/tcptrack/internal/testkit"
	"github.com/tcptrack/tcptrack/tracker"
)

// TestShortcutChangesNothing runs every bundled kernel capture and
// generated traces of every kind through the tracker twice, with and
// without the shortcut for steady segments (stepSteady), and requires the
// same transitions, counts, listing and facts.
func TestShortcutChangesNothing(t *testing.T) {
	files, err := filepath.Glob("../pcaps/*.pcap")
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in ../pcaps: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			same(t, func() decode.Source {
				src, err := decode.OpenFile(f)
				if err != nil {
					t.Fatal(err)
				}
				return src
			}, false)
		})
	}
	for _, cfg := range []gen.Config{
		{Mode: gen.Mix, Packets: 200_000},
		{Mode: gen.Mix, Packets: 100_000, ConnRate: 300, Snaplen: 98},
		{Mode: gen.LongFlows, Flows: 40, Packets: 100_000},
		{Mode: gen.SYNFlood, Sources: 5000, AnswerPct: 50},
	} {
		t.Run(fmt.Sprintf("gen-%v-%d", cfg.Mode, cfg.Packets), func(t *testing.T) {
			var buf bytes.Buffer
			if _, err := gen.Generate(&buf, cfg); err != nil {
				t.Fatal(err)
			}
			same(t, func() decode.Source {
				src, err := decode.NewReader("gen", io.NopCloser(bytes.NewReader(buf.Bytes())))
				if err != nil {
					t.Fatal(err)
				}
				return src
			}, cfg.Mode != gen.SYNFlood)
		})
	}
}

// same runs the segments of open() with and without the shortcut and
// compares what the tracker says. mostly says most segments must take the
// shortcut, so that the comparison is not vacuous.
func same(t *testing.T, open func() decode.Source, mostly bool) {
	with, steady, segs := run(t, open(), false)
	without, _, _ := run(t, open(), true)
	t.Logf("%d of %d segments steady", steady, segs)
	if mostly && 2*steady < segs {
		t.Errorf("%d of %d segments took the shortcut: the trace does not exercise it", steady, segs)
	}
	if i := firstDiff(with, without); i >= 0 {
		t.Fatalf("with and without the shortcut differ at line %d:\n%s\n%s", i, at(with, i), at(without, i))
	}
}

// run returns a transcript of every transition, then the counts, the
// listing with facts and the stats, with or without the shortcut.
func run(t *testing.T, src decode.Source, exact bool) (out []string, steady, segs int) {
	tr := tracker.New(tracker.Config{MaxFlows: 5000, Info: true, OnTransition: func(x *tracker.Transition) {
		out = append(out, fmt.Sprintf("%v %v %v>%v %s", x.Time.UnixNano(), x.Endpoint, x.From, x.To, x.Reason))
	}})
	if exact {
		tracker.WithoutShortcut(tr)
	}
	testkit.Source(t, "capture", src, func(seg *tracker.Segment) {
		if tracker.Steady(tr, seg) {
			steady++
		}
		tr.Track(seg)
		segs++
	})
	var socks []string
	tr.Sockets(func(s tracker.Socket) {
		i := s.Info
		i.Start, i.Last = i.Start.UTC(), i.Last.UTC()
		socks = append(socks, fmt.Sprintf("%+v %+v", s.Local, *i))
	})
	slices.Sort(socks)
	st := tr.Stats()
	st.Time = st.Time.UTC()
	out = append(out, socks...)
	return append(out, fmt.Sprintf("%+v", st)), steady, segs
}

func firstDiff(a, b []string) int {
	for i := range max(len(a), len(b)) {
		if at(a, i) != at(b, i) {
			return i
		}
	}
	return -1
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "(none)"
}
