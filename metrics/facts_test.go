package metrics

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tcptrack/tcptrack/tracker"
)

// factsTracker returns a tracker that keeps the facts and feeds b's
// handshake histogram, as the live exporter sets it up.
func factsTracker(b *Breakdown, maxFlows int) *tracker.Tracker {
	return tracker.New(tracker.Config{MaxFlows: maxFlows, Info: true, OnHandshake: b.ObserveHandshake})
}

// timedHandshake opens a connection from client to server at now, the
// SYN+ACK syn after the SYN and the ACK ack after that.
func timedHandshake(tr *tracker.Tracker, now time.Time, client, server netip.AddrPort, syn, ack time.Duration) {
	seg(tr, now, client, server, tracker.SYN, 1000, 0)
	seg(tr, now.Add(syn), server, client, tracker.SYN|tracker.ACK, 5000, 1001)
	seg(tr, now.Add(syn+ack), client, server, tracker.ACK, 1001, 5001)
}

// TestHandshakeRTTByPort: each handshake's SYN-to-ACK time lands in the
// bucket of its server port, or of other; a port that leaves the exported
// set takes its counts with it, later handshakes go to other, and other
// never goes backwards.
func TestHandshakeRTTByPort(t *testing.T) {
	b := NewBreakdown(BreakdownConfig{TopPorts: 1, Hold: 1})
	tr := factsTracker(b, 1<<12)
	c := NewCollector()
	t0 := time.Unix(1_700_000_000, 0)
	server := netip.MustParseAddr("192.0.2.2")
	client := func(i int) netip.AddrPort {
		return netip.AddrPortFrom(netip.MustParseAddr("198.51.100.7"), uint16(40000+i))
	}
	publish := func() *Snapshot {
		s := &Snapshot{Tracker: tr.Stats()}
		b.Update(tr, s)
		c.Publish(s)
		return s
	}
	// Port 443's first handshake counts in other: it is not exported
	// before a publish has seen it. From then on it leads, and its next
	// three handshakes are its own; the one to 8080 is other's.
	timedHandshake(tr, t0, client(9), netip.AddrPortFrom(server, 443), 30*time.Microsecond, 300*time.Microsecond)
	publish()
	for i := range 3 {
		timedHandshake(tr, t0, client(i), netip.AddrPortFrom(server, 443), 30*time.Microsecond, 2*time.Millisecond)
	}
	timedHandshake(tr, t0, client(10), netip.AddrPortFrom(server, 443), 0, 2*time.Millisecond) // SYN+ACK in the SYN's microsecond: no RTT
	timedHandshake(tr, t0, client(3), netip.AddrPortFrom(server, 8080), time.Millisecond, 40*time.Millisecond)
	seg(tr, t0, client(4), netip.AddrPortFrom(server, 443), tracker.SYN|tracker.ACK, 7000, 2001) // picked up: no handshake
	seg(tr, t0, netip.AddrPortFrom(server, 443), client(4), tracker.ACK, 2001, 7001)
	publish()
	want := `
# HELP tcptrack_handshake_rtt_seconds ` + handshakeRTTHelp + `
# TYPE tcptrack_handshake_rtt_seconds histogram
` + rttLines("443", 3, 3*0.00203, map[string]uint64{"0.0025": 3}) +
		rttLines("other", 2, 0.00033+0.041, map[string]uint64{"0.0005": 1, "0.05": 1})
	check := func(when, want string) {
		t.Helper()
		err := testutil.CollectAndCompare(c, strings.NewReader(want), "tcptrack_handshake_rtt_seconds")
		if err != nil {
			t.Errorf("%s: %v", when, err)
		}
	}
	check("443 exported", want)

	// 8080 takes the lead and 443's place: 443's series goes, its next
	// handshake counts in other.
	for i := range 20 {
		seg(tr, t0, netip.AddrPortFrom(netip.MustParseAddr("198.51.100.8"), uint16(30000+i)), netip.AddrPortFrom(server, 8080), tracker.SYN, 1, 0)
	}
	seg(tr, t0, client(0), netip.AddrPortFrom(server, 443), tracker.RST, 1001, 0)
	seg(tr, t0, client(1), netip.AddrPortFrom(server, 443), tracker.RST, 1001, 0)
	seg(tr, t0, client(2), netip.AddrPortFrom(server, 443), tracker.RST, 1001, 0)
	seg(tr, t0, client(10), netip.AddrPortFrom(server, 443), tracker.RST, 1001, 0)
	seg(tr, t0, client(9), netip.AddrPortFrom(server, 443), tracker.RST, 1001, 0)
	seg(tr, t0, client(4), netip.AddrPortFrom(server, 443), tracker.RST, 7001, 0)
	if s := publish(); len(s.Ports) != 1 || s.Ports[0].Port != 8080 {
		t.Fatalf("exported ports %v, want 8080 alone", s.Ports)
	}
	timedHandshake(tr, t0, client(5), netip.AddrPortFrom(server, 443), 100*time.Microsecond, 20*time.Second)
	publish()
	check("8080 exported", `
# HELP tcptrack_handshake_rtt_seconds `+handshakeRTTHelp+`
# TYPE tcptrack_handshake_rtt_seconds histogram
`+rttLines("8080", 0, 0, nil)+rttLines("other", 3, 0.00033+0.041+20.0001, map[string]uint64{"0.0005": 1, "0.05": 1}))
}

