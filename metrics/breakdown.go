package metrics

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"

	"github.com/tcptrack/tcptrack/tracker"
)

// BreakdownConfig bounds the per-port and per-listener series. The zero
// value exports no port and no listener of its own: everything is in
// port="other" and listener="other".
type BreakdownConfig struct {
	// Ports are always exported, whatever their counts.
	Ports []uint16
	// TopPorts is how many more server ports are exported: those with the
	// most endpoints.
	TopPorts int
	// TopListeners is how many listeners are exported: those with the most
	// connection attempts lately (SYNs, decayed by half every 14 updates).
	TopListeners int
	// Hold is how many updates in a row a port or listener must lead the
	// weakest of those exported before it takes its place (see topK).
	// Default DefaultHold: a minute, at the live loop's one update a second.
	Hold int
}

// Defaults of the command line.
const (
	DefaultTopPorts     = 10
	DefaultTopListeners = 10
	DefaultHold         = 60
)

// listenerDecay weighs the last update's SYNs against the older ones when
// ranking listeners: 0.95 a second halves a burst's weight in 14 s.
const listenerDecay = 0.95

// PortStates is the endpoints of one server port by state, and its facts
// (see Snapshot.Facts).
type PortStates struct {
	Port   uint16
	States [tracker.NumStates]int
	// RTT is the round trips of the handshakes seen while it was exported.
	RTT RTTHistogram
	// Oldest is, by state, when its longest-standing endpoint in that
	// state entered it: nanoseconds since the Unix epoch, 0 if none.
	Oldest [tracker.NumStates]int64
}

// ListenerCounters is one exported listener's health, or the sum of the
// others'. Label is the listener="..." value: "192.0.2.2:80" (with " vlan
// N" when tagged, " tunnel N" in an overlay), or "other".
type ListenerCounters struct {
	Label string
	tracker.ListenerHealth
}

// Breakdown computes the per-port and per-listener parts of each Snapshot,
// at publish time from the tracker's table, keeping the sets of exported
// ports and listeners from one publish to the next. Only the goroutine that
// owns the tracker may use it.
type Breakdown struct {
	cfg       BreakdownConfig
	always    map[uint16]bool
	ports     *topK[uint16]
	listeners *topK[listenerKey]
	counts    *tracker.PortCounts // reused: 3 MiB
	// known is every listener's counters at the last update, so that what
	// the listeners not exported add goes into other, which then never
	// goes backwards, whichever listeners come and go.
	known  map[listenerKey]*listenerState
	gen    uint64
	scores []scored[listenerKey]       // reused
	seen   [][2]tracker.ListenerHealth // reused: each listener's counters now and at the last update
	other  tracker.ListenerHealth
	// rows maps the exported ports to their rows of rtt and oldest, 0
	// being other's; rowPorts lists them (facts.go).
	rows     tracker.PortRows
	rowPorts []uint16
	rtt      []RTTHistogram
	oldest   [][tracker.NumStates]int64 // reused
}

// NewBreakdown returns a Breakdown bounded by cfg.
func NewBreakdown(cfg BreakdownConfig) *Breakdown {
	if cfg.Hold <= 0 {
		cfg.Hold = DefaultHold
	}
	b := &Breakdown{
		cfg: cfg, always: map[uint16]bool{},
		ports: newTopK[uint16](cfg.TopPorts, cfg.Hold), listeners: newTopK[listenerKey](cfg.TopListeners, cfg.Hold),
		counts: new(tracker.PortCounts), known: map[listenerKey]*listenerState{},
		rtt: make([]RTTHistogram, 1),
	}
	for _, p := range cfg.Ports {
		b.always[p] = true
	}
	return b
}

// MaxPortLabels is the most port label values the configuration exports:
// the listed ports, the top ones, and "other".
func (c BreakdownConfig) MaxPortLabels() int {
	n := map[uint16]bool{}
	for _, p := range c.Ports {
		n[p] = true
	}
	return len(n) + c.TopPorts + 1
}

// MaxListenerLabels is the most listener label values exported: the top
// ones and "other".
func (c BreakdownConfig) MaxListenerLabels() int { return c.TopListeners + 1 }

// Update fills in s.Ports, s.PortsOther, s.Listeners and s.ListenersOther
// from tr, and the facts (s.Facts and what it says are there).
func (b *Breakdown) Update(tr *tracker.Tracker, s *Snapshot) {
	b.updatePorts(tr, s)
	b.updateFacts(tr, s)
	b.updateListeners(tr, s)
}

