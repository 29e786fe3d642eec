package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tcptrack/tcptrack/decode"
	"github.com/tcptrack/tcptrack/internal/top"
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
// everyone else reads the snapshots it publishes, or asks it for a listing.
type capture struct {
	o       *options
	logger  *slog.Logger
	tr      *tracker.Tracker
	dec     *decode.Decoder
	col     *metrics.Collector
	bd      *metrics.Breakdown // the per-port and per-listener series
	outs    *outputs
	src     decode.Capture
	packets uint64
	// drops of handles closed before the current one, so counters never
	// go backwards across a reopen.
	kernelDrops, ifaceDrops uint64
	cur                     decode.CaptureStats
	// listings carries requests for the socket listing (SIGUSR1 and
	// /sockets), answered at the next publish: at most one a second,
	// whoever asks.
	listings chan listingRequest
	done     chan struct{} // closed when the loop has returned
	outsErr  error         // the output files' error last logged
	warned   warned
}

type listingRequest struct {
	all   bool
	reply chan *metrics.Listing // buffered: the loop never waits on it
}

// listingTimeout bounds a wait for the capture loop to answer a listing.
const listingTimeout = 5 * time.Second

// errStopped answers a listing asked for after the capture loop ended.
var errStopped = errors.New("the capture has stopped")

// listing asks the capture loop for the socket listing.
func (c *capture) listing(ctx context.Context, all bool) (*metrics.Listing, error) {
	ctx, cancel := context.WithTimeout(ctx, listingTimeout)
	defer cancel()
	req := listingRequest{all: all, reply: make(chan *metrics.Listing, 1)}
	select {
	case c.listings <- req:
	case <-c.done:
		return nil, errStopped
	case <-ctx.Done():
		return nil, fmt.Errorf("the capture loop did not answer: %w", ctx.Err())
	}
	select {
	case l := <-req.reply:
		return l, nil
	case <-c.done:
		return nil, errStopped
	case <-ctx.Done():
		return nil, fmt.Errorf("the capture loop did not answer: %w", ctx.Err())
	}
}