// rttLines returns the exposition of one port's histogram, counts given by
// bucket as the lowest bound (le) each falls within.
func rttLines(port string, count uint64, sum float64, at map[string]uint64) string {
	var sb strings.Builder
	var n uint64
	for _, le := range RTTBuckets {
		l := fmt.Sprint(le.Seconds())
		n += at[l]
		fmt.Fprintf(&sb, "tcptrack_handshake_rtt_seconds_bucket{port=%q,le=%q} %d\n", port, l, n)
	}
	fmt.Fprintf(&sb, "tcptrack_handshake_rtt_seconds_bucket{port=%q,le=\"+Inf\"} %d\n", port, count)
	fmt.Fprintf(&sb, "tcptrack_handshake_rtt_seconds_sum{port=%q} %v\n", port, sum)
	fmt.Fprintf(&sb, "tcptrack_handshake_rtt_seconds_count{port=%q} %d\n", port, count)
	return sb.String()
}

// TestOldestEndpointAge: a connection to port 443 closed by its client
// leaves the server in CLOSE_WAIT; its age is the time since the FIN, by
// state and by port (443 listed, 22 in other), and 0 for a state nobody is
// in (the client's FIN_WAIT2 is long gone to its timer).
func TestOldestEndpointAge(t *testing.T) {
	b := NewBreakdown(BreakdownConfig{Ports: []uint16{443}})
	tr := factsTracker(b, 1<<12)
	c := NewCollector()
	t0 := time.Unix(1_700_000_000, 0)
	srv := netip.MustParseAddrPort("192.0.2.2:443")
	cl := netip.MustParseAddrPort("198.51.100.7:40000")
	timedHandshake(tr, t0, cl, srv, time.Millisecond, time.Millisecond)
	seg(tr, t0.Add(time.Second), cl, srv, tracker.FIN|tracker.ACK, 1001, 5001)
	seg(tr, t0.Add(time.Second+time.Millisecond), srv, cl, tracker.ACK, 5001, 1002)
	// Another connection, to port 22, stays ESTABLISHED since t0 + 2 ms.
	timedHandshake(tr, t0, netip.MustParseAddrPort("198.51.100.7:40001"), netip.MustParseAddrPort("192.0.2.2:22"), time.Millisecond, time.Millisecond)
	tr.Advance(t0.Add(11 * time.Minute))
	s := &Snapshot{Tracker: tr.Stats()}
	b.Update(tr, s)
	c.Publish(s)
	if !s.Facts {
		t.Fatal("no facts in the snapshot of a tracker that keeps them")
	}
	age := func(since time.Duration) float64 { return (11*time.Minute - since).Seconds() }
	for _, tc := range []struct {
		name, port, state string
		want              float64
	}{
		{"tcptrack_oldest_endpoint_age_seconds", "", "close_wait", age(time.Second)},
		{"tcptrack_oldest_endpoint_age_seconds", "", "established", age(time.Millisecond)},
		{"tcptrack_oldest_endpoint_age_seconds", "", "last_ack", 0},
		{"tcptrack_port_oldest_endpoint_age_seconds", "443", "close_wait", age(time.Second)},
		{"tcptrack_port_oldest_endpoint_age_seconds", "443", "established", 0},
		{"tcptrack_port_oldest_endpoint_age_seconds", "other", "established", age(time.Millisecond)},
		{"tcptrack_port_oldest_endpoint_age_seconds", "other", "close_wait", 0},
	} {
		labels := prometheus.Labels{"state": tc.state}
		if tc.port != "" {
			labels["port"] = tc.port
		}
		got, err := gaugeValue(c, tc.name, labels)
		if err != nil || got != tc.want {
			t.Errorf("%s%v = %v (%v), want %v", tc.name, labels, got, err, tc.want)
		}
	}
}

