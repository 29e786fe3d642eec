package tracker

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestTrackBatch feeds the same segments through Track and through
// TrackBatch, in batches of every length, and checks that the two trackers
// report the same transitions in the same order, the same counts and the
// same sockets.
func TestTrackBatch(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	data := make([]byte, 10*3000)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	var segs []Segment
	fuzzSegments(data, func(s *Segment) { segs = append(segs, *s) })
	now := time.Unix(0, segs[len(segs)-1].UnixNano)
	for n := range uint32(2000) { // and a flood, to evict
		var s Segment
		now = now.Add(time.Microsecond)
		floodSeg(&s, n, now)
		segs = append(segs, s)
	}
	run := func(feed func(*Tracker, []Segment)) ([]string, Stats, []Socket) {
		var trs []string
		tr := New(Config{MaxFlows: 500, OnTransition: func(x *Transition) {
			trs = append(trs, fmt.Sprint(x.Time.UnixNano(), x.Endpoint, x.From, x.To, x.Reason))
		}})
		feed(tr, segs)
		var socks []Socket
		tr.Sockets(func(s Socket) { socks = append(socks, s) })
		return trs, tr.Stats(), socks
	}
	wantTr, wantSt, wantSocks := run(func(tr *Tracker, segs []Segment) {
		for i := range segs {
			tr.Track(&segs[i])
		}
	})
	for _, n := range []int{1, 2, batchLen - 1, batchLen, batchLen + 1, 100} {
		gotTr, gotSt, gotSocks := run(func(tr *Tracker, segs []Segment) {
			for len(segs) > 0 {
				m := min(n, len(segs))
				tr.TrackBatch(segs[:m])
				segs = segs[m:]
			}
		})
		if !slices.Equal(gotTr, wantTr) || gotSt != wantSt || !slices.Equal(gotSocks, wantSocks) {
			t.Errorf("batches of %d: %d transitions, %d sockets, stats %+v;\nwant %d, %d, %+v",
				n, len(gotTr), len(gotSocks), gotSt, len(wantTr), len(wantSocks), wantSt)
		}
	}
}

// TestTrackBatchAllocs asserts that TrackBatch, like Track, allocates
// nothing per segment on an established flow.
func TestTrackBatchAllocs(t *testing.T) {
	w := newWorld(t, false, 0)
	w.run(xClient)
	seq := w.ix + 1
	segs := make([]Segment, batchLen)
	allocs := testing.AllocsPerRun(100, func() {
		for j := range segs {
			w.now = w.now.Add(time.Microsecond)
			segs[j] = Segment{UnixNano: w.now.UnixNano(), Src: w.x.Addr(), SrcPort: w.x.Port(), Dst: w.y.Addr(), DstPort: w.y.Port(),
				Flags: ACK | PSH, Seq: seq, Ack: w.iy + 1, Window: 500, PayloadLen: 100}
			seq += 100
		}
		w.tr.TrackBatch(segs)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per batch, want 0", allocs)
	}
}
