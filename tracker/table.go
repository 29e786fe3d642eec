package tracker

import (
	"math/bits"
	"math/rand/v2"
	"net/netip"
)

// table holds the flows: a slab of conns reused through a free list, an
// open-addressing index from key to slot, one list per eviction class in
// order of activity (second chances aside: see touch), and a heap of timer
// deadlines.
//
// The arrays are reserved at the table's bound in mapped memory, which
// takes pages only as they are first touched (see mappings): the table
// grows without copying its records, and holds no more memory than the
// most flows it has held at once. Nothing in it is a pointer, so the
// garbage collector never scans it. Nothing here allocates once the index
// has grown to its bound.
type table struct {
	mem    *mappings
	index  index
	conns  []conn
	used   int32             // slots handed out so far; slots below it are in use or free
	free   int32             // first free slot, chained through conn.next; -1 when none
	n      int               // flows in the table
	head   [numClasses]int32 // least recently active, but for second chances
	tail   [numClasses]int32 // most recently filed
	timer  []timer           // min-heap of deadlines
	nt     int32             // timers in the heap
	v6     [][4]uint64       // IPv6 address pairs as the key's words (ahi, alo, bhi, blo); reserved at the first IPv6 flow
	v6n    int32             // IPv6 address pairs handed out
	v6buf  []int32           // free IPv6 address pairs
	asides map[int32]aside   // by slot
	sink   uint64            // see warm
}

// classFree marks a conn on the free list.
const classFree = numClasses

// timer is one heap entry: when, then which slot, so that entries compare
// as integers and ties go to the lower slot.
type timer uint64

func (x timer) when() tick  { return tick(x >> 32) }
func (x timer) slot() int32 { return int32(uint32(x)) }

// maxLoad bounds the index's load factor, as a fraction of 16.
const maxLoad = 13

func newTable(maxFlows int) table {
	m := &mappings{}
	t := table{mem: m, free: -1, asides: make(map[int32]aside),
		conns: newArray[conn](m, maxFlows), timer: newArray[timer](m, maxFlows)}
	for i := range t.head {
		t.head[i], t.tail[i] = -1, -1
	}
	t.index.init(maxFlows, m)
	return t
}

func (t *table) len() int { return t.n }

// at returns the conn in slot i.
func (t *table) at(i int32) *conn { return &t.conns[i] }

// find returns the slot of the flow with key k, whose hash is filled in
// (see Tracker.keyOf).
func (t *table) find(k *flowKey) (int32, bool) {
	x := &t.index
	// Most keys sit within two places of their home (87% of the mix's
	// lookups), but which place is a coin toss to a branch: pick the entry
	// with the key's hash with masks, and probe only if it is not the
	// key's. Three places cut mispredictions by a seventh, four cost more
	// than they saved. Written as ifs, the picks were conditional moves
	// until the profile-guided build inlined find and made them branches.
	p := x.home(k.hash)
	q := x.next(p)
	e0, e1, e := x.e[p], x.e[q], x.e[x.next(q)]
	e ^= (e ^ e1) & same(uint32(e1>>32), k.hash)
	e ^= (e ^ e0) & same(uint32(e0>>32), k.hash)
	if e != 0 && uint32(e>>32) == k.hash {
		if i := int32(uint32(e)) - 1; t.matches(t.at(i), k) {
			return i, true
		}
	}
	return t.probe(k, p)
}

// probe is find's loop, from p, the key's home.
func (t *table) probe(k *flowKey, p int) (int32, bool) {
	x := &t.index
	for d := 0; ; p, d = x.next(p), d+1 {
		e := x.e[p]
		if e == 0 || x.dist(p, e) < d {
			return -1, false // k would have displaced e
		}
		if uint32(e>>32) == k.hash {
			if i := int32(uint32(e)) - 1; t.matches(t.at(i), k) {
				return i, true
			}
		}
	}
}

func (t *table) matches(c *conn, k *flowKey) bool {
	if c.ep[0].port != k.pa || c.ep[1].port != k.pb || c.vlan != k.vlan || c.tunnel != k.tunnel {
		return false
	}
	if k.v4 {
		return c.fam != famV6 && c.a == uint32(k.alo) && c.b == uint32(k.blo)
	}
	if c.fam != famV6 {
		return false
	}
	return t.v6[c.a] == [4]uint64{k.ahi, k.alo, k.bhi, k.blo}
}

// insert returns a fresh slot for key k, in class classHalfOpen. as4in6
// says the flow's IPv4 addresses came in IPv6 packets, so that they are
// reported as the packets gave them.
func (t *table) insert(k *flowKey, as4in6 bool) int32 {
	var i int32
	if t.free >= 0 {
		i = t.free
		t.free = t.at(i).next
	} else {
		i = t.used
		t.used++
	}
	c := t.at(i)
	*c = conn{heapIdx: -1}
	t.store(c, k, as4in6)
	c.setClass(classHalfOpen)
	t.index.add(k.hash, i)
	t.n++
	t.link(i)
	return i
}

