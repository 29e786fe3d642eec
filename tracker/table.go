package tracker

import "github.com/tcptrack/tcptrack/internal/mmapmem"

// table holds the flows, in four structures that share the slot numbers
// of the flows:
//
//   - the slab (slab.go): the flow records, reused through a free list,
//     with the IPv6 addresses and the segments kept aside beside them;
//   - the index (index.go): an open-addressing hash index from key to slot;
//   - the eviction lists (lists.go): one per eviction class, in order of
//     activity, second chances aside;
//   - the timer heap (timers.go): every flow's next deadline.
//
// The arrays are reserved at the table's bound in mapped memory (package
// mmapmem), which takes pages only as they are first touched: the table
// grows without copying its records, and holds no more memory than the
// most flows it has held at once. Nothing in it is a pointer, so the
// garbage collector never scans it. Nothing here allocates once the index
// has grown to its bound.
type table struct {
	mem *mmapmem.Mappings // where the arrays are mapped
	n   int               // flows in the table
	// The slab.
	conns  []conn
	used   int32           // slots handed out so far; slots below it are in use or free
	free   int32           // first free slot, chained through conn.next; -1 when none
	v6     [][4]uint64     // IPv6 address pairs as the key's words (ahi, alo, bhi, blo); reserved at the first IPv6 flow
	v6n    int32           // IPv6 address pairs handed out
	v6buf  []int32         // free IPv6 address pairs
	asides map[int32]aside // by slot
	// The index.
	index index
	// The eviction lists, chained through conn.prev and conn.next.
	head [numClasses]int32 // least recently active, but for second chances
	tail [numClasses]int32 // most recently filed
	// The timer heap.
	heap    []timer // min-heap of deadlines
	heapLen int32   // timers in the heap
	sink    uint64  // see warm
}

func newTable(maxFlows int) table {
	m := &mmapmem.Mappings{}
	t := table{mem: m, free: -1, asides: make(map[int32]aside),
		conns: mmapmem.Array[conn](m, maxFlows), heap: mmapmem.Array[timer](m, maxFlows)}
	for i := range t.head {
		t.head[i], t.tail[i] = -1, -1
	}
	t.index.init(maxFlows, m)
	return t
}

func (t *table) len() int { return t.n }

// insert returns a fresh slot for key k, in class classHalfOpen. as4in6
// says the flow's IPv4 addresses came in IPv6 packets, so that they are
// reported as the packets gave them.
func (t *table) insert(k *flowKey, as4in6 bool) int32 {
	i := t.alloc()
	c := t.at(i)
	t.store(c, k, as4in6)
	c.setClass(classHalfOpen)
	t.index.add(k.hash, i)
	t.n++
	t.link(i)
	return i
}

// remove frees slot i. Its endpoints must already be out of the counts.
func (t *table) remove(i int32) {
	c := t.at(i)
	t.unlink(i)
	t.refile(i, 0)
	k := t.key(c)
	t.index.del(k.hash, i)
	t.release(i)
	t.n--
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
	for h := range t.heapLen {
		x := &t.heap[h]
		d := x.when()
		move(&d)
		*x = timer(max(d, 1))<<32 | timer(uint32(x.slot()))
	}
}
