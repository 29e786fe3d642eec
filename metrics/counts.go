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
// (the CLI's --all), inferred listeners follow as a LISTEN line of their own.
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
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write counts: %w", err)
	}
	return nil
}
