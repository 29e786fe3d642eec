package tracker

import (
	"cmp"
	"net/netip"
	"runtime"
	"slices"
	"time"

	"github.com/tcptrack/tcptrack/internal/mmapmem"
)

// The facts about each connection that ss -i shows (age, bytes, RTT,
// retransmissions, options) are kept only when Config.Info asks for them,
// in an array beside the flow records (info, by slot): a tracker that only
// counts states pays one branch a segment for them and no memory.

// info is what the tracker keeps about a connection beyond its states:
// 80 bytes. Times are nanoseconds since the Unix epoch, not ticks, as a
// connection may outlive the tick epoch (see tick) and a handshake RTT
// needs more than a millisecond's precision.
type info struct {
	start, last int64    // its first and last segment
	since       [2]int64 // when each endpoint entered its state
	// hs is when the handshake's last SYN, then its last SYN+ACK, was
	// seen: the start of the RTT the next answer measures.
	hs             int64
	synRTT, ackRTT uint32 // microseconds: SYN to SYN+ACK, SYN+ACK to the ACK of it
	// base is the sequence number each endpoint's byte count starts from:
	// one past its SYN, or its first sequence number seen; wraps counts
	// how often its next sequence number went round to base since.
	base    [2]Seq
	wraps   [2]uint16 // 256 TiB each way before it wraps itself
	retrans [2]uint32 // segments it resent: sequence space it had sent before
	mss     [2]uint16 // the MSS its SYN announced, 0 if none seen
	opts    [2]uint8  // what its SYN offered (optSACK...)
	flags   uint8     // infoShown...
	// When it ended (infoEnded): how (end), and the states its endpoints
	// ended in, side 0's in the low four bits, which its record reports
	// however the timers move them after.
	end       endHow
	endStates uint8
}

// endHow is how a connection ended (see Conn.End): endFin and on, with the
// side that sent the RST in bit 7 for endRST.
type endHow uint8

const (
	endNone endHow = iota
	endFin
	endRST
	endTimeout
	endEvicted
	endReused
	endForgotten
	endByOne endHow = 1 << 7 // for endRST: side 1 sent it
)

var endNames = [...]string{"", "fin", "rst", "timeout", "evicted", "reused", "forgotten"}

// The options an endpoint's SYN offered (info.opts).
const (
	optSACK     uint8 = 1 << iota // SACK permitted
	optTS                         // timestamps
	optWScale                     // window scaling
	optECN                        // ECN: a SYN with ECE and CWR, a SYN+ACK with ECE alone
	optFastOpen                   // a Fast Open cookie option, or data on the SYN
)

// The connection's own flags (info.flags).
const (
	infoShown    uint8 = 1 << iota // an endpoint has been in a counted state: it is a connection
	infoEnded                      // nothing on it is alive but TIME_WAIT (see noteState)
	infoHSSyn                      // hs holds a SYN's time
	infoHSSynAck                   // hs holds a SYN+ACK's time
	infoSynRTT                     // synRTT measured
	infoAckRTT                     // ackRTT measured
	infoBase0                      // base[0] set
	infoBase1                      // base[1] set
)

// Conn is one connection with the facts kept about it (Config.Info).
type Conn struct {
	Flow           Flow // Src is the client's
	Client, Server EndpointInfo
	Start, Last    time.Time // its first and last segment
	// SynRTT is the time from the client's SYN to the server's SYN+ACK and
	// AckRTT from that SYN+ACK to the client's ACK of it, both as the
	// capture point saw them: their sum is the handshake's round trip, and
	// each says on which side of the capture point the delay lies. From
	// the last SYN and the last SYN+ACK, so a retransmission does not
	// count its timeout; 0 when not seen.
	SynRTT, AckRTT time.Duration
	PickedUp       bool // the handshake was not seen
	// End says how the connection ended, empty while it has not: "fin"
	// (both FINs, or a FIN and a timer), "rst" (an RST; ResetByClient says
	// whose), "timeout" (a timer: a handshake never completed, a FIN never
	// acknowledged), "evicted" (the table was full), "reused" (a new SYN
	// on the 4-tuple) or "forgotten" (idle beyond every timer). It ends the
	// first time nothing on it is alive but TIME_WAIT; Client.State and
	// Server.State are then the states they ended in, and their Since
	// when they entered them.
	End           string
	ResetByClient bool
	Ended         time.Time // when it ended, with End
}

