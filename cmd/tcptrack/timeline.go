package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/tcptrack/tcptrack/internal/chart"
	"github.com/tcptrack/tcptrack/metrics"
	"github.com/tcptrack/tcptrack/tracker"
)

// timeline samples the counts on the capture clock, for --every (a row on
// stdout at each sample) and --plot (a picture of the samples at the end).
// Samples fall on the multiples of the interval from the first packet:
// before a segment stamped after the next one is tracked, the clock is
// advanced to it, so that timers due by then have run out, and the counts
// are read. A segment stamped exactly at a sample's time is in it, as --at
// that time would have it.
type timeline struct {
	every   int64 // the interval, in nanoseconds
	adapt   bool  // --plot without --every: the interval doubles to keep the samples few
	first   int64 // the first packet's time, the origin of the samples
	next    int64 // the time of the next sample
	started bool
	all     bool // -a: LISTEN and UNCONFIRMED columns

	rows    *bufio.Writer // --every; nil without
	json    bool
	outs    *outputs
	samples []chart.Sample // --plot; nil without
	plot    *os.File
	err     error // the first write error of a row
}

// Without --every the picture starts at a sample a millisecond and doubles
// the interval whenever there are more than maxSamples, halving them: the
// samples kept are on the coarser grid already, so the picture ends with
// between maxSamples/2 and maxSamples of them, whatever the capture's span,
// which is not known until the file's end.
const (
	minPlotEvery = int64(time.Millisecond)
	maxSamples   = 400
)

// newTimeline returns the timeline the flags ask for, nil if none, with the
// --plot file opened (created mode 0600, as --transitions).
func newTimeline(o *options, stdout io.Writer, outs *outputs) (*timeline, error) {
	if o.every == 0 && o.plot == "" {
		return nil, nil
	}
	tl := &timeline{every: int64(o.every), all: o.all, json: o.json, outs: outs}
	if o.every > 0 {
		tl.rows = bufio.NewWriter(stdout)
	} else {
		tl.every, tl.adapt = minPlotEvery, true
	}
	if o.plot != "" {
		f, err := createOutput(o.plot, false)
		if err != nil {
			return nil, fmt.Errorf("--plot: %w", err)
		}
		tl.plot, tl.samples = f, []chart.Sample{}
	}
	if tl.rows != nil && !tl.json {
		tl.header()
	}
	return tl, nil
}

// columns are the states of a row, in the report's order.
func (tl *timeline) columns() []string {
	var names []string
	for st := tracker.State(0); st < tracker.NumStates; st++ {
		if st.Counted() {
			names = append(names, st.String())
		}
	}
	if tl.all {
		names = append(names, tracker.Listen.String(), "UNCONFIRMED")
	}
	return names
}

func (tl *timeline) header() {
	tl.rows.WriteString("time")
	for _, c := range tl.columns() {
		tl.rows.WriteString("," + c)
	}
	tl.rows.WriteString("\n")
}

// counts are the row's numbers, in the order of columns.
func (tl *timeline) counts(st *tracker.Stats) []int {
	var n []int
	for s := tracker.State(0); s < tracker.NumStates; s++ {
		if s.Counted() {
			n = append(n, st.States[s])
		}
	}
	if tl.all {
		u := 0
		for _, c := range st.Unconfirmed {
			u += c
		}
		n = append(n, st.Listeners, u)
	}
	return n
}

// start sets the origin: the first packet's time.
func (tl *timeline) start(first int64) {
	tl.first, tl.started = first, true
	tl.next = add(first, tl.every)
}

// track tracks segs, taking a sample at every multiple of the interval
// that a segment's time passes.
func (tl *timeline) track(tr *tracker.Tracker, segs []tracker.Segment, first int64) {
	if !tl.started {
		tl.start(first)
	}
	for len(segs) > 0 {
		i := 0
		for i < len(segs) && segs[i].UnixNano <= tl.next {
			i++
		}
		if i > 0 {
			tr.TrackBatch(segs[:i])
			segs = segs[i:]
		}
		if len(segs) > 0 {
			tl.sample(tr, tl.next, false)
		}
	}
}

// sample advances the clock to at and takes the counts then; the last
// sample is the report's moment, kept in the picture whether or not it lies
// on the grid.
func (tl *timeline) sample(tr *tracker.Tracker, at int64, last bool) {
	tr.Advance(time.Unix(0, at))
	st := tr.Stats()
	// The clock stays later if a segment was stamped later than one
	// after it (the file's order is kept): the row is the sample's.
	st.Time = time.Unix(0, at)
	if tl.rows != nil && tl.err == nil {
		tl.err = tl.outs.stdout(func() error { return tl.row(&st) })
	}
	if tl.samples != nil {
		if tl.adapt && len(tl.samples) == maxSamples {
			tl.thin()
		}
		if last || (at-tl.first)%tl.every == 0 {
			tl.samples = append(tl.samples, chart.Sample{Time: st.Time, Counts: tl.counts(&st)})
		}
	}
	// The next multiple of the interval, which thin may have doubled.
	tl.next = add(tl.first, add((at-tl.first)/tl.every*tl.every, tl.every))
}

// row prints one row and flushes it, so that a pipe reads each as it comes.
func (tl *timeline) row(st *tracker.Stats) error {
	if tl.json {
		if err := metrics.WriteCountsJSON(tl.rows, st, tl.all); err != nil {
			return err
		}
	} else {
		tl.rows.WriteString(st.Time.UTC().Format(time.RFC3339Nano))
		for _, n := range tl.counts(st) {
			tl.rows.WriteString("," + strconv.Itoa(n))
		}
		tl.rows.WriteString("\n")
	}
	return tl.rows.Flush()
}

// thin doubles the interval and keeps the samples on the coarser grid:
// every one but, at times, the last.
func (tl *timeline) thin() {
	tl.every *= 2
	kept := tl.samples[:0]
	for _, s := range tl.samples {
		if (s.Time.UnixNano()-tl.first)%tl.every == 0 {
			kept = append(kept, s)
		}
	}
	tl.samples = kept
}

// finish takes the samples due up to end, then the last one at end itself,
// the moment the report is of. first is the first packet's time, if known
// (the file may hold no TCP segment, or no packet at all).
func (tl *timeline) finish(tr *tracker.Tracker, first int64, known bool, end int64) error {
	if !tl.started && known {
		tl.start(first)
	}
	if tl.started {
		for tl.next < end {
			tl.sample(tr, tl.next, false)
		}
		tl.sample(tr, end, true)
	}
	return tl.err
}

// writePlot draws the samples into the --plot file and closes it.
func (tl *timeline) writePlot(title string) error {
	if tl.plot == nil {
		return nil
	}
	w := bufio.NewWriter(tl.plot)
	err := chart.WriteSVG(w, title, time.Unix(0, tl.first), tl.columns(), tl.samples)
	if err == nil {
		err = w.Flush()
	}
	if cerr := tl.plot.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("--plot %s: %w", tl.plot.Name(), err)
	}
	return nil
}

// add returns t+d, clamped to the end of the nanosecond clock.
func add(t, d int64) int64 {
	if t > math.MaxInt64-d {
		return math.MaxInt64
	}
	return t + d
}
