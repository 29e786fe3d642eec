package bench

import (
	"testing"

	"github.com/tcptrack/tcptrack/decode"
	"github.com/tcptrack/tcptrack/metrics"
	"github.com/tcptrack/tcptrack/tracker"
)

// What the terminal view adds to the capture path: the per-connection facts
// it turns on (tracker.Config.Info), paid on every segment, and the listing
// it asks for once a second, built on the capture goroutine.

// mixSegments decodes the mix trace into memory.
func mixSegments(b *testing.B) []tracker.Segment {
	tr := traces[0]
	var segs []tracker.Segment
	d := decode.NewDecoder()
	readAll(b, tracePath(b, tr.name, tr.cfg), func(f *decode.Frame) {
		var seg tracker.Segment
		if len(segs) < preloadLimit && d.Decode(f, &seg) == nil {
			segs = append(segs, seg)
		}
	})
	return segs
}

// BenchmarkTrackInfo: BenchmarkTrack's mix, fed one segment at a time as
// the live loop does, without and with Config.Info.
func BenchmarkTrackInfo(b *testing.B) {
	segs := mixSegments(b)
	for _, info := range []bool{false, true} {
		name := "plain"
		if info {
			name = "info"
		}
		b.Run(name, func(b *testing.B) {
			measure(b, func() int {
				t := tracker.New(tracker.Config{Info: info})
				for i := range segs {
					t.Track(&segs[i])
				}
				return len(segs)
			})
		})
	}
}

// BenchmarkListing: one listing of the table the mix leaves (what the
// capture goroutine builds when the view asks), without and with the facts.
func BenchmarkListing(b *testing.B) {
	segs := mixSegments(b)
	for _, info := range []bool{false, true} {
		name := "plain"
		if info {
			name = "info"
		}
		b.Run(name, func(b *testing.B) {
			t := tracker.New(tracker.Config{Info: info})
			for i := range segs {
				t.Track(&segs[i])
			}
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				n = len(metrics.Collect(t, false).Sockets)
			}
			b.ReportMetric(float64(n), "sockets")
		})
	}
}
