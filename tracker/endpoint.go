package tracker

// facts is what an endpoint has been seen to send and what it is believed
// to have received. Its state is derived from them (see derive), so a
// receipt that later evidence withdraws takes the state back with it. The
// rules that set each fact are written out in RULES.md beside this file.
type facts uint32

const (
	sentSyn    facts = 1 << iota // it sent a SYN (isn valid)
	sentFin                      // it sent a FIN (finSeq valid)
	passive                      // its SYN carried an ACK, seen or inferred from the peer's ACK (see Tracker.oneSided): it answered, so a listener existed
	gotSyn                       // it received the peer's SYN
	gotFin                       // it received the peer's FIN
	synAcked                     // it received an ACK of its SYN
	finAcked                     // it received an ACK of its FIN
	finFirst                     // it sent its FIN before it had the peer's: the active closer
	closed                       // reset or timed out: gone for good
	hasAcked                     // acked is valid
	hasNxt                       // nxt is valid
	wsOffered                    // its SYN offered window scaling
	sentSynAck                   // it sent a SYN with ACK
	synSure                      // it sent a segment without SYN: it is past the handshake
	// A doubt bit means the endpoint's own behaviour showed that the
	// matching receipt never arrived (see withdraw). While it is set, a
	// segment that only repeats what the peer sent before does not restore
	// the receipt; a new segment carrying it, or the endpoint's own
	// acknowledgment, does (see believe and confirm). The four are in the
	// order of the receipts they doubt, doubtShift bits higher.
	doubtGotSyn
	doubtGotFin
	doubtSynAcked
	doubtFinAcked
	// pureAcked: a bare ACK of the peer's (no SYN, FIN or data) acked its
	// SYN or FIN. doubtPure: such an ACK was among the segments withdrawn,
	// so the peer's bare ACKs are not reaching it: a later bare ACK that
	// acknowledges nothing new repeats the withdrawn one (see repeats).
	pureAcked
	doubtPure
	// confirmed: it has shown it is a real stack, which a blind spoofer
	// cannot (see RULES.md, Confirmation). Only confirmed endpoints are
	// counted and listed.
	confirmed
	// staleAck: since the peer's FIN was seen, it has sent a segment whose
	// acknowledgment number stays below that FIN. Once is a crossing (it
	// was on its way before the FIN arrived); twice, the FIN has not
	// reached it.
	staleAck
	// Not evidence, but kept with it:
	local     // its address passes Config.Local
	synWindow // its last window came in a SYN, so it is not scaled
)

// doubtShift moves a receipt (gotSyn, gotFin, synAcked, finAcked) to its
// doubt bit.
const doubtShift = 11

// The doubt bits must lie doubtShift above their receipts.
const (
	_ = uint(doubtGotSyn - gotSyn<<doubtShift)
	_ = uint(gotSyn<<doubtShift - doubtGotSyn)
	_ = uint(doubtFinAcked - finAcked<<doubtShift)
	_ = uint(finAcked<<doubtShift - doubtFinAcked)
)

// receipts are the facts an endpoint's own behaviour can withdraw, doubts
// their doubt bits.
const (
	receipts = gotSyn | gotFin | synAcked | finAcked
	doubts   = receipts << doubtShift
)

// The high bits of facts hold the endpoint's state and window shift, so
// that an endpoint takes 28 bytes and a flow 80 (see conn).
const (
	wscaleShift = 24 // bits 24-27: shift applied to its advertised windows
	stateShift  = 28 // bits 28-31: its state, as derive last found it
	fieldMask   = 0xf
)

// The facts must end below the window shift, and a State must fit in its
// four bits.
const (
	_ = uint(1<<wscaleShift - synWindow<<1)
	_ = uint(fieldMask - (NumStates - 1))
)

// endpoint is one side of a flow.
//
// Its address is not kept here but in the flow (see table.addr).
type endpoint struct {
	facts  facts
	isn    Seq // its initial sequence number
	finSeq Seq // sequence number of its FIN
	nxt    Seq // one past the highest sequence number it has sent
	acked  Seq // highest acknowledgment number it has sent
	// mark is when its state's timer started: the capture time it entered
	// its state, or, in a state whose timer runs from its last segment
	// (see lastCounts), the time of that segment if later.
	mark tick
	win  uint16 // its last advertised receive window as sent (see window)
	port uint16
}