// gaugeValue gathers c and returns the value of the series name{labels}.
func gaugeValue(c prometheus.Collector, name string, labels prometheus.Labels) (float64, error) {
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		return 0, err
	}
	mfs, err := reg.Gather()
	if err != nil {
		return 0, err
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue series
				}
			}
			return m.GetGauge().GetValue(), nil
		}
	}
	return 0, fmt.Errorf("no series %s%v", name, labels)
}

// TestNoFactsNoFamilies: a tracker without Config.Info exports none of the
// facts' families, rather than zeros that would read as "none".
func TestNoFactsNoFamilies(t *testing.T) {
	b := NewBreakdown(BreakdownConfig{TopPorts: 1})
	tr := tracker.New(tracker.Config{MaxFlows: 1 << 12})
	timedHandshake(tr, time.Unix(1_700_000_000, 0), netip.MustParseAddrPort("198.51.100.7:40000"), netip.MustParseAddrPort("192.0.2.2:443"), time.Millisecond, time.Millisecond)
	c := NewCollector()
	s := &Snapshot{Tracker: tr.Stats()}
	b.Update(tr, s)
	c.Publish(s)
	for _, name := range []string{"tcptrack_handshake_rtt_seconds", "tcptrack_oldest_endpoint_age_seconds", "tcptrack_port_oldest_endpoint_age_seconds"} {
		if n := testutil.CollectAndCount(c, name); n != 0 {
			t.Errorf("%s: %d series without the facts", name, n)
		}
	}
}

// BenchmarkObserveHandshake is the capture goroutine's cost of a handshake
// for the histogram, beyond the tracker's.
func BenchmarkObserveHandshake(b *testing.B) {
	bd := NewBreakdown(BreakdownConfig{TopPorts: DefaultTopPorts})
	c := &tracker.Conn{SynRTT: 40 * time.Microsecond, AckRTT: 12 * time.Millisecond}
	c.Server.Addr = netip.MustParseAddrPort("192.0.2.2:443")
	b.ReportAllocs()
	for range b.N {
		bd.ObserveHandshake(c)
	}
}

// BenchmarkOldestAges measures, at a million flows, the ages of the oldest
// endpoints by port as the publish computes them (table: one read of the
// table, tracker.OldestByServerPort) against the same from Tracker.Conns,
// which builds every Conn.
func BenchmarkOldestAges(b *testing.B) {
	bd := NewBreakdown(BreakdownConfig{TopPorts: DefaultTopPorts})
	tr := factsTracker(bd, 1<<21)
	millionFlows(b, tr)
	bd.Update(tr, &Snapshot{})
	b.Run("table", func(b *testing.B) {
		oldest := make([][tracker.NumStates]int64, len(bd.rowPorts)+1)
		for range b.N {
			tr.OldestByServerPort(&bd.rows, oldest)
		}
	})
	b.Run("conns", func(b *testing.B) {
		oldest := make([][tracker.NumStates]int64, len(bd.rowPorts)+1)
		for range b.N {
			tr.Conns(func(c *tracker.Conn) {
				row := &oldest[bd.rows[c.Server.Addr.Port()]]
				lower(row, &c.Client)
				lower(row, &c.Server)
			})
		}
	})
}

// lower lowers row's time for e's state to e.Since, as
// tracker.OldestByServerPort does.
func lower(row *[tracker.NumStates]int64, e *tracker.EndpointInfo) {
	if s := e.Since.UnixNano(); e.Confirmed && e.State.Counted() && (row[e.State] == 0 || s < row[e.State]) {
		row[e.State] = s
	}
}
