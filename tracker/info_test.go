package tracker

import (
	"net/netip"
	"testing"
	"time"
)

// infoWorld is a world whose tracker keeps info and records the close
// records and handshakes it reports.
func infoWorld(t *testing.T, base uint32, cfg Config) (*world, *[]Conn, *[]Conn) {
	w := newWorld(t, false, base)
	var closes, hands []Conn
	cfg.Info = true
	cfg.OnClose = func(c *Conn) { closes = append(closes, *c) }
	cfg.OnHandshake = func(c *Conn) { hands = append(hands, *c) }
	w.tr = New(cfg)
	return w, &closes, &hands
}

func (w *world) conn() *Conn {
	var got *Conn
	w.tr.Conns(func(c *Conn) {
		if got != nil {
			w.t.Fatal("more than one connection")
		}
		cp := *c
		got = &cp
	})
	if got == nil {
		w.t.Fatal("no connection listed")
	}
	return got
}

func TestInfoFacts(t *testing.T) {
	// Near the wrap too: sequence numbers going round 2^32 are no wrap of
	// the byte count.
	for _, base := range []uint32{0, 1<<32 - 3000} {
		w, _, hands := infoWorld(t, base, Config{})
		start := w.now.Add(time.Millisecond)
		w.run(xClient) // SYN at +1 ms, SYN+ACK at +2, ACK at +3
		data := func(from byte, seq, ack, n uint32) ev {
			e := ev{from: from, flags: ACK | PSH, seq: seq, ack: ack}
			e.len = n
			return e
		}
		w.run([]ev{
			data('X', 1, 1, 1000),
			y(ACK, 1, 1001),
			data('X', 1, 1, 1000), // resent: one retransmission
			data('X', 1001, 1, 1), // one byte of new data: not a keep-alive
			data('Y', 1, 1002, 500),
			x(ACK, 1002, 501),
			data('X', 1001, 501, 1), // a keep-alive probe: one byte below nxt, not a retransmission
		})
		c := w.conn()
		if c.Flow.Src != w.x || c.Client.Addr != w.x || c.Server.Addr != w.y {
			t.Errorf("flow %v client %v server %v, want X client", c.Flow, c.Client.Addr, c.Server.Addr)
		}
		if c.Client.Bytes != 1001 || c.Server.Bytes != 500 {
			t.Errorf("bytes %d/%d, want 1001/500", c.Client.Bytes, c.Server.Bytes)
		}
		if c.Client.Retrans != 1 || c.Server.Retrans != 0 {
			t.Errorf("retrans %d/%d, want 1/0", c.Client.Retrans, c.Server.Retrans)
		}
		if c.SynRTT != time.Millisecond || c.AckRTT != time.Millisecond {
			t.Errorf("RTT %v + %v, want 1ms + 1ms", c.SynRTT, c.AckRTT)
		}
		if c.Client.MSS != 1460 || c.Client.WScale != 7 || c.Server.WScale != 7 || c.Client.SACK || c.Client.ECN {
			t.Errorf("options %+v", c.Client)
		}
		if !c.Start.Equal(start) || !c.Last.Equal(w.now) {
			t.Errorf("start %v last %v, want %v %v", c.Start, c.Last, start, w.now)
		}
		if want := start.Add(time.Millisecond); !c.Client.Since.Equal(want) {
			t.Errorf("client ESTABLISHED since %v, want the SYN+ACK at %v", c.Client.Since, want)
		}
		if len(*hands) != 1 || (*hands)[0].AckRTT != time.Millisecond {
			t.Errorf("handshakes reported %v, want one", *hands)
		}
	}
}

// TestInfoBytesWrap sends more than 4 GiB one way: the count goes past
// 2^32 as the sequence numbers wrap.
func TestInfoBytesWrap(t *testing.T) {
	w, _, _ := infoWorld(t, 0, Config{})
	w.run(xClient)
	const seg, n = 60000, 75000 // 4.5 GB
	for k := uint32(0); k < n; k++ {
		d := ev{from: 'X', flags: ACK, seq: 1 + k*seg, ack: 1, len: seg}
		w.run([]ev{d, y(ACK, 1, 1+(k+1)*seg)})
	}
	if got := w.conn().Client.Bytes; got != seg*n {
		t.Errorf("bytes %d, want %d", got, uint64(seg*n))
	}
}

// letGo runs the timers long enough for the tracker to let go of a flow
// that has ended: the one that closes TIME_WAIT, then the one that forgets
// a flow where nothing is alive, which starts when the first ran out.
var letGo = []ev{pause(10 * time.Minute)}