// EndpointInfo is one endpoint of a Conn.
type EndpointInfo struct {
	Addr  netip.AddrPort
	State State
	Since time.Time // when it entered State
	// Bytes is the payload it has sent, from its sequence numbers (wraps
	// included, retransmissions once): the bytes the peer is believed to
	// have been sent, as ss's bytes_sent less bytes_retrans.
	Bytes uint64
	// Retrans counts the segments it sent whose sequence space it had
	// sent before: data, SYN or FIN again (a keep-alive probe aside).
	Retrans   uint32
	Confirmed bool   // it has shown it is a real stack (see Stats.Unconfirmed)
	MSS       uint16 // announced in its SYN; 0 if none seen
	// WScale is the window shift its SYN offered, -1 if none.
	WScale                     int8
	SACK, Timestamps, ECN, TFO bool // offered in its SYN
}

// newInfo reserves the info array beside the flow records.
func (t *Tracker) newInfo() {
	t.info = mmapmem.Array[info](t.flows.mem, len(t.flows.conns))
}

// startInfo starts the facts of the connection in slot i with seg, its
// first segment, from side. A connection picked up mid-stream counts its
// bytes from there.
func (t *Tracker) startInfo(i int32, side int, seg *Segment) {
	ns := seg.UnixNano
	in := &t.info[i]
	*in = info{start: ns, last: ns, since: [2]int64{ns, ns}}
	if seg.Flags&SYN == 0 {
		in.base[side] = Seq(seg.Seq)
		in.flags |= infoBase0 << side
	}
}

// stepNoting is step for a tracker that keeps info: it notes what seg says
// of the connection around it.
func (t *Tracker) stepNoting(i int32, side int, seg *Segment, now tick) {
	c := t.flows.at(i)
	old := [2]Seq{c.ep[0].nxt, c.ep[1].nxt}
	had := [2]bool{c.ep[0].has(hasNxt), c.ep[1].has(hasNxt)}
	t.restarted = false
	// The array never moves: in stays valid across step. Before step:
	// the segment that ends the connection is its last, in the record
	// OnClose reports from within step.
	in := &t.info[i]
	in.last = seg.UnixNano
	t.step(i, side, seg, now)
	if t.restarted {
		had = [2]bool{} // a new connection: nothing before counts
	}
	snd := &c.ep[side]
	if seg.Flags&RST == 0 && had[side] && resends(seg, old[side]) {
		in.retrans[side]++
	}
	if seg.Flags&SYN != 0 && seg.Flags&RST == 0 {
		in.noteSyn(side, seg)
	} else if seg.Flags&ACK != 0 && in.flags&(infoHSSynAck|infoAckRTT) == infoHSSynAck &&
		c.ep[1-side].has(sentSynAck) && Seq(seg.Ack) == c.ep[1-side].isn.Add(1) {
		in.ackRTT = micros(seg.UnixNano - in.hs)
		in.flags |= infoAckRTT
		if t.cfg.OnHandshake != nil {
			t.cfg.OnHandshake(t.connOf(i, c))
		}
	}
	for e := range c.ep {
		ep := &c.ep[e]
		switch {
		case !ep.has(hasNxt), had[e] && ep.nxt == old[e]:
			// Nothing to count from, or nothing moved: most segments
			// move only their sender's.
		case in.flags&(infoBase0<<e) == 0:
			in.flags |= infoBase0 << e
			switch {
			// A picked-up flow's endpoints are taken as synchronized
			// (sentSyn) once proven, with no ISN seen.
			case ep.has(sentSyn) && !c.pickedUp():
				in.base[e] = ep.isn.Add(1)
			case ep == snd:
				in.base[e] = Seq(seg.Seq)
			default:
				in.base[e] = ep.nxt
			}
		case had[e] && in.base[e].Size(ep.nxt) < in.base[e].Size(old[e]):
			in.wraps[e]++ // nxt only moves forward: it went round past base
		}
	}
}

