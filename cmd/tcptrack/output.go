package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/tcptrack/tcptrack/tracker"
)

// outputs are the JSON-lines files tcptrack writes as it tracks:
// --transitions and --connections. The tracking goroutine writes them;
// SIGHUP reopens them and the live loop flushes them from others. When one
// goes to stdout, reports go through stdout too (see stdout), so that a
// line of one never splices into a line of the other; when both do, they
// are one stream, whose lines never splice either.
type outputs struct {
	streams []*lineStream // each file once
	toOut   *lineStream   // the one on stdout, nil if none
	conns   *lineStream   // --connections, nil if not asked for
	seed    uint16        // --connections.seed
}

// newOutputs hooks the streams asked for to the tracker configuration;
// open opens them.
func newOutputs(o *options) *outputs {
	out := &outputs{seed: o.connSeed}
	add := func(flag, path string) *lineStream {
		if path == "" {
			return nil
		}
		if path == "-" && out.toOut != nil {
			return out.toOut
		}
		s := &lineStream{flag: flag, path: path}
		out.streams = append(out.streams, s)
		if path == "-" {
			out.toOut = s
		}
		return s
	}
	if s := add("--transitions", o.transitions); s != nil {
		o.track.OnTransition = func(t *tracker.Transition) { s.encode(transitionJSON(t)) }
	}
	if out.conns = add("--connections", o.connections); out.conns != nil {
		o.track.OnClose = func(c *tracker.Conn) {
			out.conns.line(func(b []byte) []byte { return appendConn(b, c, c.Ended, out.seed) })
		}
	}
	return out
}

// open opens every stream's file, or takes stdout for "-".
func (out *outputs) open(stdout io.Writer) error {
	for _, s := range out.streams {
		if err := s.open(stdout); err != nil {
			return err
		}
	}
	return nil
}

// flush writes out what is buffered. It returns the first write error
// since a file was opened, naming its flag.
func (out *outputs) flush() error { return out.each((*lineStream).flush) }

// close flushes and closes every file, returning the first error.
func (out *outputs) close() error { return out.each((*lineStream).close) }

// each calls fn on every stream, returning the first error.
func (out *outputs) each(fn func(*lineStream) error) error {
	var first error
	for _, s := range out.streams {
		if err := fn(s); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// reopen is what SIGHUP does: every file is flushed, closed and opened
// again by its name, as daemons do so that logrotate works; each is
// logged.
func (out *outputs) reopen(logger *slog.Logger) {
	files := 0
	for _, s := range out.streams {
		if s.path == "-" {
			continue // stdout: nothing to reopen
		}
		files++
		if err := s.reopen(); err != nil {
			logger.Error("SIGHUP: reopening the "+s.flag[2:]+" file failed; its lines are lost until the next SIGHUP succeeds", "err", err)
			continue
		}
		logger.Info("SIGHUP: "+s.flag[2:]+" file reopened", "file", s.path)
	}
	if files == 0 {
		logger.Info("SIGHUP: no file to reopen")
	}
}

// stdout runs fn, which writes a report to stdout, after every line of the
// stream on stdout before it and before any after it.
func (out *outputs) stdout(fn func() error) error {
	s := out.toOut
	if s == nil {
		return fn()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.flushLocked(); err != nil {
		return err
	}
	return fn()
}

// lineStream is one file of JSON objects, one a line; a mutex guards it.
type lineStream struct {
	flag string // the flag that names it, for messages
	mu   sync.Mutex
	path string   // "-" for stdout
	f    *os.File // nil for stdout
	w    *bufio.Writer
	enc  *json.Encoder
	buf  []byte // the line being written, reused (see line)
	err  error  // the first write error since the file was opened, naming the flag
}

func (s *lineStream) open(stdout io.Writer) error {
	w := stdout
	if s.path != "-" {
		f, err := createOutput(s.path, false)
		if err != nil {
			return fmt.Errorf("%s: %w", s.flag, err)
		}
		s.f, w = f, f
	}
	s.w = bufio.NewWriter(w)
	s.enc = json.NewEncoder(s.w)
	return nil
}

// encode writes v as one line; after a write error, nothing until the
// file is reopened.
func (s *lineStream) encode(v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.fail(s.enc.Encode(v))
	}
}

// line writes the line that fn appends to the bytes it is given, which
// must end in a newline; after a write error, nothing until the file is
// reopened.
func (s *lineStream) line(fn func([]byte) []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.buf = fn(s.buf[:0])
		_, err := s.w.Write(s.buf)
		s.fail(err)
	}
}

// fail keeps err, naming the flag, as the stream's error.
func (s *lineStream) fail(err error) {
	if err != nil {
		s.err = fmt.Errorf("%s: %w", s.flag, err)
	}
}

func (s *lineStream) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.flushLocked()
}

func (s *lineStream) flushLocked() error {
	if s.err == nil {
		s.fail(s.w.Flush())
	}
	return s.err
}

// reopen flushes and closes the file and opens it again by its name,
// appending.
func (s *lineStream) reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushLocked() // a failure here belongs to the old file
	f, err := createOutput(s.path, true)
	if err != nil {
		return fmt.Errorf("%s: %w", s.flag, err)
	}
	s.f.Close()
	s.f, s.err = f, nil
	s.w.Reset(f)
	return nil
}

// close flushes and closes the file.
func (s *lineStream) close() error {
	err := s.flush()
	if s.f != nil {
		if cerr := s.f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("%s: %w", s.flag, cerr)
		}
	}
	return err
}

type jsonSegment struct {
	Src   string `json:"src"`
	Dst   string `json:"dst"`
	Flags string `json:"flags"`
	Seq   uint32 `json:"seq"`
	Ack   uint32 `json:"ack"`
	Len   uint32 `json:"len"`
	Win   uint16 `json:"win"`
}

type jsonTransition struct {
	Time     time.Time    `json:"time"`
	Client   string       `json:"client"`
	Server   string       `json:"server"`
	VLAN     uint16       `json:"vlan,omitempty"`
	Tunnel   uint32       `json:"tunnel,omitempty"`
	Endpoint string       `json:"endpoint"`
	From     string       `json:"from"`
	To       string       `json:"to"`
	Reason   string       `json:"reason,omitempty"`
	Segment  *jsonSegment `json:"segment,omitempty"`
}

// transitionJSON is a line of --transitions.
func transitionJSON(t *tracker.Transition) *jsonTransition {
	j := &jsonTransition{
		Time: t.Time.UTC(), Client: t.Flow.Src.String(), Server: t.Flow.Dst.String(), VLAN: t.Flow.VLAN, Tunnel: t.Flow.Tunnel,
		Endpoint: t.Endpoint.String(), From: t.From.String(), To: t.To.String(), Reason: t.Reason,
	}
	if c := t.Cause; c != nil {
		j.Segment = &jsonSegment{
			Src: netip.AddrPortFrom(c.Src, c.SrcPort).String(), Dst: netip.AddrPortFrom(c.Dst, c.DstPort).String(),
			Flags: c.Flags.String(), Seq: c.Seq, Ack: c.Ack, Len: c.PayloadLen, Win: c.Window,
		}
	}
	return j
}
