package tracker

import (
	"net/netip"
	"testing"
	"time"
)

// TestListenerHealth runs handshakes between X, a client, and Y, a server
// on port 80, and reads Y's listener health. Where a case needs a second
// connection, a client on port 40001 (Z) makes it first, so that the
// listener is known before X's SYN.
func TestListenerHealth(t *testing.T) {
	fin := func(f Flags, seq, ack, n uint32) ev { e := x(f, seq, ack); e.len = n; return e }
	for _, c := range []struct {
		name  string
		other bool // Z completes a handshake first
		evs   []ev
		want  ListenerHealth
	}{
		{"handshake", false, xClient, ListenerHealth{SYNs: 1, Handshakes: 1}},
		{"half-open", false, []ev{x(SYN, 0, 0), y(SYN|ACK, 0, 1)}, ListenerHealth{SYNs: 1, HalfOpen: 1}},
		{"final ACK dropped: the server resends its SYN+ACK after the client's ACK", false,
			[]ev{x(SYN, 0, 0), y(SYN|ACK, 0, 1), x(ACK, 1, 1), y(SYN|ACK, 0, 1), x(ACK, 1, 1), y(SYN|ACK, 0, 1)},
			ListenerHealth{SYNs: 1, Handshakes: 1, SynAckRetransmits: 2, Overflows: 2, HalfOpen: 1}},
		{"SYN+ACK lost: the client resends its SYN, no overflow", false,
			[]ev{x(SYN, 0, 0), y(SYN|ACK, 0, 1), x(SYN, 0, 0), y(SYN|ACK, 0, 1), x(ACK, 1, 1)},
			ListenerHealth{SYNs: 1, Handshakes: 1, SynAckRetransmits: 1}},
		{"the server resets right after the handshake (tcp_abort_on_overflow)", false,
			append(append([]ev{}, xClient...), y(RST, 1, 0)),
			ListenerHealth{SYNs: 1, Handshakes: 1, Resets: 1, ServerResets: 1, Overflows: 1}},
		{"the client resets right after the handshake (a connect scan)", false,
			append(append([]ev{}, xClient...), x(RST, 1, 0)),
			ListenerHealth{SYNs: 1, Handshakes: 1, Resets: 1}},
		{"a reset after data is not right after the handshake", false,
			append(append([]ev{}, xClient...), fin(ACK|PSH, 1, 1, 10), y(ACK, 1, 11), y(RST, 1, 0)),
			ListenerHealth{SYNs: 1, Handshakes: 1}},
		{"a SYN never answered, given up at the handshake timeout", true,
			[]ev{x(SYN, 0, 0), x(SYN, 0, 0), pause(DefaultHandshakeTimeout + time.Second)},
			ListenerHealth{SYNs: 2, Handshakes: 1, Unanswered: 1}},
		{"a SYN never answered, replaced by a new one", true,
			[]ev{x(SYN, 0, 0), {from: 'X', flags: SYN, fresh: true}, y(SYN|ACK, 0, 0x40000001)},
			ListenerHealth{SYNs: 3, Handshakes: 1, Unanswered: 1, HalfOpen: 1}},
		{"a refused SYN is answered", true,
			[]ev{x(SYN, 0, 0), y(RST|ACK, 0, 1)},
			ListenerHealth{SYNs: 1, Handshakes: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, false, 0)
			if c.other {
				z := *w
				z.x = netip.MustParseAddrPort("192.0.2.1:40001")
				z.run(xClient)
				w.now = z.now
			}
			w.run(c.evs)
			var got []ListenerHealth
			w.tr.ListenersHealth(func(h ListenerHealth) { got = append(got, h) })
			if len(got) != 1 {
				t.Fatalf("%d listeners, want 1: %+v", len(got), got)
			}
			c.want.Addr = w.y
			if got[0] != c.want {
				t.Errorf("got  %+v\nwant %+v", got[0], c.want)
			}
		})
	}
}

// TestCountByServerPort holds CountByServerPort to Sockets: the same
// endpoints, each under its connection's server port.
func TestCountByServerPort(t *testing.T) {
	w := newWorld(t, false, 0)
	w.run(xClient)
	z := *w
	z.x = netip.MustParseAddrPort("192.0.2.1:40001")
	z.run([]ev{x(SYN, 0, 0), y(SYN|ACK, 0, 1)})
	s := *w
	s.x, s.y = netip.MustParseAddrPort("192.0.2.3:50000"), netip.MustParseAddrPort("192.0.2.1:22")
	s.run([]ev{x(SYN, 0, 0), x(SYN, 0, 0)}) // SYN_SENT, confirmed by its retransmission

	var want, got PortCounts
	w.tr.Sockets(func(s Socket) {
		port := s.Peer.Port()
		if !s.Client {
			port = s.Local.Port()
		}
		want[port][s.State]++
	})
	w.tr.CountByServerPort(&got)
	if got != want {
		t.Errorf("CountByServerPort differs from Sockets")
	}
	// Z never acknowledged the SYN+ACK: neither end is confirmed.
	if got[80][Established] != 2 || got[80][SynRecv] != 0 || got[80][SynSent] != 0 || got[22][SynSent] != 1 {
		t.Errorf("port 80: %v, port 22: %v", got[80], got[22])
	}
}
