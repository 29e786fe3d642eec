package main

import (
	"cmp"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/tcptrack/tcptrack/decode"
	"github.com/tcptrack/tcptrack/metrics"
	"github.com/tcptrack/tcptrack/tracker"
)

// runFile tracks a capture file to its end and prints the report. On a
// read error it still prints the report for everything before the error.
func runFile(o *options, stdout, stderr io.Writer, logger *slog.Logger) int {
	tw, closeTW, err := openTransitions(o, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		return exitUsage
	}
	defer closeTW()
	var filter *decode.Filter
	if o.filter != "" {
		if filter, err = decode.NewFilter(o.filter); err != nil {
			fmt.Fprintf(stderr, "tcptrack: %v\n", err)
			return exitUsage
		}
		defer filter.Close()
	}
	src, prog, err := openCapture(o.file, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		return exitCapture
	}
	defer src.Close()

	tr := tracker.New(o.track)
	dec := decode.NewDecoder()
	dec.VerifyChecksums = o.checksums
	rd := &reader{src: src, dec: dec, filter: filter, prog: prog}
	for segs := range rd.start() {
		tr.TrackBatch(segs)
		rd.recycle(segs)
	}
	packets, last := rd.packets, rd.last
	readErr := rd.err
	prog.done()
	if !last.IsZero() {
		tr.Advance(last.Add(o.advance))
	}
	if err := report(stdout, tr, o); err != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		return exitCapture
	}
	if err := tw.flush(); err != nil {
		fmt.Fprintf(stderr, "tcptrack: transitions: %v\n", err)
		return exitCapture
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

// reader reads and decodes a capture on a goroutine of its own, handing
// the tracker batches of segments: decoding one batch while the tracker
// tracks the one before takes the second core when there is one. With one
// core the two take turns at every batch, which costs next to nothing.
type reader struct {
	src    decode.Source
	dec    *decode.Decoder
	filter *decode.Filter
	prog   *progress
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
		if fr.Number > 0 {
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
		if fr.Number%8192 == 0 {
			r.prog.tick()
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

// report prints what the flags ask for: the listing, the JSON counts or
// the netstat-style counts.
func report(w io.Writer, tr *tracker.Tracker, o *options) error {
	st := tr.Stats()
	switch {
	case o.sockets:
		return writeSockets(w, tr, o.all)
	case o.json:
		return writeCountsJSON(w, &st, o.all)
	}
	return metrics.WriteCounts(w, &st, o.all)
}

// summarize logs what was read and skipped: quiet unless a frame that may
// have held TCP was skipped (malformed, of a link type or encapsulation
// not decoded, a fragment), when one warning line names every count.
func summarize(logger *slog.Logger, packets uint64, ds decode.Stats, ts tracker.Stats) {
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
	if lost := ds.Lost(); lost > 0 {
		logger.Warn("frames skipped", append(args, "skipped", lost, "malformed", m)...)
		return
	}
	logger.Debug("capture read", args...)
}

// openTransitions opens the --transitions stream, if asked for, and hooks
// it to the tracker configuration.
func openTransitions(o *options, stdout io.Writer) (*transitionWriter, func(), error) {
	if o.transitions == "" {
		return nil, func() {}, nil
	}
	w, closeFn := stdout, func() {}
	if o.transitions != "-" {
		f, err := os.Create(o.transitions)
		if err != nil {
			return nil, nil, fmt.Errorf("--transitions: %w", err)
		}
		w, closeFn = f, func() { f.Close() }
	}
	tw := newTransitionWriter(w)
	o.track.OnTransition = tw.write
	return tw, closeFn, nil
}