// store keeps k in c.
func (t *table) store(c *conn, k *flowKey, as4in6 bool) {
	c.ep[0].port, c.ep[1].port, c.vlan, c.tunnel = k.pa, k.pb, k.vlan, k.tunnel
	switch {
	case k.v4 && as4in6:
		c.fam, c.a, c.b = fam4in6, uint32(k.alo), uint32(k.blo)
	case k.v4:
		c.fam, c.a, c.b = famV4, uint32(k.alo), uint32(k.blo)
	default:
		var j int32
		if n := len(t.v6buf); n > 0 {
			j = t.v6buf[n-1]
			t.v6buf = t.v6buf[:n-1]
		} else {
			if t.v6 == nil {
				t.v6 = newArray[[4]uint64](t.mem, len(t.conns))
			}
			j = t.v6n
			t.v6n++
		}
		t.v6[j] = [4]uint64{k.ahi, k.alo, k.bhi, k.blo}
		c.fam, c.a = famV6, uint32(j)
	}
}

// key returns the flowKey of conn c.
func (t *table) key(c *conn) flowKey {
	k := flowKey{pa: c.ep[0].port, pb: c.ep[1].port, vlan: c.vlan, tunnel: c.tunnel, v4: c.fam != famV6}
	if c.fam == famV6 {
		p := &t.v6[c.a]
		k.ahi, k.alo, k.bhi, k.blo = p[0], p[1], p[2], p[3]
	} else {
		k.alo, k.blo = 0xffff<<32|uint64(c.a), 0xffff<<32|uint64(c.b)
	}
	k.hash = t.index.hash(&k)
	return k
}

// addr returns the address and port of side (0 for a, 1 for b) of c.
func (t *table) addr(c *conn, side int) netip.AddrPort {
	port, a := c.ep[side].port, c.a
	if side == 1 {
		a = c.b
	}
	switch c.fam {
	case famV4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), port)
	case fam4in6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff,
			12: byte(a >> 24), 13: byte(a >> 16), 14: byte(a >> 8), 15: byte(a)}), port)
	}
	p := &t.v6[c.a]
	return netip.AddrPortFrom(netip.AddrFrom16(as16(p[2*side], p[2*side+1])), port)
}

// flow returns the name of c, client first.
func (t *table) flow(c *conn) Flow {
	cl := c.client()
	return Flow{VLAN: c.vlan, Src: t.addr(c, cl), Dst: t.addr(c, 1-cl)}
}

// remove frees slot i. Its endpoints must already be out of the counts.
func (t *table) remove(i int32) {
	c := t.at(i)
	t.unlink(i)
	t.refile(i, 0)
	k := t.key(c)
	t.index.del(k.hash, i)
	if c.fam == famV6 {
		t.v6buf = append(t.v6buf, int32(c.a))
	}
	t.dropAside(i)
	c.setClass(classFree)
	c.next = t.free
	t.free = i
	t.n--
}

// keepAside keeps a for the flow in slot i until dropAside.
func (t *table) keepAside(i int32, a aside) { t.asides[i] = a }

// aside returns what is kept aside for slot i.
func (t *table) aside(i int32) aside { return t.asides[i] }

// dropAside forgets what is kept aside for slot i, if anything.
func (t *table) dropAside(i int32) {
	if len(t.asides) > 0 {
		delete(t.asides, i)
	}
}

// touch files slot i, c, just active, under class cls. A flow that stays in
// its class is only marked recent rather than moved to the newest end of
// the list: moving it would reach into the records of its neighbours in
// the list, two trips to memory per segment on a table larger than the
// cache. victim gives marked flows their move when it meets them.
func (t *table) touch(i int32, c *conn, cls uint8) {
	if c.class() == cls {
		c.flags |= flowRecent
		return
	}
	t.refileClass(i, cls)
}

// refileClass moves slot i to the newest end of the list of class cls.
func (t *table) refileClass(i int32, cls uint8) {
	c := t.at(i)
	if c.class() == cls {
		return
	}
	t.unlink(i)
	c.setClass(cls)
	c.flags &^= flowRecent
	t.link(i)
}

func (t *table) link(i int32) {
	c := t.at(i)
	cls := c.class()
	c.prev, c.next = t.tail[cls], -1
	if c.prev >= 0 {
		t.at(c.prev).next = i
	} else {
		t.head[cls] = i
	}
	t.tail[cls] = i
}

