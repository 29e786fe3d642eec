package tracker

// The timer heap: a 4-ary min-heap of every flow's next deadline, each
// flow's position in it kept in conn.heapIdx. A flow has at most one timer
// filed, the earliest of its endpoints' (see Tracker.deadline).

// timer is one heap entry: when, then which slot, so that entries compare
// as integers and ties go to the lower slot.
type timer uint64

func (x timer) when() tick  { return tick(x >> 32) }
func (x timer) slot() int32 { return int32(uint32(x)) }

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
	case d < t.heap[h].when():
		t.heap[h] = timer(d)<<32 | timer(uint32(i))
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
		t.heap[h] = timer(d)<<32 | timer(uint32(i))
		t.fix(h)
	}
}

func (t *table) heapPush(i int32, d tick) {
	h := t.heapLen
	t.heapLen++
	t.heap[h] = timer(d)<<32 | timer(uint32(i))
	t.at(i).heapIdx = h
	t.up(h)
}

// due returns the slot with the earliest deadline at or before now, or -1.
func (t *table) due(now tick) int32 {
	if t.heapLen == 0 {
		return -1
	}
	if x := t.heap[0]; x.when() <= now {
		return x.slot()
	}
	return -1
}

func (t *table) heapRemove(h int32) {
	last := t.heapLen - 1
	t.at(t.heap[h].slot()).heapIdx = -1
	if h != last {
		x := t.heap[last]
		t.heap[h] = x
		t.at(x.slot()).heapIdx = h
	}
	t.heapLen--
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
	x := t.heap[h]
	for h > 0 {
		p := (h - 1) / heapArity
		px := t.heap[p]
		if px <= x {
			break
		}
		t.put(h, px)
		h = p
	}
	t.put(h, x)
}

func (t *table) down(h0 int32) bool {
	h, n := h0, t.heapLen
	x := t.heap[h]
	for {
		c := heapArity*h + 1
		if c >= n {
			break
		}
		m, mx := c, t.heap[c]
		for j := c + 1; j < min(c+heapArity, n); j++ {
			if y := t.heap[j]; y < mx {
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
	t.heap[h] = x
	t.at(x.slot()).heapIdx = h
}
