package metrics

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tcptrack/tcptrack/tracker"
)

func TestTopKHysteresis(t *testing.T) {
	tk := newTopK[string](2, 3)
	up := func(scores map[string]float64) int {
		var s []scored[string]
		for k, v := range scores {
			s = append(s, scored[string]{k, v})
		}
		return tk.update(s)
	}
	members := func() string {
		var m []string
		for _, k := range []string{"a", "b", "c", "d"} {
			if tk.members[k] {
				m = append(m, k)
			}
		}
		return strings.Join(m, ",")
	}
	if n := up(map[string]float64{"a": 10, "b": 9, "c": 8}); n != 2 || members() != "a,b" {
		t.Fatalf("free places filled: %d changes, members %s, want 2 and a,b", n, members())
	}
	// c and b trade places every update, 8 and 9: within the margin, no flap.
	for i := range 20 {
		sc := map[string]float64{"a": 10, "b": 9, "c": 8}
		if i%2 == 0 {
			sc["b"], sc["c"] = 8, 9
		}
		if n := up(sc); n != 0 {
			t.Fatalf("update %d: %d changes, members %s: scores within the margin flapped", i, n, members())
		}
	}
	// d leads b by far: it takes b's place at its third update in a row.
	for i := range 3 {
		n := up(map[string]float64{"a": 10, "b": 9, "d": 50})
		if want := map[bool]int{false: 0, true: 1}[i == 2]; n != want {
			t.Fatalf("update %d: %d changes, want %d", i, n, want)
		}
	}
	if members() != "a,d" {
		t.Errorf("members %s, want a,d", members())
	}
	// A lead broken off starts again from zero.
	up(map[string]float64{"a": 10, "d": 50, "b": 100})
	up(map[string]float64{"a": 10, "d": 50, "b": 1})
	up(map[string]float64{"a": 10, "d": 50, "b": 100})
	if n := up(map[string]float64{"a": 10, "d": 50, "b": 100}); n != 0 || members() != "a,d" {
		t.Errorf("an interrupted lead took a place: %d changes, members %s", n, members())
	}
}

// seg sends one segment through tr.
func seg(tr *tracker.Tracker, now time.Time, from, to netip.AddrPort, flags tracker.Flags, seq, ack uint32) {
	tr.Track(&tracker.Segment{UnixNano: now.UnixNano(), Src: from.Addr(), SrcPort: from.Port(), Dst: to.Addr(), DstPort: to.Port(),
		Flags: flags, Seq: seq, Ack: ack, Window: 64000})
}

// handshake opens a connection from client to server.
func handshake(tr *tracker.Tracker, now time.Time, client, server netip.AddrPort) {
	seg(tr, now, client, server, tracker.SYN, 1000, 0)
	seg(tr, now, server, client, tracker.SYN|tracker.ACK, 5000, 1001)
	seg(tr, now, client, server, tracker.ACK, 1001, 5001)
}

