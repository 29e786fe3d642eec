package tracker

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// flowKey is a flow's 4-tuple, VLAN and tunnel in canonical order, so that both
// directions find the same flow: side a sorts before side b. Addresses are
// kept as 128-bit numbers (IPv4 as IPv4-mapped IPv6), so that an IPv4 flow
// is the same flow whether its packets were IPv4 or IPv6.
type flowKey struct {
	ahi, alo uint64 // side a's address, big-endian, high word first
	bhi, blo uint64
	pa, pb   uint16
	vlan     uint16
	tunnel   uint32
	hash     uint32 // filled in by Tracker.keyOf
	// v4 says both addresses are IPv4 (IPv4-mapped). Worked out once
	// here, from the words already in registers, rather than from the
	// stored words by every reader of the key.
	v4 bool
}

// keyOf fills in k, but for its hash, with the flow key of seg, and returns
// which side of it (0 for a, 1 for b) sent seg. It stores field by field:
// a key returned whole went through the stack in pieces of one width and
// came back in another, which the CPU cannot forward from store to load,
// and that stall was a tenth of the tracker's time.
func keyOf(seg *Segment, k *flowKey) int {
	// The addresses as words rather than arrays, so that the key is built
	// in registers (see wordsInPlace).
	var ahi, alo, bhi, blo uint64
	if addrInPlace {
		ahi, alo = wordsInPlace(&seg.Src)
		bhi, blo = wordsInPlace(&seg.Dst)
	} else {
		ahi, alo, bhi, blo = addrWordsPortable(seg)
	}
	pa, pb := uint64(seg.SrcPort), uint64(seg.DstPort)
	// Sort the sides without a branch: which way a segment goes is a coin
	// toss to the branch predictor, and a wrong guess costs more than this.
	_, b := bits.Sub64(alo, blo, 0)
	_, lt := bits.Sub64(ahi, bhi, b) // 1 if a < b
	_, b = bits.Sub64(blo, alo, 0)
	_, gt := bits.Sub64(bhi, ahi, b) // 1 if a > b
	swap := gt | (1-lt)&(1-gt)&((pb-pa)>>63)
	m := -swap
	x := (ahi ^ bhi) & m
	ahi, bhi = ahi^x, bhi^x
	x = (alo ^ blo) & m
	alo, blo = alo^x, blo^x
	x = (pa ^ pb) & m
	pa, pb = pa^x, pb^x
	k.ahi, k.alo, k.bhi, k.blo = ahi, alo, bhi, blo
	k.pa, k.pb, k.vlan, k.tunnel = uint16(pa), uint16(pb), seg.VLAN, seg.Tunnel
	k.v4 = ahi|bhi|(alo>>32^0xffff)|(blo>>32^0xffff) == 0
	return int(swap)
}

// wordsPortable returns a as a 128-bit number, high word first, IPv4 as
// IPv4-mapped IPv6, by As16 (wordsInPlace is the same, read in place).
func wordsPortable(a *netip.Addr) (hi, lo uint64) {
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

// addrWordsPortable is wordsPortable of seg's source and destination: the
// path keyOf takes where the start-up check failed, kept out of keyOf's
// body as it is never taken where the check passes.
//
//go:noinline
func addrWordsPortable(seg *Segment) (ahi, alo, bhi, blo uint64) {
	ahi, alo = wordsPortable(&seg.Src)
	bhi, blo = wordsPortable(&seg.Dst)
	return ahi, alo, bhi, blo
}

func as16(hi, lo uint64) [16]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	return b
}

// Address families of a conn's key (conn.fam).
const (
	famV4   = iota
	fam4in6 // IPv4 addresses seen in IPv6 packets: reported in that form
	famV6
)

// Flow classes, for eviction: the table evicts from the first non-empty
// class, least recently active first (see table.victim).
const (
	classClosed   = iota // every endpoint closed or never shown
	classHalfOpen        // handshakes, and picked-up flows not yet proven
	classActive
	numClasses
)

