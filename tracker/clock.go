package tracker

import (
	"math"
	"time"
)

// tick is a capture time in whole milliseconds after the tracker's epoch.
// Flow records keep their times as ticks, four bytes each instead of eight.
//
// The epoch moves forward: when the clock gets to rebaseAt ticks past it
// (24.8 days), every stored tick is shifted down so that the clock reads
// rebasedNow (12.4 days), and ticks older than the new epoch become 0. No
// timer runs longer than maxSpan, so a time older than maxSpan before the
// clock is as good as 0 to every timer: the shift changes no decision, and
// a tracker runs for any length of time without a wrap.
//
// Times kept for timers are rounded up and the clock is rounded down, so a
// timer never runs out early; it may run out up to a millisecond late.
// Transitions report the exact capture time.
type tick uint32

const (
	msec       = int64(time.Millisecond)
	rebaseAt   = 1 << 31
	rebasedNow = 1 << 30
	maxSpan    = 1 << 30
)

// The clock starts unset, before any time a capture can hold (1678 at the
// earliest in int64 nanoseconds): a capture stamped before 1970, as a pcapng
// with a negative if_tsoffset may be, runs its timers like any other.
const clockUnset = math.MinInt64

// startClock sets the clock of a new Tracker.
func (t *Tracker) startClock() {
	t.now, t.tickEnd = clockUnset, clockUnset
}

// clockNanos is the capture clock for Stats: 0 (1970) until a time is seen.
func (t *Tracker) clockNanos() int64 {
	if t.now == clockUnset {
		return 0
	}
	return t.now
}

// ticks returns ns, nanoseconds since the Unix epoch, as a tick rounded up;
// 0 if it lies before the epoch, the largest tick if it lies further past
// it than int64 holds (a file whose times jump across centuries).
func (t *Tracker) ticks(ns int64) tick {
	if ns <= t.epoch {
		return 0
	}
	d := ns - t.epoch
	if d < 0 {
		return math.MaxUint32
	}
	q := (d-1)/msec + 1
	if q > math.MaxUint32 {
		return math.MaxUint32
	}
	return tick(q)
}

// span returns d as a timer duration in ticks, rounded up, between 1 and
// maxSpan.
func span(d time.Duration) tick {
	return tick(min(max((int64(d)-1)/msec+1, 1), maxSpan))
}

// setClock moves the clock to n nanoseconds after the Unix epoch, moving
// the epoch first if n is too far past it. Any n from math.MinInt64+1 to
// math.MaxInt64 is safe: nothing here overflows.
func (t *Tracker) setClock(n int64) {
	if n < t.epoch {
		// Only the first time can lie before the epoch, which starts at
		// 1970 and never passes the clock: no tick is stored yet.
		t.epoch = n
	}
	t.now = n
	if d := n - t.epoch; d < 0 || d/msec >= rebaseAt {
		// d < 0: beyond what int64 holds, centuries. Every stored time is
		// then older than maxSpan, as the shift says.
		shift := int64(math.MaxInt64)
		epoch := n - rebasedNow*msec
		if d >= 0 {
			shift = d/msec - rebasedNow
			epoch = t.epoch + shift*msec
		}
		t.epoch = epoch
		t.flows.rebase(shift)
	}
	t.nowFloor = tick((n - t.epoch) / msec)
	t.nowCeil = t.ticks(n)
	// The millisecond after nowFloor, or the end of time.
	t.tickEnd = t.epoch + int64(t.nowFloor)*msec
	if t.tickEnd <= math.MaxInt64-msec {
		t.tickEnd += msec
	} else {
		t.tickEnd = math.MaxInt64
	}
}