// resends reports whether seg carries sequence space its sender had sent
// before, nxt being one past the highest it had sent: a retransmission. A
// keep-alive probe (one byte, or none, below nxt) is not one.
func resends(seg *Segment, nxt Seq) bool {
	n := seg.PayloadLen
	if seg.Flags&(SYN|FIN) != 0 {
		n++
	}
	if n == 0 || !Seq(seg.Seq).LessThan(nxt) {
		return false
	}
	return !(seg.PayloadLen == 1 && seg.Flags&(SYN|FIN) == 0 && Seq(seg.Seq).Add(1) == nxt)
}

// noteSyn notes a SYN or SYN+ACK from side: its options, and the times
// the handshake RTTs run between.
func (in *info) noteSyn(side int, seg *Segment) {
	o := &seg.Options
	var f uint8
	if o.SACKPermitted {
		f |= optSACK
	}
	if o.HasTimestamps {
		f |= optTS
	}
	if o.HasWScale {
		f |= optWScale
	}
	if o.FastOpen || seg.PayloadLen > 0 {
		f |= optFastOpen
	}
	if seg.Flags&ACK == 0 {
		if seg.Flags&(ECE|CWR) == ECE|CWR {
			f |= optECN
		}
		in.hs = seg.UnixNano
		in.flags = in.flags&^infoHSSynAck | infoHSSyn
	} else {
		if seg.Flags&(ECE|CWR) == ECE {
			f |= optECN
		}
		if in.flags&(infoHSSyn|infoSynRTT) == infoHSSyn {
			in.synRTT = micros(seg.UnixNano - in.hs)
			in.flags |= infoSynRTT
		}
		in.hs = seg.UnixNano
		in.flags |= infoHSSynAck
	}
	in.opts[side] = f
	in.mss[side] = o.MSS
}

// micros returns d nanoseconds in microseconds, within uint32.
func micros(d int64) uint32 { return uint32(min(max(d/1000, 0), 1<<32-1)) }

// noteState notes that the endpoint on side of flow i, c, entered state to
// at ns, and notes the connection's end the first time nothing on it is
// alive but TIME_WAIT: how, and the states it ended in. After its end, the
// facts stand still (a timer taking TIME_WAIT to CLOSED is no news), unless
// an endpoint comes back: its FIN resent, the ACK that ended it never
// reached it. reason is setState's.
func (t *Tracker) noteState(i int32, c *conn, side int, to State, ns int64, cause *Segment, reason string) {
	in := &t.info[i]
	if in.flags&infoEnded != 0 {
		switch to {
		case Unknown, Close, TimeWait:
			return
		}
		in.flags &^= infoEnded
		in.end = endNone
	}
	in.since[side] = ns
	if to.Counted() {
		in.flags |= infoShown
	}
	if in.flags&infoShown == 0 || !c.finished() {
		return
	}
	how := endFin
	switch {
	case cause != nil && cause.Flags&RST != 0:
		how = endRST | endHow(t.flows.sender(c, cause))<<7
	case reason == "timer":
		how = endTimeout
	case reason == "reused":
		how = endReused
	}
	t.endNow(i, c, how)
}

// endNow notes that flow i, c, ended now, how, in the states its endpoints
// are in, unless it has ended already or never was a connection.
func (t *Tracker) endNow(i int32, c *conn, how endHow) {
	in := &t.info[i]
	if in.flags&(infoShown|infoEnded) != infoShown {
		return
	}
	in.flags |= infoEnded
	in.end = how
	in.endStates = uint8(c.ep[0].state()) | uint8(c.ep[1].state())<<4
}

// letGo reports flow i, c, to Config.OnClose as the tracker lets go of it
// (its flow leaves the table, or a new connection takes its 4-tuple): its
// record is final then. Call it once its endpoints are out of the counts.
func (t *Tracker) letGo(i int32, c *conn) {
	if t.cfg.OnClose != nil && t.info[i].flags&infoShown != 0 {
		t.cfg.OnClose(t.connOf(i, c))
	}
}

