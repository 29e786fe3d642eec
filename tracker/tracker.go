package tracker

import (
	"math"
	"net/netip"
	"runtime"
	"time"

	"github.com/tcptrack/tcptrack/internal/mmapmem"
)

// Defaults for Config's zero values.
const (
	DefaultMaxFlows         = 1 << 20
	DefaultTimeWait         = 60 * time.Second
	DefaultHandshakeTimeout = 75 * time.Second
	DefaultFinTimeout       = 60 * time.Second
	DefaultRetryTimeout     = 120 * time.Second
	DefaultListenerTimeout  = time.Hour
	// assumedWScale is the window shift assumed for a flow whose SYNs were
	// not seen: what Linux picks for its default buffer sizes.
	assumedWScale = 7
)

// listenKey names an inferred listening socket: like a flow, a listener
// is in a VLAN and an overlay (see Segment.Tunnel).
type listenKey struct {
	addr   netip.Addr
	port   uint16
	vlan   uint16
	tunnel uint32
}

// Tracker follows every TCP flow it is fed. It is not safe for concurrent
// use: one goroutine feeds it and hands Stats snapshots to others.
type Tracker struct {
	cfg Config
	// timeout is how long an endpoint may stay in each state, 0 for ever:
	// TimeWait in TIME_WAIT, HandshakeTimeout in SYN_SENT and SYN_RECV,
	// FinTimeout in FIN_WAIT2, RetryTimeout in FIN_WAIT1, CLOSING and
	// LAST_ACK. A table rather than a switch, whose branches the states of
	// interleaved flows mispredict. An unconfirmed endpoint gets
	// HandshakeTimeout whatever its state (see timeoutOf).
	timeout [NumStates]tick
	now     int64 // capture clock, nanoseconds since the Unix epoch
	epoch   int64 // tick 0, nanoseconds since the Unix epoch (see tick)
	// The capture clock in ticks, rounded down (nowFloor: a timer is due
	// when its deadline is at or before it) and up (nowCeil: what times
	// are kept as, so that a timer never runs out early).
	nowFloor  tick
	nowCeil   tick
	tickEnd   int64 // when nowFloor next moves, nanoseconds since the Unix epoch
	flows     table
	listeners map[listenKey]listener
	// listenAge holds the listeners in the order they were added or last
	// given a second chance, for eviction (listeners.go).
	listenAge listenRing
	healths   healthSlab // the listeners' health (listenstats.go)
	// sweepAt is when advance next forgets the listeners not seen for
	// ListenerTimeout, nanoseconds since the Unix epoch.
	sweepAt int64
	stats   Stats
	tr      Transition // reused for OnTransition so that it does not escape
	// info holds the facts of each connection by slot, when Config.Info
	// asks for them (info.go); cr is the Conn reused to report them.
	info []info
	cr   Conn
	// restarted says a new connection began on the flow being stepped;
	restarted bool
	// noShortcut makes step take the whole rulebook for every segment, so
	// that tests can check that stepSteady changes nothing.
	noShortcut bool
	// replay holds a segment the tracker rebuilt (a pickup's first segment,
	// a held SYN) while it runs through the rulebook; a local would escape
	// through Transition.Cause and cost an allocation each time.
	replay Segment
	// withdrawn has bit side set when the segment being applied withdrew a
	// receipt of that side's endpoint: settle then reports its change of
	// state as a correction. Cleared by settle.
	withdrawn uint8
}

// New returns an empty Tracker.
func New(cfg Config) *Tracker {
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = DefaultMaxFlows
	}
	cfg.MaxFlows = min(cfg.MaxFlows, math.MaxInt32)
	if cfg.TimeWait <= 0 {
		cfg.TimeWait = DefaultTimeWait
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.FinTimeout <= 0 {
		cfg.FinTimeout = DefaultFinTimeout
	}
	if cfg.RetryTimeout <= 0 {
		cfg.RetryTimeout = DefaultRetryTimeout
	}
	if cfg.ListenerTimeout <= 0 {
		cfg.ListenerTimeout = DefaultListenerTimeout
	}
	t := &Tracker{
		cfg:       cfg,
		flows:     newTable(cfg.MaxFlows),
		listeners: make(map[listenKey]listener),
	}
	t.startClock()
	if cfg.Info || cfg.OnClose != nil || cfg.OnHandshake != nil {
		t.newInfo()
	}
	// The table's memory is mapped, not the garbage collector's: give it
	// back with the Tracker. As no pointer into mapped memory keeps
	// anything alive, every exported method that reaches the table keeps
	// the Tracker alive until it returns (runtime.KeepAlive).
	runtime.AddCleanup(t, (*mmapmem.Mappings).Release, t.flows.mem)
	t.timeout[TimeWait] = span(cfg.TimeWait)
	hs := span(cfg.HandshakeTimeout)
	t.timeout[SynSent], t.timeout[SynRecv] = hs, hs
	t.timeout[FinWait2] = span(cfg.FinTimeout)
	rt := span(cfg.RetryTimeout)
	t.timeout[FinWait1], t.timeout[Closing], t.timeout[LastAck] = rt, rt, rt
	return t
}

