package main

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tcptrack/tcptrack/decode"
	"github.com/tcptrack/tcptrack/metrics"
	"github.com/tcptrack/tcptrack/tracker"
)

// runFile tracks a capture file to its end and prints the report. On a
// read error it still prints the report for everything before the error;
// on SIGINT or SIGTERM it stops reading and reports what it read.
func runFile(o *options, stdout, stderr io.Writer, logger *slog.Logger) int {
	outs := newOutputs(o)
	if err := outs.open(stdout); err != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		return exitUsage
	}
	defer outs.close()
	var (
		filter *decode.Filter
		err    error
	)
	if o.filter != "" {
		if filter, err = decode.NewFilter(o.filter); err != nil {
			fmt.Fprintf(stderr, "tcptrack: %v; see --help\n", err)
			return exitUsage
		}
		defer filter.Close()
	}

	// Signals are caught before the file is opened: reading a pipe's
	// header may already wait for the writer.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	in, err := openInput(o.file)
	if err != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		return exitCapture
	}
	defer in.Close()
	go func() {
		for {
			select {
			case sig := <-sigs:
				if sig == syscall.SIGHUP {
					outs.reopen(logger)
					continue
				}
				in.interrupt(sig)
			case <-in.done:
				return
			}
		}
	}()

	src, prog, err := openCapture(in, stderr)
	if err != nil {
		if interrupted(in.stopped()) {
			return reportInterrupted(o, tracker.New(o.track), outs, nil, nil, in.sig, stdout, stderr)
		}
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		return exitCapture
	}
	defer src.Close()

	tl, err := newTimeline(o, stdout, outs)
	if err != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		return exitUsage
	}
	tr := tracker.New(o.track)
	dec := o.decoder()
	rd := &reader{src: src, dec: dec, filter: filter, prog: prog, stop: &in.stop, at: o.at, until: math.MaxInt64}
	if o.at.set && !o.at.relative {
		rd.until = o.at.nanos(0)
	}
	batches := rd.start()
	stopped := in.stopped()
	var stuck <-chan time.Time
read:
	for {
		select {
		case segs, ok := <-batches:
			if !ok {
				break read
			}
			if tl != nil {
				tl.track(tr, segs, rd.first)
			} else {
				tr.TrackBatch(segs)
			}
			rd.recycle(segs)
		case <-stopped:
			// The reader stops at its next frame, or at once if it waits
			// on a pipe; anything else it waits on (a terminal) is given
			// a moment before its batch in hand is let go.
			stopped, stuck = nil, time.After(stuckAfter)
		case <-stuck:
			rd = nil
			break read
		}
	}
	in.finish()
	if interrupted(in.stopped()) {
		if rd != nil {
			rd.err = nil // the deadline that cut a read short
		}
		return reportInterrupted(o, tr, outs, tl, rd, in.sig, stdout, stderr)
	}
	packets, last := rd.packets, rd.last
	readErr := rd.err
	prog.done()
	end := tr.Stats().Time.UnixNano()
	switch {
	case o.at.set && (!o.at.relative || rd.seen):
		end = rd.until
		if rd.seen && rd.first > end {
			logger.Warn("--at is before the capture's first packet: nothing was tracked", "at", time.Unix(0, end).UTC(), "first_packet", time.Unix(0, rd.first).UTC())
		}
		tr.Advance(time.Unix(0, end))
	case !last.IsZero():
		end = advanceTo(tr, last, o.advance, logger)
	}
	if code := finishReport(stdout, stderr, tr, outs, tl, rd, end, o); code != exitOK {
		return code
	}
	summarize(logger, packets, dec.Stats(), tr.Stats())
	if rd.unfiltered > 0 {
		logger.Warn("frames skipped: the filter does not apply to their link type", "skipped", rd.unfiltered, "error", rd.filterErr)
	}
	if readErr != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\n", readErr)
		fmt.Fprintf(stderr, "tcptrack: the report above covers the %d packets read before the error\n", packets)
		return exitCapture
	}
	return exitOK
}

// stuckAfter is how long an interrupted file mode waits for a read that
// cannot be cut short.
const stuckAfter = time.Second

func interrupted(stopped <-chan struct{}) bool {
	select {
	case <-stopped:
		return true
	default:
		return false
	}
}

