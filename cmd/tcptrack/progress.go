package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/tcptrack/tcptrack/decode"
)

// progressAfter is how long reading must take before a bar appears: short
// jobs stay silent.
const progressAfter = 2 * time.Second

// progressEvery is how often the bar is redrawn.
const progressEvery = 200 * time.Millisecond

// progress draws a bar on stderr while a long capture is read, when stderr
// is a terminal: for a file, the bytes read of its size, the percent, the
// rate and the time left; for standard input, whose size is unknown, the
// bytes read and the rate. It counts the bytes of the file itself, so a .gz
// file's bar follows the compressed size. The rate is the bytes read since
// the file was opened over the time since, right from the first frame.
type progress struct {
	r     io.Reader
	out   io.Writer
	name  string
	size  int64 // -1: unknown
	read  int64
	start time.Time
	drawn time.Time // zero until the first frame
}

func (p *progress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.read += int64(n)
	return n, err
}

// openCapture reads the capture's header from in; with a terminal on
// stderr it returns a progress to tick as frames are read, else nil.
func openCapture(in *input, stderr io.Writer) (decode.Source, *progress, error) {
	var r io.Reader = in
	var p *progress
	if tty, ok := stderr.(*os.File); ok && term.IsTerminal(int(tty.Fd())) {
		p = &progress{r: in, out: stderr, name: in.name, size: -1, start: time.Now()}
		if st, err := in.f.Stat(); err == nil && st.Mode().IsRegular() && !in.stdin {
			p.size = st.Size()
		}
		r = p
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

// tick redraws the bar if it is due; the reader calls it every few
// thousand frames.
func (p *progress) tick() {
	if p == nil {
		return
	}
	now := time.Now()
	if now.Sub(p.start) < progressAfter || now.Sub(p.drawn) < progressEvery {
		return
	}
	p.drawn = now
	fmt.Fprintf(p.out, "\r%s\x1b[K", p.line(now.Sub(p.start)))
}

// line is the bar's text after elapsed.
func (p *progress) line(elapsed time.Duration) string {
	rate := float64(p.read) / max(elapsed.Seconds(), 1e-3)
	if p.size < 0 {
		return fmt.Sprintf("reading %s: %s, %s/s", p.name, bytesText(float64(p.read)), bytesText(rate))
	}
	frac := min(float64(p.read)/max(float64(p.size), 1), 1)
	const width = 30
	full := int(frac * width)
	left := "?"
	if rate > 0 {
		left = time.Duration(float64(p.size-p.read) / rate * float64(time.Second)).Round(time.Second).String()
	}
	return fmt.Sprintf("reading %3.0f%% |%s%s| %s / %s, %s/s, %s left", frac*100,
		strings.Repeat("█", full), strings.Repeat(" ", width-full),
		bytesText(float64(p.read)), bytesText(float64(p.size)), bytesText(rate), left)
}

// bytesText writes n bytes in decimal units, as ls -h --si does.
func bytesText(n float64) string {
	units := []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for n >= 1000 && i < len(units)-1 {
		n /= 1000
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}

// done erases the bar, so that only the report remains.
func (p *progress) done() {
	if p != nil && !p.drawn.IsZero() {
		fmt.Fprint(p.out, "\r\x1b[K")
		p.drawn = time.Time{}
	}
}
