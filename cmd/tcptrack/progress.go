package main

import (
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/tcptrack/tcptrack/decode"
)

// progressAfter is how long a file must take before a bar appears: short
// jobs stay silent.
const progressAfter = 2 * time.Second

// progress draws a bar on stderr while a long file is read, when stderr is
// a terminal: bytes read, percent of the file, rate and time left. It
// counts the bytes of the file itself, so a .gz file's bar follows the
// compressed size.
type progress struct {
	r     io.Reader
	out   io.Writer
	size  int64
	read  int64
	start time.Time
	bar   *progressbar.ProgressBar
}

func (p *progress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.read += int64(n)
	return n, err
}

// openCapture reads the capture's header from in; with a terminal on
// stderr and a regular file it returns a progress to tick as frames are
// read, else nil.
func openCapture(in *input, stderr io.Writer) (decode.Source, *progress, error) {
	var r io.Reader = in
	var p *progress
	if tty, ok := stderr.(*os.File); ok && term.IsTerminal(int(tty.Fd())) {
		if st, err := in.f.Stat(); err == nil && st.Mode().IsRegular() {
			p = &progress{r: in, out: stderr, size: st.Size(), start: time.Now()}
			r = p
		}
	}
	src, err := decode.NewReader(in.name, struct {
		io.Reader
		io.Closer
	}{r, in})
	if err != nil {
		in.Close()
		return nil, nil, err
	}
	return src, p, nil
}

// tick updates the bar; the caller calls it every few thousand frames.
func (p *progress) tick() {
	if p == nil {
		return
	}
	if p.bar == nil {
		if time.Since(p.start) < progressAfter {
			return
		}
		p.bar = progressbar.NewOptions64(p.size,
			progressbar.OptionSetWriter(p.out),
			progressbar.OptionSetDescription("reading"),
			progressbar.OptionShowBytes(true),
			progressbar.OptionShowTotalBytes(true),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetElapsedTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionSetWidth(30),
			progressbar.OptionClearOnFinish(),
		)
	}
	p.bar.Set64(p.read)
}

// done removes the bar, so that only the report remains.
func (p *progress) done() {
	if p != nil && p.bar != nil {
		p.bar.Finish()
	}
}