// Track feeds one segment. Segments must come in capture order; the
// segment's timestamp also advances the tracker's timers. seg is not
// retained.
func (t *Tracker) Track(seg *Segment) {
	var key flowKey
	side := t.keyOf(seg, &key)
	t.track(seg, &key, side)
	runtime.KeepAlive(t) // see New
}

// keyOf fills in k with the flow key of seg, hashed, and returns which
// side of it sent seg.
func (t *Tracker) keyOf(seg *Segment, k *flowKey) int {
	side := keyOf(seg, k)
	k.hash = t.flows.index.hash(k)
	return side
}

// track is Track with seg's key worked out (see keyOf).
func (t *Tracker) track(seg *Segment, k *flowKey, side int) {
	t.advance(seg.UnixNano)
	// A timestamp that steps back does not rewind timers.
	now := t.nowCeil
	t.stats.Segments++
	i, ok := t.flows.find(k)
	if !ok {
		if seg.Flags&RST != 0 {
			// Nothing to judge it against and nothing for it to close.
			t.stats.Ignored++
			return
		}
		i = t.open(k, side, seg, now)
		if seg.Flags&SYN == 0 {
			return // a picked-up flow waits for a second segment
		}
	}
	if t.info != nil {
		t.stepNoting(i, side, seg, now)
		return
	}
	t.step(i, side, seg, now)
}

// Advance moves the capture clock to now without a segment, so that timers
// (TIME_WAIT, handshake timeout) run out on a quiet link or at the end of a
// file. A time earlier than the clock is ignored.
func (t *Tracker) Advance(now time.Time) { t.advance(now.UnixNano()) }

// advance is Advance with the time in nanoseconds since the Unix epoch.
func (t *Tracker) advance(n int64) {
	if n <= t.now {
		return
	}
	if n < t.tickEnd {
		// Within the same millisecond: no timer can have come due since
		// the last call, as every deadline filed since lies past nowFloor.
		t.now, t.nowCeil = n, t.nowFloor+1
		return
	}
	t.setClock(n)
	for i := t.flows.due(t.nowFloor); i >= 0; i = t.flows.due(t.nowFloor) {
		t.expire(i)
	}
	if n >= t.sweepAt {
		t.sweepListeners()
	}
	runtime.KeepAlive(t) // see New
}

// open adds a flow for seg's key, evicting one first if the table is full.
func (t *Tracker) open(key *flowKey, side int, seg *Segment, now tick) int32 {
	if t.flows.len() >= t.cfg.MaxFlows {
		v, why := t.flows.victim()
		t.evict(v, why)
	}
	i := t.flows.insert(key, seg.Src.Is4In6())
	c := t.flows.at(i)
	t.initEndpoints(c, side, seg)
	switch {
	case seg.Flags&(SYN|ACK) == SYN:
		c.setClient(side)
	case seg.Flags&SYN != 0:
		c.setClient(1 - side)
	default:
		c.setClient(guessClient(key.pa, key.pb))
		c.flags |= flowPickup
		t.flows.keepAside(i, aside{seq: Seq(seg.Seq), ack: Seq(seg.Ack), len: seg.PayloadLen,
			flags: seg.Flags, window: seg.Window, from: uint8(side), run: uint8(min(seg.PayloadLen, 1))})
	}
	c.ep[side].mark = now
	t.flows.setDeadline(i, c, t.deadline(c))
	if t.info != nil {
		t.startInfo(i, side, seg)
	}
	return i
}

func (t *Tracker) initEndpoints(c *conn, side int, seg *Segment) {
	c.ep[side].facts = t.isLocal(seg.Src)
	c.ep[1-side].facts = t.isLocal(seg.Dst)
}

// isLocal returns the local fact if a passes Config.Local, else none.
func (t *Tracker) isLocal(a netip.Addr) facts {
	if len(t.cfg.Local) == 0 {
		return local
	}
	for _, p := range t.cfg.Local {
		if p.Contains(a) {
			return local
		}
	}
	return 0
}

