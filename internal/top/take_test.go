package top

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/metrics"
	"github.com/tcptrack/tcptrack/tracker"
)

// BenchmarkTake: what the view does with a listing of 40,000 connections
// (80,000 sockets, with the tracker's facts), once a second: rows, rates,
// filter, sort, per-port summary.
func BenchmarkTake(b *testing.B) {
	const n = 40_000
	t0 := time.Unix(1000, 0)
	l := &metrics.Listing{}
	for i := range n {
		cl := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), uint16(30000+i%30000))
		sv := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(i % 7)}), uint16(80+i%50))
		in := &tracker.Conn{Start: t0, Client: tracker.EndpointInfo{Since: t0, Bytes: uint64(i)}, Server: tracker.EndpointInfo{Since: t0}}
		l.Sockets = append(l.Sockets,
			tracker.Socket{State: tracker.Established, Local: cl, Peer: sv, Client: true, Info: in},
			tracker.Socket{State: tracker.Established, Local: sv, Peer: cl, Info: in})
	}
	snap := &metrics.Snapshot{}
	v := &view{rates: newRates(), cfg: Config{Snapshot: func() *metrics.Snapshot { return snap }}}
	b.ReportAllocs()
	for b.Loop() {
		snap.Tracker.Time = snap.Tracker.Time.Add(time.Second)
		v.take(l, nil)
	}
}
