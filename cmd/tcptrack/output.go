package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/tcptrack/tcptrack/tracker"
)

// transitionWriter writes the transitions stream: one JSON object a line.
// The tracking goroutine writes; SIGHUP reopens the file and the live loop
// flushes from others, so a mutex guards it. When the stream goes to
// stdout, reports go through stdout too (see stdout), so that a line of
// one never splices into a line of the other.
type transitionWriter struct {
	mu   sync.Mutex
	path string   // "-" for stdout
	f    *os.File // nil for stdout
	w    *bufio.Writer
	enc  *json.Encoder
	err  error // the first write error since the file was opened
}

// newTransitions hooks the --transitions stream, if asked for, to the
// tracker configuration; open opens it. A nil writer means no stream.
func newTransitions(o *options) *transitionWriter {
	if o.transitions == "" {
		return nil
	}
	tw := &transitionWriter{path: o.transitions}
	o.track.OnTransition = tw.write
	return tw
}

// open opens the stream's file, or takes stdout for "-".
func (tw *transitionWriter) open(stdout io.Writer) error {
	if tw == nil {
		return nil
	}
	w := stdout
	if tw.path != "-" {
		f, err := createOutput(tw.path, false)
		if err != nil {
			return fmt.Errorf("--transitions: %w", err)
		}
		tw.f, w = f, f
	}
	tw.w = bufio.NewWriter(w)
	tw.enc = json.NewEncoder(tw.w)
	return nil
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

func (tw *transitionWriter) write(t *tracker.Transition) {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if tw.err != nil {
		return
	}
	j := jsonTransition{
		Time: t.Time.UTC(), Client: t.Flow.Src.String(), Server: t.Flow.Dst.String(), VLAN: t.Flow.VLAN, Tunnel: t.Flow.Tunnel,
		Endpoint: t.Endpoint.String(), From: t.From.String(), To: t.To.String(), Reason: t.Reason,
	}
	if c := t.Cause; c != nil {
		j.Segment = &jsonSegment{
			Src: netip.AddrPortFrom(c.Src, c.SrcPort).String(), Dst: netip.AddrPortFrom(c.Dst, c.DstPort).String(),
			Flags: c.Flags.String(), Seq: c.Seq, Ack: c.Ack, Len: c.PayloadLen, Win: c.Window,
		}
	}
	tw.err = tw.enc.Encode(j)
}

// flush writes out what is buffered; a nil writer has nothing to flush. It
// returns the first write error since the file was opened.
func (tw *transitionWriter) flush() error {
	if tw == nil {
		return nil
	}
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return tw.flushLocked()
}

func (tw *transitionWriter) flushLocked() error {
	if tw.err == nil {
		tw.err = tw.w.Flush()
	}
	return tw.err
}

// reopen flushes and closes the file and opens it again by its name, as
// daemons do on SIGHUP so that logrotate works. It reports false for a
// stream on stdout, which has nothing to reopen.
func (tw *transitionWriter) reopen() (bool, error) {
	if tw == nil || tw.f == nil {
		return false, nil
	}
	tw.mu.Lock()
	defer tw.mu.Unlock()
	tw.flushLocked() // a failure here belongs to the old file
	f, err := createOutput(tw.path, true)
	if err != nil {
		return true, fmt.Errorf("--transitions: %w", err)
	}
	tw.f.Close()
	tw.f, tw.err = f, nil
	tw.w.Reset(f)
	return true, nil
}

// close flushes and closes the file.
func (tw *transitionWriter) close() error {
	if tw == nil {
		return nil
	}
	err := tw.flush()
	if tw.f != nil {
		if cerr := tw.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// stdout runs fn, which writes a report to stdout, after every transition
// before it and before any after it, when the stream also goes to stdout.
func (tw *transitionWriter) stdout(fn func() error) error {
	if tw == nil || tw.f != nil {
		return fn()
	}
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if err := tw.flushLocked(); err != nil {
		return err
	}
	return fn()
}
