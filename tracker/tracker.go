package tracker

import (
	"net/netip"
	"time"
)

// Tracker follows every TCP flow it is fed. It is not safe for concurrent
// use: one goroutine feeds it and hands Stats snapshots to others.
type Tracker struct {
	cfg Config
}

// New returns an empty Tracker.
func New(cfg Config) *Tracker {
	return &Tracker{cfg: cfg}
}

// Track feeds one segment. Segments must come in capture order; the
// segment's timestamp also advances the tracker's timers.
func (t *Tracker) Track(seg *Segment) {}

// Advance moves the capture clock to now without a segment, so that timers
// (TIME_WAIT, handshake timeout) run out on a quiet link or at the end of a
// file. A time earlier than the clock is ignored.
func (t *Tracker) Advance(now time.Time) {}

// Stats returns a snapshot of the counts and counters.
func (t *Tracker) Stats() Stats { return Stats{} }

// Sockets calls fn for every live endpoint (every endpoint whose state is
// Counted), after the Local filter, in no particular order.
func (t *Tracker) Sockets(fn func(Socket)) {}

// Listeners calls fn for every inferred listening socket, after the Local
// filter.
func (t *Tracker) Listeners(fn func(addr netip.AddrPort, vlan uint16)) {}