func (e *endpoint) has(f facts) bool { return e.facts&f == f }

func (e *endpoint) state() State { return State(e.facts >> stateShift & fieldMask) }

func (e *endpoint) putState(s State) {
	e.facts = e.facts&^(fieldMask<<stateShift) | facts(s)<<stateShift
}

func (e *endpoint) wscale() uint8 { return uint8(e.facts >> wscaleShift & fieldMask) }

func (e *endpoint) putWScale(w uint8) {
	e.facts = e.facts&^(fieldMask<<wscaleShift) | facts(w)<<wscaleShift
}

// lastCounts reports whether e's timer runs from its last segment rather
// than from its entry into its state: a handshake lives as long as it is
// retried, a FIN as long as it is retransmitted (the kernel gives up some
// time after its last retransmission), an orphaned FIN_WAIT2 is freed a
// while after its last segment, an unconfirmed endpoint lives as long as a
// handshake, and a flow that never showed itself or is over lingers a
// while after its last stray segment.
func (e *endpoint) lastCounts() bool {
	switch e.state() {
	case Established, TimeWait, CloseWait:
		return !e.has(confirmed)
	}
	return true
}

// acks reports whether e has been seen acknowledging s, that is, receiving
// everything before s.
func (e *endpoint) acks(s Seq) bool { return e.has(hasAcked) && s.LessThanEq(e.acked) }

// withdraw takes back the receipts in f that e's own behaviour showed it
// never had, and doubts them (see the doubt bits).
func (e *endpoint) withdraw(f facts) {
	lost := e.facts & f & receipts
	if lost == 0 {
		return
	}
	pure := e.facts & pureAcked
	e.facts &^= lost | pureAcked | doubtPure
	e.facts |= lost<<doubtShift | pure<<1 // pureAcked to doubtPure
}

// The shift above: doubtPure is the bit after pureAcked.
const _ = uint(doubtPure - pureAcked<<1)

// confirm records receipts f that e's own behaviour shows: no doubt stands
// against the receiver's word.
func (e *endpoint) confirm(f facts) {
	e.facts = e.facts&^(f<<doubtShift) | f
}

// believe records receipt f on the strength of a segment seen on the wire.
// A doubted receipt is restored only by a segment that is not a repeat
// (see repeats).
func (e *endpoint) believe(f facts, repeat bool) {
	if repeat && e.facts&(f<<doubtShift) != 0 {
		return
	}
	e.facts = e.facts&^(f<<doubtShift) | f
}

// repeats reports whether seg, which e is about to send to peer, only says
// again what e said before: it resends sequence space e has already sent
// (a retransmission), or it is a bare ACK of nothing new while peer has
// shown that e's bare ACKs do not reach it. Call it before send.
func (e *endpoint) repeats(seg *Segment, peer *endpoint) bool {
	span := seg.PayloadLen + uint32(seg.Flags&SYN>>1) + uint32(seg.Flags&FIN)
	if span == 0 {
		return seg.Flags&(ACK|RST) == ACK && peer.has(doubtPure) && e.has(hasAcked) && Seq(seg.Ack) == e.acked
	}
	return e.has(hasNxt) && Seq(seg.Seq).Add(span).LessThanEq(e.nxt)
}

// derive maps e's facts to the RFC 793 state, as stateOf does.
func (e *endpoint) derive() State { return derived[e.facts&stateFacts] }

// stateFacts are the facts stateOf reads.
const stateFacts = closed | sentSyn | sentFin | finFirst | finAcked | gotFin | synAcked | gotSyn

// derived holds stateOf of every combination of stateFacts, so that derive
// takes no branch: a segment's state is news to the branch predictor when
// flows interleave, and its guesses through stateOf's cases missed most
// segments.
var derived = func() (t [stateFacts + 1]State) {
	for f := range t {
		t[f] = stateOf(facts(f))
	}
	return t
}()

// stateOf maps facts to the RFC 793 state: the rulebook's last word.
func stateOf(f facts) State {
	switch {
	case f&closed != 0:
		return Close
	case f&sentSyn == 0:
		return Unknown
	case f&sentFin != 0:
		switch {
		case f&finFirst == 0 && f&finAcked != 0:
			return Close // LAST_ACK, acked
		case f&finFirst == 0:
			return LastAck
		case f&gotFin != 0 && f&finAcked != 0:
			return TimeWait
		case f&gotFin != 0:
			return Closing
		case f&finAcked != 0:
			return FinWait2
		default:
			return FinWait1
		}
	case f&synAcked == 0 && f&gotSyn == 0:
		return SynSent
	case f&gotFin != 0:
		return CloseWait
	case f&synAcked == 0:
		return SynRecv
	default:
		return Established
	}
}

