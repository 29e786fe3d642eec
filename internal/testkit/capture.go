package testkit

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"testing"

	"github.com/tcptrack/tcptrack/decode"
	"github.com/tcptrack/tcptrack/tracker"
)

// File calls fn with every TCP segment of the capture at path, in order. A
// frame that is not TCP (ARP, neighbour discovery) is skipped; a malformed
// frame is an error, since the captures tests read were written by the
// kernel or by the generator.
func File(t testing.TB, path string, fn func(*tracker.Segment)) {
	t.Helper()
	src, err := decode.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	Source(t, path, src, fn)
}

// Source is File for a source already open, named name in messages; it
// closes src.
func Source(t testing.TB, name string, src decode.Source, fn func(*tracker.Segment)) {
	t.Helper()
	defer src.Close()
	dec := decode.NewDecoder()
	var (
		fr  decode.Frame
		seg tracker.Segment
	)
	for {
		err := src.Next(&fr)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := dec.Decode(&fr, &seg); err != nil {
			if !errors.Is(err, decode.ErrNotTCP) {
				t.Errorf("%s: frame %d: %v", name, fr.Number, err)
			}
			continue
		}
		fn(&seg)
	}
}

// Key names a socket as both ss and tcptrack's listing can give it, for
// comparing the two as sets.
func Key(st tracker.State, local, peer fmt.Stringer, sendQ uint32) string {
	return fmt.Sprintf("%-11s %s %s Send-Q %d", st, local, peer, sendQ)
}

// Diff lists what a holds more often than b, sorted.
func Diff(a, b map[string]int) []string {
	var out []string
	for k, n := range a {
		for range n - b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
