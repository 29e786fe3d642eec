package tracker

import (
	"math"
	"testing"
	"time"
)

// TestClockRange runs TIME_WAIT at the edges of what int64 nanoseconds
// hold: before 1970 (a pcapng with a negative if_tsoffset), the last pcap
// second (2106) advanced to the end of the clock, and a jump from one end to
// the other.
func TestClockRange(t *testing.T) {
	closing := append(append([]ev{}, xClient...), x(FIN|ACK, 1, 1), y(FIN|ACK, 1, 2), x(ACK, 2, 2))
	for _, tc := range []struct {
		name    string
		start   time.Time
		advance time.Time // where the clock goes after the close; TIME_WAIT must be over
	}{
		{"before 1970", time.Unix(-86400*365, 0), time.Unix(-86400*365+61, 0)},
		{"the earliest time", time.Unix(0, math.MinInt64+int64(time.Hour)), time.Unix(0, math.MinInt64+int64(time.Hour)+int64(61*time.Second))},
		{"2106 to the end of the clock", time.Unix(math.MaxUint32, 999999999), time.Unix(0, math.MaxInt64)},
		{"1678 to 2262", time.Unix(0, math.MinInt64+int64(time.Hour)), time.Unix(0, math.MaxInt64)},
		{"straddling 1970", time.Unix(-30, 0), time.Unix(31, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, false, 0)
			w.now = tc.start
			w.run(closing)
			if got := w.tr.Stats().States[TimeWait]; got != 1 {
				t.Fatalf("TIME_WAIT %d after the close, want 1", got)
			}
			w.tr.Advance(w.now.Add(time.Second))
			if got := w.tr.Stats().States[TimeWait]; got != 1 {
				t.Fatalf("TIME_WAIT gone 1 s after the close")
			}
			w.tr.Advance(tc.advance)
			if got := w.tr.Stats().States[TimeWait]; got != 0 {
				t.Errorf("TIME_WAIT %d at %v, want 0", got, tc.advance.UTC())
			}
			if got := w.tr.Stats().Time; !got.Equal(tc.advance) {
				t.Errorf("clock at %v, want %v", got.UTC(), tc.advance.UTC())
			}
			checkCounts(t, w.tr)
		})
	}
	if got := New(Config{}).Stats().Time; got.UnixNano() != 0 {
		t.Errorf("a new tracker's clock reads %v, want the Unix epoch", got)
	}
}