// step applies seg, sent by side, to flow i: a send event for the sender
// and a receive event for the receiver, by one rulebook.
func (t *Tracker) step(i int32, side int, seg *Segment, now tick) {
	c := t.flows.at(i)
	snd, rcv := c.ends(side)
	if seg.Flags&(SYN|FIN|RST|ACK) == ACK && snd.steady() && rcv.steady() && !t.noShortcut {
		if acceptable(snd, rcv, seg) {
			t.stepSteady(i, c, snd, rcv, seg)
		} else {
			t.stats.Ignored++
		}
		return
	}
	if snd.lastCounts() {
		snd.mark = now
	}

	if c.unproven() && !t.prove(i, side, seg, now) {
		t.settle(i, c, snd, rcv, seg)
		return
	}
	if seg.Flags&SYN != 0 && seg.Flags&RST == 0 && !t.synOnFlow(i, side, seg, now) {
		return
	}
	switch {
	case seg.Flags&RST != 0:
		if !t.reset(snd, rcv, seg) {
			return
		}
		t.resetEarly(c, side)
	case seg.Flags&(SYN|ACK) == SYN|ACK && rcv.has(sentSyn) && !rcv.has(gotSyn) && Seq(seg.Ack) != rcv.isn.Add(1):
		// A SYN+ACK that does not ack the SYN it would answer: a
		// SYN_SENT endpoint answers it with an RST and stays; no
		// listener answered anything.
		t.stats.Ignored++
		return
	case seg.Flags&(SYN|ACK) == 0 && rcv.has(gotSyn):
		// Past SYN_SENT a segment without ACK is discarded, as RFC 9293
		// and Linux do: a FIN or data from no real stack.
		t.stats.Ignored++
		return
	case !acceptable(snd, rcv, seg):
		t.stats.Ignored++
		return
	default:
		// In a simultaneous open or close the SYNs or FINs cross: a bare SYN
		// from an endpoint the capture showed a SYN to, or a FIN that does
		// not ack the FIN the capture showed it, was sent before that SYN or
		// FIN arrived. The endpoint passes through the state between
		// (SYN_SENT, FIN_WAIT1); a CLOSE_WAIT counted too early is a
		// correction.
		var crossed facts
		switch {
		case seg.Flags&(SYN|ACK) == SYN && !snd.has(sentSyn) && snd.has(gotSyn):
			crossed = gotSyn
		case seg.Flags&FIN != 0 && !snd.has(sentFin) && snd.has(gotFin) &&
			!(seg.Flags&ACK != 0 && rcv.finSeq.LessThan(Seq(seg.Ack))):
			crossed = gotFin
			t.withdrawn |= 1 << side
		}
		snd.facts &^= crossed
		if seg.Flags&ACK != 0 && rcv.has(hasNxt) && rcv.nxt.LessThan(Seq(seg.Ack)) {
			// The capture missed some of rcv's segments. Their bytes are
			// accounted for, but no state is invented from them.
			c.flags |= flowGap
			rcv.nxt = Seq(seg.Ack)
		}
		if seg.Flags&(SYN|ACK) == ACK && snd.has(sentSyn) && !rcv.has(sentSyn) {
			// rcv never showed itself, yet snd, which sent a SYN,
			// acknowledges one: the capture sees one direction only
			// (or missed the SYN+ACK). The ACK says where rcv's SYN
			// was, and that rcv had snd's.
			rcv.inferSyn(Seq(seg.Ack))
			rcv.facts |= gotSyn | passive
		}
		// Whether seg repeats matters only against a doubt, which few
		// endpoints ever hold.
		repeat := rcv.facts&doubts != 0 && snd.repeats(seg, rcv)
		sndFacts, rcvFacts := snd.facts, rcv.facts
		snd.send(seg, rcv)
		rcv.receive(seg, repeat)
		if snd.facts&^sndFacts&confirmed != 0 { // only a sender becomes confirmed
			t.countConfirmed(snd)
			if rcv.has(passive) && !rcv.has(confirmed) && rcv.has(hasAcked) {
				// The server that answered it, with it.
				rcv.facts |= confirmed
				t.countConfirmed(rcv)
			}
		}
		// A receipt taken back is a correction, not a transition.
		if (sndFacts&^snd.facts|rcvFacts&^rcv.facts)&receipts != 0 {
			t.markWithdrawn(side, sndFacts, snd.facts, rcvFacts, rcv.facts)
		}
		if seg.Flags&(SYN|ACK) == SYN|ACK {
			scaleWindows(snd, rcv)
		}
		if !rcv.has(hasAcked) && rcv.has(sentSyn) && !snd.has(confirmed) {
			// rcv has never been seen sending: only a run of data
			// confirms the pair (see advances).
			t.oneSided(i, c, snd, rcv, seg)
		}
		if crossed != 0 {
			t.settle(i, c, snd, rcv, seg) // SYN_SENT or FIN_WAIT1 first
			snd.facts |= crossed
		}
	}
	t.settle(i, c, snd, rcv, seg)
}

