package tracker

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

// BenchmarkTrack feeds data segments of one established flow: the cost of a
// lookup that hits and of the rulebook, with nothing to evict.
func BenchmarkTrack(b *testing.B) {
	w := newWorld(nil, false, 0)
	w.run(xClient)
	seq := w.ix + 1
	seg := Segment{Src: w.x.Addr(), SrcPort: w.x.Port(), Dst: w.y.Addr(), DstPort: w.y.Port(),
		Flags: ACK | PSH, Ack: w.iy + 1, Window: 500, PayloadLen: 100}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := threadCPU()
	for range b.N {
		w.now = w.now.Add(time.Microsecond)
		seg.UnixNano, seg.Seq = w.now.UnixNano(), seq
		seq += 100
		w.tr.Track(&seg)
	}
	reportRate(b, cpu())
}

// reportRate reports packets per second of wall time and of the CPU time
// the benchmark's thread used.
func reportRate(b *testing.B, cpu time.Duration) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
	if cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "packets/cpu-s")
	}
}

// floodSeg fills seg with the n-th SYN of a flood from spoofed sources:
// every n gives a distinct source address and port.
func floodSeg(seg *Segment, n uint32, now time.Time) {
	*seg = Segment{
		UnixNano: now.UnixNano(),
		Src:      netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}),
		SrcPort:  uint16(1024 + n>>24),
		Dst:      netip.AddrFrom4([4]byte{192, 0, 2, 80}),
		DstPort:  80,
		Flags:    SYN,
		Seq:      n * 2654435761,
		Window:   64240,
		Options:  Options{MSS: 1460, HasWScale: true, WScale: 7},
	}
}

// BenchmarkTrackFlood feeds a SYN flood from distinct spoofed sources into a
// full table: every segment is a new flow and evicts the oldest half-open
// one. The table is filled to its bound before timing.
func BenchmarkTrackFlood(b *testing.B) {
	for _, max := range []int{1 << 16, 1 << 20} {
		b.Run(fmt.Sprintf("max=%d", max), func(b *testing.B) {
			tr := New(Config{MaxFlows: max})
			now := time.Unix(1700000000, 0)
			var seg Segment
			n := uint32(0)
			for ; n < uint32(max); n++ {
				now = now.Add(time.Microsecond)
				floodSeg(&seg, n, now)
				tr.Track(&seg)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := threadCPU()
			for range b.N {
				now = now.Add(time.Microsecond)
				floodSeg(&seg, n, now)
				n++
				tr.Track(&seg)
			}
			reportRate(b, cpu())
			if st := tr.Stats(); st.Flows != max || st.Evictions[EvictHalfOpen] != uint64(b.N) {
				b.Fatalf("flows %d, half-open evictions %d; want %d and %d", st.Flows, st.Evictions[EvictHalfOpen], max, b.N)
			}
		})
	}
}

// BenchmarkTrackBatchFlood is BenchmarkTrackFlood through TrackBatch, batchLen
// segments at a time.
func BenchmarkTrackBatchFlood(b *testing.B) {
	for _, max := range []int{1 << 16, 1 << 20} {
		b.Run(fmt.Sprintf("max=%d", max), func(b *testing.B) {
			tr := New(Config{MaxFlows: max})
			now := time.Unix(1700000000, 0)
			segs := make([]Segment, batchLen)
			n := uint32(0)
			for ; n < uint32(max); n++ {
				now = now.Add(time.Microsecond)
				floodSeg(&segs[0], n, now)
				tr.Track(&segs[0])
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := threadCPU()
			for done := 0; done < b.N; done += len(segs) {
				segs = segs[:min(batchLen, b.N-done)]
				for j := range segs {
					now = now.Add(time.Microsecond)
					floodSeg(&segs[j], n, now)
					n++
				}
				tr.TrackBatch(segs)
			}
			reportRate(b, cpu())
		})
	}
}

// BenchmarkKeyOf works out the keys of segments between addresses of
// every form, reading the addresses in place (read=inplace) and by As16
// (read=portable), the way taken where the start-up check fails.
func BenchmarkKeyOf(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	var segs [256]Segment
	for i := range segs {
		a := addrForms(r)
		segs[i] = Segment{Src: a[i%2], Dst: a[2+i%2], SrcPort: uint16(r.Uint32()), DstPort: 443}
		if i%4 != 0 { // mostly IPv4, as on most links
			segs[i].Src, segs[i].Dst = a[1], netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		}
	}
	for _, inPlace := range []bool{true, false} {
		name := "read=inplace"
		if !inPlace {
			name = "read=portable"
		}
		b.Run(name, func(b *testing.B) {
			if inPlace && !addrInPlace {
				b.Skip("the start-up check failed: no in-place read")
			}
			was := addrInPlace
			addrInPlace = inPlace
			defer func() { addrInPlace = was }()
			var k flowKey
			sides := 0
			for i := 0; b.Loop(); i++ {
				sides += keyOf(&segs[i%len(segs)], &k)
			}
			sink = uint64(sides) + k.alo
		})
	}
}

// sink keeps benchmark results alive.
var sink uint64