func TestInfoClose(t *testing.T) {
	fin := []ev{x(FIN|ACK, 1, 1), y(FIN|ACK, 1, 2), x(ACK, 2, 2)}
	for _, tc := range []struct {
		name     string
		cfg      Config
		evs      []ev
		end      string
		byClient bool
		states   [2]State
	}{
		{"fin", Config{}, append(append([]ev{}, xClient...), fin...), "fin", false, [2]State{TimeWait, Close}},
		{"rst by server", Config{}, append(append([]ev{}, xClient...), y(RST|ACK, 1, 1)), "rst", false, [2]State{Close, Close}},
		{"refused", Config{}, []ev{x(SYN, 0, 0), y(RST|ACK, 0, 1)}, "rst", false, [2]State{Close, Close}},
		{"handshake timeout", Config{}, []ev{x(SYN, 0, 0), pause(80 * time.Second)}, "timeout", false, [2]State{Close, Unknown}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, closes, _ := infoWorld(t, 0, tc.cfg)
			w.run(tc.evs)
			end := w.now
			// A stray segment after the end changes nothing; the record
			// comes when the timers let go of the flow.
			w.run([]ev{pause(time.Second), y(ACK, 2, 2)})
			if len(*closes) != 0 {
				t.Fatalf("a record before the tracker let go of the flow: %+v", *closes)
			}
			w.run(letGo)
			if len(*closes) != 1 {
				t.Fatalf("%d close records, want 1: %+v", len(*closes), *closes)
			}
			c := (*closes)[0]
			if c.End != tc.end || c.ResetByClient != tc.byClient ||
				c.Client.State != tc.states[0] || c.Server.State != tc.states[1] {
				t.Errorf("end %q by client %v, states %v %v; want %q %v %v", c.End, c.ResetByClient,
					c.Client.State, c.Server.State, tc.end, tc.byClient, tc.states)
			}
			if c.Client.Since.After(end) || c.Server.Since.After(end) {
				t.Errorf("ended at %v / %v, after its last event at %v", c.Client.Since, c.Server.Since, end)
			}
		})
	}
}

// TestInfoEvicted fills a table of one flow: the second connection evicts
// the first, whose record says so.
func TestInfoEvicted(t *testing.T) {
	w, closes, _ := infoWorld(t, 0, Config{MaxFlows: 1})
	w.run(xClient)
	w.x = netip.AddrPortFrom(w.x.Addr(), w.x.Port()+1)
	w.run(xClient)
	if len(*closes) != 1 || (*closes)[0].End != "evicted" || (*closes)[0].Client.State != Established {
		t.Errorf("close records %+v, want the first connection evicted", *closes)
	}
}

// TestInfoCloseWithdrawn: the server's FIN is acknowledged (the
// connection ends), then the server sends its FIN again, showing that the
// ACK never reached it: the tracker withdraws its CLOSE (LAST_ACK again,
// as the kernel's ss shows in pcaps/last-ack), so the connection is open
// again, and its one record, written when the tracker lets go of the
// flow, tells of the end that stood: the timer's.
func TestInfoCloseWithdrawn(t *testing.T) {
	w, closes, _ := infoWorld(t, 0, Config{})
	w.run(xClient)
	w.run([]ev{x(FIN|ACK, 1, 1), y(ACK, 1, 2), y(FIN|ACK, 1, 2), x(ACK, 2, 2)})
	if c := w.conn(); c.End != "fin" || c.Server.State != Close {
		t.Fatalf("after the last ACK: end %q, server %v; want fin, CLOSE", c.End, c.Server.State)
	}
	w.run([]ev{pause(200 * time.Millisecond), y(FIN|ACK, 1, 2)})
	if c := w.conn(); c.End != "" || c.Server.State != LastAck || c.Client.State != TimeWait {
		t.Errorf("after the FIN resent: end %q, %v %v; want open, TIME_WAIT and LAST_ACK", c.End, c.Client.State, c.Server.State)
	}
	w.run(letGo)
	if len(*closes) != 1 || (*closes)[0].Server.State != Close || (*closes)[0].End != "timeout" {
		t.Errorf("close records %+v, want one, the timer's", *closes)
	}
}

// TestInfoCloseLast: the segment that ends a connection is the last of
// its close record.
func TestInfoCloseLast(t *testing.T) {
	w, closes, _ := infoWorld(t, 0, Config{})
	w.run(xClient)
	w.run([]ev{x(FIN|ACK, 1, 1), y(FIN|ACK, 1, 2), pause(time.Millisecond), x(ACK, 2, 2)})
	end := w.now
	w.run(letGo)
	if len(*closes) != 1 || !(*closes)[0].Last.Equal(end) {
		t.Errorf("close records %+v, want one whose last is the final ACK at %v", *closes, end)
	}
}

// TestTimerDated: a timer that runs out during a long quiet gap dates its
// change when it ran out, not when the clock next moved.
func TestTimerDated(t *testing.T) {
	w, closes, _ := infoWorld(t, 0, Config{})
	var at time.Time
	w.tr.cfg.OnTransition = func(x *Transition) {
		if x.Reason == "timer" {
			at = x.Time
		}
	}
	w.run([]ev{x(SYN, 0, 0)})
	syn := w.now
	w.run([]ev{pause(time.Hour)})
	if want := syn.Add(DefaultHandshakeTimeout); !at.Equal(want) {
		t.Errorf("SYN_SENT timed out at %v, want %v, its SYN plus the handshake timeout", at, want)
	}
	if len(*closes) != 1 || !(*closes)[0].Ended.Equal(at) {
		t.Errorf("close records %+v, want one ended at %v", *closes, at)
	}
}