// synchronized reports whether e has completed or passed the handshake,
// and shown it is a real stack.
func (e *endpoint) synchronized() bool {
	return (e.has(synAcked) || e.has(sentFin)) && e.has(confirmed)
}

// steadyFacts are the facts that steady reads, and steadyWant their values
// for an endpoint in ESTABLISHED, confirmed, that has sent a segment past
// the handshake and an ACK, has the peer's SYN and the ACK of its own, and
// holds no doubt: nothing an ACK or data could change but sequence numbers.
const (
	steadyFacts = fieldMask<<stateShift | confirmed | synSure | hasNxt | hasAcked | gotSyn | synAcked | doubts
	steadyWant  = facts(Established)<<stateShift | confirmed | synSure | hasNxt | hasAcked | gotSyn | synAcked
)

// steady reports whether e is such an endpoint (see Tracker.stepSteady).
func (e *endpoint) steady() bool { return e.facts&steadyFacts == steadyWant }

// window returns e's last advertised receive window, scaled.
func (e *endpoint) window() uint32 {
	if e.has(synWindow) {
		return uint32(e.win) // never scaled (RFC 7323 2.2)
	}
	return uint32(e.win) << e.wscale()
}

// send applies seg to e, the endpoint that sent it: what e is seen to send,
// and what that says about what e has received (RULES.md, Sending).
func (e *endpoint) send(seg *Segment, peer *endpoint) {
	end := Seq(seg.Seq).Add(seg.PayloadLen)
	if seg.Flags&SYN != 0 {
		e.sendSyn(seg, peer)
		end = end.Add(1)
	} else if e.has(sentSyn) && seg.Flags&RST == 0 {
		// Only a synchronized endpoint sends a segment without SYN.
		e.confirm(synAcked)
		e.facts |= synSure
	}
	if seg.Flags&FIN != 0 {
		e.sendFin(seg, peer, end)
		end = end.Add(1)
	}
	if seg.Flags&ACK != 0 {
		e.sendAck(Seq(seg.Ack), peer)
	}
	// nxt moves only forward: a data sender's moves, its peer's stays.
	e.nxt = further(e.nxt, end, e.has(hasNxt))
	e.facts |= hasNxt
	e.win = seg.Window
	if seg.Flags&SYN != 0 {
		e.facts |= synWindow
	} else {
		e.facts &^= synWindow
	}
}

// sendSyn applies a SYN that e sends.
func (e *endpoint) sendSyn(seg *Segment, peer *endpoint) {
	seq := Seq(seg.Seq)
	synAck := seg.Flags&ACK != 0
	switch {
	case !e.has(sentSyn):
		e.facts |= sentSyn
		e.isn = seq
		if synAck {
			e.facts |= passive | sentSynAck
		}
		if seg.Options.HasWScale {
			e.facts |= wsOffered
			e.putWScale(min(seg.Options.WScale, 14))
		}
	case seq == e.isn && synAck && !e.has(sentSynAck):
		// Simultaneous open: the same SYN again, now acking the peer's.
		e.facts |= sentSynAck
	case seq == e.isn && !e.has(synSure):
		// e resends its SYN: nothing that acked it reached e, and a bare
		// SYN again says no SYN of the peer's did either. A blind
		// spoofer does not retransmit; a real stack does.
		e.facts |= confirmed
		lost := synAcked
		if !synAck {
			lost |= gotSyn
		}
		e.withdraw(lost)
	}
	if synAck {
		// A SYN+ACK proves e received a SYN, and proves the peer sent one
		// even where the capture missed it.
		e.confirm(gotSyn)
		if !peer.has(sentSyn) {
			peer.inferSyn(Seq(seg.Ack))
		}
	}
}

// inferSyn records the SYN of e's that the capture missed, as an ACK of
// it, ack, proves.
func (e *endpoint) inferSyn(ack Seq) {
	e.facts |= sentSyn | hasNxt
	e.isn = ack - 1
	e.nxt = ack
}

