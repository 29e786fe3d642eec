package metrics

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tcptrack/tcptrack/tracker"
)

// header is the HELP and TYPE of every family, written out here rather than
// taken from the collector so that a change of wording shows in review.
var header = map[string]string{
	"tcptrack_connection_states": `# HELP tcptrack_connection_states TCP endpoints seen on the wire by state, counted as netstat counts sockets (both ends of every connection); state values are those of node_exporter's node_tcp_connection_states, listen being listeners inferred from SYN+ACK answers.
# TYPE tcptrack_connection_states gauge
`,
	"tcptrack_unconfirmed_endpoints": `# HELP tcptrack_unconfirmed_endpoints TCP endpoints by state that never showed they are a real stack (never acknowledged the peer's sequence number nor retransmitted a SYN): spoofed SYN sources, answered or not. Not part of tcptrack_connection_states.
# TYPE tcptrack_unconfirmed_endpoints gauge
`,
	"tcptrack_flows": `# HELP tcptrack_flows Connections (4-tuple and VLAN) held in the flow table.
# TYPE tcptrack_flows gauge
`,
	"tcptrack_flows_max": `# HELP tcptrack_flows_max Size bound of the flow table (--max-flows); a full table evicts flows.
# TYPE tcptrack_flows_max gauge
`,
	"tcptrack_packets_total": `# HELP tcptrack_packets_total Frames read from the capture, TCP or not.
# TYPE tcptrack_packets_total counter
`,
	"tcptrack_segments_total": `# HELP tcptrack_segments_total TCP segments fed to the connection tracker.
# TYPE tcptrack_segments_total counter
`,
	"tcptrack_transitions_total": `# HELP tcptrack_transitions_total State changes of TCP endpoints, by state before (from) and after (to); a pair appears once it has happened.
# TYPE tcptrack_transitions_total counter
`,
	"tcptrack_rst_ignored_total": `# HELP tcptrack_rst_ignored_total RST segments ignored because their sequence number was outside the receiver's window (RFC 5961).
# TYPE tcptrack_rst_ignored_total counter
`,
	"tcptrack_rst_challenged_total": `# HELP tcptrack_rst_challenged_total RST segments inside the receiver's window but not at its next expected sequence number: Linux answers them with a challenge ACK and keeps the connection (RFC 5961).
# TYPE tcptrack_rst_challenged_total counter
`,
	"tcptrack_segments_ignored_total": `# HELP tcptrack_segments_ignored_total TCP segments that changed no state because their sequence or acknowledgment number was outside the window.
# TYPE tcptrack_segments_ignored_total counter
`,
	"tcptrack_decode_errors_total": `# HELP tcptrack_decode_errors_total Malformed frames skipped by the decoder, by reason (truncated by the snaplen, bad lengths, bad options, ...).
# TYPE tcptrack_decode_errors_total counter
`,
	"tcptrack_evictions_total": `# HELP tcptrack_evictions_total Flows dropped from the full flow table, by reason: closed, half_open (handshake not completed, or seen from one side), idle (longest idle); and listener: inferred listeners forgotten at their bound.
# TYPE tcptrack_evictions_total counter
`,
	"tcptrack_capture_drops_total": `# HELP tcptrack_capture_drops_total Packets lost before tcptrack saw them, as libpcap reports: where=kernel when the capture buffer was full, where=interface when the network interface or its driver dropped them.
# TYPE tcptrack_capture_drops_total counter
`,
	"tcptrack_capture_up": `# HELP tcptrack_capture_up 1 while the capture handle is open, 0 while the interface is gone or being reopened.
# TYPE tcptrack_capture_up gauge
`,
}

// expo assembles expected exposition text: each family's header followed by
// its sample lines.
func expo(families ...string) string {
	var b strings.Builder
	for i := 0; i < len(families); i += 2 {
		b.WriteString(header[families[i]])
		b.WriteString(families[i+1])
	}
	return b.String()
}

// stateStats builds tracker.Stats from node_exporter label values, so that
// expectations are written in the exported spelling.
func stateStats(t testing.TB, counts map[string]int) tracker.Stats {
	t.Helper()
	var s tracker.Stats
	for label, n := range counts {
		st, ok := tracker.ParseState(label)
		if !ok {
			t.Fatalf("unknown state label %q", label)
		}
		if st == tracker.Listen {
			s.Listeners = n
			continue
		}
		s.States[st] = n
	}
	return s
}