func (b *Breakdown) updatePorts(tr *tracker.Tracker, s *Snapshot) {
	pc := b.counts
	clear(pc[:])
	tr.CountByServerPort(pc)
	var scores []scored[uint16]
	for p := range pc {
		n := 0
		for _, c := range pc[p] {
			n += int(c)
		}
		if n > 0 && !b.always[uint16(p)] {
			scores = append(scores, scored[uint16]{uint16(p), float64(n)})
		}
	}
	b.ports.update(scores)
	s.Ports = s.Ports[:0]
	s.PortsOther = [tracker.NumStates]int{}
	for p := range pc {
		port := uint16(p)
		if b.always[port] || b.ports.members[port] {
			ps := PortStates{Port: port}
			for st, c := range pc[p] {
				ps.States[st] = int(c)
			}
			s.Ports = append(s.Ports, ps)
			continue
		}
		for st, c := range pc[p] {
			s.PortsOther[st] += int(c)
		}
	}
}

// ListenerLabel is the listener label value of a listener.
func ListenerLabel(a netip.AddrPort, vlan uint16, tunnel uint32) string {
	s := a.String()
	if vlan != 0 {
		s += " vlan " + strconv.Itoa(int(vlan))
	}
	if tunnel != 0 {
		s += " tunnel " + strconv.FormatUint(uint64(tunnel), 10)
	}
	return s
}

// listenerKey names a listener without building its label, which is
// built only for those exported.
type listenerKey struct {
	addr   netip.AddrPort
	vlan   uint16
	tunnel uint32
}

// listenerState is what Breakdown remembers of a listener between updates.
type listenerState struct {
	prev  tracker.ListenerHealth // its counters at the last update
	score float64                // its recent SYNs, decayed
	seen  uint64                 // the update that last saw it
}

func (b *Breakdown) updateListeners(tr *tracker.Tracker, s *Snapshot) {
	b.gen++
	scores, seen := b.scores[:0], b.seen[:0]
	tr.ListenersHealth(func(h tracker.ListenerHealth) {
		k := listenerKey{h.Addr, h.VLAN, h.Tunnel}
		ls := b.known[k]
		if ls == nil {
			ls = &listenerState{}
			b.known[k] = ls
		}
		// What it added since the last update. A listener forgotten and
		// inferred again starts from zero: all it has is new.
		p := ls.prev
		if ls.seen != b.gen-1 || h.SYNs < p.SYNs || h.Unanswered < p.Unanswered || h.SynAckRetransmits < p.SynAckRetransmits ||
			h.Handshakes < p.Handshakes || h.Resets < p.Resets || h.ServerResets < p.ServerResets || h.Overflows < p.Overflows {
			p = tracker.ListenerHealth{}
		}
		ls.score = ls.score*listenerDecay + float64(h.SYNs-p.SYNs)
		ls.prev, ls.seen = h, b.gen
		scores = append(scores, scored[listenerKey]{k, ls.score})
		seen = append(seen, [2]tracker.ListenerHealth{h, p})
	})
	for k, ls := range b.known {
		if ls.seen != b.gen {
			delete(b.known, k)
		}
	}
	b.scores, b.seen = scores, seen
	b.listeners.update(scores)

	// What the listeners not exported added goes to other, which so never
	// goes backwards, whichever listeners come and go. A listener that
	// joins the exported set shows its whole count in its own series,
	// what it added while it was not exported stays in other too.
	s.Listeners = s.Listeners[:0]
	var halfOpen int
	o := &b.other
	for i, hp := range seen {
		h, p := hp[0], hp[1]
		if k := scores[i].key; b.listeners.members[k] {
			s.Listeners = append(s.Listeners, ListenerCounters{ListenerLabel(k.addr, k.vlan, k.tunnel), h})
			continue
		}
		o.SYNs += h.SYNs - p.SYNs
		o.Unanswered += h.Unanswered - p.Unanswered
		o.SynAckRetransmits += h.SynAckRetransmits - p.SynAckRetransmits
		o.Handshakes += h.Handshakes - p.Handshakes
		o.Resets += h.Resets - p.Resets
		o.ServerResets += h.ServerResets - p.ServerResets
		o.Overflows += h.Overflows - p.Overflows
		halfOpen += h.HalfOpen
	}
	slices.SortFunc(s.Listeners, func(x, y ListenerCounters) int {
		return cmp.Or(x.Addr.Compare(y.Addr), cmp.Compare(x.VLAN, y.VLAN), cmp.Compare(x.Tunnel, y.Tunnel))
	})
	s.ListenersOther = b.other
	s.ListenersOther.HalfOpen = halfOpen
}