// connOf fills in the Tracker's reused Conn with flow i, c.
func (t *Tracker) connOf(i int32, c *conn) *Conn {
	in := &t.info[i]
	cl := c.client()
	r := &t.cr
	*r = Conn{
		Flow:     t.flows.flow(c),
		Client:   t.endpointInfo(i, c, cl),
		Server:   t.endpointInfo(i, c, 1-cl),
		Start:    time.Unix(0, in.start),
		Last:     time.Unix(0, in.last),
		PickedUp: c.pickedUp(),
	}
	if in.flags&infoEnded != 0 {
		// Ended when its last endpoint entered the state it ended in,
		// or, for an end that is the tracker's letting go, now.
		r.Ended = time.Unix(0, max(in.since[0], in.since[1]))
		if how := in.end &^ endByOne; how == endEvicted || how == endForgotten {
			r.Ended = time.Unix(0, t.now)
		}
		r.End = endNames[in.end&^endByOne]
		r.ResetByClient = in.end&^endByOne == endRST && (in.end&endByOne != 0) == (cl == 1)
		r.Client.State, r.Server.State = in.endState(cl), in.endState(1-cl)
	}
	if in.flags&infoSynRTT != 0 {
		r.SynRTT = time.Duration(in.synRTT) * time.Microsecond
	}
	if in.flags&infoAckRTT != 0 {
		r.AckRTT = time.Duration(in.ackRTT) * time.Microsecond
	}
	return r
}

// endState returns the state the endpoint on side ended in.
func (in *info) endState(side int) State { return State(in.endStates >> (4 * side) & 0xf) }

// endpointInfo returns the facts of the endpoint on side of flow i, c.
func (t *Tracker) endpointInfo(i int32, c *conn, side int) EndpointInfo {
	in := &t.info[i]
	e := &c.ep[side]
	o := in.opts[side]
	x := EndpointInfo{
		Addr:       t.flows.addr(c, side),
		State:      e.state(),
		Since:      time.Unix(0, in.since[side]),
		Retrans:    in.retrans[side],
		Confirmed:  e.has(confirmed),
		MSS:        in.mss[side],
		WScale:     -1,
		SACK:       o&optSACK != 0,
		Timestamps: o&optTS != 0,
		ECN:        o&optECN != 0,
		TFO:        o&optFastOpen != 0,
	}
	if o&optWScale != 0 {
		x.WScale = int8(e.wscale())
	}
	if in.flags&(infoBase0<<side) != 0 {
		n := uint64(in.wraps[side])<<32 | uint64(in.base[side].Size(e.nxt))
		if e.has(sentFin) && e.finSeq.LessThan(e.nxt) && n > 0 {
			n-- // the FIN's sequence number is no byte
		}
		x.Bytes = n
	}
	return x
}

// Conns calls fn for every connection in the table, ended (Conn.End set)
// or not, Local filter aside, oldest first (by its first segment); only
// with Config.Info. The Conn is valid only during the call: a caller
// streams them rather than keeping a million copies.
func (t *Tracker) Conns(fn func(*Conn)) {
	if t.info == nil {
		return
	}
	var slots []int32
	for i := range t.flows.used {
		if t.flows.at(i).class() != classFree && t.info[i].flags&infoShown != 0 {
			slots = append(slots, i)
		}
	}
	slices.SortStableFunc(slots, func(a, b int32) int { return cmp.Compare(t.info[a].start, t.info[b].start) })
	for _, i := range slots {
		fn(t.connOf(i, t.flows.at(i)))
	}
	runtime.KeepAlive(t) // see New
}

// infoCopy returns a copy of flow i's facts for a Socket, nil without
// Config.Info, taken from *slab, which it refills 256 at a time: a listing
// of many connections makes a few hundred allocations, not one each.
func (t *Tracker) infoCopy(i int32, c *conn, slab *[]Conn) *Conn {
	if t.info == nil {
		return nil
	}
	if len(*slab) == cap(*slab) {
		*slab = make([]Conn, 0, 256)
	}
	*slab = append(*slab, *t.connOf(i, c))
	return &(*slab)[len(*slab)-1]
}
