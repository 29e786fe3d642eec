package metrics

import (
	"bufio"
	"fmt"
	"io"

	"github.com/tcptrack/tcptrack/tracker"
)

// WriteCounts writes the netstat-style summary: one "STATE count" line per
// state with a non-zero count, netstat spelling, in the order of the
// tracker.State constants (ESTABLISHED first, CLOSING last). With listen set
// (the CLI's --all), inferred listeners follow as a LISTEN line of their
// own, then the endpoints that never showed they are a real stack (spoofed
// SYN sources, say) as an UNCONFIRMED line: neither is in netstat's counts.
// The CLI and the /counts endpoint both print with it, so the two never
// disagree.
func WriteCounts(w io.Writer, s *tracker.Stats, listen bool) error {
	bw := bufio.NewWriter(w)
	for st := tracker.State(0); st < tracker.NumStates; st++ {
		if st.Counted() && s.States[st] > 0 {
			fmt.Fprintf(bw, "%s %d\n", st, s.States[st])
		}
	}
	if listen && s.Listeners > 0 {
		fmt.Fprintf(bw, "%s %d\n", tracker.Listen, s.Listeners)
	}
	if n := unconfirmed(s); listen && n > 0 {
		fmt.Fprintf(bw, "UNCONFIRMED %d\n", n)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write counts: %w", err)
	}
	return nil
}

// unconfirmed returns the number of unconfirmed endpoints, every state.
func unconfirmed(s *tracker.Stats) int {
	n := 0
	for _, c := range s.Unconfirmed {
		n += c
	}
	return n
}