// usageError marks an error of the command line or of the files it names:
// exit status 2.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func runLive(o *options, stdout, stderr io.Writer, logger *slog.Logger, sink *logSink) int {
	if sink != nil {
		defer sink.release(stderr) // whatever ends the start early
	}
	// A write to stdout once its reader has gone must fail with EPIPE, to
	// be logged, rather than kill the exporter: Go's default for
	// descriptors 1 and 2 is to die of SIGPIPE unless the signal is
	// ignored (see os/signal).
	signal.Ignore(syscall.SIGPIPE)
	defer signal.Reset(syscall.SIGPIPE)
	o.live.cfg.Filter = o.filter
	o.live.cfg.BufferSize *= 1024
	outs := newOutputs(o)

	bd := metrics.NewBreakdown(o.breakdown)
	if !o.noWeb && !o.noConnFacts {
		// The handshake RTT and oldest-endpoint-age metrics: 80 bytes a
		// flow of --max-flows more (see Memory in the README).
		o.track.Info = true
		o.track.OnHandshake = bd.ObserveHandshake
	}
	c := &capture{o: o, logger: logger, tr: tracker.New(o.track), dec: o.decoder(), col: metrics.NewCollector(),
		bd: bd, outs: outs, listings: make(chan listingRequest), done: make(chan struct{})}
	o.web.Sockets = c.listing
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGHUP)
	defer signal.Stop(sigs)

	// The capture is opened first, so that its failure is the one said;
	// then the web listener is bound, still as root (a port below 1024);
	// then root is dropped, and what is read or written from then on is
	// opened as the user it will be reopened as.
	var (
		srv      *metrics.Server
		webFiles []metrics.WebFile
	)
	bind := func() error {
		if o.noWeb {
			return nil
		}
		var err error
		if webFiles, err = metrics.WebFiles(o.web.ConfigFile); err != nil {
			return usageError{err}
		}
		if srv, err = metrics.Listen(o.web, c.col, logger); errors.Is(err, metrics.ErrWebConfig) {
			return usageError{err}
		}
		return err
	}
	settle := func() error {
		if u := o.live.user; u != "" {
			if err := metrics.CheckReadable(webFiles); err != nil {
				return usageError{fmt.Errorf("--user %s cannot read the %w; the web listener reads it again at every request or TLS handshake, so it must be readable by %s", u, err, u)}
			}
		}
		if err := outs.open(stdout); err != nil {
			return usageError{err}
		}
		return nil
	}
	var wg sync.WaitGroup
	ready := make(chan error, 1)
	wg.Add(1)
	go func() {
		if o.top.on {
			defer top.Guard()
		}
		defer wg.Done()
		defer close(c.done)
		// Capabilities belong to a thread, not to the process: the one
		// thread that opens the capture, drops root and keeps CAP_NET_RAW
		// is the one that reopens it later.
		runtime.LockOSThread()
		err := c.open(bind, settle)
		ready <- err
		if err == nil {
			c.loop(ctx)
		}
	}()
	if err := <-ready; err != nil {
		if srv != nil {
			srv.Close()
		}
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		var usage usageError
		if errors.Is(err, decode.ErrFilter) || errors.As(err, &usage) {
			return exitUsage
		}
		return exitCapture
	}
	webErr := make(chan error, 1)
	if srv != nil {
		go func() { webErr <- srv.Serve(ctx) }()
		logger.Info("serving metrics", "addresses", srv.Addrs(), "path", o.web.TelemetryPath)
	}
	logger.Info("capturing", "interface", o.iface, "filter", o.filter, "snaplen", o.live.cfg.Snaplen, "engine", o.live.cfg.Engine)

	// tcptrack top: the view runs beside the capture and the web listener
	// until q, then ends them as SIGTERM would.
	viewErr := make(chan error, 1)
	if o.top.on {
		cfg := viewConfig(c, o.iface, sink)
		if srv != nil {
			cfg.Serving = serving(srv, o.web.TelemetryPath)
		}
		go func() {
			defer top.Guard()
			viewErr <- top.Run(ctx, cfg)
			stop()
		}()
	}

	status := exitOK
wait:
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				outs.reopen(logger)
				continue
			}
			if o.top.on {
				logger.Info("SIGUSR1: the view is the report")
				continue
			}
			if err := c.printNow(ctx, stdout); err != nil {
				logger.Error("SIGUSR1: printing the report failed", "err", err)
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
	outs.writeOpen(c.tr) // the capture has stopped: the tracker is this goroutine's now
	if o.top.on {
		err := <-viewErr // the terminal is restored
		sink.release(stderr)
		if err != nil {
			fmt.Fprintf(stderr, "tcptrack: %v\n", err)
			return exitUsage
		}
		if err := outs.close(); err != nil {
			fmt.Fprintf(stderr, "tcptrack: %v\n", err)
			return exitCapture
		}
		summarize(logger, c.packets, c.dec.Stats(), c.tr.Stats())
		return status
	}
	if code := writeReport(stdout, stderr, c.tr, outs, o); code != exitOK {
		return code
	}
	if err := outs.close(); err != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\n", err)
		return exitCapture
	}
	summarize(logger, c.packets, c.dec.Stats(), c.tr.Stats())
	return status
}

// printNow prints the report the flags ask for while capture runs
// (SIGUSR1): the counts from the last snapshot, or the listing from the
// capture loop.
func (c *capture) printNow(ctx context.Context, stdout io.Writer) error {
	o := c.o
	if o.sockets || o.by.Kind != metrics.ByNone {
		// Asked for before taking stdout: the loop may be writing a
		// transition, which needs it.
		l, err := c.listing(ctx, o.all)
		if err != nil {
			return err
		}
		at := c.col.Snapshot().Tracker.Time
		return c.outs.stdout(func() error {
			if o.by.Kind != metrics.ByNone {
				return writeBy(stdout, l, at, o)
			}
			if o.json {
				return metrics.WriteSocketsJSON(stdout, l, o.all)
			}
			return metrics.WriteSockets(stdout, l, o.all)
		})
	}
	st := c.col.Snapshot().Tracker
	return c.outs.stdout(func() error {
		if o.json {
			return metrics.WriteCountsJSON(stdout, &st, o.all)
		}
		return metrics.WriteCounts(stdout, &st, o.all)
	})
}