// stepSteady is step for the segment that most of a capture is made of: an
// ACK, with or without data, between two endpoints in ESTABLISHED that
// have shown they are real stacks and hold no doubt (see steady). The
// rulebook would change nothing on it but what is written here: how far
// each has sent and acknowledged, the sender's window, whether the
// receiver's receipt came by a bare ACK, and a gap the ACK reveals. No
// state changes and no timer is filed, as two confirmed ESTABLISHED
// endpoints have none. A test runs every capture and the fuzzer's inputs
// both ways (Tracker.noShortcut) and requires the same transitions.
func (t *Tracker) stepSteady(i int32, c *conn, snd, rcv *endpoint, seg *Segment) {
	ack := Seq(seg.Ack)
	if rcv.nxt.LessThan(ack) {
		c.flags |= flowGap
		rcv.nxt = ack
	}
	snd.acked = further(snd.acked, ack, true)
	snd.nxt = further(snd.nxt, Seq(seg.Seq).Add(seg.PayloadLen), true)
	snd.win = seg.Window
	snd.facts &^= synWindow
	if seg.PayloadLen == 0 && rcv.isn.LessThan(ack) {
		rcv.facts |= pureAcked
	}
	t.flows.touch(i, c, classActive)
}

// prove handles a segment of a picked-up flow that has not yet shown
// two-way life. A lone segment (an ACK scan, a stray retransmission) is no
// evidence of a connection; a second, different one is. It reports whether
// seg should now go through the rulebook.
func (t *Tracker) prove(i int32, side int, seg *Segment, now tick) bool {
	c := t.flows.at(i)
	f := t.flows.aside(i)
	switch {
	case c.ep[0].has(closed):
		return seg.Flags&SYN != 0 // reset before it proved anything: only a new SYN revives the 4-tuple
	case seg.Flags&RST != 0:
		c.ep[0].facts |= closed
		c.ep[1].facts |= closed
		return false
	case seg.Flags&SYN != 0:
		return true // a new connection: synOnFlow restarts the flow
	case uint8(side) != f.from:
		if !answers(seg, &f) {
			return false // not the other end of the same conversation
		}
	case !t.advances(i, seg, f):
		return false // one side only, and not yet data a spoofer must pay for
	}
	c.flags |= flowProven
	t.flows.dropAside(i)
	for e := range c.ep {
		ep := &c.ep[e]
		wasConfirmed := ep.has(confirmed)
		ep.facts |= sentSyn | gotSyn | synAcked | confirmed
		ep.putWScale(assumedWScale)
		if !wasConfirmed {
			t.countConfirmed(ep)
		}
	}
	// Both endpoints are ESTABLISHED unless the first segment says more.
	for e := range c.ep {
		t.setState(i, c, &c.ep[e], Established, nil, "pickup")
	}
	first := &t.replay
	*first = Segment{UnixNano: seg.UnixNano, Seq: uint32(f.seq), Ack: uint32(f.ack), Flags: f.flags,
		Window: f.window, PayloadLen: f.len}
	if f.from == uint8(side) {
		first.Src, first.SrcPort, first.Dst, first.DstPort = seg.Src, seg.SrcPort, seg.Dst, seg.DstPort
	} else {
		first.Src, first.SrcPort, first.Dst, first.DstPort = seg.Dst, seg.DstPort, seg.Src, seg.SrcPort
	}
	t.step(i, int(f.from), first, now)
	return true
}

// answers reports whether seg, from the other side of a picked-up flow
// than its first segment f, belongs to the same conversation: f
// acknowledged the sequence number seg starts at, or seg acknowledges
// what f sent.
func answers(seg *Segment, f *aside) bool {
	end := f.seq.Add(f.len)
	if f.flags&FIN != 0 {
		end = end.Add(1)
	}
	return f.flags&ACK != 0 && Seq(seg.Seq) == f.ack ||
		seg.Flags&ACK != 0 && f.seq.Add(f.len).LessThanEq(Seq(seg.Ack)) && Seq(seg.Ack).LessThanEq(end)
}

// provingRun is how many data segments in a row, each starting where the
// last ended, a flow seen from one side must show to count: a blind
// spoofer who invents 4-tuples rarely pays for that, while a capture of
// one direction of a real transfer (asymmetric routing) shows it at once.
const provingRun = 3

