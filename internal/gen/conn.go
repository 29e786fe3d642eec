package gen

import "github.com/tcptrack/tcptrack/tracker"

// Sides of a connection, used as indexes.
const (
	client = 0
	server = 1
)

type kind uint8

const (
	kindMix   kind = iota // scripted in full when it starts
	kindFlood             // one spoofed SYN, perhaps answered
	kindReal              // an established connection that talks until the end
	kindLong              // a bulk transfer, scripted a chunk at a time
)

// Microseconds, the unit of every time in the generator.
const (
	ms  = 1000
	sec = 1000 * ms
)

// step is one scripted segment. st holds the state of each endpoint that an
// observer following tracker/RULES.md must conclude once it has seen this
// segment; hold marks a step after which that conclusion is wrong until a
// later step of the same connection gives the evidence (a segment lost
// between the capture point and the receiver).
type step struct {
	at       int64 // µs since the Unix epoch
	seq, ack uint32
	plen     uint16
	win      uint16
	dir      uint8 // the sending side
	flags    tracker.Flags
	hold     bool
	st       [2]tracker.State
}

// conn is one connection: its identity, its script, and the sequence state
// the script is built from.
type conn struct {
	id   uint64
	kind kind
	r    rng
	hidx int   // index in the generator's heap
	next int64 // time of steps[pos]

	steps []step
	pos   int

	v6    bool
	vlan  uint16
	addr  [2][16]byte // IPv4 in the first 4 bytes
	port  [2]uint16
	ttl   [2]uint8
	ipid  [2]uint16
	style [2]synStyle
	ts    bool // both sides send timestamps
	tsOff [2]uint32
	// lastTS is the newest TSval each side has sent, for the peer's TSecr.
	lastTS  [2]uint32
	mss     [2]uint16
	wscale  [2]uint8
	synWin  [2]uint16
	win     [2]uint16 // scaled window field after the handshake
	nsPerB  int64     // serialization time per byte, ns: the path's speed
	lat     [2]int64  // from a segment seen to the addressee's reaction seen
	isn     [2]uint32
	snd     [2]uint32 // next sequence number each side sends
	rcv     [2]uint32 // next sequence number each side expects: what it ACKs
	st      [2]tracker.State
	t       int64 // time of the last scripted step
	cwnd    int   // segments in the next flight of a bulk transfer
	left    int   // bytes (kindLong) still to send
	phase   uint8 // kindLong: 0 data, 1 closing, 2 done
	src     int   // kindFlood: the source index
	answer  bool  // kindFlood: the server answers with SYN+ACK
	upload  bool  // kindLong: the client sends the bulk data
	thinkUS float64

	// What the observer has concluded so far, from the steps written.
	cur       [2]tracker.State
	entered   [2]int64
	last      [2]int64 // µs of each side's last segment
	synSent   [2]bool  // a SYN (or SYN+ACK) from the side has been written
	confirmed [2]bool  // the side has shown it is a real stack
	hold      bool
}

// push appends a segment sent by side. seq is usually c.snd[side]; a
// retransmission passes the old value. A segment that is not delivered
// leaves the receiver's rcv unchanged, so its later ACKs do not cover it.
func (c *conn) push(at int64, side int, flags tracker.Flags, seq uint32, plen int, delivered bool) {
	var ack uint32
	if flags&tracker.ACK != 0 {
		ack = c.rcv[side]
	}
	end := seq + uint32(plen)
	if flags&tracker.SYN != 0 {
		end++
	}
	if flags&tracker.FIN != 0 {
		end++
	}
	if tracker.Seq(c.snd[side]).LessThan(tracker.Seq(end)) {
		c.snd[side] = end
	}
	if delivered && flags&tracker.RST == 0 {
		peer := 1 - side
		in := flags&tracker.SYN != 0 ||
			(tracker.Seq(seq).LessThanEq(tracker.Seq(c.rcv[peer])) && tracker.Seq(c.rcv[peer]).LessThan(tracker.Seq(end)))
		if in {
			c.rcv[peer] = end
		}
	}
	win := c.win[side]
	switch {
	case flags&tracker.SYN != 0:
		win = c.synWin[side]
	case flags&tracker.RST != 0:
		win = 0
	}
	if at > c.t {
		c.t = at
	}
	c.steps = append(c.steps, step{at: at, seq: seq, ack: ack, plen: uint16(plen), win: win,
		dir: uint8(side), flags: flags, st: c.st})
}

// send appends a new segment from side: the common case of push.
func (c *conn) send(at int64, side int, flags tracker.Flags, plen int) {
	c.push(at, side, flags, c.snd[side], plen, true)
}

func (c *conn) setHold() { c.steps[len(c.steps)-1].hold = true }

// segSize is the payload of a full segment from side.
func (c *conn) segSize(side int) int {
	n := int(min(c.mss[side], c.mss[1-side]))
	if c.ts {
		n -= 12
	}
	return n
}

func (c *conn) serial(n int) int64 { return 1 + int64(n)*c.nsPerB/1000 }

func (c *conn) think() int64 { return 1 + c.r.exp(c.thinkUS) }

