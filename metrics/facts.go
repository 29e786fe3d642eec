package metrics

import (
	"time"

	"github.com/tcptrack/tcptrack/tracker"
)

// The per-connection facts in the metrics: the handshake's round trip and
// the age of the oldest endpoint in each state, by server port, bounded as
// the per-port states are (the same exported ports, the rest in "other").
// Both need tracker.Config.Info; Snapshot.Facts says whether they were kept.

// RTTBuckets are the upper bounds of the handshake RTT histogram: 100 µs (a
// LAN, a capture beside the server) to 10 s (a SYN lost and resent takes its
// 1 s timeout out of the RTT, see tracker.Conn, so beyond that is a path
// across the world or a broken one), 1-2.5-5 in each decade as Prometheus'
// own defaults are spaced, so that a quantile is read within a factor 2.5.
var RTTBuckets = [...]time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// RTTHistogram counts handshake round trips: Counts[i] those within
// RTTBuckets[i] and above the bound before it, the last those above 10 s.
type RTTHistogram struct {
	Counts [len(RTTBuckets) + 1]uint64
	Sum    time.Duration
}

// Count is the number of round trips observed.
func (h *RTTHistogram) Count() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

func (h *RTTHistogram) observe(d time.Duration) {
	i := 0
	for i < len(RTTBuckets) && d > RTTBuckets[i] {
		i++
	}
	h.Counts[i]++
	h.Sum += d
}

// ObserveHandshake counts a completed handshake's round trip under its
// server port: give it as tracker.Config.OnHandshake, on the goroutine that
// owns the tracker. The round trip is SynRTT + AckRTT, the SYN to the ACK
// of the SYN+ACK, the same wherever the capture point sits between client
// and server; a handshake whose SYN was not seen has none. It costs an
// array lookup and a few compares: no map, no allocation.
func (b *Breakdown) ObserveHandshake(c *tracker.Conn) {
	if c.SynRTT == 0 {
		return
	}
	b.rtt[b.rows[c.Server.Addr.Port()]].observe(c.SynRTT + c.AckRTT)
}

// updateFacts fills in the facts of s, whose Ports are this update's
// exported ports: the port of s.Ports[i] gets row i+1 of the histograms
// and ages, every other port row 0, "other". A port that stays exported
// keeps its histogram; one that leaves loses it, its later handshakes
// counting in other; one that joins starts from zero, so that other never
// goes backwards and no series counts a handshake twice.
func (b *Breakdown) updateFacts(tr *tracker.Tracker, s *Snapshot) {
	n := len(s.Ports) + 1
	next := make([]RTTHistogram, n)
	next[0] = b.rtt[0]
	for i := range s.Ports {
		if r := b.rows[s.Ports[i].Port]; r != 0 {
			next[i+1] = b.rtt[r]
		}
	}
	for _, p := range b.rowPorts {
		b.rows[p] = 0
	}
	b.rowPorts = b.rowPorts[:0]
	for i := range s.Ports {
		b.rows[s.Ports[i].Port] = uint32(i + 1)
		b.rowPorts = append(b.rowPorts, s.Ports[i].Port)
	}
	b.rtt = next

	oldest := b.oldest[:0]
	for range n {
		oldest = append(oldest, [tracker.NumStates]int64{})
	}
	b.oldest = oldest
	s.Facts = tr.OldestByServerPort(&b.rows, oldest)
	if !s.Facts {
		return
	}
	s.PortsOtherRTT, s.PortsOtherOldest = next[0], oldest[0]
	s.Oldest = oldest[0]
	for i := range s.Ports {
		s.Ports[i].RTT, s.Ports[i].Oldest = next[i+1], oldest[i+1]
		for st, ns := range oldest[i+1] {
			if ns != 0 && (s.Oldest[st] == 0 || ns < s.Oldest[st]) {
				s.Oldest[st] = ns
			}
		}
	}
}