// advances records seg, from the same side as the flow's kept segment f,
// and reports whether the side has now sent provingRun data segments in a
// row, each starting where the last ended.
func (t *Tracker) advances(i int32, seg *Segment, f aside) bool {
	if seg.PayloadLen == 0 {
		return false
	}
	run := uint8(1)
	if f.len > 0 && Seq(seg.Seq) == f.seq.Add(f.len) {
		run = f.run + 1
	}
	if run >= provingRun {
		return true
	}
	t.flows.keepAside(i, aside{seq: Seq(seg.Seq), ack: Seq(seg.Ack), len: seg.PayloadLen,
		flags: seg.Flags, window: seg.Window, from: f.from, run: run})
	return false
}

// oneSided counts seg towards the proof of a flow opened by snd's SYN whose
// peer, rcv, is never seen: a capture of one direction. Once snd has sent
// provingRun data segments in a row, each starting where the last ended,
// both ends are confirmed and rcv is a listener, as a seen SYN+ACK would
// have shown.
func (t *Tracker) oneSided(i int32, c *conn, snd, rcv *endpoint, seg *Segment) {
	f := t.flows.aside(i)
	if !t.advances(i, seg, f) {
		return
	}
	t.flows.dropAside(i)
	for _, e := range [2]*endpoint{snd, rcv} {
		if !e.has(confirmed) {
			e.facts |= confirmed
			t.countConfirmed(e)
		}
	}
	a := t.flows.addr(c, c.side(rcv))
	t.addListener(listenKey{a.Addr(), a.Port(), c.vlan, c.tunnel}, rcv.has(local))
}

// synOnFlow handles a SYN on a flow that already exists: a retransmission,
// port reuse, an old duplicate or the answer to a SYN held back earlier.
// It reports whether seg should go on through the rulebook.
func (t *Tracker) synOnFlow(i int32, side int, seg *Segment, now tick) bool {
	c := t.flows.at(i)
	snd := &c.ep[side]
	seq := Seq(seg.Seq)
	switch {
	case !c.pickedUp() && !snd.has(sentSyn):
		return true // its first SYN: an opening, or a simultaneous open
	case !c.pickedUp() && snd.has(sentSyn) && seq == snd.isn:
		if seg.Flags&ACK != 0 {
			t.synAckAgain(c, side)
		}
		return true // a retransmission: the rulebook weighs it as evidence
	}
	if seg.Flags&ACK == 0 {
		if c.finished() || c.unanswered(side) {
			t.restart(i, side, now)
			return true
		}
		// A SYN on a live connection is an old duplicate or a new
		// connection after a crash; only an answer tells which.
		c.flags |= flowPending
		t.flows.keepAside(i, aside{seq: seq, from: uint8(side)})
		t.stats.Ignored++
		return false
	}
	if c.flags&flowPending != 0 {
		// The map is read only for a flow that holds a SYN.
		if p := t.flows.aside(i); uint8(side) != p.from && Seq(seg.Ack) == p.seq.Add(1) {
			// The peer answered the held SYN: it was a new connection.
			syn := &t.replay
			*syn = Segment{UnixNano: seg.UnixNano, Src: seg.Dst, SrcPort: seg.DstPort, Dst: seg.Src, DstPort: seg.SrcPort,
				VLAN: seg.VLAN, Tunnel: seg.Tunnel, Seq: uint32(p.seq), Flags: SYN}
			t.restart(i, 1-side, now)
			t.step(i, 1-side, syn, now)
			return true
		}
	}
	if !snd.has(sentSyn) || c.pickedUp() {
		return true // a first SYN+ACK: the rulebook takes it
	}
	t.stats.Ignored++ // a SYN+ACK that belongs to no SYN we know
	return false
}

// finished reports whether a new SYN may start a new connection on this
// flow: nothing on it is alive but TIME_WAIT (RFC 1122 4.2.2.13).
func (c *conn) finished() bool {
	if c.unproven() {
		return true
	}
	for e := range c.ep {
		switch c.ep[e].state() {
		case Unknown, Close, TimeWait:
		default:
			return false
		}
	}
	return true
}

// unanswered reports whether the flow is a handshake whose SYN, from side,
// nothing ever answered: a new SYN from the same side with another ISN
// replaces it, as the client gave up on it (Linux reuses the port).
func (c *conn) unanswered(side int) bool {
	return !c.pickedUp() && c.client() == side && !c.ep[1-side].has(hasNxt)
}

// restart ends the connection on flow i and starts a new one on the same
// 4-tuple, whose client is side.
func (t *Tracker) restart(i int32, side int, now tick) {
	c := t.flows.at(i)
	for e := range c.ep {
		if c.ep[e].state().Counted() {
			t.setState(i, c, &c.ep[e], Close, nil, "reused")
		}
	}
	if t.info != nil {
		t.letGo(i, c)
	}
	for e := range c.ep {
		ep := &c.ep[e]
		// Its state is Close or Unknown now: neither is counted.
		*ep = endpoint{facts: ep.facts & local, mark: now, port: ep.port}
	}
	c.setClient(side)
	c.flags &^= flowFlags
	t.flows.dropAside(i)
	if t.info != nil {
		// A new connection: its facts start again (see stepNoting).
		t.startInfo(i, side, &Segment{UnixNano: t.now, Flags: SYN})
		t.restarted = true
	}
}

