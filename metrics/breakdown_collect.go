package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tcptrack/tcptrack/tracker"
)

// otherLabel is the port and listener label value of everything not
// exported on its own.
const otherLabel = "other"

// breakdown is the Collector's per-port and per-listener families. Their
// label values are bounded by BreakdownConfig: MaxPortLabels ports and
// MaxListenerLabels listeners, "other" included.
type breakdown struct {
	portStates, listenerSYNs, listenerUnanswered, listenerSynAckRetransmits, listenerHandshakes,
	listenerResets, listenerOverflows, listenerHalfOpen *prometheus.Desc
}

func newBreakdownDescs(desc func(name, help string, labels ...string) *prometheus.Desc) breakdown {
	return breakdown{
		portStates: desc("port_connection_states",
			"TCP endpoints by the server port of their connection and state, both ends of each connection counted as in tcptrack_connection_states; "+
				"the ports given by --metrics.ports and the --metrics.top-ports with the most endpoints, every other port in port=\"other\".",
			"port", "state"),
		listenerSYNs: desc("listener_syns_total",
			"Connection attempts (first SYNs) to an inferred listener, counted when answered by a SYN+ACK or given up unanswered; "+
				"the --metrics.top-listeners with the most recent attempts, every other listener in listener=\"other\".",
			"listener"),
		listenerUnanswered: desc("listener_syns_unanswered_total",
			"Connection attempts to an inferred listener that it answered neither with SYN+ACK nor RST, counted when the client gave up (handshake timeout, a new SYN) or the flow was forgotten.",
			"listener"),
		listenerSynAckRetransmits: desc("listener_synack_retransmits_total",
			"SYN+ACK segments an inferred listener sent again.",
			"listener"),
		listenerHandshakes: desc("listener_handshakes_total",
			"Handshakes an inferred listener completed on the wire: its endpoint went from SYN_RECV to ESTABLISHED.",
			"listener"),
		listenerResets: desc("listener_resets_after_handshake_total",
			"Connections to an inferred listener reset right after the handshake, before either side sent data, by the side that sent the RST (client or server).",
			"listener", "by"),
		listenerOverflows: desc("listener_accept_overflows_total",
			"Wire signature of an accept queue overflow at an inferred listener: a SYN+ACK sent again after the client acknowledged it (the kernel dropped the final ACK, ListenOverflows), "+
				"or an RST from the listener right after the handshake (tcp_abort_on_overflow); the first also reads a final ACK lost between the capture point and the server.",
			"listener"),
		listenerHalfOpen: desc("listener_half_open",
			"Endpoints of an inferred listener in SYN_RECV now: answered SYNs whose final ACK has not arrived.",
			"listener"),
	}
}

func (b *breakdown) describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		b.portStates, b.listenerSYNs, b.listenerUnanswered, b.listenerSynAckRetransmits, b.listenerHandshakes,
		b.listenerResets, b.listenerOverflows, b.listenerHalfOpen,
	} {
		ch <- d
	}
}

// collect sends the families; "other" is always there, zeros included, so
// that a sum over the family never loses a series.
func (b *breakdown) collect(ch chan<- prometheus.Metric, s *Snapshot) {
	ports := func(label string, states *[tracker.NumStates]int) {
		for st := tracker.State(0); st < tracker.NumStates; st++ {
			if st.Counted() {
				ch <- prometheus.MustNewConstMetric(b.portStates, prometheus.GaugeValue, float64(states[st]), label, st.Label())
			}
		}
	}
	for i := range s.Ports {
		ports(strconv.Itoa(int(s.Ports[i].Port)), &s.Ports[i].States)
	}
	ports(otherLabel, &s.PortsOther)

	listener := func(label string, h *tracker.ListenerHealth) {
		counter := func(d *prometheus.Desc, v uint64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append([]string{label}, labels...)...)
		}
		counter(b.listenerSYNs, h.SYNs)
		counter(b.listenerUnanswered, h.Unanswered)
		counter(b.listenerSynAckRetransmits, h.SynAckRetransmits)
		counter(b.listenerHandshakes, h.Handshakes)
		counter(b.listenerResets, h.Resets-h.ServerResets, "client")
		counter(b.listenerResets, h.ServerResets, "server")
		counter(b.listenerOverflows, h.Overflows)
		ch <- prometheus.MustNewConstMetric(b.listenerHalfOpen, prometheus.GaugeValue, float64(h.HalfOpen), label)
	}
	for i := range s.Listeners {
		listener(s.Listeners[i].Label, &s.Listeners[i].ListenerHealth)
	}
	listener(otherLabel, &s.ListenersOther)
}
