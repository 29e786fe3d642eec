package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tcptrack/tcptrack/tracker"
)

const namespace = "tcptrack"

// ReasonCount is one counter of a labelled family, e.g. decode errors with
// reason "truncated". Plain pairs keep this package independent of the
// decoder's own types.
type ReasonCount struct {
	Reason string
	N      uint64
}

// Snapshot is everything a scrape reports, as one immutable value. The capture
// goroutine builds a new one and hands it over with Collector.Publish; it must
// not touch it afterwards. Every counter is cumulative over the life of the
// process: when a capture handle is reopened, the publisher adds the new
// handle's drop counts to those of the old ones, so that counters never go
// backwards.
type Snapshot struct {
	Tracker tracker.Stats
	// Decode counts malformed frames the decoder skipped, by reason. Give
	// every malformed reason the decoder knows, zeros included, so that a
	// series exists before its first error and rate() sees the first one;
	// reasons must be unique. Frames that are well formed but not usable TCP
	// (ARP, UDP, fragments) are not errors and do not belong here: an alert
	// on this counter must not fire on ARP. They show as packets_total minus
	// segments_total.
	Decode      []ReasonCount
	Packets     uint64 // frames read from the capture, TCP or not
	CaptureUp   bool   // the capture handle is open
	KernelDrops uint64 // libpcap ps_drop: no room in the kernel buffer
	IfaceDrops  uint64 // libpcap ps_ifdrop: dropped by the interface or driver
	// Ports is the endpoints of the exported server ports, by state, and
	// PortsOther those of every other port (see Breakdown).
	Ports      []PortStates
	PortsOther [tracker.NumStates]int
	// Listeners is the health of the exported listeners, ListenersOther
	// the sum of every other's (see Breakdown).
	Listeners      []ListenerCounters
	ListenersOther tracker.ListenerHealth
	// Facts says the tracker kept the per-connection facts
	// (tracker.Config.Info), so that the handshake RTTs and the ages of
	// the oldest endpoints are here: Ports[i].RTT and .Oldest, and
	// PortsOtherRTT and PortsOtherOldest for every other port; Oldest is
	// over all ports. Without them those families are not exported.
	Facts            bool
	PortsOtherRTT    RTTHistogram
	PortsOtherOldest [tracker.NumStates]int64
	Oldest           [tracker.NumStates]int64
}

// Collector is a prometheus.Collector over the last published Snapshot.
// Capture publishes, scrapes read; neither ever waits for the other.
type Collector struct {
	snap atomic.Pointer[Snapshot]

	states, unconfirmed, flows, flowsMax, packets, segments, transitions, rstIgnored, rstChallenged,
	segmentsIgnored, decodeErrors, evictions, captureDrops, captureUp *prometheus.Desc
	breakdown
	facts
}

// NewCollector returns a Collector that reports an empty Snapshot, with the
// capture down, until the first Publish.
func NewCollector() *Collector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
	}
	return &Collector{
		states: desc("connection_states",
			"TCP endpoints seen on the wire by state, counted as netstat counts sockets (both ends of every connection); "+
				"state values are those of node_exporter's node_tcp_connection_states, listen being listeners inferred from SYN+ACK answers.",
			"state"),
		unconfirmed: desc("unconfirmed_endpoints",
			"TCP endpoints by state that never showed they are a real stack (never acknowledged the peer's sequence number nor retransmitted a SYN): "+
				"spoofed SYN sources, answered or not. Not part of tcptrack_connection_states.",
			"state"),
		flows:    desc("flows", "Connections (4-tuple and VLAN) held in the flow table."),
		flowsMax: desc("flows_max", "Size bound of the flow table (--max-flows); a full table evicts flows."),
		packets:  desc("packets_total", "Frames read from the capture, TCP or not."),
		segments: desc("segments_total", "TCP segments fed to the connection tracker."),
		transitions: desc("transitions_total",
			"State changes of TCP endpoints, by state before (from) and after (to); a pair appears once it has happened.",
			"from", "to"),
		rstIgnored: desc("rst_ignored_total",
			"RST segments ignored because their sequence number was outside the receiver's window (RFC 5961)."),
		rstChallenged: desc("rst_challenged_total",
			"RST segments inside the receiver's window but not at its next expected sequence number: Linux answers them with a challenge ACK and keeps the connection (RFC 5961)."),
		segmentsIgnored: desc("segments_ignored_total",
			"TCP segments that changed no state because their sequence or acknowledgment number was outside the window."),
		decodeErrors: desc("decode_errors_total", "Malformed frames skipped by the decoder, by reason (truncated by the snaplen, bad lengths, bad options, ...).", "reason"),
		evictions: desc("evictions_total",
			"Flows dropped from the full flow table, by reason: closed, half_open (handshake not completed, or seen from one side), idle (longest idle); and listener: inferred listeners forgotten at their bound.",
			"reason"),
		captureDrops: desc("capture_drops_total",
			"Packets lost before tcptrack saw them, as libpcap reports: where=kernel when the capture buffer was full, "+
				"where=interface when the network interface or its driver dropped them.",
			"where"),
		captureUp: desc("capture_up", "1 while the capture handle is open, 0 while the interface is gone or being reopened."),
		breakdown: newBreakdownDescs(desc),
		facts:     newFactsDescs(desc),
	}
}