func states(cl, sv tracker.State) [2]tracker.State { return [2]tracker.State{cl, sv} }

// handshake scripts SYN, SYN+ACK, ACK from t, sometimes with the client's
// first SYN lost past the capture point (a retransmission after the initial
// RTO of 1 s) or with the handshake's ACK lost (the server retransmits its
// SYN+ACK, which is the evidence that the ACK never arrived).
func (c *conn) handshake(t int64, lossy bool) int64 {
	r := &c.r
	c.st = states(tracker.SynSent, tracker.Unknown)
	lostSYN := lossy && r.pct(3)
	c.push(t, client, tracker.SYN, c.isn[client], 0, !lostSYN)
	if lostSYN {
		t += sec
		c.push(t, client, tracker.SYN, c.isn[client], 0, true)
	}
	t += c.lat[server]
	synack := t
	c.st = states(tracker.Established, tracker.SynRecv)
	c.push(t, server, tracker.SYN|tracker.ACK, c.isn[server], 0, true)
	t += c.lat[client]
	c.st = states(tracker.Established, tracker.Established)
	lostACK := lossy && r.pct(2)
	c.push(t, client, tracker.ACK, c.snd[client], 0, !lostACK)
	if lostACK {
		c.setHold()
		t = max(t, synack+sec) + 1
		c.st = states(tracker.Established, tracker.SynRecv)
		c.push(t, server, tracker.SYN|tracker.ACK, c.isn[server], 0, true)
		t += c.lat[client]
		// The client's second ACK is the same bare ACK as the one its
		// server showed lost: an observer cannot tell that this one
		// arrived until the client's next segment (tracker/RULES.md).
		c.send(t, client, tracker.ACK, 0)
		c.setHold()
		c.st = states(tracker.Established, tracker.Established)
	}
	return t
}

// burst scripts side sending n bytes in full segments, in flights that grow
// from c.cwnd (slow start, capped at 64 segments), the peer ACKing every
// second segment and the last. With tailLoss the last segment is lost past
// the capture point and retransmitted after an RTO. It returns the time of
// the last step.
func (c *conn) burst(t int64, side, n int, tailLoss bool) int64 {
	peer := 1 - side
	mss := c.segSize(side)
	first := len(c.steps)
	end := t
	inFlight := 0
	for n > 0 {
		firstAck := int64(-1)
		tt := t
		for i := 0; i < c.cwnd && n > 0; i++ {
			sz := min(mss, n)
			n -= sz
			flags := tracker.ACK
			last := n == 0
			if last {
				flags |= tracker.PSH
			}
			lost := last && tailLoss
			seq := c.snd[side]
			c.push(tt, side, flags, seq, sz, !lost)
			end = max(end, tt)
			inFlight++
			if (inFlight%2 == 0 || last) && !lost {
				at := tt + c.lat[peer]
				c.send(at, peer, tracker.ACK, 0)
				end = max(end, at)
				if firstAck < 0 {
					firstAck = at
				}
			}
			if lost {
				// Linux's minimum RTO is 200 ms on top of the RTT.
				rt := tt + 200*ms + c.lat[client]
				c.push(rt, side, flags, seq, sz, true)
				c.send(rt+c.lat[peer], peer, tracker.ACK, 0)
				end = rt + c.lat[peer]
			}
			tt += c.serial(sz)
		}
		if firstAck < 0 {
			firstAck = tt + c.lat[peer]
		}
		t = max(firstAck+c.lat[side], tt)
		c.cwnd = min(2*c.cwnd, 64)
	}
	sortSteps(c.steps[first:])
	return end
}

// sortSteps orders a burst's steps by time; insertion sort, as a burst is
// nearly ordered already. Stable, so that a segment stays before the ACK
// stamped in the same microsecond.
func sortSteps(s []step) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].at < s[j-1].at; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// scriptMix writes the whole life of one connection of the mix.
func (c *conn) scriptMix(t int64) {
	r := &c.r
	roll := r.intn(100)
	switch {
	case roll < 5:
		c.refused(t)
		return
	case roll < 8:
		c.halfOpen(t)
		return
	}
	t = c.handshake(t, true)
	rounds := 1
	for rounds < 8 && r.pct(50) {
		rounds++
	}
	if r.pct(10) { // a long-lived, mostly idle session
		c.thinkUS = 2 * sec
		rounds += r.intn(20)
	}
	abort := r.pct(5)
	if abort {
		rounds = 1 + r.intn(rounds)
	}
	for i := range rounds {
		if i > 0 {
			t += c.think()
		} else {
			t += 1 + r.exp(100)
		}
		c.send(t, client, tracker.PSH|tracker.ACK, int(r.between(40, 1400)))
		t = c.respond(t)
	}
	if abort {
		t += c.think()
		side := r.intn(2)
		c.st = states(tracker.Close, tracker.Close)
		c.send(t, side, tracker.RST|tracker.ACK, 0)
		return
	}
	roll = r.intn(100)
	switch {
	case roll < 40:
		c.closeFrom(t+c.think(), client, false)
	case roll < 60:
		c.closeFrom(t+c.think(), client, true)
	case roll < 75:
		c.closeFrom(t+1+r.exp(200), server, false)
	case roll < 95:
		c.closeFrom(t+1+r.exp(200), server, true)
	default:
		c.halfClose(t + c.think())
	}
}

