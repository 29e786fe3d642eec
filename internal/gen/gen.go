package gen

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/tcptrack/tcptrack/tracker"
)

// Mode selects the kind of traffic.
type Mode uint8

// Modes. The zero value is invalid, so that a forgotten Mode is an error.
const (
	Mix       Mode = iota + 1 // short connections of every kind, interleaved
	SYNFlood                  // spoofed SYNs from distinct sources against one server
	LongFlows                 // a few thousand long bulk transfers
)

var modeNames = map[Mode]string{Mix: "mix", SYNFlood: "synflood", LongFlows: "longflows"}

func (m Mode) String() string {
	if s, ok := modeNames[m]; ok {
		return s
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// ErrConfig is returned for a Config that cannot be generated.
var ErrConfig = errors.New("gen: bad config")

// ParseMode accepts the names Mode.String returns.
func ParseMode(s string) (Mode, error) {
	for m, name := range modeNames {
		if name == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown mode %q (want mix, synflood or longflows)", ErrConfig, s)
}

// Config describes a file. Zero fields take the documented defaults.
type Config struct {
	Mode Mode
	Seed uint64
	// Packets is the number of packets to write, default 1,000,000. Mix
	// and LongFlows stop at it (a few more may follow, see Result.Packets);
	// LongFlows stops earlier if every transfer has ended, which happens
	// about half the time as their sizes are drawn around an even share.
	// SYNFlood with Packets 0 sends one SYN per source and stops 100 ms
	// later; with Packets set, sources repeat (each time a new ISN) until
	// the count is reached.
	Packets int
	// Snaplen is the capture length per frame, default 128. The longest
	// headers this generator writes are 98 bytes (VLAN, IPv6, a SYN's 20
	// bytes of options); a smaller snaplen cuts them, as it would on a
	// real capture.
	Snaplen int
	// Start is the timestamp of the first packet, default
	// 2026-01-01T00:00:00Z.
	Start time.Time

	// ConnRate is the Mix's new connections per second of capture time,
	// default 10,000 (about 150,000 packets per second).
	ConnRate float64

	// Sources is SYNFlood's number of distinct spoofed sources (address
	// and port), default 1,000,000; they come from 198.18.0.0/15.
	Sources int
	// FloodRate is SYNFlood's SYNs per second, default 1,000,000.
	FloodRate float64
	// AnswerPct is the percentage of flood SYNs the server answers with a
	// SYN+ACK (a server with SYN cookies answers all), default 0. The
	// spoofed source never ACKs, but an observer takes a SYN+ACK it has
	// seen as delivered (tracker/RULES.md): the source is ESTABLISHED and
	// the server SYN_RECV, both unconfirmed. Not allowed with Packets above
	// Sources.
	AnswerPct int
	// RealConns is SYNFlood's number of real connections: established
	// before the flood starts, 200 ms after Start, and exchanging data
	// every 20 ms or so until the end.
	RealConns int

	// Flows is LongFlows' number of transfers, default 2,000; they all
	// start within the first second.
	Flows int
}

func (c Config) withDefaults() (Config, error) {
	if c.Mode < Mix || c.Mode > LongFlows {
		return c, fmt.Errorf("%w: mode %v", ErrConfig, c.Mode)
	}
	if c.Packets == 0 && c.Mode != SYNFlood {
		c.Packets = 1_000_000
	}
	if c.Snaplen == 0 {
		c.Snaplen = 128
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if c.ConnRate == 0 {
		c.ConnRate = 10_000
	}
	if c.Sources == 0 {
		c.Sources = 1_000_000
	}
	if c.FloodRate == 0 {
		c.FloodRate = 1_000_000
	}
	if c.Flows == 0 {
		c.Flows = 2000
	}
	switch {
	case c.Packets < 0, c.Snaplen < 64 || c.Snaplen > 262144, c.ConnRate < 0, c.FloodRate < 0,
		c.Sources < 0 || c.Sources > 1<<30, c.AnswerPct < 0 || c.AnswerPct > 100, c.RealConns < 0,
		c.RealConns > 1<<20, c.Flows < 0 || c.Flows > 1<<20:
		return c, fmt.Errorf("%w: %+v", ErrConfig, c)
	}
	if c.Mode == SYNFlood && c.AnswerPct > 0 && c.Packets > c.Sources {
		return c, fmt.Errorf("%w: answered SYNs from repeating sources have no single RFC outcome", ErrConfig)
	}
	return c, nil
}

// Result describes what was written.
type Result struct {
	Packets   int   // frames written
	WireBytes int64 // their length on the wire
	Conns     int   // connections begun (each flood SYN counts as one)
	Start     time.Time
	// End is the timestamp of the last frame. When the packet count is
	// reached, connections whose last written segment was lost past the
	// capture point go on alone until the retransmission that shows the
	// loss (at most about a second), so that Expected never depends on
	// what an observer could not see.
	End time.Time
	// Listeners is the number of distinct server sockets (address, port,
	// VLAN) that answered a SYN with SYN+ACK: the inferred listeners of
	// tracker/RULES.md.
	Listeners int
	// Real lists SYNFlood's real connections, Src the client. All of them
	// are ESTABLISHED on both sides at the end.
	Real []tracker.Flow

	final [tracker.NumStates]int
	timed []timedEndpoint
}

// timedEndpoint is an endpoint whose final state has a timer, started at µs
// at: TIME_WAIT from its entry, every other timed state from the later of
// its entry and its last segment (tracker/RULES.md, Timers). An unconfirmed
// endpoint is timed as a handshake whatever its state.
type timedEndpoint struct {
	at          int64
	state       tracker.State
	unconfirmed bool
}

// timers returns the tracker's timer for each state, the defaults where cfg
// leaves them zero, and the timer of unconfirmed endpoints.
func timers(cfg tracker.Config) (byState [tracker.NumStates]time.Duration, unconfirmed time.Duration) {
	def := func(d, v time.Duration) time.Duration {
		if d <= 0 {
			return v
		}
		return d
	}
	hs := def(cfg.HandshakeTimeout, tracker.DefaultHandshakeTimeout)
	rt := def(cfg.RetryTimeout, tracker.DefaultRetryTimeout)
	byState[tracker.TimeWait] = def(cfg.TimeWait, tracker.DefaultTimeWait)
	byState[tracker.SynSent], byState[tracker.SynRecv] = hs, hs
	byState[tracker.FinWait2] = def(cfg.FinTimeout, tracker.DefaultFinTimeout)
	byState[tracker.FinWait1], byState[tracker.Closing], byState[tracker.LastAck] = rt, rt, rt
	return byState, hs
}

// limit returns how long e lasts under the timers.
func (e timedEndpoint) limit(byState [tracker.NumStates]time.Duration, unconfirmed time.Duration) time.Duration {
	if e.unconfirmed {
		return unconfirmed
	}
	return byState[e.state]
}

// Expected returns, per state, the number of confirmed endpoints an
// observer following the tracker's rulebook reports at the end of the file,
// given the tracker's timers (zero fields of cfg mean the defaults). An
// endpoint whose timer ran out exactly at the last frame is gone. Flows
// that never showed an endpoint, and endpoints in CLOSE, are not counted;
// nor are listeners. The counts assume a flow table large enough never to
// evict.
func (r *Result) Expected(cfg tracker.Config) [tracker.NumStates]int {
	return r.expected(cfg, false)
}

// Unconfirmed returns, per state, the endpoints Expected leaves out because
// they never showed they are a real stack: the tracker's Stats.Unconfirmed.
func (r *Result) Unconfirmed(cfg tracker.Config) [tracker.NumStates]int {
	return r.expected(cfg, true)
}

func (r *Result) expected(cfg tracker.Config, unconfirmed bool) [tracker.NumStates]int {
	var out [tracker.NumStates]int
	if !unconfirmed {
		out = r.final
	}
	byState, hs := timers(cfg)
	end := r.End.UnixMicro()
	for _, e := range r.timed {
		if e.unconfirmed == unconfirmed && time.Duration(end-e.at)*time.Microsecond < e.limit(byState, hs) {
			out[e.state]++
		}
	}
	for s := range out {
		if !tracker.State(s).Counted() {
			out[s] = 0
		}
	}
	return out
}

// Margin returns, per state, how many of the endpoints counted by Expected
// or Unconfirmed (or left out by them) have a timer that runs out within res
// of the last frame. A tracker that keeps time at resolution res may count
// those either way, so its counts are right when they lie within Expected ±
// Margin.
func (r *Result) Margin(cfg tracker.Config, res time.Duration) [tracker.NumStates]int {
	var out [tracker.NumStates]int
	byState, hs := timers(cfg)
	end := r.End.UnixMicro()
	for _, e := range r.timed {
		if d := time.Duration(end-e.at)*time.Microsecond - e.limit(byState, hs); -res <= d && d <= res {
			out[e.state]++
		}
	}
	return out
}

// Generate writes a pcap file described by cfg to w.
func Generate(w io.Writer, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	pw, err := newPcapWriter(w, cfg.Snaplen)
	if err != nil {
		return nil, fmt.Errorf("gen: writing the file header: %w", err)
	}
	g := &generator{cfg: cfg, pw: pw, rng: newRNG(cfg.Seed, 0), listeners: map[listener]struct{}{},
		stopAt: never}
	g.res.Start = cfg.Start
	if err := g.run(); err != nil {
		return nil, fmt.Errorf("gen: writing packet %d: %w", pw.packets+1, err)
	}
	if err := pw.flush(); err != nil {
		return nil, fmt.Errorf("gen: flushing: %w", err)
	}
	g.res.Packets = pw.packets
	g.res.WireBytes = pw.bytes
	g.res.Listeners = len(g.listeners)
	g.res.End = time.UnixMicro(g.last).UTC()
	g.floodExpectations()
	return &g.res, nil
}

type listener struct {
	addr [16]byte
	port uint16
	vlan uint16
}

type floodRec struct {
	at     int64 // the source's last SYN
	answer int64 // its SYN+ACK, or 0
}

// never is a time that does not come.
const never = 1<<63 - 1

type generator struct {
	cfg       Config
	pw        *pcapWriter
	rng       rng
	heap      []*conn
	free      []*conn
	nextID    uint64
	arriveNS  int64 // next arrival, ns; the generator's own clock is µs
	arrivals  int   // flood SYNs begun
	last      int64 // µs of the last frame written
	stopAt    int64 // no frame after this time
	listeners map[listener]struct{}
	flood     []floodRec
	res       Result
}

func (g *generator) start() int64 { return g.cfg.Start.UnixMicro() }

func (g *generator) run() error {
	t0 := g.start()
	g.arriveNS = t0 * 1000
	switch g.cfg.Mode {
	case SYNFlood:
		g.flood = make([]floodRec, g.cfg.Sources)
		for i := range g.cfg.RealConns {
			c := g.newConn(kindReal)
			g.real(c, i)
			c.thinkUS = 20 * ms
			c.handshake(t0+int64(i)*50*ms/int64(g.cfg.RealConns), false)
			g.schedule(c)
		}
		g.arriveNS = (t0 + 200*ms) * 1000
	case LongFlows:
		for range g.cfg.Flows {
			c := g.newConn(kindLong)
			g.mixAddrs(c)
			c.upload = c.r.pct(25)
			side := server
			if c.upload {
				side = client
			}
			share := g.cfg.Packets / max(g.cfg.Flows, 1) * 2 / 3
			// At least one segment: with fewer packets than flows
			// the draw can be zero, and a transfer of nothing would
			// script no step for chunk to emit.
			c.left = max(1, int(c.r.between(int64(share)*6/10, int64(share)*14/10+1))) * c.segSize(side)
			c.thinkUS = 10 * ms
			c.handshake(t0+c.r.between(0, sec), true)
			g.schedule(c)
		}
		g.arriveNS = never
	}

	for {
		if g.cfg.Packets > 0 && g.pw.packets >= g.cfg.Packets {
			break
		}
		var top *conn
		if len(g.heap) > 0 {
			top = g.heap[0]
		}
		if arr := g.arriveNS / 1000; g.arriveNS != never && arr < g.stopAt && (top == nil || arr <= top.next) {
			g.arrive(arr)
			continue
		}
		if top == nil || top.next > g.stopAt {
			break
		}
		if err := g.emit(top); err != nil {
			return err
		}
	}
	// A connection whose last written segment was lost past the capture
	// point runs on until the evidence is in the file, so that the
	// expected states never depend on what the observer could not see.
	for len(g.heap) > 0 {
		c := g.heap[0]
		if !c.hold {
			g.pop()
			g.finish(c)
			continue
		}
		if err := g.emit(c); err != nil {
			return err
		}
	}
	return nil
}

// arrive begins a connection at µs t and schedules the next arrival.
func (g *generator) arrive(t int64) {
	switch g.cfg.Mode {
	case Mix:
		c := g.newConn(kindMix)
		g.mixAddrs(c)
		c.scriptMix(t)
		g.schedule(c)
		g.arriveNS += 1 + g.rng.exp(1e9/g.cfg.ConnRate)
	case SYNFlood:
		c := g.newConn(kindFlood)
		c.src = g.arrivals % g.cfg.Sources
		g.floodAddrs(c)
		c.answer = c.r.pct(g.cfg.AnswerPct)
		c.scriptFlood(t)
		g.schedule(c)
		g.arrivals++
		g.arriveNS += 1 + g.rng.exp(1e9/g.cfg.FloodRate)
		if g.cfg.Packets == 0 && g.arrivals == g.cfg.Sources {
			g.arriveNS = never
			g.stopAt = t + 100*ms
		}
	}
}

// emit writes c's next step, then reschedules or finishes c.
func (g *generator) emit(c *conn) error {
	s := &c.steps[c.pos]
	if err := g.pw.write(c, s); err != nil {
		return err
	}
	g.last = s.at
	for side := range 2 {
		if s.st[side] != c.cur[side] {
			c.cur[side] = s.st[side]
			c.entered[side] = s.at
		}
	}
	c.last[s.dir] = s.at
	// Confirmation (tracker/RULES.md): an endpoint that acknowledges its
	// peer's ISN, or retransmits its SYN, is a real stack; a server's
	// first SYN+ACK confirms it only with its client, and its client's
	// confirmation confirms it.
	peer := 1 - s.dir
	switch {
	case s.flags&(tracker.SYN|tracker.ACK) == tracker.SYN|tracker.ACK:
		c.confirmed[s.dir] = c.confirmed[s.dir] || c.synSent[s.dir] || c.confirmed[peer]
		c.synSent[s.dir] = true
	case s.flags&(tracker.ACK|tracker.RST) == tracker.ACK:
		c.confirmed[s.dir] = true
	case s.flags&(tracker.SYN|tracker.ACK) == tracker.SYN:
		c.confirmed[s.dir] = c.confirmed[s.dir] || c.synSent[s.dir]
		c.synSent[s.dir] = true
	}
	if c.confirmed[s.dir] && c.synSent[peer] && s.dir == client {
		c.confirmed[peer] = true
	}
	c.hold = s.hold
	if s.dir == server && s.flags&(tracker.SYN|tracker.ACK) == tracker.SYN|tracker.ACK {
		g.listeners[listener{c.addr[server], c.port[server], c.vlan}] = struct{}{}
	}
	c.pos++
	if c.pos == len(c.steps) {
		c.steps = c.steps[:0]
		c.pos = 0
		more := false
		switch c.kind {
		case kindReal:
			c.exchange()
			more = true
		case kindLong:
			more = c.chunk()
		}
		if !more {
			g.pop()
			g.finish(c)
			return nil
		}
	}
	c.next = c.steps[c.pos].at
	g.down(c.hidx)
	return nil
}

// finish records the endpoints of a connection that will write nothing more.
func (g *generator) finish(c *conn) {
	if c.kind == kindFlood {
		rec := &g.flood[c.src]
		if c.last[client] >= rec.at {
			rec.at = c.last[client]
			rec.answer = 0
			if c.cur[server] == tracker.SynRecv {
				rec.answer = c.last[server]
			}
		}
	} else {
		for side := range 2 {
			g.record(c.cur[side], c.entered[side], c.last[side], c.confirmed[side])
		}
	}
	c.steps = c.steps[:0]
	g.free = append(g.free, c)
}

// record counts an endpoint left in state s, entered at µs entered, whose
// last segment was at µs last.
func (g *generator) record(s tracker.State, entered, last int64, confirmed bool) {
	switch {
	case !s.Counted():
	case s == tracker.TimeWait:
		g.res.timed = append(g.res.timed, timedEndpoint{entered, s, !confirmed})
	case s == tracker.Established || s == tracker.CloseWait:
		if confirmed {
			g.res.final[s]++
			return
		}
		fallthrough
	default:
		g.res.timed = append(g.res.timed, timedEndpoint{max(entered, last), s, !confirmed})
	}
}

// floodExpectations counts each source once, as its last SYN left it: a new
// SYN on the same 4-tuple with a new ISN replaces an unanswered attempt
// (tracker/RULES.md). Config forbids answers when sources repeat: a SYN with a new
// ISN on a tuple whose SYN+ACK was seen meets a synchronized state, where RFC
// 5961 keeps the old connection and a real server sends a challenge ACK, not
// the SYN+ACK this generator would write.
func (g *generator) floodExpectations() {
	for _, rec := range g.flood {
		if rec.at == 0 {
			continue
		}
		// A source sends one SYN: never confirmed, and nor is the
		// server's answer to it.
		if rec.answer != 0 {
			g.record(tracker.Established, rec.at, rec.at, false)
			g.record(tracker.SynRecv, rec.answer, rec.answer, false)
		} else {
			g.record(tracker.SynSent, rec.at, rec.at, false)
		}
	}
	g.flood = nil
}

func (g *generator) newConn(k kind) *conn {
	var c *conn
	if n := len(g.free); n > 0 {
		c = g.free[n-1]
		g.free = g.free[:n-1]
		steps := c.steps[:0]
		*c = conn{steps: steps}
	} else {
		c = &conn{}
	}
	g.nextID++
	g.res.Conns++
	c.id = g.nextID
	c.kind = k
	c.r = newRNG(g.cfg.Seed, c.id)
	r := &c.r
	for side := range 2 {
		c.isn[side] = r.u32()
		if r.intn(64) == 0 { // exercise the wrap of sequence space
			c.isn[side] = -uint32(r.between(1, 1<<16))
		}
		c.snd[side] = c.isn[side]
		c.tsOff[side] = r.u32()
		c.ttl[side] = 64
		c.ipid[side] = uint16(r.u32())
	}
	c.ttl[client] = uint8(r.between(40, 64))
	rtt := r.logUniform(100, 50*ms)
	c.lat = [2]int64{client: rtt, server: r.between(5, 50)}
	c.nsPerB = r.between(1, 8)
	c.cwnd = 10
	c.thinkUS = 50 * ms
	c.style = [2]synStyle{synLinux, synLinux}
	if r.pct(20) {
		c.style[client] = synWindows
	}
	if k == kindFlood {
		c.style = [2]synStyle{synBare, synBare}
	}
	c.ts = c.style[client] == synLinux
	c.mss = [2]uint16{1460, 1460}
	if r.pct(10) {
		c.mss[client] = uint16(r.between(1200, 1420))
	}
	c.wscale = [2]uint8{7, 7}
	c.synWin = [2]uint16{64240, 65160}
	c.win = [2]uint16{uint16(r.between(400, 4000)), uint16(r.between(400, 4000))}
	if c.style[client] == synWindows {
		c.wscale[client] = 8
		c.synWin[client] = 65535
	}
	return c
}

// Address plan. Mix: servers 198.18.0.1-200 and 2001:db8::1-200, clients
// 4096 hosts in 198.19.0.0/16 and 2001:db8:1::/64 with ephemeral ports
// taken in turn, so that no 4-tuple is reused within 115 million
// connections. SYNFlood: the victim 198.18.0.1:443, real clients in
// 198.18.128.0/17, spoofed sources spread over 198.19.0.0/16 and ports.
var serverPorts = [...]uint16{443, 443, 443, 80, 80, 22, 25, 3306, 5432, 6379, 8080, 9100}

func (g *generator) mixAddrs(c *conn) {
	r := &c.r
	k := c.id
	host := uint32(k%4096) + 1
	c.port[client] = uint16(32768 + (k/4096)%28232)
	srv := uint32(r.intn(200)) + 1
	c.port[server] = serverPorts[r.intn(len(serverPorts))]
	if r.pct(10) {
		c.v6 = true
		c.addr[client] = [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 1, 14: byte(host >> 8), 15: byte(host)}
		c.addr[server] = [16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(srv >> 8), 15: byte(srv)}
		c.mss = [2]uint16{1440, 1440}
	} else {
		c.addr[client] = [16]byte{198, 19, byte(host >> 8), byte(host)}
		c.addr[server] = [16]byte{198, 18, 0, byte(srv)}
	}
	if r.pct(5) {
		c.vlan = uint16(10 * (1 + r.intn(4)))
	}
}

func (g *generator) real(c *conn, i int) {
	c.addr[client] = [16]byte{198, 18, 128 + byte(i>>8&127), byte(i)}
	c.port[client] = uint16(40000 + i>>15)
	c.addr[server] = [16]byte{198, 18, 0, 1}
	c.port[server] = 443
	g.res.Real = append(g.res.Real, tracker.Flow{
		Src: netip.AddrPortFrom(netip.AddrFrom4([4]byte(c.addr[client][:4])), c.port[client]),
		Dst: netip.AddrPortFrom(netip.AddrFrom4([4]byte(c.addr[server][:4])), c.port[server]),
	})
}

// floodAddrs gives flood source i its own address and port: a bijection of
// [0, 2^k) scrambles the order, its low 16 bits pick the address and the
// rest the port.
func (g *generator) floodAddrs(c *conn) {
	bits := uint(16)
	for 1<<bits < g.cfg.Sources {
		bits++
	}
	mask := uint64(1)<<bits - 1
	x := uint64(c.src)
	x = (x*0x9e3779b97f4a7c15 + g.cfg.Seed) & mask // odd multiplier: a bijection mod 2^k
	x ^= x >> (bits / 2)
	x = (x * 0xbf58476d1ce4e5b9) & mask
	c.addr[client] = [16]byte{198, 19, byte(x >> 8), byte(x)}
	c.port[client] = uint16(1024 + x>>16)
	c.addr[server] = [16]byte{198, 18, 0, 1}
	c.port[server] = 443
	c.ttl[client] = uint8(c.r.between(32, 250))
	c.synWin[client] = uint16(c.r.between(512, 65535))
}

// The heap orders connections by the time of their next step, ties by id so
// that the file does not depend on the heap's history.

func (g *generator) less(i, j int) bool {
	a, b := g.heap[i], g.heap[j]
	return a.next < b.next || a.next == b.next && a.id < b.id
}

func (g *generator) swap(i, j int) {
	g.heap[i], g.heap[j] = g.heap[j], g.heap[i]
	g.heap[i].hidx = i
	g.heap[j].hidx = j
}

func (g *generator) schedule(c *conn) {
	c.pos = 0
	c.next = c.steps[0].at
	c.hidx = len(g.heap)
	g.heap = append(g.heap, c)
	for i := c.hidx; i > 0; {
		p := (i - 1) / 2
		if !g.less(i, p) {
			break
		}
		g.swap(i, p)
		i = p
	}
}

func (g *generator) down(i int) {
	n := len(g.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && g.less(r, l) {
			m = r
		}
		if !g.less(m, i) {
			return
		}
		g.swap(i, m)
		i = m
	}
}

// pop removes the heap's top, which is the connection being emitted.
func (g *generator) pop() {
	n := len(g.heap) - 1
	g.swap(0, n)
	g.heap = g.heap[:n]
	g.down(0)
}
