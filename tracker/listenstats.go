package tracker

import (
	"net/netip"
	"runtime"
)

// ListenerHealth is what the wire shows of one inferred listener's
// handshakes. The counters run from the moment the listener was inferred
// (its first SYN+ACK) and go when it is forgotten (see
// Config.ListenerTimeout and the listeners' bound), so a listener forgotten
// and inferred again starts from zero.
type ListenerHealth struct {
	Addr   netip.AddrPort
	VLAN   uint16
	Tunnel uint32 // see Segment.Tunnel
	// SYNs counts connection attempts to it: the first SYN of each
	// connection, counted when the listener answers it with a SYN+ACK, or
	// when the attempt ends unanswered (Unanswered). A retransmitted SYN is
	// not another attempt.
	SYNs uint64
	// Unanswered counts attempts it never answered, neither with a SYN+ACK
	// nor with an RST: counted when the client's SYN_SENT endpoint ends (the
	// handshake timeout, a new SYN from the same port, the flow forgotten).
	// A SYN that a full accept queue dropped ends here.
	Unanswered uint64
	// SynAckRetransmits counts SYN+ACKs it sent again with the same
	// sequence number.
	SynAckRetransmits uint64
	// Handshakes counts its endpoints that went from SYN_RECV to
	// ESTABLISHED: the client's final ACK was seen.
	Handshakes uint64
	// Resets counts connections reset, by either side, after the
	// handshake completed and before either side sent a byte of data;
	// ServerResets those the listener's side reset.
	Resets, ServerResets uint64
	// Overflows counts the wire signature of an accept queue that
	// overflowed: a SYN+ACK retransmitted after the client acknowledged it
	// (the kernel dropped the client's final ACK, and says so in
	// ListenOverflows), and an RST from the listener's side right after the
	// handshake (the same overflow with net.ipv4.tcp_abort_on_overflow
	// set). The first reads the same on the wire as the client's ACK lost
	// between the capture point and the server; see the README.
	Overflows uint64
	// HalfOpen is its endpoints in SYN_RECV now.
	HalfOpen int
}

// listenHealth is a listener's counters, in a slot of Tracker.healths
// that its entry in the listener map names (listener.health), so that they
// have its key and its bound.
type listenHealth struct {
	// The counters of events that come once a connection are 64 bits;
	// those of rarer ones 32, which wrap (as a counter reset) only after
	// four billion: 40 bytes a listener, at most 5 bytes per flow of the
	// table's bound.
	syns, handshakes                                                         uint64
	unanswered, synAckRetransmits, resets, serverResets, overflows, halfOpen uint32
}

// healthSlab holds the listeners' health in pages of healthPage slots,
// reused through a free list: a flood of invented listeners, each
// forgotten for the next, then allocates nothing, and growing the slab
// copies nothing and leaves no old array behind for the collector.
type healthSlab struct {
	pages [][]listenHealth
	n     int32 // slots handed out so far
	free  []int32
}

const healthPage = 1024

func (s *healthSlab) at(i int32) *listenHealth { return &s.pages[i/healthPage][i%healthPage] }

func (s *healthSlab) alloc() int32 {
	if n := len(s.free); n > 0 {
		i := s.free[n-1]
		s.free = s.free[:n-1]
		*s.at(i) = listenHealth{}
		return i
	}
	if int(s.n) == len(s.pages)*healthPage {
		s.pages = append(s.pages, make([]listenHealth, healthPage))
	}
	s.n++
	return s.n - 1
}

func (s *healthSlab) release(i int32) { s.free = append(s.free, i) }

// listenerOf returns the health of the listener on side of c, or nil when
// no listener is known there.
func (t *Tracker) listenerOf(c *conn, side int) *listenHealth {
	if len(t.listeners) == 0 {
		return nil // a flood of unanswered SYNs where no listener answered: no address to build
	}
	a := t.flows.addr(c, side)
	l, ok := t.listeners[listenKey{a.Addr(), a.Port(), c.vlan, c.tunnel}]
	if !ok {
		return nil
	}
	return t.healths.at(l.health)
}

// noteHandshake keeps the listeners' health as endpoint e of c goes from
// from to to, but for a listener's first answer (see setState): a server's
// endpoint leaving or (withdrawn) entering SYN_RECV, and a client's
// SYN_SENT endpoint ending without an answer (cause is the segment that
// ended it, nil for a timer). setState calls it only for those changes, so
// its map lookup is paid once or twice a connection.
func (t *Tracker) noteHandshake(c *conn, e *endpoint, from, to State, cause *Segment) {
	side := c.side(e)
	if from == SynSent {
		if to.Counted() || c.flags&flowPickup != 0 || !c.unanswered(side) {
			return
		}
		if cause != nil && cause.Flags&RST != 0 && netip.AddrPortFrom(cause.Src, cause.SrcPort) == t.flows.addr(c, 1-side) {
			return // refused: an RST is an answer
		}
		if h := t.listenerOf(c, 1-side); h != nil {
			h.syns++
			h.unanswered++
		}
		return
	}
	h := t.listenerOf(c, side)
	if h == nil {
		return
	}
	switch {
	case from == SynRecv && to == Established:
		h.handshakes++
		fallthrough
	case from == SynRecv:
		h.halfOpen -= min(h.halfOpen, 1) // the listener may be newer than e
	case to == SynRecv:
		h.halfOpen++
	}
}

// synAckAgain notes a SYN+ACK that the server on side of c sent again.
// After the client acknowledged it, the retransmission says the client's
// ACK did not get the connection into the accept queue.
func (t *Tracker) synAckAgain(c *conn, side int) {
	srv, cl := c.ends(side)
	if !srv.has(passive) {
		return // a simultaneous open: no listener
	}
	h := t.listenerOf(c, side)
	if h == nil {
		return
	}
	h.synAckRetransmits++
	if cl.has(hasAcked) && srv.isn.LessThan(cl.acked) {
		h.overflows++
	}
}

// resetEarly notes an RST from side that closed c: if the handshake had
// completed and neither side had sent data, the connection was reset right
// after its handshake.
func (t *Tracker) resetEarly(c *conn, side int) {
	if c.flags&flowPickup != 0 {
		return
	}
	srvSide := 1 - c.client()
	srv, cl := c.ends(srvSide)
	if !srv.has(passive|synAcked|hasNxt) || !cl.has(sentSyn|hasNxt) ||
		srv.nxt != srv.isn.Add(1) || cl.nxt != cl.isn.Add(1) {
		return
	}
	h := t.listenerOf(c, srvSide)
	if h == nil {
		return
	}
	h.resets++
	if side == srvSide {
		h.serverResets++
		h.overflows++
	}
}

// ListenersHealth calls fn for every inferred listener, after the Local
// filter, with its health, in no particular order.
func (t *Tracker) ListenersHealth(fn func(ListenerHealth)) {
	for k, l := range t.listeners {
		if !l.local {
			continue
		}
		h := t.healths.at(l.health)
		fn(ListenerHealth{
			Addr: netip.AddrPortFrom(k.addr, k.port), VLAN: k.vlan, Tunnel: k.tunnel,
			SYNs: h.syns, Unanswered: uint64(h.unanswered), SynAckRetransmits: uint64(h.synAckRetransmits),
			Handshakes: h.handshakes, Resets: uint64(h.resets), ServerResets: uint64(h.serverResets),
			Overflows: uint64(h.overflows), HalfOpen: int(h.halfOpen),
		})
	}
	runtime.KeepAlive(t) // see mappings
}
