package main

import (
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
	var (
		fr      decode.Frame
		seg     tracker.Segment
		packets uint64
		last    time.Time
		readErr error
	)
	for {
		if err := src.Next(&fr); err != nil {
			if err != io.EOF {
				readErr = err
			}
			break
		}
		packets++
		last = fr.Time
		if packets%8192 == 0 {
			prog.tick()
		}
		if filter != nil {
			ok, err := filter.Match(&fr)
			if err != nil {
				fmt.Fprintf(stderr, "tcptrack: %v\n", err)
				return exitUsage
			}
			if !ok {
				continue
			}
		}
		if dec.Decode(&fr, &seg) != nil {
			continue // counted by the decoder
		}
		tr.Track(&seg)
	}
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
	if readErr != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\n", readErr)
		fmt.Fprintf(stderr, "tcptrack: the report above covers the %d packets read before the error\n", packets)
		return exitCapture
	}
	return exitOK
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

// summarize logs what was read and skipped: quiet unless something was
// malformed.
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
	if m > 0 {
		logger.Warn("malformed frames skipped", append(args, "malformed", m)...)
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
