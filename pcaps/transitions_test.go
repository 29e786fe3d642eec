package pcaps_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/tracker"
)

// rfcTransitions are the changes of state RFC 9293 has, one segment or one
// timer each (a SYN+ACK carrying a FIN, say, moves SYN_SENT to CLOSE_WAIT
// at once). An endpoint showing itself for the first time (from UNKNOWN)
// is not a transition of the RFC's and is not checked.
var rfcTransitions = map[[2]tracker.State]bool{}

func init() {
	for from, tos := range map[tracker.State][]tracker.State{
		tracker.Close:       {tracker.SynSent},
		tracker.Listen:      {tracker.SynRecv},
		tracker.SynSent:     {tracker.SynRecv, tracker.Established, tracker.CloseWait, tracker.Close},
		tracker.SynRecv:     {tracker.Established, tracker.FinWait1, tracker.CloseWait, tracker.Close},
		tracker.Established: {tracker.FinWait1, tracker.CloseWait, tracker.Close},
		tracker.FinWait1:    {tracker.FinWait2, tracker.Closing, tracker.TimeWait, tracker.Close},
		tracker.FinWait2:    {tracker.TimeWait, tracker.Close},
		tracker.Closing:     {tracker.TimeWait, tracker.Close},
		tracker.CloseWait:   {tracker.LastAck, tracker.Close},
		tracker.LastAck:     {tracker.Close},
		tracker.TimeWait:    {tracker.Close},
	} {
		for _, to := range tos {
			rfcTransitions[[2]tracker.State{from, to}] = true
		}
	}
}

// TestTransitionsAreRFC runs every kernel capture with the transitions
// stream on: every change it reports is one RFC 9293 has, or is marked as
// what it is (a withdrawal, a timer, a pickup, ...). Corrections are
// allowed; unmarked jumps that no single segment can make are not.
func TestTransitionsAreRFC(t *testing.T) {
	paths, err := filepath.Glob("*.pcap")
	if err != nil {
		t.Fatal(err)
	}
	withdrawn := 0
	for _, p := range paths {
		cfg := tracker.Config{OnTransition: func(tr *tracker.Transition) {
			switch {
			case tr.Reason == "withdrawn":
				withdrawn++
			case tr.Reason != "" || tr.From == tracker.Unknown:
			case !rfcTransitions[[2]tracker.State{tr.From, tr.To}]:
				t.Errorf("%s: %s %s -> %s at %v: not an RFC 9293 transition, and not marked", p, tr.Endpoint, tr.From, tr.To, tr.Time)
			}
		}}
		track(t, p, cfg)
	}
	// The captures with an answer lost after the capture point hold
	// withdrawals: the check above saw some.
	if withdrawn == 0 {
		t.Errorf("no withdrawal in %s: the check of their marking proved nothing", strings.Join(paths, " "))
	}
}
