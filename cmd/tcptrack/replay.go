package main

import (
	"context"
	"errors"
	"io"
	"math"
	"sync"
	"time"

	"github.com/tcptrack/tcptrack/decode"
	"github.com/tcptrack/tcptrack/internal/top"
	"github.com/tcptrack/tcptrack/metrics"
	"github.com/tcptrack/tcptrack/tracker"
)

// replayPublishEvery is how often a replay publishes a snapshot: often
// enough that the view, reading four times a second, follows a fast replay.
const replayPublishEvery = 200 * time.Millisecond

// replay feeds a capture file to the tracker on the capture's own clock,
// as the live loop feeds frames, for tcptrack top -r. It owns the tracker;
// the view reads what it publishes and asks it for listings, through the
// capture struct the live loop uses. The view's keys reach it as controls.
type replay struct {
	c      *capture
	src    decode.Source
	filter *decode.Filter

	mu     sync.Mutex
	st     top.ReplayStatus
	steps  int   // segments still to track before pausing
	stepBy int64 // capture nanoseconds to move on by before pausing
	toEnd  bool
	wake   chan struct{} // a control changed
}

func newReplay(c *capture, src decode.Source, filter *decode.Filter, o topOptions) *replay {
	return &replay{c: c, src: src, filter: filter, wake: make(chan struct{}, 1),
		st: top.ReplayStatus{Paused: o.paused, Speed: o.speed}}
}

func (r *replay) Status() top.ReplayStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st
}

func (r *replay) control(f func()) {
	r.mu.Lock()
	f()
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *replay) SetPaused(p bool) {
	r.control(func() { r.st.Paused, r.steps, r.stepBy, r.toEnd = p, 0, 0, false })
}

func (r *replay) Step(segments int, d time.Duration) {
	r.control(func() {
		r.st.Paused, r.toEnd = true, false
		r.steps += segments
		r.stepBy += int64(d)
	})
}

func (r *replay) SetSpeed(x float64) { r.control(func() { r.st.Speed = x }) }

func (r *replay) ToEnd() { r.control(func() { r.toEnd, r.st.Paused = true, false }) }

// run replays until the file ends, then answers listings until ctx ends.
func (r *replay) run(ctx context.Context) {
	c := r.c
	var (
		fr  decode.Frame
		seg tracker.Segment
		// pos is the replay clock: the capture time replayed up to.
		pos         int64
		wall        = time.Now() // when pos was last moved on
		nextPublish time.Time
		eof         bool
		woken       bool // a control changed
	)
	next := func() bool {
		for {
			err := r.src.Next(&fr)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					r.mu.Lock()
					r.st.Err = err
					r.mu.Unlock()
				}
				return false
			}
			c.packets++
			if r.filter != nil {
				if ok, err := r.filter.Match(&fr); err != nil || !ok {
					continue
				}
			}
			if c.dec.Decode(&fr, &seg) == nil {
				return true
			}
		}
	}
	have := next()
	if have {
		pos = seg.UnixNano
	}
	publish := func() {
		if !eof {
			c.tr.Advance(time.Unix(0, pos))
		}
		c.publish()
		r.mu.Lock()
		r.st.Packets, r.st.Done = c.packets, eof
		r.mu.Unlock()
		nextPublish = time.Now().Add(replayPublishEvery)
	}
	publish()
	for ctx.Err() == nil {
		r.mu.Lock()
		paused, speed, steps, stepBy, toEnd := r.st.Paused, r.st.Speed, r.steps, r.stepBy, r.toEnd
		r.stepBy = 0
		r.mu.Unlock()
		now := time.Now()
		if !paused && speed > 0 {
			pos += int64(float64(now.Sub(wall)) * speed)
		}
		wall = now
		limit := pos
		switch {
		case toEnd || !paused && speed == 0:
			limit = math.MaxInt64
		case stepBy > 0:
			pos += stepBy
			limit = pos
		case paused:
			// Nothing moves on the clock, not even the segment at
			// pos: only steps.
			limit = math.MinInt64
		}
		tracked := 0
		for have && (seg.UnixNano <= limit || tracked < steps) {
			pos = max(pos, seg.UnixNano)
			c.tr.Track(&seg)
			have = next()
			// Publish while reading fast, and look at the controls.
			if tracked++; tracked%4096 == 0 && time.Now().After(nextPublish) {
				break
			}
		}
		r.mu.Lock()
		r.steps = max(r.steps-tracked, 0)
		if !have {
			r.toEnd = false
		}
		r.mu.Unlock()
		if !have && !eof {
			eof = true
			publish()
		}
		if woken || tracked > 0 && (paused || steps > 0 || stepBy > 0) || !time.Now().Before(nextPublish) {
			publish() // a control shows at once
		}
		woken = false
		if have && (toEnd || !paused && speed == 0) {
			continue
		}
		wait := time.Until(nextPublish)
		if have && !paused && speed > 0 {
			wait = min(wait, time.Duration(float64(seg.UnixNano-pos)/speed))
		}
		timer := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
		case <-r.wake:
			woken = true
		case req := <-c.listings:
			// Idle between segments: answer at once rather than at the
			// next publish, with a snapshot of the same moment, as the
			// view times the listing (its rates) by the snapshot's clock.
			publish()
			req.reply <- metrics.Collect(c.tr, req.all)
		case <-timer.C:
		}
		timer.Stop()
	}
}
