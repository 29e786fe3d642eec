package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tcptrack/tcptrack/tracker"
)

// facts is the Collector's families of the per-connection facts, exported
// only when the Snapshot has them. Their port label values are those of
// tcptrack_port_connection_states.
type facts struct {
	handshakeRTT, oldestAge, portOldestAge *prometheus.Desc
}

const handshakeRTTHelp = "Round trip of completed TCP handshakes as the capture point saw them, from the client's SYN to its ACK of the server's SYN+ACK " +
	"(the same wherever the capture point sits on the path; a SYN resent counts from the last one), " +
	"by server port: the ports of tcptrack_port_connection_states, every other port in port=\"other\"."

func newFactsDescs(desc func(name, help string, labels ...string) *prometheus.Desc) facts {
	return facts{
		handshakeRTT: desc("handshake_rtt_seconds", handshakeRTTHelp, "port"),
		oldestAge: desc("oldest_endpoint_age_seconds",
			"Time the longest-standing TCP endpoint in each state has been in it (0: none), endpoints counted as in tcptrack_connection_states.",
			"state"),
		portOldestAge: desc("port_oldest_endpoint_age_seconds",
			"Time the longest-standing TCP endpoint in each state has been in it (0: none), by the server port of its connection: the ports of tcptrack_port_connection_states, every other port in port=\"other\".",
			"port", "state"),
	}
}

func (f *facts) describe(ch chan<- *prometheus.Desc) {
	ch <- f.handshakeRTT
	ch <- f.oldestAge
	ch <- f.portOldestAge
}

func (f *facts) collect(ch chan<- prometheus.Metric, s *Snapshot) {
	if !s.Facts {
		return
	}
	now := s.Tracker.Time.UnixNano()
	ages := func(oldest *[tracker.NumStates]int64, emit func(age float64, state string)) {
		for st := tracker.State(0); st < tracker.NumStates; st++ {
			if !st.Counted() {
				continue
			}
			age := 0.0
			if since := oldest[st]; since != 0 {
				age = time.Duration(max(now-since, 0)).Seconds()
			}
			emit(age, st.Label())
		}
	}
	ages(&s.Oldest, func(age float64, state string) {
		ch <- prometheus.MustNewConstMetric(f.oldestAge, prometheus.GaugeValue, age, state)
	})
	port := func(label string, h *RTTHistogram, oldest *[tracker.NumStates]int64) {
		buckets := make(map[float64]uint64, len(RTTBuckets))
		var n uint64
		for i, le := range RTTBuckets {
			n += h.Counts[i]
			buckets[le.Seconds()] = n
		}
		ch <- prometheus.MustNewConstHistogram(f.handshakeRTT, h.Count(), h.Sum.Seconds(), buckets, label)
		ages(oldest, func(age float64, state string) {
			ch <- prometheus.MustNewConstMetric(f.portOldestAge, prometheus.GaugeValue, age, label, state)
		})
	}
	for i := range s.Ports {
		port(strconv.Itoa(int(s.Ports[i].Port)), &s.Ports[i].RTT, &s.Ports[i].Oldest)
	}
	port(otherLabel, &s.PortsOtherRTT, &s.PortsOtherOldest)
}
