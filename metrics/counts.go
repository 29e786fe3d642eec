package metrics

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"time"

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

// WriteCountsJSON writes the counts as one JSON object on one line: every
// state, zeros included, so that scripts need not know which states exist.
func WriteCountsJSON(w io.Writer, s *tracker.Stats, listen bool) error {
	states := make(map[string]int)
	for st := tracker.State(0); st < tracker.NumStates; st++ {
		if st.Counted() {
			states[st.String()] = s.States[st]
		}
	}
	if listen {
		states[tracker.Listen.String()] = s.Listeners
	}
	unconfirmed := make(map[string]int)
	for st := tracker.State(0); st < tracker.NumStates; st++ {
		if st.Counted() {
			unconfirmed[st.String()] = s.Unconfirmed[st]
		}
	}
	out := struct {
		Time        time.Time      `json:"time"`
		States      map[string]int `json:"states"`
		Unconfirmed map[string]int `json:"unconfirmed"`
		Flows       int            `json:"flows"`
	}{s.Time.UTC(), states, unconfirmed, s.Flows}
	if err := json.NewEncoder(w).Encode(out); err != nil {
		return fmt.Errorf("write counts: %w", err)
	}
	return nil
}

// Listing is the endpoints the socket listing shows, as Tracker.Sockets and
// Tracker.Listeners give them.
type Listing struct {
	Sockets   []tracker.Socket
	Listeners []tracker.Socket // State Listen, no peer; only shown with all
	// Info shows each socket's facts (Socket.Info, kept with
	// Config.Info), as ss -i does; Time is the tracker's clock when the
	// listing was taken, which their ages count to.
	Info bool
	Time time.Time
}

// Collect reads the listing from tr; with all, the inferred listeners too.
func Collect(tr *tracker.Tracker, all bool) *Listing {
	st := tr.Stats()
	l := &Listing{Time: st.Time}
	// Sized once from the counts, which are the sockets Sockets lists: a
	// listing grown by doubling copied every socket about twice.
	n := 0
	for _, c := range st.States {
		n += c
	}
	l.Sockets = make([]tracker.Socket, 0, n)
	tr.Sockets(func(s tracker.Socket) { l.Sockets = append(l.Sockets, s) })
	if all {
		tr.Listeners(func(a netip.AddrPort, vlan uint16, tunnel uint32) {
			l.Listeners = append(l.Listeners, tracker.Socket{State: tracker.Listen, Local: a, VLAN: vlan, Tunnel: tunnel})
		})
	}
	return l
}

// sorted returns every row to show, sorted by local then peer address so
// that the output is stable.
func (l *Listing) sorted(all bool) []tracker.Socket {
	socks := slices.Clone(l.Sockets)
	if all {
		socks = append(socks, l.Listeners...)
	}
	slices.SortFunc(socks, func(a, b tracker.Socket) int {
		return cmp.Or(a.Local.Compare(b.Local), a.Peer.Compare(b.Peer), cmp.Compare(a.VLAN, b.VLAN), cmp.Compare(a.Tunnel, b.Tunnel))
	})
	return socks
}

// WriteSockets prints one line per endpoint in ss -tan's column order, under
// a header line; LISTEN rows only with all. With l.Info, each socket's
// facts follow it on an indented line, as in ss -i.
func WriteSockets(w io.Writer, l *Listing, all bool) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%-12s %6s %6s %-45s %-45s\n", "State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port")
	for _, s := range l.sorted(all) {
		peer := "*:*"
		if s.Peer.IsValid() {
			peer = s.Peer.String()
		}
		fmt.Fprintf(bw, "%-12s %6d %6d %-45s %-45s\n", s.State, s.RecvQ, s.SendQ, s.Local, peer)
		if l.Info && s.Info != nil {
			writeFacts(bw, &s, l.Time)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write sockets: %w", err)
	}
	return nil
}

// jsonSocket is one row of the JSON listing.
type jsonSocket struct {
	State    string `json:"state"`
	RecvQ    uint32 `json:"recv_q"`
	SendQ    uint32 `json:"send_q"`
	Local    string `json:"local"`
	Peer     string `json:"peer,omitempty"`
	VLAN     uint16 `json:"vlan,omitempty"`
	Tunnel   uint32 `json:"tunnel,omitempty"`
	PickedUp bool   `json:"picked_up,omitempty"`

	*jsonFacts // with Listing.Info: its fields are the object's
}

// WriteSocketsJSON prints the listing as one JSON object a line, in the
// order of WriteSockets, without a header: `jq` reads it as it comes.
func WriteSocketsJSON(w io.Writer, l *Listing, all bool) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	for _, s := range l.sorted(all) {
		j := jsonSocket{State: s.State.String(), RecvQ: s.RecvQ, SendQ: s.SendQ, Local: s.Local.String(), VLAN: s.VLAN, Tunnel: s.Tunnel, PickedUp: s.PickedUp}
		if s.Peer.IsValid() {
			j.Peer = s.Peer.String()
		}
		if l.Info && s.Info != nil {
			j.jsonFacts = jsonFactsOf(&s, l.Time)
		}
		enc.Encode(j) // errors stick in bw
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write sockets: %w", err)
	}
	return nil
}