// TestPortScanCardinality connect-scans all 65,535 ports of a host that
// answers every SYN (a SYN-cookie tarpit: each port two ESTABLISHED
// endpoints and an inferred listener), over real connections to ports 443
// and 80, and
// publishes a snapshot a second for a minute of scanning. The series of
// the per-port and per-listener families never pass the bound the README
// states: (listed ports + top ports + 1) × 9 states, and (top listeners + 1)
// × 8 series. The scan never pushes 443 or 80 out, and the exported set
// changes only where a challenger leads for the hold.
func TestPortScanCardinality(t *testing.T) {
	cfg := BreakdownConfig{Ports: []uint16{22}, TopPorts: 5, TopListeners: 5, Hold: 10}
	tr := tracker.New(tracker.Config{MaxFlows: 1 << 18})
	t0 := time.Unix(1_700_000_000, 0)
	server := netip.MustParseAddr("192.0.2.2")
	for i := range 100 {
		handshake(tr, t0, netip.AddrPortFrom(netip.MustParseAddr("198.51.100.7"), uint16(40000+i)), netip.AddrPortFrom(server, 443))
	}
	for i := range 50 {
		handshake(tr, t0, netip.AddrPortFrom(netip.MustParseAddr("198.51.100.8"), uint16(40000+i)), netip.AddrPortFrom(server, 80))
	}
	b := NewBreakdown(cfg)
	c := NewCollector()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	scanner := netip.MustParseAddr("203.0.113.9")
	ports := rand.New(rand.NewPCG(1, 2)).Perm(65535)
	const rounds = 60
	perRound := (len(ports) + rounds - 1) / rounds
	since := map[string]int{} // port label value: the round it appeared
	changes := 0
	for r := range rounds {
		now := t0.Add(time.Duration(r+1) * time.Second)
		for _, p := range ports[min(r*perRound, len(ports)):min((r+1)*perRound, len(ports))] {
			to := netip.AddrPortFrom(server, uint16(p+1))
			from := netip.AddrPortFrom(scanner, uint16(1024+p%60000))
			seg(tr, now, from, to, tracker.SYN, uint32(p)*7919, 0)
			seg(tr, now, to, from, tracker.SYN|tracker.ACK, 77, uint32(p)*7919+1)
			seg(tr, now, from, to, tracker.ACK, uint32(p)*7919+1, 78)
		}
		s := &Snapshot{Tracker: tr.Stats()}
		b.Update(tr, s)
		c.Publish(s)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		labels := map[string]map[string]bool{}
		series := map[string]int{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				series[mf.GetName()]++
				for _, lp := range m.GetLabel() {
					if lp.GetName() == "port" || lp.GetName() == "listener" {
						if labels[lp.GetName()] == nil {
							labels[lp.GetName()] = map[string]bool{}
						}
						labels[lp.GetName()][lp.GetValue()] = true
					}
				}
			}
		}
		if n, max := len(labels["port"]), cfg.MaxPortLabels(); n > max {
			t.Fatalf("round %d: %d port label values, bound %d", r, n, max)
		}
		if n, max := series["tcptrack_port_connection_states"], cfg.MaxPortLabels()*9; n > max {
			t.Fatalf("round %d: %d per-port series, bound %d", r, n, max)
		}
		if n, max := len(labels["listener"]), cfg.MaxListenerLabels(); n > max {
			t.Fatalf("round %d: %d listener label values, bound %d", r, n, max)
		}
		listenerSeries := 0
		for name, n := range series {
			if strings.HasPrefix(name, "tcptrack_listener_") {
				listenerSeries += n
			}
		}
		if max := cfg.MaxListenerLabels() * 8; listenerSeries > max {
			t.Fatalf("round %d: %d per-listener series, bound %d", r, listenerSeries, max)
		}
		for _, p := range []string{"22", "443", "80", "other"} {
			if !labels["port"][p] {
				t.Fatalf("round %d: port %s not exported: %v", r, p, labels["port"])
			}
		}
		for l := range labels["port"] {
			if _, ok := since[l]; !ok {
				since[l] = r
			}
		}
		for l, from := range since {
			if !labels["port"][l] {
				if r-from < cfg.Hold {
					t.Errorf("round %d: port %s left after %d rounds, before the hold of %d", r, l, r-from, cfg.Hold)
				}
				delete(since, l)
				changes++
			}
		}
	}
	st := tr.Stats()
	if n := st.Transitions[tracker.SynRecv][tracker.Established]; n < 65535 {
		t.Fatalf("the scan completed %d handshakes: it did not reach every port", n)
	}
	t.Logf("%d flows, %d listeners; at most %d port and %d listener label values; %d ports left the exported set, each after the hold",
		st.Flows, st.Listeners, cfg.MaxPortLabels(), cfg.MaxListenerLabels(), changes)
}

