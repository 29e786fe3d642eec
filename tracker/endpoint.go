package tracker

// facts is what an endpoint has been seen to send and what it is believed
// to have received. Its state is derived from them (see derive), so a
// receipt that later evidence withdraws takes the state back with it.
type facts uint32

const (
	sentSyn    facts = 1 << iota // it sent a SYN (isn valid)
	sentFin                      // it sent a FIN (finSeq valid)
	passive                      // its SYN carried an ACK: it answered, so a listener existed
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
	// A doubt bit means a retransmission proved the matching receipt never
	// arrived. While it is set, seeing the segment again is not believed;
	// only the receiver's own behaviour confirms it (see confirm).
	doubtGotSyn
	doubtGotFin
	doubtSynAcked
	doubtFinAcked
	// Not evidence, but kept with it:
	local     // its address passes Config.Local
	synWindow // its last window came in a SYN, so it is not scaled
)

// The high bits of facts hold the endpoint's state and window shift, so
// that an endpoint takes 28 bytes and a flow 80 (see conn).
const (
	wscaleShift = 20 // bits 20-23: shift applied to its advertised windows
	stateShift  = 24 // bits 24-27: its state, as derive last found it
	fieldMask   = 0xf
)

// A State must fit in its four bits of facts.
const _ = uint(fieldMask - (NumStates - 1))

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
// retried, and a flow that never showed itself or is over lingers a while
// after its last stray segment.
func (e *endpoint) lastCounts() bool { return lastCountsIn>>e.state()&1 != 0 }

// lastCountsIn is the set of states for lastCounts, a bit per state: a
// switch on the state took a mispredicted branch on every few segments.
const lastCountsIn = 1<<Unknown | 1<<SynSent | 1<<SynRecv | 1<<Close

// acks reports whether e has been seen acknowledging s, that is, receiving
// everything before s.
func (e *endpoint) acks(s Seq) bool { return e.has(hasAcked) && s.LessThanEq(e.acked) }

// withdraw drops a receipt that a retransmission proved lost, and marks it
// doubtful so that a repeat of the same segment is not believed.
func (e *endpoint) withdraw(f, doubt facts) {
	if e.has(f) {
		e.facts &^= f
		e.facts |= doubt
	}
}

// confirm records a receipt shown by the receiver's own behaviour.
func (e *endpoint) confirm(f, doubt facts) {
	e.facts = e.facts&^doubt | f
}

// believe records a receipt on the strength of the segment having been
// seen on the wire, unless it was proven lost before.
func (e *endpoint) believe(f, doubt facts) {
	if !e.has(doubt) {
		e.facts |= f
	}
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

// synchronized reports whether e has completed or passed the handshake.
func (e *endpoint) synchronized() bool {
	return e.has(synAcked) || e.has(sentFin)
}

// window returns e's last advertised receive window, scaled.
func (e *endpoint) window() uint32 {
	if e.has(synWindow) {
		return uint32(e.win) // never scaled (RFC 7323 2.2)
	}
	return uint32(e.win) << e.wscale()
}

// send applies seg to e, the endpoint that sent it.
func (e *endpoint) send(seg *Segment, peer *endpoint) {
	seq := Seq(seg.Seq)
	end := seq.Add(seg.PayloadLen)
	if seg.Flags&SYN != 0 {
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
		case seq == e.isn:
			// A retransmitted SYN: the answer to the first one never
			// reached e, or e's own SYN never reached the peer. A bare SYN
			// again means e has had no SYN from the peer either.
			if e.has(synSure) {
				break // it showed itself synchronized: a stray duplicate proves nothing
			}
			e.withdraw(synAcked, doubtSynAcked)
			if !synAck {
				e.withdraw(gotSyn, doubtGotSyn)
			}
			if !peer.acks(e.isn.Add(1)) {
				peer.withdraw(gotSyn, doubtGotSyn)
				if seg.Flags&ACK != 0 {
					// That SYN+ACK also carried the ack of the peer's SYN.
					peer.withdraw(synAcked, doubtSynAcked)
				}
			}
		}
		if synAck {
			// A SYN+ACK proves e received a SYN, and proves the peer sent
			// one even where the capture missed it.
			e.confirm(gotSyn, doubtGotSyn)
			if !peer.has(sentSyn) {
				peer.facts |= sentSyn | hasNxt
				peer.isn = Seq(seg.Ack) - 1
				peer.nxt = Seq(seg.Ack)
			}
		}
		end = end.Add(1)
	} else if e.has(sentSyn) && seg.Flags&RST == 0 {
		// Only a synchronized endpoint sends a segment without SYN.
		e.confirm(synAcked|synSure, doubtSynAcked)
	}
	if seg.Flags&FIN != 0 {
		switch {
		case !e.has(sentFin):
			e.facts |= sentFin
			e.finSeq = end
			if !(seg.Flags&ACK != 0 && peer.has(sentFin) && peer.finSeq.LessThan(Seq(seg.Ack))) {
				e.facts |= finFirst
			}
		case end == e.finSeq:
			// A retransmitted FIN: e never had its ACK, or the peer
			// never had the FIN.
			e.withdraw(finAcked, doubtFinAcked)
			if !peer.acks(e.finSeq.Add(1)) {
				peer.withdraw(gotFin, doubtGotFin)
			}
		}
		end = end.Add(1)
	}
	if seg.Flags&ACK != 0 {
		ack := Seq(seg.Ack)
		// acked moves to ack if that is further: a data sender's ACKs
		// repeat, its peer's move.
		e.acked = further(e.acked, ack, e.has(hasAcked))
		e.facts |= hasAcked
		// e's acknowledgment number is the best evidence of what it received.
		if peer.has(sentSyn) && peer.isn.LessThan(ack) {
			e.confirm(gotSyn, doubtGotSyn)
		}
		if peer.has(sentFin) && peer.finSeq.LessThan(ack) {
			e.confirm(gotFin, doubtGotFin)
		}
	}
	// Likewise nxt: a data sender's moves, its peer's stays.
	e.nxt = further(e.nxt, end, e.has(hasNxt))
	e.facts |= hasNxt
	e.win = seg.Window
	if seg.Flags&SYN != 0 {
		e.facts |= synWindow
	} else {
		e.facts &^= synWindow
	}
}

// receive applies seg, sent by peer, to e as the endpoint it was sent to.
func (e *endpoint) receive(seg *Segment) {
	if seg.Flags&SYN != 0 {
		e.believe(gotSyn, doubtGotSyn)
	}
	if seg.Flags&ACK != 0 {
		ack := Seq(seg.Ack)
		// In SYN_SENT only a SYN+ACK completes the handshake.
		if e.has(sentSyn) && (seg.Flags&SYN != 0 || e.has(gotSyn)) && e.isn.LessThan(ack) {
			e.believe(synAcked, doubtSynAcked)
		}
		if e.has(sentFin) && e.finSeq.LessThan(ack) {
			e.believe(finAcked, doubtFinAcked)
		}
	}
	if seg.Flags&FIN != 0 && e.has(gotSyn) {
		e.believe(gotFin, doubtGotFin)
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