// testSnapshot is a busy Snapshot with every field set to a distinct value.
func testSnapshot(t testing.TB) *Snapshot {
	t.Helper()
	st := stateStats(t, map[string]int{
		"established": 120, "syn_sent": 3, "syn_recv": 4, "fin_wait1": 5, "fin_wait2": 6,
		"time_wait": 70, "close_wait": 8, "last_ack": 9, "closing": 1, "listen": 2,
	})
	st.Unconfirmed[tracker.Established] = 7
	st.Unconfirmed[tracker.SynSent] = 5000
	st.Flows = 118
	st.MaxFlows = 1 << 20
	st.Segments = 99000
	st.Transitions[tracker.Close][tracker.SynSent] = 40
	st.Transitions[tracker.SynSent][tracker.Established] = 37
	st.Transitions[tracker.Established][tracker.FinWait1] = 11
	st.IgnoredRST = 2
	st.ChallengedRST = 6
	st.Ignored = 17
	st.Evictions[tracker.EvictClosed] = 30
	st.Evictions[tracker.EvictHalfOpen] = 4
	st.Evictions[tracker.EvictIdle] = 1
	return &Snapshot{
		Tracker: st,
		Decode: []ReasonCount{
			{"truncated", 3},
			{"tcp_options", 0},
		},
		Packets:     100500,
		CaptureUp:   true,
		KernelDrops: 12,
		IfaceDrops:  7,
	}
}

func TestCollector(t *testing.T) {
	tests := []struct {
		name string
		snap *Snapshot // nil: nothing published
		want string
	}{
		{
			name: "nothing published",
			want: expo(
				"tcptrack_connection_states", `tcptrack_connection_states{state="established"} 0
tcptrack_connection_states{state="syn_sent"} 0
tcptrack_connection_states{state="syn_recv"} 0
tcptrack_connection_states{state="fin_wait1"} 0
tcptrack_connection_states{state="fin_wait2"} 0
tcptrack_connection_states{state="time_wait"} 0
tcptrack_connection_states{state="close_wait"} 0
tcptrack_connection_states{state="last_ack"} 0
tcptrack_connection_states{state="closing"} 0
tcptrack_connection_states{state="listen"} 0
`,
				"tcptrack_unconfirmed_endpoints", `tcptrack_unconfirmed_endpoints{state="established"} 0
tcptrack_unconfirmed_endpoints{state="syn_sent"} 0
tcptrack_unconfirmed_endpoints{state="syn_recv"} 0
tcptrack_unconfirmed_endpoints{state="fin_wait1"} 0
tcptrack_unconfirmed_endpoints{state="fin_wait2"} 0
tcptrack_unconfirmed_endpoints{state="time_wait"} 0
tcptrack_unconfirmed_endpoints{state="close_wait"} 0
tcptrack_unconfirmed_endpoints{state="last_ack"} 0
tcptrack_unconfirmed_endpoints{state="closing"} 0
`,
				"tcptrack_flows", "tcptrack_flows 0\n",
				"tcptrack_flows_max", "tcptrack_flows_max 0\n",
				"tcptrack_packets_total", "tcptrack_packets_total 0\n",
				"tcptrack_segments_total", "tcptrack_segments_total 0\n",
				"tcptrack_rst_ignored_total", "tcptrack_rst_ignored_total 0\n",
				"tcptrack_rst_challenged_total", "tcptrack_rst_challenged_total 0\n",
				"tcptrack_segments_ignored_total", "tcptrack_segments_ignored_total 0\n",
				"tcptrack_evictions_total", `tcptrack_evictions_total{reason="closed"} 0
tcptrack_evictions_total{reason="half_open"} 0
tcptrack_evictions_total{reason="idle"} 0
tcptrack_evictions_total{reason="listener"} 0
`,
				"tcptrack_capture_drops_total", `tcptrack_capture_drops_total{where="kernel"} 0
tcptrack_capture_drops_total{where="interface"} 0
`,
				"tcptrack_capture_up", "tcptrack_capture_up 0\n",
			),
		},
		{
			name: "busy",
			snap: testSnapshot(t),
			want: expo(
				"tcptrack_connection_states", `tcptrack_connection_states{state="established"} 120
tcptrack_connection_states{state="syn_sent"} 3
tcptrack_connection_states{state="syn_recv"} 4
tcptrack_connection_states{state="fin_wait1"} 5
tcptrack_connection_states{state="fin_wait2"} 6
tcptrack_connection_states{state="time_wait"} 70
tcptrack_connection_states{state="close_wait"} 8
tcptrack_connection_states{state="last_ack"} 9
tcptrack_connection_states{state="closing"} 1
tcptrack_connection_states{state="listen"} 2
`,
				"tcptrack_unconfirmed_endpoints", `tcptrack_unconfirmed_endpoints{state="established"} 7
tcptrack_unconfirmed_endpoints{state="syn_sent"} 5000
tcptrack_unconfirmed_endpoints{state="syn_recv"} 0
tcptrack_unconfirmed_endpoints{state="fin_wait1"} 0
tcptrack_unconfirmed_endpoints{state="fin_wait2"} 0
tcptrack_unconfirmed_endpoints{state="time_wait"} 0
tcptrack_unconfirmed_endpoints{state="close_wait"} 0
tcptrack_unconfirmed_endpoints{state="last_ack"} 0
tcptrack_unconfirmed_endpoints{state="closing"} 0
`,
				"tcptrack_flows", "tcptrack_flows 118\n",
				"tcptrack_flows_max", "tcptrack_flows_max 1.048576e+06\n",
				"tcptrack_packets_total", "tcptrack_packets_total 100500\n",
				"tcptrack_segments_total", "tcptrack_segments_total 99000\n",
				"tcptrack_transitions_total", `tcptrack_transitions_total{from="close",to="syn_sent"} 40
tcptrack_transitions_total{from="syn_sent",to="established"} 37
tcptrack_transitions_total{from="established",to="fin_wait1"} 11
`,
				"tcptrack_rst_ignored_total", "tcptrack_rst_ignored_total 2\n",
				"tcptrack_rst_challenged_total", "tcptrack_rst_challenged_total 6\n",
				"tcptrack_segments_ignored_total", "tcptrack_segments_ignored_total 17\n",
				"tcptrack_decode_errors_total", `tcptrack_decode_errors_total{reason="truncated"} 3
tcptrack_decode_errors_total{reason="tcp_options"} 0
`,
				"tcptrack_evictions_total", `tcptrack_evictions_total{reason="closed"} 30
tcptrack_evictions_total{reason="half_open"} 4
tcptrack_evictions_total{reason="idle"} 1
tcptrack_evictions_total{reason="listener"} 0
`,
				"tcptrack_capture_drops_total", `tcptrack_capture_drops_total{where="kernel"} 12
tcptrack_capture_drops_total{where="interface"} 7
`,
				"tcptrack_capture_up", "tcptrack_capture_up 1\n",
			),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewCollector()
			if tt.snap != nil {
				c.Publish(tt.snap)
			}
			// The per-port and per-listener families have tests of their
			// own (breakdown_test.go).
			if err := testutil.CollectAndCompare(c, strings.NewReader(tt.want), slices.Collect(maps.Keys(header))...); err != nil {
				t.Error(err)
			}
			problems, err := testutil.CollectAndLint(c)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range problems {
				t.Errorf("lint: %s: %s", p.Metric, p.Text)
			}
		})
	}
}

