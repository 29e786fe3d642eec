package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/tcptrack/tcptrack/decode"
	"github.com/tcptrack/tcptrack/internal/top"
	"github.com/tcptrack/tcptrack/metrics"
	"github.com/tcptrack/tcptrack/tracker"
)

// viewConfig is what the view reads of a capture loop: its snapshots, and
// its listings, asked for as /sockets asks.
func viewConfig(c *capture, title string, sink *logSink) top.Config {
	return top.Config{
		Title:    title,
		Snapshot: c.col.Snapshot,
		Listing: func(ctx context.Context) (*metrics.Listing, error) {
			return c.listing(ctx, false)
		},
		Refresh: c.o.top.refresh,
		LastLog: sink.last,
	}
}

// serving says where the web listener serves metrics, for the header.
func serving(srv *metrics.Server, path string) string {
	if srv == nil {
		return ""
	}
	var addrs []string
	for _, a := range srv.Addrs() {
		addrs = append(addrs, a.String())
	}
	return strings.Join(addrs, ",") + path
}

// runTopFile replays a capture file into the view: tcptrack top -r. It
// prints no report; the view is the report. The exit status is file
// mode's.
func runTopFile(o *options, stdout, stderr io.Writer, logger *slog.Logger, sink *logSink) int {
	defer sink.release(stderr)
	outs := newOutputs(o)
	if err := outs.open(stdout); err != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		return exitUsage
	}
	defer outs.close()
	var filter *decode.Filter
	if o.filter != "" {
		var err error
		if filter, err = decode.NewFilter(o.filter); err != nil {
			fmt.Fprintf(stderr, "tcptrack: %v; see --help\n", err)
			return exitUsage
		}
		defer filter.Close()
	}
	in, err := openInput(o.file)
	if err != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		return exitCapture
	}
	defer in.Close()
	src, _, err := openCapture(in, io.Discard) // the view shows the progress
	if err != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		return exitCapture
	}
	defer src.Close()

	c := &capture{o: o, logger: logger, tr: tracker.New(o.track), dec: o.decoder(), col: metrics.NewCollector(),
		outs: outs, listings: make(chan listingRequest), done: make(chan struct{})}
	rp := newReplay(c, src, filter, o.top)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		defer top.Guard()
		defer close(c.done)
		rp.run(ctx)
	}()
	cfg := viewConfig(c, filepath.Base(o.file), sink)
	cfg.Replay = rp
	viewErr := top.Run(ctx, cfg)
	stop()
	<-c.done
	outs.writeOpen(c.tr) // the replay has stopped: the tracker is this goroutine's now
	sink.release(stderr)
	if viewErr != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\n", viewErr)
		return exitUsage
	}
	if err := outs.flush(); err != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		return exitCapture
	}
	summarize(logger, c.packets, c.dec.Stats(), c.tr.Stats())
	if err := rp.Status().Err; err != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		return exitCapture
	}
	return exitOK
}
