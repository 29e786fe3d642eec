package tracker

// The eviction lists: one doubly linked list of flows per eviction class
// (see classify), through conn.prev and conn.next, from head, the least
// recently active, to tail, the most recently filed. A flow active again
// is only marked (see touch), so the order is CLOCK's approximation of
// least recently used.

// classFree marks a conn on the free list.
const classFree = numClasses

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