// reportInterrupted prints the report of what was read before SIGINT or
// SIGTERM, and says on stderr where reading stopped. rd is nil if nothing
// was read or the reader could not be stopped.
func reportInterrupted(o *options, tr *tracker.Tracker, outs *outputs, tl *timeline, rd *reader, sig os.Signal, stdout, stderr io.Writer) int {
	if rd != nil && rd.prog != nil {
		rd.prog.done()
	}
	if code := finishReport(stdout, stderr, tr, outs, tl, rd, tr.Stats().Time.UnixNano(), o); code != exitOK {
		return code
	}
	name := o.file
	if name == "-" {
		name = "stdin"
	}
	switch {
	case rd == nil:
		fmt.Fprintf(stderr, "tcptrack: %v: stopped reading %s while waiting for input; the report above covers what was read before\n", sig, name)
	case rd.packets == 0:
		fmt.Fprintf(stderr, "tcptrack: %v: stopped reading %s before its first packet\n", sig, name)
	default:
		fmt.Fprintf(stderr, "tcptrack: %v: stopped reading %s after packet %d (captured %s); the report above covers the %d packets read\n",
			sig, name, rd.packets, rd.last.UTC().Format(time.RFC3339Nano), rd.packets)
	}
	return exitOK
}

// finishReport ends file mode's output at end, the moment reported: the
// connections the tracker still holds (--connections), the report, or with
// --every the last row in its place (the same counts), and the --plot
// picture. rd is nil if nothing was read.
func finishReport(stdout, stderr io.Writer, tr *tracker.Tracker, outs *outputs, tl *timeline, rd *reader, end int64, o *options) int {
	outs.writeOpen(tr)
	if tl == nil {
		return writeReport(stdout, stderr, tr, outs, o)
	}
	seen := rd != nil && rd.seen
	var first int64
	if seen {
		first = rd.first
	}
	err := tl.finish(tr, first, seen, end)
	if err == nil && tl.rows == nil {
		if code := writeReport(stdout, stderr, tr, outs, o); code != exitOK {
			return code
		}
	}
	if err == nil {
		err = outs.flush()
	}
	if err == nil {
		err = tl.writePlot("TCP endpoints by state: " + o.file + ", from its first packet")
	}
	if err != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		return exitCapture
	}
	return exitOK
}

// writeReport flushes the output files, then prints the report after them.
func writeReport(stdout, stderr io.Writer, tr *tracker.Tracker, outs *outputs, o *options) int {
	err := outs.stdout(func() error { return report(stdout, tr, o) })
	if err == nil {
		err = outs.flush()
	}
	if err != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		return exitCapture
	}
	return exitOK
}

// reader reads and decodes a capture on a goroutine of its own, handing
// the tracker batches of segments: decoding one batch while the tracker
// tracks the one before takes the second core when there is one. With one
// core the two take turns at every batch, which costs next to nothing.
type reader struct {
	src    decode.Source
	dec    *decode.Decoder
	filter *decode.Filter
	prog   *progress
	stop   *atomic.Bool // set to end reading early
	free   chan []tracker.Segment
	// Set when the channel returned by start is closed.
	packets uint64
	last    time.Time // time of the last packet
	err     error     // what ended the capture early, nil at its end
	// unfiltered counts the frames of link types the filter does not
	// compile for (a pcapng file may mix them), skipped; filterErr says
	// why for the first.
	unfiltered uint64
	filterErr  error
	// --at: reading ends before the first frame stamped after until, the
	// moment, worked out at the first frame when it is an offset from it
	// (math.MaxInt64 without --at). cut says it did.
	at    moment
	until int64
	cut   bool
	first int64 // the first frame's time
	seen  bool  // a frame was read: first is known
}

const (
	batchLen     = 1024 // segments: enough to make a hand-over cheap (256 lost the second core to it), few enough to stay in the cache
	batchesAhead = 4
)

// start reads the capture to its end and returns the batches in order; the
// channel closes after the last, and the caller hands each batch back
// through recycle once tracked.
func (r *reader) start() <-chan []tracker.Segment {
	r.free = make(chan []tracker.Segment, batchesAhead)
	for range batchesAhead {
		r.free <- make([]tracker.Segment, batchLen)
	}
	out := make(chan []tracker.Segment, batchesAhead)
	go func() {
		defer close(out)
		r.err = r.run(out)
	}()
	return out
}

func (r *reader) recycle(segs []tracker.Segment) { r.free <- segs[:batchLen] }

