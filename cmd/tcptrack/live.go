package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/tcptrack/tcptrack/decode"
	"github.com/tcptrack/tcptrack/metrics"
	"github.com/tcptrack/tcptrack/tracker"
)

// publishEvery is how often the capture goroutine hands a fresh snapshot to
// the scrapers.
const publishEvery = time.Second

// Reopen backoff after the interface went away.
const (
	reopenFirst = time.Second
	reopenMax   = 30 * time.Second
)

type liveOptions struct {
	cfg       decode.LiveConfig
	user      string
	waitIface bool
}

// capture is the live capture loop's state. It alone touches the tracker;
// everyone else reads the snapshots it publishes.
type capture struct {
	o       *options
	logger  *slog.Logger
	tr      *tracker.Tracker
	dec     *decode.Decoder
	col     *metrics.Collector
	src     decode.Capture
	packets uint64
	// drops of handles closed before the current one, so counters never
	// go backwards across a reopen.
	kernelDrops, ifaceDrops uint64
	cur                     decode.CaptureStats
}

func runLive(o *options, stdout, stderr io.Writer, logger *slog.Logger) int {
	o.live.cfg.Filter = o.filter
	o.live.cfg.BufferSize *= 1024
	tw, closeTW, err := openTransitions(o, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		return exitUsage
	}
	defer closeTW()

	c := &capture{o: o, logger: logger, tr: tracker.New(o.track), dec: decode.NewDecoder(), col: metrics.NewCollector()}
	c.dec.VerifyChecksums = o.checksums
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	webErr := make(chan error, 1)
	go func() { webErr <- metrics.Serve(ctx, o.web, c.col, logger) }()
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)

	var wg sync.WaitGroup
	ready := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Capabilities belong to a thread, not to the process: the one
		// thread that opens the capture, drops root and keeps CAP_NET_RAW
		// is the one that reopens it later.
		runtime.LockOSThread()
		err := c.open()
		ready <- err
		if err == nil {
			c.loop(ctx)
		}
	}()
	if err := <-ready; err != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		if errors.Is(err, decode.ErrFilter) {
			return exitUsage
		}
		return exitCapture
	}
	logger.Info("capturing", "interface", o.iface, "filter", o.filter, "snaplen", o.live.cfg.Snaplen, "engine", o.live.cfg.Engine)

	status := exitOK
wait:
	for {
		select {
		case <-usr1:
			st := c.col.Snapshot().Tracker
			if err := metrics.WriteCounts(stdout, &st, o.all); err != nil {
				logger.Error("printing counts", "err", err)
			}
		case err := <-webErr:
			if err != nil {
				fmt.Fprintf(stderr, "tcptrack: %v\n", err)
				status = exitCapture
			}
			stop()
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	wg.Wait()
	if c.src != nil {
		c.src.Close()
	}
	if err := report(stdout, c.tr, o); err != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		return exitCapture
	}
	if err := tw.flush(); err != nil {
		fmt.Fprintf(stderr, "tcptrack: transitions: %v\n", err)
		return exitCapture
	}
	summarize(logger, c.packets, c.dec.Stats(), c.tr.Stats())
	return status
}

// open opens the capture and, with --user, drops root. An interface that
// is not there yet is waited for, as if it had gone away.
func (c *capture) open() error {
	src, err := decode.OpenCapture(c.o.iface, c.o.live.cfg)
	switch {
	case errors.Is(err, decode.ErrInterfaceGone):
		c.logger.Warn("interface not there yet; waiting for it", "interface", c.o.iface)
	case err != nil:
		return err
	default:
		c.src = src
	}
	if u := c.o.live.user; u != "" {
		if err := dropPrivileges(u); err != nil {
			if c.src != nil {
				c.src.Close()
			}
			return fmt.Errorf("--user %s: %w", u, err)
		}
		c.logger.Info("dropped privileges", "user", u)
	}
	c.publish()
	return nil
}

// loop reads, decodes and tracks until ctx ends, reopening the capture
// with backoff when the interface goes away. It never blocks on a scrape:
// it only publishes.
func (c *capture) loop(ctx context.Context) {
	var (
		fr          decode.Frame
		seg         tracker.Segment
		nextPublish int64 // nanoseconds since the Unix epoch, as frames are stamped
		backoff     = reopenFirst
	)
	for ctx.Err() == nil {
		if c.src == nil {
			if !c.reopen(ctx, &backoff) {
				return
			}
			continue
		}
		// The kernel stamps live frames with the wall clock, so a frame's
		// time is the time now, give or take the ring's delay, without a
		// clock read per frame (a fifth of the live path's CPU time, as
		// profiled at 3.7 M frames/s). It is kept as the frames carry it,
		// in nanoseconds, and made a time.Time only to publish.
		var now int64
		err := c.src.Next(&fr)
		switch {
		case err == nil:
			c.packets++
			if c.dec.Decode(&fr, &seg) == nil {
				c.tr.Track(&seg)
			}
			now = fr.UnixNano
		case errors.Is(err, decode.ErrTimeout):
			// A quiet link: let timers run out on the wall clock.
			now = time.Now().UnixNano()
			c.tr.Advance(time.Unix(0, now))
		default:
			c.logger.Error("capture failed; will reopen", "interface", c.o.iface, "err", err)
			c.closeSource()
			now = time.Now().UnixNano()
		}
		// Beyond one period ahead, the clock stepped back.
		if d := nextPublish - now; d < 0 || d > int64(publishEvery) {
			c.tr.Advance(time.Unix(0, now))
			c.publish()
			nextPublish = now + int64(publishEvery)
		}
	}
}

// reopen waits out the backoff and tries to open the capture again. It
// reports false when ctx ended.
func (c *capture) reopen(ctx context.Context, backoff *time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(*backoff):
	}
	c.tr.Advance(time.Now())
	src, err := decode.OpenCapture(c.o.iface, c.o.live.cfg)
	if err != nil {
		*backoff = min(*backoff*2, reopenMax)
		c.logger.Debug("reopen failed", "interface", c.o.iface, "err", err, "next_try", *backoff)
		c.publish()
		return true
	}
	c.src = src
	*backoff = reopenFirst
	c.logger.Info("capture reopened", "interface", c.o.iface)
	c.publish()
	return true
}

func (c *capture) closeSource() {
	c.readStats()
	c.kernelDrops += c.cur.KernelDrops
	c.ifaceDrops += c.cur.InterfaceDrops
	c.cur = decode.CaptureStats{}
	c.src.Close()
	c.src = nil
	c.publish()
}

func (c *capture) readStats() {
	if c.src == nil {
		return
	}
	if st, err := c.src.Stats(); err == nil {
		c.cur = st
	}
}

// publish hands the scrapers a fresh snapshot.
func (c *capture) publish() {
	c.readStats()
	s := &metrics.Snapshot{
		Tracker:     c.tr.Stats(),
		Packets:     c.packets,
		CaptureUp:   c.src != nil,
		KernelDrops: c.kernelDrops + c.cur.KernelDrops,
		IfaceDrops:  c.ifaceDrops + c.cur.InterfaceDrops,
	}
	ds := c.dec.Stats()
	ds.Each(func(reason string, malformed bool, n uint64) {
		if malformed {
			s.Decode = append(s.Decode, metrics.ReasonCount{Reason: reason, N: n})
		}
	})
	c.col.Publish(s)
}