// sendFin applies a FIN that e sends at sequence number at.
func (e *endpoint) sendFin(seg *Segment, peer *endpoint, at Seq) {
	switch {
	case !e.has(sentFin):
		e.facts |= sentFin
		e.finSeq = at
		if !(seg.Flags&ACK != 0 && peer.has(sentFin) && peer.finSeq.LessThan(Seq(seg.Ack))) {
			e.facts |= finFirst
		}
	case at == e.finSeq:
		// e resends its FIN: nothing that acked it reached e. (What it
		// says of the peer's FIN, its acknowledgment number tells.)
		e.withdraw(finAcked)
	}
}

// sendAck applies the acknowledgment number ack that e sends: the best
// evidence of what e has received.
func (e *endpoint) sendAck(ack Seq, peer *endpoint) {
	e.acked = further(e.acked, ack, e.has(hasAcked))
	e.facts |= hasAcked
	if peer.has(sentSyn) && peer.isn.LessThan(ack) {
		// It acknowledges a sequence number it could only learn from the
		// peer's SYN: a real stack, if the wire showed that SYN.
		e.confirm(gotSyn)
		// A server that answered a SYN is confirmed with its client:
		// a SYN flood's answered half is the flood's, not a
		// connection (see RULES.md, Confirmation).
		if (!peer.has(passive) || peer.has(sentSynAck)) && (peer.has(confirmed) || !e.has(passive) || e.has(synAcked)) {
			e.facts |= confirmed
		}
	}
	if peer.has(sentFin) {
		e.ackPeerFin(ack, peer)
	}
}

// ackPeerFin applies the acknowledgment number ack that e sends after its
// peer sent a FIN: whether e has the FIN, and with it the ACK it carried.
func (e *endpoint) ackPeerFin(ack Seq, peer *endpoint) {
	switch {
	case peer.finSeq.LessThan(ack):
		e.confirm(gotFin)
		e.facts &^= staleAck
		if e.has(sentFin) && !peer.has(finFirst) {
			// Every FIN of the peer's acked e's FIN: the one that
			// reached e brought that ACK with it.
			e.confirm(finAcked)
		}
	case e.acks(peer.finSeq.Add(1)):
		// An old segment, reordered: it acknowledged the FIN before.
	case e.has(staleAck):
		// Its later ACKs stay below the peer's FIN: the FIN has not
		// reached it.
		e.withdraw(gotFin)
	default:
		e.facts |= staleAck
	}
}

// receive applies seg, sent by the peer, to e as the endpoint it was sent
// to: a segment seen is taken as delivered, whole (RULES.md, Receiving).
// repeat is what the sender's repeats said of seg.
func (e *endpoint) receive(seg *Segment, repeat bool) {
	if seg.Flags&SYN != 0 {
		e.believe(gotSyn, repeat)
	}
	if seg.Flags&ACK != 0 {
		ack := Seq(seg.Ack)
		pure := seg.Flags&(SYN|FIN) == 0 && seg.PayloadLen == 0
		// In SYN_SENT only a SYN+ACK completes the handshake.
		if e.has(sentSyn) && (seg.Flags&SYN != 0 || e.has(gotSyn)) && e.isn.LessThan(ack) {
			e.believe(synAcked, repeat)
			if pure && e.has(synAcked) {
				e.facts |= pureAcked
			}
		}
		if e.has(sentFin) && e.finSeq.LessThan(ack) {
			e.believe(finAcked, repeat)
			if pure && e.has(finAcked) {
				e.facts |= pureAcked
			}
		}
	}
	if seg.Flags&FIN != 0 && e.has(gotSyn) {
		e.believe(gotFin, repeat)
	}
}

// scaleWindows fixes each side's window shift once both SYNs are seen:
// scaling is in force only when both offered it (RFC 7323 1.3).
func scaleWindows(a, b *endpoint) {
	if !a.has(wsOffered) || !b.has(wsOffered) {
		a.putWScale(0)
		b.putWScale(0)
	}
}

// further returns v if it lies beyond cur or cur is not known yet, else
// cur. Which it returns is a coin toss to a branch (see send), so it is
// written for conditional moves.
func further(cur, v Seq, known bool) Seq {
	if cur.LessThan(v) {
		cur = v
	}
	if !known {
		cur = v
	}
	return cur
}
