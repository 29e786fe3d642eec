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

// ticks returns ns, nanoseconds since the Unix epoch, as a tick rounded up;
// 0 if it lies before the epoch.
func (t *Tracker) ticks(ns int64) tick {
	d := ns - t.epoch
	if d <= 0 {
		return 0
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
// the epoch first if n is too far past it.
func (t *Tracker) setClock(n int64) {
	t.now = n
	if d := (n - t.epoch) / msec; d >= rebaseAt {
		shift := d - rebasedNow
		t.epoch += shift * msec
		t.flows.rebase(shift)
	}
	t.nowT = tick((n - t.epoch) / msec)
	t.nowC = t.ticks(n)
	t.tickEnd = t.epoch + (int64(t.nowT)+1)*msec
}