func (t *table) unlink(i int32) {
	c := t.at(i)
	cls := c.class()
	if c.prev >= 0 {
		t.at(c.prev).next = c.next
	} else {
		t.head[cls] = c.next
	}
	if c.next >= 0 {
		t.at(c.next).prev = c.prev
	} else {
		t.tail[cls] = c.prev
	}
	c.prev, c.next = -1, -1
}

// victim returns the slot to evict and why: the least recently active of
// the first non-empty class, as the CLOCK algorithm approximates it. A flow
// marked recent by touch since the last pass is moved to the newest end
// and unmarked instead: its second chance.
func (t *table) victim() (int32, EvictReason) {
	for cls := range numClasses {
		for i := t.head[cls]; i >= 0; i = t.head[cls] {
			c := t.at(i)
			if c.flags&flowRecent == 0 {
				return i, EvictReason(cls)
			}
			c.flags &^= flowRecent
			t.unlink(i)
			t.link(i)
		}
	}
	return -1, 0
}

// oldest returns the slot at the head of the first non-empty class, likely
// next to go: victim without its second chances.
func (t *table) oldest() int32 {
	for cls := range numClasses {
		if t.head[cls] >= 0 {
			return t.head[cls]
		}
	}
	return -1
}

// setDeadline makes sure that slot i, c, comes due (see due) no later than d;
// 0 is no deadline. It moves a timer only earlier: most segments move
// their flow's deadline later (a handshake retried, a closed flow's stray),
// and a timer that comes due early is filed again by the caller (refile)
// once, instead of moving through the heap on every segment.
func (t *table) setDeadline(i int32, c *conn, d tick) {
	h := c.heapIdx
	switch {
	case d == 0:
	case h < 0:
		t.heapPush(i, d)
	case d < t.timer[h].when():
		t.timer[h] = timer(d)<<32 | timer(uint32(i))
		t.up(h)
	}
}

// refile sets slot i's timer to exactly d, 0 cancelling it.
func (t *table) refile(i int32, d tick) {
	h := t.at(i).heapIdx
	switch {
	case h < 0 && d == 0:
	case h < 0:
		t.heapPush(i, d)
	case d == 0:
		t.heapRemove(h)
	default:
		t.timer[h] = timer(d)<<32 | timer(uint32(i))
		t.fix(h)
	}
}

func (t *table) heapPush(i int32, d tick) {
	h := t.nt
	t.nt++
	t.timer[h] = timer(d)<<32 | timer(uint32(i))
	t.at(i).heapIdx = h
	t.up(h)
}

// due returns the slot with the earliest deadline at or before now, or -1.
func (t *table) due(now tick) int32 {
	if t.nt == 0 {
		return -1
	}
	if x := t.timer[0]; x.when() <= now {
		return x.slot()
	}
	return -1
}

func (t *table) heapRemove(h int32) {
	last := t.nt - 1
	t.at(t.timer[h].slot()).heapIdx = -1
	if h != last {
		x := t.timer[last]
		t.timer[h] = x
		t.at(x.slot()).heapIdx = h
	}
	t.nt--
	if h < last {
		t.fix(h)
	}
}

func (t *table) fix(h int32) {
	if !t.down(h) {
		t.up(h)
	}
}

// The heap is 4-ary: half as deep as a binary heap, with a node's children
// side by side, so that a timer passes fewer flows' records on its way.
// Entries move into a hole rather than swap, each flow's heapIdx written
// once.
const heapArity = 4

func (t *table) up(h int32) {
	x := t.timer[h]
	for h > 0 {
		p := (h - 1) / heapArity
		px := t.timer[p]
		if px <= x {
			break
		}
		t.put(h, px)
		h = p
	}
	t.put(h, x)
}

func (t *table) down(h0 int32) bool {
	h, n := h0, t.nt
	x := t.timer[h]
	for {
		c := heapArity*h + 1
		if c >= n {
			break
		}
		m, mx := c, t.timer[c]
		for j := c + 1; j < min(c+heapArity, n); j++ {
			if y := t.timer[j]; y < mx {
				m, mx = j, y
			}
		}
		if x <= mx {
			break
		}
		t.put(h, mx)
		h = m
	}
	t.put(h, x)
	return h > h0
}

// put places timer x at position h of the heap.
func (t *table) put(h int32, x timer) {
	t.timer[h] = x
	t.at(x.slot()).heapIdx = h
}

// rebase moves every stored time shift ticks earlier (see tick). Times
// that would fall before the epoch become 0, deadlines 1: they are due.
func (t *table) rebase(shift int64) {
	move := func(x *tick) {
		if int64(*x) > shift {
			*x -= tick(shift)
		} else {
			*x = 0
		}
	}
	for i := range t.used {
		c := t.at(i)
		if c.class() == classFree {
			continue
		}
		for e := range c.ep {
			move(&c.ep[e].mark)
		}
	}
	for h := range t.nt {
		x := &t.timer[h]
		d := x.when()
		move(&d)
		*x = timer(max(d, 1))<<32 | timer(uint32(x.slot()))
	}
}