// respond scripts the server's answer to a request seen at t.
func (c *conn) respond(t int64) int64 {
	r := &c.r
	proc := c.lat[server] + r.exp(300)
	if r.pct(5) { // a slow answer: the delayed ACK fires first
		c.send(t+40*ms, server, tracker.ACK, 0)
		proc = 40*ms + 1 + r.exp(100*ms)
	}
	n := int(r.between(100, 1500))
	if r.pct(40) {
		n = int(r.between(1500, 30*int64(c.segSize(server))))
	}
	c.cwnd = 10
	return c.burst(t+proc, server, n, r.pct(3))
}

// closeFrom: closer closes first; its peer ACKs the FIN and closes too,
// either a moment later (four segments) or at once with its FIN carrying
// the ACK (three). A client closes first as a browser does, a server as
// HTTP/1.0 does after an answer.
func (c *conn) closeFrom(t int64, closer int, threeWay bool) {
	peer := 1 - closer
	c.st[closer], c.st[peer] = tracker.FinWait1, tracker.CloseWait
	c.send(t, closer, tracker.FIN|tracker.ACK, 0)
	t += c.lat[peer]
	if !threeWay {
		c.st[closer], c.st[peer] = tracker.FinWait2, tracker.CloseWait
		c.send(t, peer, tracker.ACK, 0)
		t += 1 + c.r.exp(1*ms)
	}
	c.st[closer], c.st[peer] = tracker.TimeWait, tracker.LastAck
	c.send(t, peer, tracker.FIN|tracker.ACK, 0)
	t += c.lat[closer]
	c.st[closer], c.st[peer] = tracker.TimeWait, tracker.Close
	c.send(t, closer, tracker.ACK, 0)
}

// halfClose: the client shuts down its sending side; the server ACKs the FIN,
// keeps sending, and never closes within the file.
func (c *conn) halfClose(t int64) {
	c.st = states(tracker.FinWait1, tracker.CloseWait)
	c.send(t, client, tracker.FIN|tracker.ACK, 0)
	t += c.lat[server]
	c.st = states(tracker.FinWait2, tracker.CloseWait)
	c.send(t, server, tracker.ACK, 0)
	c.cwnd = 10
	c.burst(t+1+c.r.exp(1*ms), server, int(c.r.between(100, 20000)), false)
}

// refused: nothing listens; the server's host answers the SYN with RST+ACK
// (RFC 9293 3.10.7.1: seq 0, ACK of the SYN).
func (c *conn) refused(t int64) {
	c.st = states(tracker.SynSent, tracker.Unknown)
	c.send(t, client, tracker.SYN, 0)
	c.st = states(tracker.Close, tracker.Unknown)
	c.push(t+c.lat[server], server, tracker.RST|tracker.ACK, 0, 0, true)
}

// halfOpen: a SYN nobody answers, retransmitted after 1, 2 and 4 s as Linux
// does, perhaps fewer times before the file ends.
func (c *conn) halfOpen(t int64) {
	c.st = states(tracker.SynSent, tracker.Unknown)
	c.push(t, client, tracker.SYN, c.isn[client], 0, false)
	rto := int64(sec)
	for range c.r.intn(4) {
		t += rto
		rto *= 2
		c.push(t, client, tracker.SYN, c.isn[client], 0, false)
	}
}

// scriptFlood: one spoofed SYN, answered by a SYN+ACK that nobody ACKs when
// the server answers floods (as with SYN cookies). The observer believes the
// SYN+ACK delivered and the spoofed source ESTABLISHED: nothing it sees says
// otherwise.
func (c *conn) scriptFlood(t int64) {
	c.st = states(tracker.SynSent, tracker.Unknown)
	c.send(t, client, tracker.SYN, 0)
	if c.answer {
		c.st = states(tracker.Established, tracker.SynRecv)
		c.send(t+c.lat[server], server, tracker.SYN|tracker.ACK, 0)
	}
}

// exchange scripts one request and answer of a connection that stays up.
func (c *conn) exchange() {
	t := c.t + c.think()
	c.send(t, client, tracker.PSH|tracker.ACK, int(c.r.between(40, 600)))
	c.cwnd = 10
	c.burst(t+c.lat[server]+c.r.exp(200), server, int(c.r.between(40, 3000)), false)
}

// chunk scripts the next part of a bulk transfer, or its close.
func (c *conn) chunk() bool {
	switch c.phase {
	case 0:
		side := server
		if c.upload {
			side = client
		}
		n := min(c.left, 64*c.segSize(side))
		c.left -= n
		c.burst(c.t+c.lat[side], side, n, c.r.pct(1))
		if c.left == 0 {
			c.phase = 1
		}
		return true
	case 1:
		c.phase = 2
		if c.r.pct(50) {
			c.closeFrom(c.t+c.think(), client, c.r.pct(30))
		} else {
			c.closeFrom(c.t+1+c.r.exp(200), server, c.r.pct(30))
		}
		return true
	}
	return false
}