// settle derives both endpoints' states after flow i, c, changed, the
// sender of cause (snd) first, and files the flow under its class and next
// deadline.
func (t *Tracker) settle(i int32, c *conn, snd, rcv *endpoint, cause *Segment) {
	// Written out for each endpoint: every loop over the pair measured
	// (over an array of the two, over their sides) ran more instructions
	// per segment than this.
	if s := snd.derive(); s != snd.state() {
		t.setState(i, c, snd, s, cause, t.reason(c.side(snd)))
	}
	if s := rcv.derive(); s != rcv.state() {
		t.setState(i, c, rcv, s, cause, t.reason(c.side(rcv)))
	}
	t.withdrawn = 0
	t.flows.touch(i, c, c.classify())
	t.flows.setDeadline(i, c, t.deadline(c))
}

// deadline returns when flow c's next timer runs out, or 0.
func (t *Tracker) deadline(c *conn) tick {
	if c.lingering() {
		// Kept a while to absorb stray segments, then forgotten. Both
		// endpoints' marks are their last segments (see lastCounts).
		return max(c.ep[0].mark, c.ep[1].mark) + t.timeout[TimeWait]
	}
	a, b := &c.ep[0], &c.ep[1]
	da, db := t.timeoutOf(a), t.timeoutOf(b)
	switch {
	case da != 0 && db != 0:
		return min(a.mark+da, b.mark+db)
	case da != 0:
		return a.mark + da
	case db != 0:
		return b.mark + db
	}
	return 0
}

// timeoutOf returns how long e may stay in its state, 0 for ever. An
// unconfirmed endpoint lives only as long as a handshake: nothing but a
// real stack's behaviour keeps it (a spoofed SYN that a server answered
// would otherwise stay ESTABLISHED for ever).
func (t *Tracker) timeoutOf(e *endpoint) tick {
	if !e.has(confirmed) && e.state().Counted() {
		return t.timeout[SynSent]
	}
	return t.timeout[e.state()]
}

// expire runs the timers of flow i, whose timer came due. A timer is not
// moved when its flow's deadline moves later or goes (see
// table.setDeadline), so it may come due early: then it is filed again.
func (t *Tracker) expire(i int32) {
	c := t.flows.at(i)
	if d := t.deadline(c); d == 0 || d > t.nowFloor {
		t.flows.refile(i, d)
		return
	}
	if c.lingering() {
		t.forget(i, endForgotten)
		return
	}
	// An endpoint closes when its timer ran out, which may be well before
	// now when the clock jumps (a quiet link, the end of a file).
	var due [2]int64
	for e := range c.ep {
		ep := &c.ep[e]
		due[e] = t.now
		if s := t.timeoutOf(ep); s != 0 && ep.mark+s <= t.nowFloor {
			ep.facts |= closed
			due[e] = min(t.epoch+int64(ep.mark+s)*msec, t.now)
		}
	}
	for e := range c.ep {
		if ep := &c.ep[e]; ep.has(closed) && ep.state() != Close {
			t.setStateAt(i, c, ep, Close, nil, "timer", due[e])
		}
	}
	t.flows.refileClass(i, c.classify())
	if d := t.deadline(c); d == 0 || d > t.nowFloor {
		t.flows.refile(i, d)
	} else {
		t.forget(i, endForgotten) // a timer that closed nothing: nothing will
	}
}

// evict drops flow i to make room.
func (t *Tracker) evict(i int32, why EvictReason) {
	t.stats.Evictions[why]++
	t.forget(i, endEvicted)
}

// forget removes flow i, taking its live endpoints out of the counts. how
// is the end of a connection that had not ended (see Conn.End).
func (t *Tracker) forget(i int32, how endHow) {
	c := t.flows.at(i)
	if t.info != nil {
		t.endNow(i, c, how)
	}
	for e := range c.ep {
		if c.ep[e].state().Counted() {
			t.setState(i, c, &c.ep[e], Unknown, nil, "forgotten")
		}
	}
	if t.info != nil {
		t.letGo(i, c)
	}
	t.flows.remove(i)
}

// setState changes e's state, at the time of cause, or now for none.
func (t *Tracker) setState(i int32, c *conn, e *endpoint, to State, cause *Segment, reason string) {
	when := t.now
	if cause != nil {
		when = cause.UnixNano
	}
	t.setStateAt(i, c, e, to, cause, reason, when)
}