// index maps flow keys to slots: open addressing with linear probing over
// entries that hold a key's 32-bit hash and its slot plus one (0 is empty).
// Entries are kept in Robin Hood order (an entry never sits further from
// its home than the one after it, unless that one is home), so that a
// lookup stops as soon as it meets an entry closer to home than itself, and
// deletion shifts back only the entries that were displaced, leaving no
// tombstones behind however much the flows churn.
// The hash is seeded at random, so that nobody can aim collisions at the
// table from the wire; slots are in a different order in every run, but
// nothing depends on that order.
type index struct {
	e     []uint64
	mem   *mappings // where e is mapped
	n     int       // entries in use
	limit int       // entries beyond which it grows
	max   int       // length it never grows past
	seed  [4]uint64
}

func (x *index) init(maxFlows int, m *mappings) {
	x.mem = m
	x.max = max(maxFlows*16/maxLoad+1, 8)
	x.resize(min(1024, x.max))
	for i := range x.seed {
		x.seed[i] = rand.Uint64()
	}
}

func (x *index) resize(n int) {
	old := x.e
	x.e = newArray[uint64](x.mem, n)
	x.limit = n * maxLoad / 16
	if n == x.max {
		x.limit = n - 1
	}
	for _, e := range old {
		if e != 0 {
			x.place(e)
		}
	}
	// Given back at once, so that the flows added next take its pages
	// instead of new ones from the system.
	freeArray(x.mem, old)
}

// home returns the position where a key with hash h belongs: the hash
// scaled to the length, so that the length need not be a power of two.
func (x *index) home(h uint32) int { return int(uint64(h) * uint64(len(x.e)) >> 32) }

func (x *index) next(p int) int {
	if p++; p == len(x.e) {
		return 0
	}
	return p
}

// dist returns how far entry e, at position p, sits from its home.
func (x *index) dist(p int, e uint64) int {
	d := p - x.home(uint32(e>>32))
	if d < 0 {
		d += len(x.e)
	}
	return d
}

func (x *index) add(h uint32, i int32) {
	if x.n >= x.limit && len(x.e) < x.max {
		// Double, but go straight to the bound rather than stop short of
		// it: the last step would move nearly every entry again to gain
		// little room, and leave the index it replaced to collect.
		n := 2 * len(x.e)
		if 2*n > x.max {
			n = x.max
		}
		x.resize(n)
	}
	x.place(uint64(h)<<32 | uint64(uint32(i)+1))
	x.n++
}

// place puts entry e in Robin Hood order: it takes the place of the first
// entry that is closer to its home than e would be, which moves on in turn.
func (x *index) place(e uint64) {
	for p, d := x.home(uint32(e>>32)), 0; ; p, d = x.next(p), d+1 {
		o := x.e[p]
		if o == 0 {
			x.e[p] = e
			return
		}
		// Written without a branch, which would be a coin toss: the
		// place keeps the entry further from home, the other moves on.
		od := x.dist(p, o)
		stay, move, md := o, e, d
		if od < d {
			stay, move, md = e, o, od
		}
		x.e[p], e, d = stay, move, md
	}
}

func (x *index) del(h uint32, i int32) {
	want := uint64(h)<<32 | uint64(uint32(i)+1)
	p := x.home(h)
	for x.e[p] != want {
		p = x.next(p)
	}
	// Shift back the entries after p that were displaced, up to the first
	// that is home or an empty place.
	for q := x.next(p); x.e[q] != 0 && x.dist(q, x.e[q]) > 0; p, q = q, x.next(q) {
		x.e[p] = x.e[q]
	}
	x.e[p] = 0
	x.n--
}

// hash mixes k's words with the seed, 64 by 64 bits into 128 and folded
// back, as wyhash does.
func (x *index) hash(k *flowKey) uint32 {
	ports := uint64(k.pa)<<32 | uint64(k.pb)<<16 | uint64(k.vlan)
	var h uint64
	if k.v4 {
		h = mix((k.alo<<32|k.blo&0xffffffff)^x.seed[0], ports^x.seed[1])
	} else {
		h = mix(k.ahi^x.seed[0], k.alo^x.seed[1]) ^ mix(k.bhi^x.seed[2], k.blo^x.seed[3])
		h = mix(h^x.seed[1], ports^x.seed[2])
	}
	if k.tunnel != 0 {
		// Few flows travel in an overlay: their id takes one more round
		// rather than every key a wider one.
		h = mix(h^x.seed[3], uint64(k.tunnel)^x.seed[0])
	}
	return uint32(h ^ h>>32)
}

// same returns all ones if a == b, else 0, without a branch.
func same(a, b uint32) uint64 { return -((uint64(a^b) - 1) >> 63) }

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}
