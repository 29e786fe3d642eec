package tracker

// table holds the flows: a slab of conns reused through a free list, an
// index from key to slot, one list per eviction class in order of last
// activity, and a heap of timer deadlines. Nothing here allocates once the
// slab has grown to the table's bound.
type table struct {
	index map[flowKey]int32
	conns []conn
	free  []int32
	head  [numClasses]int32 // oldest activity
	tail  [numClasses]int32 // newest activity
	timer []int32           // min-heap of slots by conn.deadline
}

func newTable() table {
	t := table{index: make(map[flowKey]int32)}
	for i := range t.head {
		t.head[i], t.tail[i] = -1, -1
	}
	return t
}

func (t *table) len() int { return len(t.index) }

// insert returns a fresh slot for key, in class classHalfOpen.
func (t *table) insert(key flowKey) int32 {
	var i int32
	if n := len(t.free); n > 0 {
		i = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		t.conns = append(t.conns, conn{})
		i = int32(len(t.conns) - 1)
	}
	c := &t.conns[i]
	*c = conn{key: key, inUse: true, heapIdx: -1, class: classHalfOpen}
	t.index[key] = i
	t.link(i)
	return i
}

// remove frees slot i. Its endpoints must already be out of the counts.
func (t *table) remove(i int32) {
	c := &t.conns[i]
	t.unlink(i)
	t.setDeadline(i, 0)
	delete(t.index, c.key)
	c.inUse = false
	t.free = append(t.free, i)
}

// touch moves slot i to the newest end of the list of class cls.
func (t *table) touch(i int32, cls uint8) {
	c := &t.conns[i]
	if c.class == cls && t.tail[cls] == i {
		return
	}
	t.unlink(i)
	c.class = cls
	t.link(i)
}

func (t *table) link(i int32) {
	c := &t.conns[i]
	cls := c.class
	c.prev, c.next = t.tail[cls], -1
	if c.prev >= 0 {
		t.conns[c.prev].next = i
	} else {
		t.head[cls] = i
	}
	t.tail[cls] = i
}

func (t *table) unlink(i int32) {
	c := &t.conns[i]
	cls := c.class
	if c.prev >= 0 {
		t.conns[c.prev].next = c.next
	} else {
		t.head[cls] = c.next
	}
	if c.next >= 0 {
		t.conns[c.next].prev = c.prev
	} else {
		t.tail[cls] = c.prev
	}
	c.prev, c.next = -1, -1
}

// victim returns the slot to evict and why: the oldest of the first
// non-empty class.
func (t *table) victim() (int32, EvictReason) {
	for cls := range numClasses {
		if t.head[cls] >= 0 {
			return t.head[cls], EvictReason(cls)
		}
	}
	return -1, 0
}

// setDeadline schedules slot i's timer at d (capture nanoseconds); 0
// cancels it.
func (t *table) setDeadline(i int32, d int64) {
	c := &t.conns[i]
	if c.deadline == d && (d == 0) == (c.heapIdx < 0) {
		return
	}
	c.deadline = d
	switch {
	case d == 0 && c.heapIdx >= 0:
		t.heapRemove(c.heapIdx)
	case d != 0 && c.heapIdx < 0:
		c.heapIdx = int32(len(t.timer))
		t.timer = append(t.timer, i)
		t.up(int(c.heapIdx))
	case d != 0:
		t.fix(int(c.heapIdx))
	}
}

// due returns the slot with the earliest deadline at or before now, or -1.
func (t *table) due(now int64) int32 {
	if len(t.timer) == 0 || t.conns[t.timer[0]].deadline > now {
		return -1
	}
	return t.timer[0]
}

func (t *table) heapRemove(h int32) {
	last := len(t.timer) - 1
	t.conns[t.timer[h]].heapIdx = -1
	if int(h) != last {
		t.timer[h] = t.timer[last]
		t.conns[t.timer[h]].heapIdx = h
	}
	t.timer = t.timer[:last]
	if int(h) < last {
		t.fix(int(h))
	}
}

func (t *table) less(x, y int) bool {
	return t.conns[t.timer[x]].deadline < t.conns[t.timer[y]].deadline
}

func (t *table) swap(x, y int) {
	t.timer[x], t.timer[y] = t.timer[y], t.timer[x]
	t.conns[t.timer[x]].heapIdx = int32(x)
	t.conns[t.timer[y]].heapIdx = int32(y)
}

func (t *table) fix(h int) {
	if !t.down(h) {
		t.up(h)
	}
}

func (t *table) up(h int) {
	for h > 0 {
		p := (h - 1) / 2
		if !t.less(h, p) {
			return
		}
		t.swap(h, p)
		h = p
	}
}

func (t *table) down(h0 int) bool {
	h, n := h0, len(t.timer)
	for {
		l := 2*h + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && t.less(r, l) {
			m = r
		}
		if !t.less(m, h) {
			break
		}
		t.swap(h, m)
		h = m
	}
	return h > h0
}