// TestCollectorPublishWhileScraping runs scrapes against a stream of
// publishes; under -race it shows that the two share nothing but the pointer,
// and each scrape sees one whole Snapshot, never a mix of two.
func TestCollectorPublishWhileScraping(t *testing.T) {
	c := NewCollector()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)

	const rounds = 200
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; i <= rounds; i++ {
			s := &Snapshot{Packets: uint64(i), CaptureUp: true}
			s.Tracker.Segments = uint64(i)
			c.Publish(s)
		}
	}()
	for range rounds {
		v := counters(t, reg)
		if packets, segments := v["tcptrack_packets_total"], v["tcptrack_segments_total"]; packets != segments {
			t.Fatalf("scrape mixed two snapshots: packets %v, segments %v", packets, segments)
		}
	}
	wg.Wait()
	if got := counters(t, reg)["tcptrack_packets_total"]; got != rounds {
		t.Errorf("after the last Publish, packets = %v, want %d", got, rounds)
	}
}

// counters gathers reg once and returns the values of its unlabelled
// counters by name.
func counters(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	v := map[string]float64{}
	for _, mf := range mfs {
		if m := mf.GetMetric(); len(m) == 1 && m[0].GetCounter() != nil {
			v[mf.GetName()] = m[0].GetCounter().GetValue()
		}
	}
	return v
}

func TestWriteCounts(t *testing.T) {
	tests := []struct {
		name   string
		counts map[string]int
		listen bool
		want   string
	}{
		{name: "empty", want: ""},
		{
			name: "every state, fixed order",
			counts: map[string]int{
				"closing": 1, "last_ack": 2, "close_wait": 3, "time_wait": 4, "fin_wait2": 5,
				"fin_wait1": 6, "syn_recv": 7, "syn_sent": 8, "established": 9,
			},
			want: "ESTABLISHED 9\nSYN_SENT 8\nSYN_RECV 7\nFIN_WAIT1 6\nFIN_WAIT2 5\n" +
				"TIME_WAIT 4\nCLOSE_WAIT 3\nLAST_ACK 2\nCLOSING 1\n",
		},
		{
			name:   "zeros left out, listeners hidden without --all",
			counts: map[string]int{"established": 2, "time_wait": 1, "listen": 3},
			want:   "ESTABLISHED 2\nTIME_WAIT 1\n",
		},
		{
			name:   "listeners last with --all",
			counts: map[string]int{"established": 2, "time_wait": 1, "listen": 3},
			listen: true,
			want:   "ESTABLISHED 2\nTIME_WAIT 1\nLISTEN 3\n",
		},
		{
			name:   "no listeners, no LISTEN line",
			counts: map[string]int{"close_wait": 1},
			listen: true,
			want:   "CLOSE_WAIT 1\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := stateStats(t, tt.counts)
			var b strings.Builder
			if err := WriteCounts(&b, &s, tt.listen); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
			}
		})
	}
}

var errBrokenPipe = errors.New("broken pipe")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errBrokenPipe }

func TestWriteCountsError(t *testing.T) {
	s := stateStats(t, map[string]int{"established": 1})
	if err := WriteCounts(failingWriter{}, &s, false); !errors.Is(err, errBrokenPipe) {
		t.Errorf("got %v, want an error wrapping %v", err, errBrokenPipe)
	}
}