// Flow flags, the low bits of conn.flags.
const (
	flowPickup  uint8 = 1 << iota // the handshake was not seen
	flowProven                    // a picked-up flow showed two-way life
	flowGap                       // an ACK covered bytes the capture never showed
	flowPending                   // a SYN on a live flow awaits its answer (kept aside)
	flowFlags         = 1<<iota - 1
	// flowRecent marks a flow active since eviction last looked at it
	// (see table.touch); it is the table's, not the connection's.
	flowRecent uint8 = 1 << 7
)

// Bits 4 to 6 of conn.flags hold which side is the client (bit 4) and the
// eviction class (bits 5 and 6), so that the flow's bookkeeping takes one
// byte.
const (
	clientShift = 4
	classShift  = 5
	classMask   = 3
)

// A class, classFree included, must fit in its two bits of conn.flags.
const _ = uint(classMask - classFree)

// aside is a segment kept beside a flow for later, in a map (see
// table.keepAside) since few flows ever need one: the first segment of a
// picked-up flow, replayed once the flow proves it is alive, or a SYN on a
// live flow, held until the peer's answer tells whether it opened a new
// connection.
type aside struct {
	seq, ack Seq
	len      uint32
	window   uint16
	flags    Flags
	from     uint8
	run      uint8 // data segments in a row from one side, this one the last (see advances)
}

// conn is one flow: two endpoints, the flow key and the table's
// bookkeeping. It holds no pointer, so that the garbage collector never
// scans the table, and its fields are laid out without holes: 84 bytes, so
// that a million flows take 84 MB.
//
// The key is kept in place for IPv4: the addresses here, the ports in the
// endpoints. An IPv6 flow's addresses are in the table's side array
// (table.v6), so that the common case takes 12 bytes instead of 40.
type conn struct {
	ep      [2]endpoint
	a, b    uint32 // sides a's and b's IPv4 addresses; for famV6, a is the index in table.v6
	tunnel  uint32 // see Segment.Tunnel
	vlan    uint16
	fam     uint8
	flags   uint8 // flow flags, client and class (see clientShift)
	prev    int32 // neighbours in the class list; next chains the free list
	next    int32
	heapIdx int32 // position in the timer heap, -1 when no timer is filed
}

// pickedUp reports whether the flow's handshake was not seen.
func (c *conn) pickedUp() bool { return c.flags&flowPickup != 0 }

// unproven reports whether the flow was picked up and has not yet shown
// two-way life (see Tracker.prove): a lone segment, no connection yet.
func (c *conn) unproven() bool { return c.flags&(flowPickup|flowProven) == flowPickup }

// lingering reports whether the flow is kept only to absorb stray
// segments, then forgotten: every endpoint closed or never shown, or an
// unproven pickup.
func (c *conn) lingering() bool { return c.class() == classClosed || c.unproven() }

// client returns the index into ep of the client.
func (c *conn) client() int { return int(c.flags >> clientShift & 1) }

func (c *conn) setClient(side int) {
	c.flags = c.flags&^(1<<clientShift) | uint8(side)<<clientShift
}

// class returns the eviction class, or classFree on the free list.
func (c *conn) class() uint8 { return c.flags >> classShift & classMask }

func (c *conn) setClass(cls uint8) {
	c.flags = c.flags&^(classMask<<classShift) | cls<<classShift
}

// classify returns the eviction class the flow belongs in.
func (c *conn) classify() uint8 {
	a, b := c.ep[0].state(), c.ep[1].state()
	switch {
	case c.unproven():
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

// guessClient picks the client of a flow whose SYN was not seen: the side
// on a well-known port, else the side on an ephemeral one, is the other.
func guessClient(pa, pb uint16) int {
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

// ends returns the endpoint on side (0 or 1) and its peer.
func (c *conn) ends(side int) (*endpoint, *endpoint) {
	return &c.ep[side], &c.ep[1-side]
}

// side returns the index of e, one of c's endpoints, in c.ep.
func (c *conn) side(e *endpoint) int {
	if e == &c.ep[1] {
		return 1
	}
	return 0
}
