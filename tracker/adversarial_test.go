package tracker

import (
	"net/netip"
	"testing"
	"time"
)

// TestAdversarial injects hostile segments into a connection while a second,
// unrelated connection runs beside it: each case asserts the exact counter
// it must move, the victim's state, and that the bystander is untouched
// (RULES.md, RSTs and the evidence rules).
func TestAdversarial(t *testing.T) {
	cases := []struct {
		name       string
		attack     []ev
		victimX    State
		victimY    State
		ignoredRST uint64
		ignored    uint64
		flows      int
		challenged uint64
	}{
		{"blind RST far outside the window", []ev{y(RST, 1<<25, 0), y(RST|ACK, 0xFFFF0000, 1)}, Established, Established, 2, 0, 2, 0},
		{"RST just past the window", []ev{y(RST, 1+64000<<7+10, 0)}, Established, Established, 1, 0, 2, 0},
		{"in-window RST not at RCV.NXT is challenged, one just below the window ignored: nothing changes", []ev{y(RST, 1+1000, 0), y(RST, 2, 0), y(RST, 0, 0)}, Established, Established, 1, 0, 2, 2},
		{"RST at exactly RCV.NXT closes the victim only", []ev{y(RST, 1, 0)}, Unknown, Unknown, 0, 0, 2, 0},
		{"FIN without ACK is discarded", []ev{y(FIN, 1, 0), y(PSH, 1, 0)}, Established, Established, 0, 2, 2, 0},
		{"FIN far outside the window", []ev{y(FIN|ACK, 1<<30, 1)}, Established, Established, 0, 1, 2, 0},
		{"ACK far beyond anything sent", []ev{y(ACK, 1, 1<<30)}, Established, Established, 0, 1, 2, 0},
		{"old duplicate SYN", []ev{ev{from: 'X', flags: SYN, seq: 777, fresh: true}}, Established, Established, 0, 1, 2, 0},
		{"retransmitted SYN of the live connection", []ev{x(SYN, 0, 0)}, Established, Established, 0, 0, 2, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, false, 0xFFFFFF00)
			w.run(xClient)
			// The bystander: another connection to the same server.
			by := newWorld(t, false, 12345)
			by.tr, by.now = w.tr, w.now
			by.x = netip.MustParseAddrPort("192.0.2.7:41000")
			by.run(append(append([]ev{}, xClient...), ev{from: 'X', flags: ACK | PSH, seq: 1, ack: 1, len: 100}))
			before := w.tr.Stats()
			w.now = by.now
			w.run(c.attack)
			after := w.tr.Stats()
			if sx, sy := w.states(); sx != c.victimX || sy != c.victimY {
				t.Errorf("victim X %v, Y %v; want %v, %v", sx, sy, c.victimX, c.victimY)
			}
			if bx, _ := by.states(); bx != Established {
				t.Errorf("bystander client is %v, want ESTABLISHED", bx)
			}
			if got := after.IgnoredRST - before.IgnoredRST; got != c.ignoredRST {
				t.Errorf("ignored RSTs +%d, want +%d", got, c.ignoredRST)
			}
			if got := after.ChallengedRST - before.ChallengedRST; got != c.challenged {
				t.Errorf("challenged RSTs +%d, want +%d", got, c.challenged)
			}
			if got := after.Ignored - before.Ignored; got != c.ignored {
				t.Errorf("ignored segments +%d, want +%d", got, c.ignored)
			}
			if after.Flows != c.flows {
				t.Errorf("%d flows, want %d", after.Flows, c.flows)
			}
			checkCounts(t, w.tr)
		})
	}
}

// TestScanMakesNoSockets sends an ACK scan and a SYN flood at a small table
// holding one real connection: no phantom endpoint is counted for the scan,
// the table stays within its bound, and the real connection survives.
func TestScanMakesNoSockets(t *testing.T) {
	w := newWorld(t, false, 0)
	w.tr = New(Config{MaxFlows: 64})
	w.run(xClient)
	server := w.y
	now := w.now
	for i := range 5000 {
		now = now.Add(time.Microsecond)
		src := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		flags := ACK
		if i%2 == 1 {
			flags = SYN
		}
		w.tr.Track(&Segment{UnixNano: now.UnixNano(), Src: src, SrcPort: uint16(1024 + i), Dst: server.Addr(), DstPort: server.Port(),
			Flags: flags, Seq: uint32(i * 7919), Ack: uint32(i * 104729), Window: 1024})
		if st := w.tr.Stats(); st.Flows > 64 {
			t.Fatalf("%d flows, bound 64", st.Flows)
		}
	}
	w.now = now
	st := w.tr.Stats()
	if sx, sy := w.states(); sx != Established || sy != Established {
		t.Errorf("real connection X %v, Y %v after the scan; want ESTABLISHED both", sx, sy)
	}
	if st.States[Established] != 2 {
		t.Errorf("%d ESTABLISHED endpoints, want 2: the scan's lone ACKs prove no connection", st.States[Established])
	}
	if st.Evictions[EvictHalfOpen] == 0 || st.Evictions[EvictIdle] != 0 {
		t.Errorf("evictions %v: want half-open flows evicted and no live one", st.Evictions)
	}
}