// open opens the capture, calls bind, drops root if --user says so, then
// calls settle. An interface that is not there is an error, or waited for
// with --wait-for-interface, as if it had gone away.
func (c *capture) open(bind, settle func() error) error {
	iface := c.o.iface
	src, err := decode.OpenCapture(iface, c.o.live.cfg)
	switch {
	case errors.Is(err, decode.ErrInterfaceGone) && c.o.live.waitIface:
		c.logger.Warn("interface not there yet; waiting for it", "interface", iface)
	case errors.Is(err, decode.ErrInterfaceGone):
		return fmt.Errorf("no interface %s here; there are %s (--wait-for-interface waits for it to appear)", iface, interfaceNames())
	case isPermission(err):
		return fmt.Errorf("%w; capturing needs root or CAP_NET_RAW: run as root, or grant it to the binary (setcap cap_net_raw+ep %s), or start as root with --user USER to drop root once the capture is open", err, os.Args[0])
	case err != nil:
		return err
	default:
		c.src = src
	}
	fail := func(err error) error {
		if c.src != nil {
			c.src.Close()
			c.src = nil
		}
		return err
	}
	if err := bind(); err != nil {
		return fail(err)
	}
	if u := c.o.live.user; u != "" {
		if err := dropPrivileges(u); err != nil {
			return fail(fmt.Errorf("--user %s: %w", u, err))
		}
		c.logger.Info("dropped privileges", "user", u)
	}
	if err := settle(); err != nil {
		return fail(err)
	}
	c.publish()
	return nil
}

// interfaceNames lists the interfaces of this network namespace, for an
// error message.
func interfaceNames() string {
	ifs, err := net.Interfaces()
	if err != nil || len(ifs) == 0 {
		return "none that can be listed"
	}
	names := make([]string, 0, len(ifs)+1)
	for _, i := range ifs {
		names = append(names, i.Name)
	}
	return strings.Join(append(names, "any"), ", ")
}

// isPermission reports whether opening the capture failed for lack of
// privilege. libpcap says so only in words.
func isPermission(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, os.ErrPermission) {
		return true
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "permission") || strings.Contains(msg, "operation not permitted")
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
			// A quiet link: let timers run out on the wall clock, and
			// write out the lines of the traffic before the lull
			// now rather than at the next publish.
			now = time.Now().UnixNano()
			c.tr.Advance(time.Unix(0, now))
			c.outs.flush() // an error is logged at the publish
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

// publish hands the scrapers a fresh snapshot, and does what is due about
// once a second: a listing asked for, the output files flushed, the first
// warning of anything dropped.
func (c *capture) publish() {
	c.readStats()
	s := &metrics.Snapshot{
		Tracker:     c.tr.Stats(),
		Packets:     c.packets,
		CaptureUp:   c.src != nil,
		KernelDrops: c.kernelDrops + c.cur.KernelDrops,
		IfaceDrops:  c.ifaceDrops + c.cur.InterfaceDrops,
	}
	if c.bd == nil { // a capture built elsewhere (the terminal view) gets one here
		c.bd = metrics.NewBreakdown(c.o.breakdown)
	}
	c.bd.Update(c.tr, s)
	ds := c.dec.Stats()
	ds.Each(func(reason string, malformed bool, n uint64) {
		if malformed {
			s.Decode = append(s.Decode, metrics.ReasonCount{Reason: reason, N: n})
		}
	})
	c.col.Publish(s)
	select {
	case req := <-c.listings:
		l := metrics.Collect(c.tr, req.all)
		l.Info = c.o.track.Info
		req.reply <- l
	default:
	}
	if err := c.outs.flush(); err != nil && err != c.outsErr {
		c.outsErr = err
		c.logger.Error("writing an output file failed; its lines are dropped until a SIGHUP reopens it", "err", err)
	}
	c.warned.check(c.logger, c.packets, ds, s.Tracker, false)
}
