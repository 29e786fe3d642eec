package tracker

// WithoutShortcut makes t take the whole rulebook for every segment (see
// stepSteady), for the tests of package tracker_test.
func WithoutShortcut(t *Tracker) { t.noShortcut = true }

// Steady reports whether t would take the shortcut for seg, were it fed
// now: the segment is an ACK and both endpoints of its flow are steady.
func Steady(t *Tracker, seg *Segment) bool {
	var k flowKey
	side := t.keyOf(seg, &k)
	i, ok := t.flows.find(&k)
	if !ok || seg.Flags&(SYN|FIN|RST|ACK) != ACK {
		return false
	}
	snd, rcv := t.flows.at(i).ends(side)
	return snd.steady() && rcv.steady()
}