// TestCaptureGap marks a flow whose peer acknowledges bytes the capture
// never showed, without inventing a transition from them.
func TestCaptureGap(t *testing.T) {
	w := newWorld(t, false, 0)
	w.run(append(append([]ev{}, xClient...),
		ev{from: 'X', flags: ACK | PSH, seq: 1, ack: 1, len: 100},
		y(ACK, 1, 5001))) // acks 4,900 bytes the capture missed
	if sx, sy := w.states(); sx != Established || sy != Established {
		t.Errorf("X %v, Y %v; want ESTABLISHED: a gap is no FIN", sx, sy)
	}
	gap := false
	w.tr.Sockets(func(s Socket) { gap = gap || s.Gap })
	if !gap {
		t.Error("the flow is not marked as having a capture gap")
	}
}

// TestListenerFlood answers SYNs from thousands of invented servers: the
// inferred listeners stay within their bound, the ones forgotten to make
// room are counted, and after ListenerTimeout without an answer none is
// left.
func TestListenerFlood(t *testing.T) {
	tr := New(Config{MaxFlows: 64})
	now := time.Unix(1700000000, 0)
	client := netip.MustParseAddr("192.0.2.1")
	for i := range 5000 {
		now = now.Add(time.Microsecond)
		srv := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		tr.Track(&Segment{UnixNano: now.UnixNano(), Src: client, SrcPort: 40000, Dst: srv, DstPort: 80,
			Flags: SYN, Seq: 100, Window: 1024})
		tr.Track(&Segment{UnixNano: now.UnixNano(), Src: srv, SrcPort: 80, Dst: client, DstPort: 40000,
			Flags: SYN | ACK, Seq: 900, Ack: 101, Window: 1024})
	}
	st := tr.Stats()
	if bound := tr.maxListeners(); st.Listeners != bound || len(tr.listeners) != bound {
		t.Errorf("%d listeners (%d held), want the bound %d", st.Listeners, len(tr.listeners), bound)
	}
	if want := uint64(5000 - tr.maxListeners()); st.Evictions[EvictListener] != want {
		t.Errorf("%d listeners evicted, want %d", st.Evictions[EvictListener], want)
	}
	tr.Advance(now.Add(59 * time.Minute))
	if n := tr.Stats().Listeners; n == 0 {
		t.Error("listeners forgotten before ListenerTimeout")
	}
	tr.Advance(now.Add(DefaultListenerTimeout + DefaultListenerTimeout/4 + time.Second))
	if n := tr.Stats().Listeners; n != 0 || len(tr.listeners) != 0 {
		t.Errorf("%d listeners left (%d held) after ListenerTimeout without an answer, want 0", n, len(tr.listeners))
	}
}

// TestOneSidedHandshake reads a capture of one direction that holds the
// client's SYN: the server never shows itself. A real client's run of data
// confirms both ends (the kernel has both ESTABLISHED, recorded by
// TestSpoofOneSided in pcaps/); a spoofer's SYN and ACKs confirm nothing.
func TestOneSidedHandshake(t *testing.T) {
	data := func(seq uint32) ev { return ev{from: 'X', flags: ACK | PSH, seq: seq, ack: 1, len: 10} }
	for _, c := range []struct {
		name        string
		events      []ev
		unconfirmed string
		listeners   int
	}{
		{"a real client's data", []ev{x(SYN, 0, 0), x(ACK, 1, 1), data(1), data(11), data(21)}, "", 1},
		{"a spoofer's SYN and ACKs", []ev{x(SYN, 0, 0), x(ACK, 1, 1), x(ACK, 1, 1), x(ACK, 1, 1)}, "XY", 0},
		{"data that does not follow on", []ev{x(SYN, 0, 0), x(ACK, 1, 1), data(1), data(500), data(1000)}, "XY", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, false, 0xFFFFFF00)
			w.run(c.events)
			if sx, sy := w.states(); sx != Established || sy != Established {
				t.Errorf("X %v, Y %v; want ESTABLISHED both", sx, sy)
			}
			if u := w.unconfirmed(); u != c.unconfirmed {
				t.Errorf("unconfirmed %q, want %q", u, c.unconfirmed)
			}
			if n := w.tr.Stats().Listeners; n != c.listeners {
				t.Errorf("%d listeners, want %d", n, c.listeners)
			}
			checkCounts(t, w.tr)
		})
	}
}

// TestListenerEvictionOrder: at the bound, the listener that answered no
// SYN for longest goes, and one that answered since it was added gets a
// second chance.
func TestListenerEvictionOrder(t *testing.T) {
	tr := New(Config{MaxFlows: 16})
	now := time.Unix(1700000000, 0)
	answer := func(n int) {
		now = now.Add(time.Millisecond)
		srv := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(n >> 8)}), uint16(1000+n))
		cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, 1}), uint16(40000+n))
		tr.Track(&Segment{UnixNano: now.UnixNano(), Src: cli.Addr(), SrcPort: cli.Port(), Dst: srv.Addr(), DstPort: srv.Port(), Flags: SYN, Seq: 1})
		tr.Track(&Segment{UnixNano: now.UnixNano(), Src: srv.Addr(), SrcPort: srv.Port(), Dst: cli.Addr(), DstPort: cli.Port(), Flags: SYN | ACK, Seq: 7, Ack: 2})
	}
	bound := tr.maxListeners()
	for n := range bound {
		answer(n)
	}
	answer(0) // the oldest answers again: a second chance
	answer(bound)
	has := func(n int) bool {
		_, ok := tr.listeners[listenKey{addr: netip.AddrFrom4([4]byte{192, 0, 2, byte(n >> 8)}), port: uint16(1000 + n)}]
		return ok
	}
	if !has(0) || has(1) || !has(2) || !has(bound) {
		t.Errorf("after the bound: 0 kept %v, 1 kept %v, 2 kept %v, the new one kept %v; want the second-oldest gone",
			has(0), has(1), has(2), has(bound))
	}
}
