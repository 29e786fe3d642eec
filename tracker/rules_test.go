package tracker

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// A script is written from the point of view of X, the endpoint under test,
// and Y, its peer. Sequence and acknowledgment numbers are offsets from
// X's and Y's initial sequence numbers, so every script also runs with ISNs
// just below the 2^32 wrap.
type ev struct {
	from    byte // 'X', 'Y', or 0 for a pause of wait
	flags   Flags
	seq     uint32 // offset from the sender's ISN
	ack     uint32 // offset from the receiver's ISN
	len     uint32
	wait    time.Duration
	fresh   bool // seq is an offset from a second ISN (a new connection)
	rawSeq  bool // seq is absolute, not an offset
	noWScal bool
}

func x(f Flags, seq, ack uint32) ev { return ev{from: 'X', flags: f, seq: seq, ack: ack} }
func y(f Flags, seq, ack uint32) ev { return ev{from: 'Y', flags: f, seq: seq, ack: ack} }
func pause(d time.Duration) ev      { return ev{wait: d} }

// Handshakes that leave both ends ESTABLISHED, with X as client or server.
var (
	xClient = []ev{x(SYN, 0, 0), y(SYN|ACK, 0, 1), x(ACK, 1, 1)}
	xServer = []ev{y(SYN, 0, 0), x(SYN|ACK, 0, 1), y(ACK, 1, 1)}
)

type world struct {
	t      *testing.T
	tr     *Tracker
	x, y   netip.AddrPort
	ix, iy uint32
	now    time.Time
}

func newWorld(t *testing.T, swap bool, base uint32) *world {
	w := &world{
		t:   t,
		tr:  New(Config{}),
		x:   netip.MustParseAddrPort("192.0.2.1:40000"),
		y:   netip.MustParseAddrPort("192.0.2.2:80"),
		ix:  base + 1000,
		iy:  base + 5000000,
		now: time.Unix(1700000000, 0),
	}
	if swap {
		w.x, w.y = w.y, w.x
	}
	return w
}

func (w *world) run(evs []ev) {
	for _, e := range evs {
		w.now = w.now.Add(time.Millisecond)
		if e.from == 0 {
			w.now = w.now.Add(e.wait)
			w.tr.Advance(w.now)
			continue
		}
		seg := Segment{UnixNano: w.now.UnixNano(), Flags: e.flags, PayloadLen: e.len, Window: 64000}
		if e.flags&SYN != 0 && !e.noWScal {
			seg.Options = Options{MSS: 1460, HasWScale: true, WScale: 7}
		}
		src, dst, isrc, idst := w.x, w.y, w.ix, w.iy
		if e.from == 'Y' {
			src, dst, isrc, idst = w.y, w.x, w.iy, w.ix
		}
		seg.Src, seg.SrcPort, seg.Dst, seg.DstPort = src.Addr(), src.Port(), dst.Addr(), dst.Port()
		switch {
		case e.rawSeq:
			seg.Seq = e.seq
		case e.fresh:
			seg.Seq = isrc + 0x40000000 + e.seq
		default:
			seg.Seq = isrc + e.seq
		}
		if e.flags&ACK != 0 {
			seg.Ack = idst + e.ack
		}
		w.tr.Track(&seg)
	}
}

// states returns the state of X and Y, confirmed or not; Unknown when not
// listed.
func (w *world) states() (sx, sy State) {
	fn := func(s Socket) {
		switch {
		case s.Local == w.x && s.Peer == w.y:
			sx = s.State
		case s.Local == w.y && s.Peer == w.x:
			sy = s.State
		}
	}
	w.tr.Sockets(fn)
	w.tr.Unconfirmed(fn)
	return sx, sy
}

// unconfirmed names the endpoints among X and Y that are not confirmed:
// "", "X", "Y" or "XY".
func (w *world) unconfirmed() string {
	var x, y string
	w.tr.Unconfirmed(func(s Socket) {
		switch {
		case s.Local == w.x && s.Peer == w.y:
			x = "X"
		case s.Local == w.y && s.Peer == w.x:
			y = "Y"
		}
	})
	return x + y
}

