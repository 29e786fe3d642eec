package tracker

// listener is an inferred listening socket: when it last answered a SYN,
// whether it passes Config.Local, and its health (listenstats.go).
type listener struct {
	last   int64 // nanoseconds since the Unix epoch
	added  int64 // last as it was when its entry in Tracker.listenAge was made
	local  bool
	health int32 // its slot in Tracker.healths
}

// listenEntry is a listener's place in Tracker.listenAge: its key and its
// last answer when the entry was made. An entry whose listener is gone, or
// has a later entry, is stale and skipped.
type listenEntry struct {
	key   listenKey
	added int64
}

// listenRing is a queue of listenEntry in a ring that grows by doubling:
// pushing and popping make no garbage, as a listener flood does both for
// every SYN+ACK.
type listenRing struct {
	buf     []listenEntry
	head, n int
}

func (r *listenRing) push(e listenEntry) {
	if r.n == len(r.buf) {
		buf := make([]listenEntry, max(2*len(r.buf), 64))
		for i := range r.n {
			buf[i] = r.buf[(r.head+i)%len(r.buf)]
		}
		r.buf, r.head = buf, 0
	}
	r.buf[(r.head+r.n)%len(r.buf)] = e
	r.n++
}

func (r *listenRing) pop() listenEntry {
	e := r.buf[r.head]
	r.buf[r.head] = listenEntry{} // its key holds a pointer
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	return e
}

// maxListeners bounds the inferred listeners: a sixteenth of the flow
// table's bound, at least 1024, so that a flood of SYN+ACKs from invented
// servers stays within the memory the table's bound states.
func (t *Tracker) maxListeners() int { return max(t.cfg.MaxFlows/16, 1024) }

// addListener notes that k answered a SYN now, and returns its health.
// When the listeners are at their bound, the one that has answered no SYN
// for longest is forgotten to make room, and counted (see evictListener).
func (t *Tracker) addListener(k listenKey, local bool) *listenHealth {
	if l, ok := t.listeners[k]; ok {
		l.last = t.now
		t.listeners[k] = l
		return t.healths.at(l.health)
	}
	if len(t.listeners) >= t.maxListeners() {
		t.evictListener()
	}
	h := t.healths.alloc()
	t.listeners[k] = listener{last: t.now, added: t.now, local: local, health: h}
	t.listenAge.push(listenEntry{k, t.now})
	if local {
		t.stats.Listeners++
	}
	return t.healths.at(h)
}

// evictListener forgets the listener that has answered no SYN for longest,
// by the second-chance clock over listenAge: the oldest entry goes unless
// its listener answered since, in which case it moves to the back. The
// choice depends on the capture alone, never on the map's order, so that
// the same capture always gives the same answer.
func (t *Tracker) evictListener() {
	for t.listenAge.n > 0 {
		e := t.listenAge.pop()
		l, ok := t.listeners[e.key]
		switch {
		case !ok || l.added != e.added:
			// Stale: forgotten, or moved back since.
		case l.last > l.added:
			l.added = l.last
			t.listeners[e.key] = l
			t.listenAge.push(listenEntry{e.key, l.added})
		default:
			t.dropListener(e.key, l)
			t.stats.Evictions[EvictListener]++
			return
		}
	}
}

func (t *Tracker) dropListener(k listenKey, l listener) {
	delete(t.listeners, k)
	t.healths.release(l.health)
	if l.local {
		t.stats.Listeners--
	}
}

// sweepListeners forgets the listeners that have answered no SYN for
// ListenerTimeout: a passive observer never sees a listening socket close.
// It runs every ListenerTimeout/4 of capture time at most.
func (t *Tracker) sweepListeners() {
	timeout := int64(t.cfg.ListenerTimeout)
	for k, l := range t.listeners {
		if t.now-l.last >= timeout {
			t.dropListener(k, l)
		}
	}
	t.sweepAt = t.now + timeout/4
	// Keep listenAge to the live entries, in order: stale ones would
	// otherwise pile up as listeners come and go.
	for range t.listenAge.n {
		e := t.listenAge.pop()
		if l, ok := t.listeners[e.key]; ok && l.added == e.added {
			t.listenAge.push(e)
		}
	}
}
