package tracker

import "net/netip"

// flowKey is a flow's 4-tuple and VLAN in canonical order, so that both
// directions find the same flow: side a sorts before side b.
type flowKey struct {
	a, b   [16]byte
	pa, pb uint16
	vlan   uint16
}

// keyOf returns the flow key of seg and which side of it (0 for a, 1 for b)
// sent seg.
func keyOf(seg *Segment) (flowKey, int) {
	src, dst := seg.Src.As16(), seg.Dst.As16()
	k := flowKey{a: src, b: dst, pa: seg.SrcPort, pb: seg.DstPort, vlan: seg.VLAN}
	if c := compare16(src, dst); c > 0 || c == 0 && seg.SrcPort > seg.DstPort {
		k.a, k.b, k.pa, k.pb = dst, src, seg.DstPort, seg.SrcPort
		return k, 1
	}
	return k, 0
}

func compare16(x, y [16]byte) int {
	for i := range x {
		if x[i] != y[i] {
			if x[i] < y[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// Flow classes, for eviction: the table evicts from the first non-empty
// class, oldest activity first.
const (
	classClosed   = iota // every endpoint closed or never shown
	classHalfOpen        // handshakes, and picked-up flows not yet proven
	classActive
	numClasses
)

// Flow flags.
const (
	flowPickup  uint8 = 1 << iota // the handshake was not seen
	flowProven                    // a picked-up flow showed two-way life
	flowGap                       // an ACK covered bytes the capture never showed
	flowPending                   // a SYN on a live flow awaits its answer (pendSyn)
)

// firstSeg is the first segment of a picked-up flow, replayed once the flow
// proves it is alive.
type firstSeg struct {
	seq, ack Seq
	len      uint32
	flags    Flags
	window   uint16
	from     uint8
}

// conn is one flow: two endpoints and the table's bookkeeping.
type conn struct {
	key      flowKey
	ep       [2]endpoint
	client   uint8 // index into ep of the client
	flags    uint8
	class    uint8
	inUse    bool
	prev     int32 // neighbours in the class list
	next     int32
	heapIdx  int32 // position in the timer heap, -1 when no timer is due
	deadline int64
	lastSeen int64
	pendSyn  Seq // see flowPending
	pendFrom uint8
	first    firstSeg
}

// classify returns the eviction class the flow belongs in.
func (c *conn) classify() uint8 {
	a, b := c.ep[0].state, c.ep[1].state
	switch {
	case c.flags&flowPickup != 0 && c.flags&flowProven == 0:
		if c.ep[0].has(closed) || c.ep[1].has(closed) {
			return classClosed
		}
		return classHalfOpen
	case !a.Counted() && !b.Counted():
		return classClosed
	case !c.ep[0].synchronized() && !c.ep[1].synchronized():
		return classHalfOpen
	}
	return classActive
}

// flow returns the flow's name, client first.
func (c *conn) flow() Flow {
	cl, sv := &c.ep[c.client], &c.ep[1-c.client]
	return Flow{
		VLAN: c.key.vlan,
		Src:  netip.AddrPortFrom(cl.addr, cl.port),
		Dst:  netip.AddrPortFrom(sv.addr, sv.port),
	}
}

// guessClient picks the client of a flow whose SYN was not seen: the side
// on a well-known port, else the side on an ephemeral one, is the other.
func guessClient(pa, pb uint16) uint8 {
	switch {
	case pa < 1024 && pb >= 1024:
		return 1
	case pb < 1024 && pa >= 1024:
		return 0
	case pa >= 32768 && pb < 32768:
		return 0
	case pb >= 32768 && pa < 32768:
		return 1
	case pa > pb:
		return 0
	}
	return 1
}