func (r *reader) run(out chan<- []tracker.Segment) error {
	var fr decode.Frame
	segs, n := <-r.free, 0
	defer func() {
		// The file readers leave fr as it was when Next fails, so it still
		// holds the last frame: its time and number are read once here
		// instead of kept up at every frame. A file's frames are numbered
		// from 1 without gaps.
		r.packets = fr.Number
		if r.cut {
			// fr is the first frame past the moment, not read.
			r.packets--
		} else if fr.Number > 0 {
			r.last = time.Unix(0, fr.UnixNano)
		}
		if n > 0 {
			out <- segs[:n]
		}
	}()
	for {
		if err := r.src.Next(&fr); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if fr.Number == 1 {
			r.first, r.seen = fr.UnixNano, true
			if r.at.relative {
				r.until = r.at.nanos(fr.UnixNano)
			}
		}
		if fr.UnixNano > r.until {
			r.cut = true
			return nil
		}
		if fr.Number%8192 == 0 {
			r.prog.tick()
			if r.stop.Load() {
				return nil
			}
		}
		if r.filter != nil {
			ok, err := r.filter.Match(&fr)
			if err != nil {
				r.unfiltered++
				r.filterErr = cmp.Or(r.filterErr, err)
				continue
			}
			if !ok {
				continue
			}
		}
		if r.dec.Decode(&fr, &segs[n]) != nil {
			continue // counted by the decoder
		}
		if n++; n == len(segs) {
			out <- segs
			segs, n = <-r.free, 0
		}
	}
}

// report prints what the flags ask for: the listing or the counts, as text
// or JSON.
func report(w io.Writer, tr *tracker.Tracker, o *options) error {
	if o.by.Kind != metrics.ByNone {
		return writeBy(w, metrics.Collect(tr, o.all), tr.Stats().Time, o)
	}
	if o.sockets {
		l := metrics.Collect(tr, o.all)
		l.Info = o.track.Info
		if o.json {
			return metrics.WriteSocketsJSON(w, l, o.all)
		}
		return metrics.WriteSockets(w, l, o.all)
	}
	st := tr.Stats()
	if o.json {
		return metrics.WriteCountsJSON(w, &st, o.all)
	}
	return metrics.WriteCounts(w, &st, o.all)
}

// writeBy prints the counts broken down as --by asks, from the listing l
// taken at the time at.
func writeBy(w io.Writer, l *metrics.Listing, at time.Time, o *options) error {
	groups := metrics.GroupBy(l, o.by, o.all)
	if o.json {
		return metrics.WriteByJSON(w, at, groups, o.by, o.all)
	}
	return metrics.WriteBy(w, groups, o.by)
}

// summarize logs what was read, and warns at the default level of
// everything dropped: one line naming every count when a frame that may
// have held TCP was skipped (malformed, of a link type or encapsulation not
// decoded, cut short by the snaplen, a fragment), one when flows were
// evicted from a full table.
func summarize(logger *slog.Logger, packets uint64, ds decode.Stats, ts tracker.Stats) {
	var w warned
	w.check(logger, packets, ds, ts, true)
}

// warned remembers which warnings were given, so that live mode gives each
// once as it first happens and again, with the totals, at the end.
type warned struct{ skipped, evicted bool }

// check warns of what was dropped, if it was not said already; with final
// set, says everything with its total, or at debug level what was read.
func (w *warned) check(logger *slog.Logger, packets uint64, ds decode.Stats, ts tracker.Stats, final bool) {
	args := []any{"packets", packets, "segments", ts.Segments, "flows", ts.Flows,
		"rst_ignored", ts.IgnoredRST, "segments_ignored", ts.Ignored}
	var m uint64
	ds.Each(func(reason string, malformed bool, n uint64) {
		if n > 0 {
			args = append(args, "skipped_"+reason, n)
		}
		if malformed {
			m += n
		}
	})
	lost := ds.Lost()
	if final && ds.Held > 0 {
		// Fragments of datagrams the capture ended before completing.
		args, lost = append(args, "fragments_held", ds.Held), lost+ds.Held
	}
	switch {
	case lost > 0 && (final || !w.skipped):
		w.skipped = true
		logger.Warn("frames skipped", append(args, "skipped", lost, "malformed", m)...)
	case final:
		logger.Debug("capture read", args...)
	}
	var evicted uint64
	evictions := []any{"max_flows", ts.MaxFlows}
	for r, n := range ts.Evictions {
		evicted += n
		evictions = append(evictions, tracker.EvictReason(r).String(), n)
	}
	if evicted > 0 && (final || !w.evicted) {
		w.evicted = true
		logger.Warn("flow table full: flows evicted to make room (raise --max-flows)", append([]any{"evicted", evicted}, evictions...)...)
	}
}

// advanceTo moves the tracker's clock to the last packet's time plus
// --advance, and returns that time. The clock counts nanoseconds since 1970
// in 64 bits, which end in April 2262: a later time is clamped to that end,
// and the clamp said.
func advanceTo(tr *tracker.Tracker, last time.Time, advance time.Duration, logger *slog.Logger) int64 {
	n := last.UnixNano()
	to := n + int64(advance)
	if to < n { // advance is never negative: this is overflow
		to = math.MaxInt64
		logger.Warn("--advance goes past the end of the clock; clamped to it",
			"last_packet", last.UTC(), "advance", advance, "clamped_to", time.Unix(0, to).UTC())
	}
	tr.Advance(time.Unix(0, to))
	return to
}