// setStateAt is setState at when, nanoseconds since the Unix epoch (a
// timer's change is dated when the timer ran out), and the one place an
// endpoint's state changes: it keeps the counts and the transition
// counters, infers listeners, and reports.
func (t *Tracker) setStateAt(i int32, c *conn, e *endpoint, to State, cause *Segment, reason string, when int64) {
	from := e.state()
	e.putState(to)
	e.mark = t.ticks(when)
	if t.info != nil {
		t.noteState(i, c, c.side(e), to, when, cause, reason)
	}
	if from == Unknown && to == Close {
		return // an endpoint that never showed itself, refused or reset: nothing to report
	}
	isLocal := e.has(local)
	if isLocal {
		counts := &t.stats.States
		if !e.has(confirmed) {
			counts = &t.stats.Unconfirmed
		}
		if from.Counted() {
			counts[from]--
		}
		if to.Counted() {
			counts[to]++
		}
	}
	if from == SynSent || from != Unknown && (from == SynRecv || to == SynRecv) && e.has(passive) {
		t.noteHandshake(c, e, from, to, cause) // listener health (listenstats.go)
	}
	// Name the state the RFC gives an endpoint before its first SYN.
	switch {
	case from == Unknown && to == SynRecv && e.has(passive):
		from = Listen
		a := t.flows.addr(c, c.side(e))
		h := t.addListener(listenKey{a.Addr(), a.Port(), c.vlan, c.tunnel}, isLocal)
		h.syns++
		h.halfOpen++
	case from == Unknown && to == SynSent:
		from = Close
	}
	t.stats.Transitions[from][to]++
	if t.cfg.OnTransition == nil {
		return
	}
	t.tr = Transition{Time: time.Unix(0, when), Flow: t.flows.flow(c), Endpoint: t.flows.addr(c, c.side(e)),
		From: from, To: to, Cause: cause, Reason: reason}
	t.cfg.OnTransition(&t.tr)
}

// countConfirmed moves e, just confirmed, from the unconfirmed counts to the
// counts.
func (t *Tracker) countConfirmed(e *endpoint) {
	if e.has(local) && e.state().Counted() {
		t.stats.Unconfirmed[e.state()]--
		t.stats.States[e.state()]++
	}
}

// markWithdrawn notes which endpoints of the flow lost a receipt: side's
// (the sender's) facts went from snd0 to snd1, its peer's from rcv0 to
// rcv1.
func (t *Tracker) markWithdrawn(side int, snd0, snd1, rcv0, rcv1 facts) {
	if snd0&^snd1&receipts != 0 {
		t.withdrawn |= 1 << side
	}
	if rcv0&^rcv1&receipts != 0 {
		t.withdrawn |= 1 << (side ^ 1)
	}
}

// reason returns the reason of a change of state of the endpoint on side,
// as settle reports it.
func (t *Tracker) reason(side int) string {
	if t.withdrawn>>side&1 != 0 {
		return "withdrawn"
	}
	return ""
}

// reset applies an RST from snd to rcv as Linux does (RFC 5961, RULES.md):
// it closes rcv only at exactly rcv's next expected sequence number, or
// one before it once rcv has the FIN there (CLOSE_WAIT, LAST_ACK, CLOSING);
// to a SYN_SENT endpoint, only if it acks the SYN. Inside the window
// otherwise, rcv answers with a challenge ACK and nothing changes; outside,
// it is ignored. It closes snd when its sequence number is snd's next. It
// reports whether anything closed, and counts what did not.
func (t *Tracker) reset(snd, rcv *endpoint, seg *Segment) bool {
	seq := Seq(seg.Seq)
	own := snd.has(hasNxt) && seq == snd.nxt
	switch {
	case rcv.has(sentSyn) && !rcv.has(gotSyn) && !rcv.has(synAcked):
		// SYN_SENT: acceptable if it acknowledges the SYN (RFC 9293 3.10.7.3).
		if seg.Flags&ACK != 0 && Seq(seg.Ack) == rcv.isn.Add(1) {
			rcv.facts |= closed
			snd.facts |= closed
			return true
		}
	case own || rcv.has(hasAcked) && seq == rcv.acked || rcv.has(gotFin) && seq == snd.finSeq:
		// At rcv's next expected sequence number, as far as the wire
		// shows it: what snd has sent, or what rcv has acknowledged.
		if rcv.has(gotSyn) || rcv.has(synAcked) {
			rcv.facts |= closed
		}
		if own {
			snd.facts |= closed
		}
		return true
	case rcv.has(hasAcked) && seq.InWindow(rcv.acked, max(rcv.window(), 1)) ||
		snd.has(hasNxt) && seq.InWindow(snd.nxt, max(rcv.window(), 1)):
		t.stats.ChallengedRST++
		return false
	}
	t.stats.IgnoredRST++
	return false
}

