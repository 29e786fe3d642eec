package main

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// logSink holds the log while the view owns the terminal, so that a line
// on stderr does not tear the screen: the view shows the last line, and
// release writes them all out once the terminal is restored. It keeps the
// last logSinkLines lines.
type logSink struct {
	mu    sync.Mutex
	lines []string
	out   io.Writer // set by release: write straight through
	lost  int
}

const logSinkLines = 1000

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.out != nil {
		return l.out.Write(p)
	}
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line == "" {
			continue
		}
		if len(l.lines) == logSinkLines {
			l.lines = l.lines[1:]
			l.lost++
		}
		l.lines = append(l.lines, line)
	}
	return len(p), nil
}

// last returns the last warning or error logged, without its end.
func (l *logSink) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.lines) - 1; i >= 0; i-- {
		if s := l.lines[i]; strings.Contains(s, " level=WARN ") || strings.Contains(s, " level=ERROR ") {
			return strings.TrimRight(s, "\n")
		}
	}
	return ""
}

// release writes what was held to w and sends every later line there.
func (l *logSink) release(w io.Writer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b bytes.Buffer
	if l.lost > 0 {
		b.WriteString("tcptrack: the first log lines were dropped while the view ran\n")
	}
	for _, line := range l.lines {
		b.WriteString(line)
	}
	w.Write(b.Bytes())
	l.lines, l.out = nil, w
}