// Publish makes s the Snapshot that the next scrapes report. It never blocks.
// s must not be modified afterwards.
func (c *Collector) Publish(s *Snapshot) { c.snap.Store(s) }

// Snapshot returns the last published Snapshot, or an empty one before the
// first Publish. The caller must not modify it.
func (c *Collector) Snapshot() *Snapshot {
	if s := c.snap.Load(); s != nil {
		return s
	}
	return &Snapshot{}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.states, c.unconfirmed, c.flows, c.flowsMax, c.packets, c.segments, c.transitions, c.rstIgnored, c.rstChallenged,
		c.segmentsIgnored, c.decodeErrors, c.evictions, c.captureDrops, c.captureUp,
	} {
		ch <- d
	}
	c.breakdown.describe(ch)
	c.facts.describe(ch)
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.Snapshot()
	t := &s.Tracker
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}

	// Every state is always present, zeros included, so that dashboards
	// and alerts never see a series vanish. (node_exporter's tcpstat sends
	// only the states it found sockets in: there a series goes when its
	// last socket closes.)
	for st := tracker.State(0); st < tracker.NumStates; st++ {
		if st.Counted() {
			gauge(c.states, float64(t.States[st]), st.Label())
		}
	}
	gauge(c.states, float64(t.Listeners), tracker.Listen.Label())
	for st := tracker.State(0); st < tracker.NumStates; st++ {
		if st.Counted() {
			gauge(c.unconfirmed, float64(t.Unconfirmed[st]), st.Label())
		}
	}
	gauge(c.flows, float64(t.Flows))
	gauge(c.flowsMax, float64(t.MaxFlows))
	counter(c.packets, s.Packets)
	counter(c.segments, t.Segments)
	// Only pairs that have happened: which pairs are possible is the
	// tracker's rulebook, not to be written twice here. A pair, once seen,
	// stays, since the counts are cumulative.
	for from := range t.Transitions {
		for to, n := range t.Transitions[from] {
			if n > 0 {
				counter(c.transitions, n, tracker.State(from).Label(), tracker.State(to).Label())
			}
		}
	}
	counter(c.rstIgnored, t.IgnoredRST)
	counter(c.rstChallenged, t.ChallengedRST)
	counter(c.segmentsIgnored, t.Ignored)
	for _, d := range s.Decode {
		counter(c.decodeErrors, d.N, d.Reason)
	}
	for r := tracker.EvictReason(0); r < tracker.NumEvictReasons; r++ {
		counter(c.evictions, t.Evictions[r], r.String())
	}
	counter(c.captureDrops, s.KernelDrops, "kernel")
	counter(c.captureDrops, s.IfaceDrops, "interface")
	up := 0.0
	if s.CaptureUp {
		up = 1
	}
	gauge(c.captureUp, up)
	c.breakdown.collect(ch, s)
	c.facts.collect(ch, s)
}