// acceptable rejects a segment whose sequence or acknowledgment number is
// far outside the window: a blind injection or garbage, not traffic.
func acceptable(snd, rcv *endpoint, seg *Segment) bool {
	w := max(rcv.window(), 1<<16)
	if snd.has(hasNxt) && rcv.has(hasAcked) && !Seq(seg.Seq).InWindow(rcv.acked-Seq(w), 2*w+1) {
		return false
	}
	if seg.Flags&ACK != 0 && rcv.has(hasNxt) && rcv.nxt.Add(w).LessThan(Seq(seg.Ack)) {
		return false
	}
	return true
}

// Stats returns a snapshot of the counts and counters.
func (t *Tracker) Stats() Stats {
	s := t.stats
	s.Time = time.Unix(0, t.clockNanos())
	s.Flows = t.flows.len()
	s.MaxFlows = t.cfg.MaxFlows
	return s
}

// Sockets calls fn for every live endpoint (every confirmed endpoint whose
// state is Counted), after the Local filter, in no particular order.
func (t *Tracker) Sockets(fn func(Socket)) { t.sockets(fn, confirmed) }

// Unconfirmed calls fn for every endpoint that Sockets leaves out because
// it has not shown it is a real stack (see Stats.Unconfirmed), after the
// Local filter, in no particular order.
func (t *Tracker) Unconfirmed(fn func(Socket)) { t.sockets(fn, 0) }

// sockets calls fn for the endpoints whose confirmed fact is want.
func (t *Tracker) sockets(fn func(Socket), want facts) {
	var slab []Conn // the facts' copies (infoCopy)
	for i := range t.flows.used {
		c := t.flows.at(i)
		if c.class() == classFree {
			continue
		}
		var info *Conn // one copy for both endpoints of the connection
		for e := range c.ep {
			ep, peer := &c.ep[e], &c.ep[1-e]
			if !ep.state().Counted() || ep.facts&confirmed != want || !ep.has(local) {
				continue
			}
			if info == nil {
				info = t.infoCopy(i, c, &slab)
			}
			fn(Socket{
				State:    ep.state(),
				Local:    t.flows.addr(c, e),
				Peer:     t.flows.addr(c, 1-e),
				VLAN:     c.vlan,
				Tunnel:   c.tunnel,
				SendQ:    sendQ(ep, peer),
				RecvQ:    inFlight(peer, ep),
				PickedUp: c.pickedUp(),
				Client:   c.client() == e,
				Gap:      c.flags&flowGap != 0,
				Info:     info,
			})
		}
	}
	runtime.KeepAlive(t) // see New
}

// unacked returns the sequence space e has sent that it is not believed to
// have had acknowledged: its data, and its SYN or FIN as one each, as the
// kernel's Send-Q counts them. An ACK seen on the wire counts unless e's
// own behaviour withdrew it (a FIN retransmitted after it).
func unacked(e, peer *endpoint) uint32 {
	if !e.has(hasNxt) {
		return 0
	}
	lo := e.nxt
	if peer.has(hasAcked) {
		lo = peer.acked
	}
	if e.has(sentFin) && !e.has(finAcked) && e.finSeq.LessThan(lo) {
		lo = e.finSeq
	}
	if e.has(sentSyn) && !e.has(synAcked) && e.isn.LessThan(lo) {
		lo = e.isn
	}
	if !lo.LessThan(e.nxt) {
		return 0
	}
	return lo.Size(e.nxt)
}

// sendQ returns e's Send-Q as ss lists it: what unacked counts, but 0 for
// a server in SYN_RECV, which the kernel holds as a request socket with no
// send queue of its own.
func sendQ(e, peer *endpoint) uint32 {
	if e.state() == SynRecv && e.has(passive) {
		return 0
	}
	return unacked(e, peer)
}

// inFlight returns the data bytes e has sent that are not believed
// acknowledged, SYN and FIN aside: the bytes on their way to its peer.
func inFlight(e, peer *endpoint) uint32 {
	n := unacked(e, peer)
	if e.has(sentFin) && !e.has(finAcked) && n > 0 {
		n--
	}
	if e.has(sentSyn) && !e.has(synAcked) && n > 0 {
		n--
	}
	return n
}

// Listeners calls fn for every inferred listening socket, after the Local
// filter.
func (t *Tracker) Listeners(fn func(addr netip.AddrPort, vlan uint16, tunnel uint32)) {
	for k, l := range t.listeners {
		if l.local {
			fn(netip.AddrPortFrom(k.addr, k.port), k.vlan, k.tunnel)
		}
	}
}