type rule struct {
	name     string
	setup    [][]ev // each setup is run in turn: the roles X may have
	events   []ev
	x, y     State // Unknown: not listed (closed, or never shown)
	listener int
	ignored  uint64 // Stats.IgnoredRST
	// unconfirmed names the endpoints, "X", "Y" or "XY", that have not
	// shown they are a real stack (counted apart, not in States).
	unconfirmed string
}

// TestRules has a case for every row of RULES.md's transition table, each run for both roles
// X may play (client and server, or both address orders where the row
// fixes the role), and with ISNs that wrap.
func TestRules(t *testing.T) {
	none := [][]ev{nil}
	est := [][]ev{xClient, xServer}
	rules := []rule{
		{name: "CLOSE sends SYN: SYN_SENT", setup: none,
			events: []ev{x(SYN, 0, 0)}, x: SynSent, unconfirmed: "X"},
		{name: "listener receives SYN, answers SYN+ACK: SYN_RECV", setup: none,
			events: []ev{y(SYN, 0, 0), x(SYN|ACK, 0, 1)}, x: SynRecv, y: Established, listener: 1, unconfirmed: "XY"},
		{name: "SYN_SENT receives SYN+ACK acking its SYN: ESTABLISHED", setup: none,
			events: []ev{x(SYN, 0, 0), y(SYN|ACK, 0, 1)}, x: Established, y: SynRecv, listener: 1, unconfirmed: "XY"},
		{name: "SYN_SENT receives a bare SYN: SYN_RECV (simultaneous open)", setup: none,
			events: []ev{x(SYN, 0, 0), y(SYN, 0, 0)}, x: SynRecv, y: SynRecv, unconfirmed: "XY"},
		{name: "simultaneous open completes: ESTABLISHED", setup: none,
			events: []ev{x(SYN, 0, 0), y(SYN, 0, 0), x(SYN|ACK, 0, 1), y(SYN|ACK, 0, 1)}, x: Established, y: Established},
		{name: "SYN_SENT receives RST+ACK acking its SYN: CLOSE (refused)", setup: none,
			events: []ev{x(SYN, 0, 0), y(RST|ACK, 0, 1)}, x: Unknown},
		{name: "SYN_SENT ignores RST+ACK not acking its SYN", setup: none,
			events: []ev{x(SYN, 0, 0), y(RST|ACK, 0, 7)}, x: SynSent, ignored: 1, unconfirmed: "X"},
		{name: "SYN_RECV receives ACK of its SYN: ESTABLISHED", setup: none,
			events: []ev{y(SYN, 0, 0), x(SYN|ACK, 0, 1), y(ACK, 1, 1)}, x: Established, y: Established, listener: 1},
		{name: "SYN_RECV receives valid RST: CLOSE, the listener stays", setup: none,
			events: []ev{y(SYN, 0, 0), x(SYN|ACK, 0, 1), y(RST, 1, 0)}, x: Unknown, listener: 1},
		{name: "SYN_RECV sends FIN: FIN_WAIT1", setup: none,
			events: []ev{y(SYN, 0, 0), x(SYN|ACK, 0, 1), x(FIN|ACK, 1, 1)}, x: FinWait1, y: CloseWait, listener: 1, unconfirmed: "Y"},
		{name: "ESTABLISHED sends FIN: FIN_WAIT1", setup: est,
			events: []ev{x(FIN|ACK, 1, 1)}, x: FinWait1, y: CloseWait},
		{name: "ESTABLISHED receives FIN: CLOSE_WAIT", setup: est,
			events: []ev{y(FIN|ACK, 1, 1)}, x: CloseWait, y: FinWait1},
		{name: "FIN_WAIT1 receives ACK of its FIN: FIN_WAIT2", setup: est,
			events: []ev{x(FIN|ACK, 1, 1), y(ACK, 1, 2)}, x: FinWait2, y: CloseWait},
		{name: "FIN_WAIT1 receives FIN without ACK of its FIN: CLOSING", setup: est,
			events: []ev{x(FIN|ACK, 1, 1), y(FIN|ACK, 1, 1)}, x: Closing, y: Closing},
		{name: "FIN_WAIT1 receives FIN with ACK of its FIN: TIME_WAIT", setup: est,
			events: []ev{x(FIN|ACK, 1, 1), y(FIN|ACK, 1, 2)}, x: TimeWait, y: LastAck},
		{name: "FIN_WAIT2 receives FIN: TIME_WAIT", setup: est,
			events: []ev{x(FIN|ACK, 1, 1), y(ACK, 1, 2), y(FIN|ACK, 1, 2)}, x: TimeWait, y: LastAck},
		{name: "CLOSING receives ACK of its FIN: TIME_WAIT", setup: est,
			events: []ev{x(FIN|ACK, 1, 1), y(FIN|ACK, 1, 1), y(ACK, 2, 2)}, x: TimeWait, y: Closing},
		{name: "CLOSE_WAIT sends FIN: LAST_ACK", setup: est,
			events: []ev{y(FIN|ACK, 1, 1), x(ACK, 1, 2), x(FIN|ACK, 1, 2)}, x: LastAck, y: TimeWait},
		{name: "LAST_ACK receives ACK of its FIN: CLOSE", setup: est,
			events: []ev{y(FIN|ACK, 1, 1), x(ACK, 1, 2), x(FIN|ACK, 1, 2), y(ACK, 2, 2)}, x: Unknown, y: TimeWait},
		{name: "TIME_WAIT stays before 2MSL", setup: est,
			events: []ev{x(FIN|ACK, 1, 1), y(FIN|ACK, 1, 2), x(ACK, 2, 2), pause(59 * time.Second)}, x: TimeWait},
		{name: "TIME_WAIT after 2MSL: CLOSE", setup: est,
			events: []ev{x(FIN|ACK, 1, 1), y(FIN|ACK, 1, 2), x(ACK, 2, 2), pause(60 * time.Second)}, x: Unknown},
		{name: "synchronized endpoint sends RST: CLOSE", setup: est,
			events: []ev{x(RST, 1, 0)}, x: Unknown, y: Unknown},
		{name: "synchronized endpoint receives RST at exactly RCV.NXT: CLOSE", setup: est,
			events: []ev{y(RST, 1, 0)}, x: Unknown, y: Unknown},
		{name: "synchronized endpoint receives in-window RST not at RCV.NXT: unchanged (challenge ACK)", setup: est,
			events: []ev{y(RST, 1000, 0)}, x: Established, y: Established},
		{name: "SYN_SENT sends RST at its ISN (answering a bad SYN+ACK): stays SYN_SENT, as Linux", setup: none,
			events: []ev{x(SYN, 0, 0), y(SYN|ACK, 0, 0), x(RST, 0, 0)}, x: SynSent, unconfirmed: "X", ignored: 1},
		{name: "CLOSE_WAIT receives RST one before RCV.NXT, at the FIN: CLOSE (its sender could not send it: unchanged)", setup: est,
			events: []ev{y(FIN|ACK, 1, 1), x(ACK, 1, 2), y(RST, 1, 0)}, x: Unknown, y: FinWait2},
		{name: "a new SYN replaces a handshake nobody answered", setup: none,
			events: []ev{x(SYN, 0, 0), ev{from: 'X', flags: SYN, fresh: true}, ev{from: 'Y', flags: SYN | ACK, seq: 0, ack: 0x40000001}},
			x:      Established, y: SynRecv, listener: 1, unconfirmed: "XY"},
		{name: "synchronized endpoint discards a FIN without ACK", setup: est,
			events: []ev{y(FIN, 1, 0)}, x: Established, y: Established},
		{name: "out-of-window RST changes nothing", setup: est,
			events: []ev{y(RST, 1<<24, 0)}, x: Established, y: Established, ignored: 1},
		{name: "SYN_SENT without progress: CLOSE after the handshake timeout", setup: none,
			events: []ev{x(SYN, 0, 0), pause(76 * time.Second)}, x: Unknown},
		{name: "SYN_SENT retransmitting stays", setup: none,
			events: []ev{x(SYN, 0, 0), pause(60 * time.Second), x(SYN, 0, 0), pause(60 * time.Second)}, x: SynSent},
		{name: "SYN_RECV without progress: CLOSE after the handshake timeout; its unconfirmed client too", setup: none,
			events: []ev{y(SYN, 0, 0), x(SYN|ACK, 0, 1), pause(76 * time.Second)}, x: Unknown, y: Unknown, listener: 1},
		{name: "unconfirmed client that retransmits its SYN: confirmed SYN_SENT", setup: none,
			events: []ev{x(SYN, 0, 0), y(SYN|ACK, 0, 1), pause(time.Second), x(SYN, 0, 0)}, x: SynSent, y: SynRecv, listener: 1},
		{name: "unconfirmed client that acks the server's ISN: confirmed ESTABLISHED", setup: none,
			events: []ev{x(SYN, 0, 0), y(SYN|ACK, 0, 1), pause(time.Second), y(SYN|ACK, 0, 1), x(ACK, 1, 1)}, x: Established, y: Established, listener: 1},
		{name: "FIN_WAIT2 without a segment: CLOSE after the FIN timeout", setup: est,
			events: []ev{x(FIN|ACK, 1, 1), y(ACK, 1, 2), pause(61 * time.Second)}, x: Unknown, y: CloseWait},
		{name: "FIN_WAIT2 that keeps acking data lives on", setup: est,
			events: []ev{x(FIN|ACK, 1, 1), y(ACK, 1, 2), pause(50 * time.Second), y(ACK|PSH, 1, 2), x(ACK, 2, 2), pause(50 * time.Second)}, x: FinWait2, y: CloseWait},
		{name: "FIN_WAIT1 silent past the retry timeout: CLOSE", setup: est,
			events: []ev{x(FIN|ACK, 1, 1), pause(60 * time.Second), x(FIN|ACK, 1, 1), pause(121 * time.Second)}, x: Unknown, y: CloseWait},
		{name: "LAST_ACK retransmitting within the retry timeout stays", setup: est,
			events: []ev{y(FIN|ACK, 1, 1), x(ACK, 1, 2), x(FIN|ACK, 1, 2), pause(100 * time.Second), x(FIN|ACK, 1, 2), pause(100 * time.Second)}, x: LastAck, y: Unknown},
	}
	for _, r := range rules {
		for si, setup := range r.setup {
			for _, swap := range []bool{false, true} {
				for _, base := range []uint32{0, 0xFFFFFFFF - 2000} {
					role := "X-first"
					if len(r.setup) > 1 {
						role = [...]string{"X-client", "X-server"}[si]
					}
					name := fmt.Sprintf("%s/%s/swap=%v/isn=%#x", r.name, role, swap, base)
					t.Run(name, func(t *testing.T) {
						w := newWorld(t, swap, base)
						w.run(setup)
						w.run(r.events)
						sx, sy := w.states()
						if sx != r.x || sy != r.y {
							t.Errorf("X %v, Y %v; want X %v, Y %v", sx, sy, r.x, r.y)
						}
						if u := w.unconfirmed(); u != r.unconfirmed {
							t.Errorf("unconfirmed %q, want %q", u, r.unconfirmed)
						}
						st := w.tr.Stats()
						want := r.listener
						if setup != nil {
							want = 1 // the handshake proved one
						}
						if st.Listeners != want {
							t.Errorf("listeners %d, want %d", st.Listeners, want)
						}
						if st.IgnoredRST != r.ignored {
							t.Errorf("ignored RSTs %d, want %d", st.IgnoredRST, r.ignored)
						}
						checkCounts(t, w.tr)
					})
				}
			}
		}
	}
}

// checkCounts asserts that the per-state counts add up to the endpoints
// listed.
func checkCounts(t *testing.T, tr *Tracker) {
	t.Helper()
	var listed, unconfirmed [NumStates]int
	tr.Sockets(func(s Socket) { listed[s.State]++ })
	tr.Unconfirmed(func(s Socket) { unconfirmed[s.State]++ })
	if st := tr.Stats(); listed != st.States || unconfirmed != st.Unconfirmed {
		t.Errorf("counts %v, unconfirmed %v, but listing has %v and %v", st.States, st.Unconfirmed, listed, unconfirmed)
	}
}

// TestDerivedTable checks that the table derive reads agrees with stateOf
// for facts of every kind, the bits stateOf ignores set at random: a fact
// that stateOf reads but stateFacts leaves out fails here.
func TestDerivedTable(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 1 << 16 {
		f := facts(r.Uint32())
		e := endpoint{facts: f}
		if got, want := e.derive(), stateOf(f); got != want {
			t.Fatalf("facts %#x: derive %v, stateOf %v", f, got, want)
		}
	}
}