// TestBreakdownExposition checks the families' output on a small case:
// two ports, one of them listed, one listener exported and one folded.
func TestBreakdownExposition(t *testing.T) {
	tr := tracker.New(tracker.Config{})
	t0 := time.Unix(1_700_000_000, 0)
	web := netip.MustParseAddrPort("192.0.2.2:443")
	ssh := netip.MustParseAddrPort("192.0.2.3:22")
	for i := range 3 {
		handshake(tr, t0, netip.AddrPortFrom(netip.MustParseAddr("198.51.100.7"), uint16(40000+i)), web)
	}
	handshake(tr, t0, netip.MustParseAddrPort("198.51.100.7:50000"), ssh)
	// An overflow at the web server: its SYN+ACK again after the client's ACK.
	cl := netip.MustParseAddrPort("198.51.100.7:41000")
	handshake(tr, t0, cl, web)
	seg(tr, t0.Add(time.Second), web, cl, tracker.SYN|tracker.ACK, 5000, 1001)

	b := NewBreakdown(BreakdownConfig{Ports: []uint16{22}, TopListeners: 1})
	s := &Snapshot{Tracker: tr.Stats()}
	b.Update(tr, s)
	c := NewCollector()
	c.Publish(s)
	states := func(port string, est, recv int) string {
		var sb strings.Builder
		for st := tracker.State(0); st < tracker.NumStates; st++ {
			if st.Counted() {
				n := map[tracker.State]int{tracker.Established: est, tracker.SynRecv: recv}[st]
				fmt.Fprintf(&sb, "tcptrack_port_connection_states{port=%q,state=%q} %d\n", port, st.Label(), n)
			}
		}
		return sb.String()
	}
	want := `# HELP tcptrack_port_connection_states TCP endpoints by the server port of their connection and state, both ends of each connection counted as in tcptrack_connection_states; the ports given by --metrics.ports and the --metrics.top-ports with the most endpoints, every other port in port="other".
# TYPE tcptrack_port_connection_states gauge
` + states("22", 2, 0) + states("other", 7, 1) + `# HELP tcptrack_listener_accept_overflows_total Wire signature of an accept queue overflow at an inferred listener: a SYN+ACK sent again after the client acknowledged it (the kernel dropped the final ACK, ListenOverflows), or an RST from the listener right after the handshake (tcp_abort_on_overflow); the first also reads a final ACK lost between the capture point and the server.
# TYPE tcptrack_listener_accept_overflows_total counter
tcptrack_listener_accept_overflows_total{listener="192.0.2.2:443"} 1
tcptrack_listener_accept_overflows_total{listener="other"} 0
# HELP tcptrack_listener_handshakes_total Handshakes an inferred listener completed on the wire: its endpoint went from SYN_RECV to ESTABLISHED.
# TYPE tcptrack_listener_handshakes_total counter
tcptrack_listener_handshakes_total{listener="192.0.2.2:443"} 4
tcptrack_listener_handshakes_total{listener="other"} 1
# HELP tcptrack_listener_half_open Endpoints of an inferred listener in SYN_RECV now: answered SYNs whose final ACK has not arrived.
# TYPE tcptrack_listener_half_open gauge
tcptrack_listener_half_open{listener="192.0.2.2:443"} 1
tcptrack_listener_half_open{listener="other"} 0
`
	err := testutil.CollectAndCompare(c, strings.NewReader(want), "tcptrack_port_connection_states",
		"tcptrack_listener_accept_overflows_total", "tcptrack_listener_handshakes_total", "tcptrack_listener_half_open")
	if err != nil {
		t.Error(err)
	}
	if problems, err := testutil.CollectAndLint(c); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
}

// BenchmarkBreakdownUpdate is the cost of one publish's per-port and
// per-listener work at a million flows: 2,000 servers, one listener and
// port each (1,000 distinct ports), 500 connections to each.
func BenchmarkBreakdownUpdate(b *testing.B) {
	tr := tracker.New(tracker.Config{MaxFlows: 1 << 21})
	millionFlows(b, tr)
	bd := NewBreakdown(BreakdownConfig{TopPorts: DefaultTopPorts, TopListeners: DefaultTopListeners})
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		bd.Update(tr, &Snapshot{})
	}
}

// millionFlows opens a million connections in tr: 2,000 servers, one
// listener and port each (1,000 distinct ports), 500 connections to each.
func millionFlows(b *testing.B, tr *tracker.Tracker) {
	t0 := time.Unix(1_700_000_000, 0)
	for srv := range 2000 {
		server := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(srv >> 8), byte(srv)}), uint16(1000+srv%1000))
		for c := range 500 {
			client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, byte(c >> 8), byte(c)}), uint16(20000+srv))
			handshake(tr, t0, client, server)
		}
	}
	if f := tr.Stats().Flows; f != 1_000_000 {
		b.Fatalf("%d flows", f)
	}
}
