package tracker

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/tcptrack/tcptrack/internal/mmapmem"
)

// lookup hashes k, as Tracker.keyOf does, and finds it; k is then ready
// for insert.
func (t *table) lookup(k *flowKey) (int32, bool) {
	k.hash = t.index.hash(k)
	return t.find(k)
}

// TestKeyOf checks that both directions of a flow give one key, side a
// first in the order of addresses as 128-bit numbers (IPv4 mapped into
// IPv6), then ports, and that
// each direction is told which side sent it.
func TestKeyOf(t *testing.T) {
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"),
		netip.MustParseAddr("198.51.100.255"), netip.MustParseAddr("::1"), netip.MustParseAddr("2001:db8::1"),
		netip.MustParseAddr("2001:db8::1:0:0:1"), netip.MustParseAddr("ff02::1")}
	ports := []uint16{0, 1, 80, 32768, 65535}
	for _, x := range addrs {
		for _, y := range addrs {
			for _, px := range ports {
				for _, py := range ports {
					var kx, ky flowKey
					sx := keyOf(&Segment{Src: x, SrcPort: px, Dst: y, DstPort: py, VLAN: 7, Tunnel: 9}, &kx)
					sy := keyOf(&Segment{Src: y, SrcPort: py, Dst: x, DstPort: px, VLAN: 7, Tunnel: 9}, &ky)
					// x sorts first unless y's address or, with equal
					// addresses, y's port is lower.
					want := 0
					xb, yb := x.As16(), y.As16()
					if c := bytes.Compare(xb[:], yb[:]); c > 0 || c == 0 && px > py {
						want = 1
					}
					if kx != ky || sx != want || sy != 1-sx && !(x == y && px == py) || kx.vlan != 7 || kx.tunnel != 9 {
						t.Fatalf("%v:%d -> %v:%d: keys %+v / %+v, sides %d / %d, want side %d", x, px, y, py, kx, ky, sx, sy, want)
					}
					a, b := netip.AddrPortFrom(x, px), netip.AddrPortFrom(y, py)
					if want == 1 {
						a, b = b, a
					}
					if kx.pa != a.Port() || kx.pb != b.Port() || as16(kx.ahi, kx.alo) != a.Addr().As16() || as16(kx.bhi, kx.blo) != b.Addr().As16() {
						t.Fatalf("%v -> %v: key %+v, want side a %v", a, b, kx, a)
					}
				}
			}
		}
	}
}

// TestIndexModel drives the index with random additions and deletions whose
// hashes are drawn from a few values, so that entries share homes and whole
// hashes, and checks it against a map after every step: every entry is found
// from its home in Robin Hood order, and the index grows to its bound and no
// further.
func TestIndexModel(t *testing.T) {
	for _, c := range []struct {
		maxFlows, hashes int
	}{{3, 2}, {50, 7}, {1000, 40}, {3000, 1 << 30}} {
		t.Run(fmt.Sprintf("max=%d/hashes=%d", c.maxFlows, c.hashes), func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(c.maxFlows)))
			var x index
			m := &mmapmem.Mappings{}
			t.Cleanup(m.Release)
			x.init(c.maxFlows, m)
			model := map[int32]uint32{} // slot -> hash
			var live []int32
			next := int32(0)
			for step := range 20 * c.maxFlows {
				if len(live) < c.maxFlows && (len(live) == 0 || r.IntN(3) > 0) {
					h := uint32(r.IntN(c.hashes)) * 0x9E3779B1
					x.add(h, next)
					model[next] = h
					live = append(live, next)
					next++
				} else {
					j := r.IntN(len(live))
					i := live[j]
					x.del(model[i], i)
					delete(model, i)
					live = slices.Delete(live, j, j+1)
				}
				if step%97 == 0 || len(live) == c.maxFlows {
					checkIndex(t, &x, model)
				}
			}
			if len(x.e) > x.max || x.max > c.maxFlows*16/maxLoad+8 {
				t.Errorf("length %d, bound %d, for %d flows", len(x.e), x.max, c.maxFlows)
			}
		})
	}
}

func checkIndex(t *testing.T, x *index, model map[int32]uint32) {
	t.Helper()
	if x.n != len(model) {
		t.Fatalf("index holds %d entries, model %d", x.n, len(model))
	}
	used := 0
	for p, e := range x.e {
		if e == 0 {
			continue
		}
		used++
		if q := x.next(p); x.e[q] != 0 && x.dist(q, x.e[q]) > x.dist(p, e)+1 {
			t.Fatalf("position %d: entry %d from home after one %d from home", q, x.dist(q, x.e[q]), x.dist(p, e))
		}
	}
	if used != len(model) {
		t.Fatalf("%d entries in use, model %d", used, len(model))
	}
	for i, h := range model {
		want := uint64(h)<<32 | uint64(uint32(i)+1)
		found := false
		for p, d := x.home(h), 0; x.e[p] != 0 && x.dist(p, x.e[p]) >= d; p, d = x.next(p), d+1 {
			if x.e[p] == want {
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("slot %d (hash %#x) not found from its home", i, h)
		}
	}
}

// randomKey returns the key of a flow between two of a handful of
// addresses on a handful of ports, so that flows repeat: both IPv4, or
// both from an IPv6 packet, where IPv4-mapped addresses may appear.
func randomKey(r *rand.Rand) (flowKey, netip.AddrPort, netip.AddrPort, uint16) {
	families := [][]netip.Addr{
		{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")},
		{netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"),
			netip.MustParseAddr("::ffff:192.0.2.1"), netip.MustParseAddr("::ffff:192.0.2.7")},
	}
	addrs := families[r.IntN(2)]
	src := netip.AddrPortFrom(addrs[r.IntN(len(addrs))], uint16(r.IntN(40)))
	dst := netip.AddrPortFrom(addrs[r.IntN(len(addrs))], uint16(r.IntN(3)))
	vlan := uint16(r.IntN(2))
	var k flowKey
	keyOf(&Segment{Src: src.Addr(), SrcPort: src.Port(), Dst: dst.Addr(), DstPort: dst.Port(), VLAN: vlan}, &k)
	return k, src, dst, vlan
}

// TestTableModel inserts, finds and removes random flows, IPv4 and IPv6,
// against a map, in a table small enough that most keys share a home, and
// checks that each flow's addresses come back as its packets gave them.
func TestTableModel(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	const maxFlows = 64
	tb := newTable(maxFlows)
	t.Cleanup(tb.mem.Release)
	type flow struct {
		slot int32
		src  netip.AddrPort
		dst  netip.AddrPort
		vlan uint16
	}
	model := map[[2]netip.AddrPort]flow{}
	canon := func(a, b netip.AddrPort, vlan uint16) [2]netip.AddrPort {
		a16 := netip.AddrPortFrom(netip.AddrFrom16(a.Addr().As16()), a.Port())
		b16 := netip.AddrPortFrom(netip.AddrFrom16(b.Addr().As16()), b.Port())
		if b16.Compare(a16) < 0 {
			a16, b16 = b16, a16
		}
		return [2]netip.AddrPort{a16, netip.AddrPortFrom(b16.Addr(), b16.Port()+vlan*1000)}
	}
	for range 20000 {
		k, src, dst, vlan := randomKey(r)
		id := canon(src, dst, vlan)
		i, ok := tb.lookup(&k)
		f, want := model[id]
		switch {
		case ok != want:
			t.Fatalf("%v %v vlan %d: found %v, model %v", src, dst, vlan, ok, want)
		case ok && i != f.slot:
			t.Fatalf("%v %v: slot %d, model %d", src, dst, i, f.slot)
		case ok && r.IntN(2) == 0:
			tb.remove(i)
			delete(model, id)
		case !ok && tb.len() < maxFlows:
			i = tb.insert(&k, src.Addr().Is4In6())
			model[id] = flow{i, src, dst, vlan}
		}
		if tb.len() != len(model) {
			t.Fatalf("table holds %d flows, model %d", tb.len(), len(model))
		}
	}
	for _, f := range model {
		c := tb.at(f.slot)
		a, b := tb.addr(c, 0), tb.addr(c, 1)
		if !(a == f.src && b == f.dst || a == f.dst && b == f.src) || c.vlan != f.vlan {
			t.Errorf("flow %v %v vlan %d reads back as %v %v vlan %d", f.src, f.dst, f.vlan, a, b, c.vlan)
		}
		if k := tb.key(c); k.hash != tb.index.hash(&k) {
			t.Errorf("key of %v %v does not hash as looked up", f.src, f.dst)
		}
	}
}

// TestTableEvictionOrder checks the class lists: the victim is the least
// recently touched of the first non-empty class (a touch within a class is
// a second chance, taken when eviction reaches the flow), and a freed slot
// is reused before the slab grows.
func TestTableEvictionOrder(t *testing.T) {
	tb := newTable(8)
	t.Cleanup(tb.mem.Release)
	r := rand.New(rand.NewPCG(4, 5))
	slots := make([]int32, 6)
	for n := range slots {
		k, _, _, _ := randomKey(r)
		k.pa, k.pb = uint16(n), 1000 // distinct flows
		if _, ok := tb.lookup(&k); ok {
			t.Fatal("duplicate key")
		}
		slots[n] = tb.insert(&k, false)
	}
	// Classes after the touches, oldest first: closed 4, 1; half-open 0, 5;
	// active 3, 2.
	tb.touch(slots[2], tb.at(slots[2]), classActive)
	tb.touch(slots[1], tb.at(slots[1]), classClosed)
	tb.touch(slots[3], tb.at(slots[3]), classActive)
	tb.touch(slots[4], tb.at(slots[4]), classClosed)
	tb.touch(slots[2], tb.at(slots[2]), classActive)
	tb.touch(slots[1], tb.at(slots[1]), classClosed)
	tb.touch(slots[0], tb.at(slots[0]), classHalfOpen)
	tb.touch(slots[5], tb.at(slots[5]), classHalfOpen)
	want := []struct {
		n   int
		why EvictReason
	}{{4, EvictClosed}, {1, EvictClosed}, {0, EvictHalfOpen}, {5, EvictHalfOpen}, {3, EvictIdle}, {2, EvictIdle}}
	var freed []int32
	for _, w := range want {
		i, why := tb.victim()
		if i != slots[w.n] || why != w.why {
			t.Fatalf("victim slot %d (%v), want flow %d slot %d (%v)", i, why, w.n, slots[w.n], w.why)
		}
		tb.remove(i)
		freed = append(freed, i)
	}
	if i, _ := tb.victim(); i != -1 || tb.len() != 0 {
		t.Fatalf("empty table: victim %d, %d flows", i, tb.len())
	}
	k, _, _, _ := randomKey(r)
	tb.lookup(&k)
	if i := tb.insert(&k, false); i != freed[len(freed)-1] || tb.used != 6 {
		t.Errorf("insert took slot %d with %d slots handed out; want the last freed, %d, and 6", i, tb.used, freed[len(freed)-1])
	}
}

// TestTimerHeap moves random deadlines earlier, later and away, as the
// tracker does, and checks that every slot comes due at its deadline, never
// late: a slot that comes due early (its deadline moved later or went) is
// filed again at its deadline, as Tracker.expire does.
func TestTimerHeap(t *testing.T) {
	r := rand.New(rand.NewPCG(6, 7))
	tb := newTable(200)
	t.Cleanup(tb.mem.Release)
	model := map[int32]tick{}
	for n := range 200 {
		k := flowKey{alo: 0xffff<<32 | uint64(n), blo: 0xffff << 32, v4: true}
		tb.lookup(&k)
		tb.insert(&k, false)
	}
	for range 5000 {
		i := int32(r.IntN(200))
		d := tick(r.IntN(50))
		tb.setDeadline(i, tb.at(i), d)
		if d == 0 {
			delete(model, i)
		} else {
			model[i] = d
		}
	}
	early := 0
	for now := tick(0); now < 50; now++ {
		for i := tb.due(now); i >= 0; i = tb.due(now) {
			d, ok := model[i]
			if ok && d <= now {
				if d < now {
					t.Fatalf("slot %d came due at %d, after its deadline %d", i, now, d)
				}
				delete(model, i)
				tb.refile(i, 0)
				continue
			}
			early++
			tb.refile(i, d)
		}
	}
	if len(model) != 0 || tb.heapLen != 0 {
		t.Errorf("%d deadlines never came due, %d left in the heap", len(model), tb.heapLen)
	}
	if early == 0 {
		t.Error("no timer came due early: the test did not move a deadline later")
	}
}

// TestClockAcrossEpochs runs a connection a day for 60 days, past the
// moves of the tick epoch, and checks that TIME_WAIT lasts 60 seconds each
// time (RFC 9293 3.6.1, Linux's TCP_TIMEWAIT_LEN) and that a handshake with
// no answer closes after the 75-second handshake timeout, never early and
// at most a millisecond late, with timestamps off the millisecond.
func TestClockAcrossEpochs(t *testing.T) {
	w := newWorld(t, false, 0)
	w.now = time.Unix(1700000000, 123456)
	timeWait := func() int { return w.tr.Stats().States[TimeWait] }
	for day := range 60 {
		w.run(append(append([]ev{}, xClient...), x(FIN|ACK, 1, 1), y(FIN|ACK, 1, 2), x(ACK, 2, 2)))
		closed := w.now.Add(-time.Millisecond) // X entered TIME_WAIT at the FIN before the last ACK
		w.tr.Advance(closed.Add(60*time.Second - time.Nanosecond))
		if timeWait() != 1 {
			t.Fatalf("day %d: TIME_WAIT gone before 60 s", day)
		}
		w.tr.Advance(closed.Add(60*time.Second + time.Millisecond))
		if timeWait() != 0 {
			t.Fatalf("day %d: TIME_WAIT left 1 ms after 60 s", day)
		}
		w.now = w.now.Add(24 * time.Hour)
		w.tr.Advance(w.now)
		w.ix += 100000 // a new connection on the same 4-tuple
	}
	w.run([]ev{x(SYN, 0, 0)})
	sent := w.now
	w.tr.Advance(sent.Add(75*time.Second - time.Nanosecond))
	if sx, _ := w.states(); sx != SynSent {
		t.Fatalf("SYN_SENT gone before 75 s: %v", sx)
	}
	w.tr.Advance(sent.Add(75*time.Second + time.Millisecond))
	if sx, _ := w.states(); sx != Unknown {
		t.Fatalf("still %v 1 ms after the handshake timeout", sx)
	}
	checkCounts(t, w.tr)
}

// TestConnSize guards the record sizes that the README's memory bound is
// built on: 128 bytes per flow at a million flows for the whole process,
// of which a flow's record takes 84 and its index entry and timer the rest.
func TestConnSize(t *testing.T) {
	if s := unsafe.Sizeof(endpoint{}); s > 28 {
		t.Errorf("endpoint is %d bytes, want at most 28", s)
	}
	if s := unsafe.Sizeof(conn{}); s > 84 {
		t.Errorf("conn is %d bytes, want at most 84", s)
	}
}

// TestFirstSegmentsDropped checks that the first segments kept for
// picked-up flows go when the flow proves itself, restarts, times out or
// is evicted, so that an ACK scan leaves nothing behind.
func TestFirstSegmentsDropped(t *testing.T) {
	tr := New(Config{MaxFlows: 100})
	now := time.Unix(1700000000, 0)
	seg := func(src, dst netip.AddrPort, f Flags, seq, ack uint32) {
		now = now.Add(time.Millisecond)
		tr.Track(&Segment{UnixNano: now.UnixNano(), Src: src.Addr(), SrcPort: src.Port(), Dst: dst.Addr(), DstPort: dst.Port(),
			Flags: f, Seq: seq, Ack: ack, Window: 1000})
	}
	server := netip.MustParseAddrPort("192.0.2.9:80")
	for n := range 300 { // a scan: lone ACKs, two thirds evicted by the rest
		seg(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(n >> 8), byte(n)}), 40000), server, ACK, 1, 1)
	}
	a := netip.MustParseAddrPort("192.0.2.1:40001")
	seg(a, server, ACK, 500, 700) // proves itself
	seg(server, a, ACK, 700, 500)
	b := netip.MustParseAddrPort("192.0.2.2:40002")
	seg(b, server, ACK, 500, 700) // restarted by a new SYN
	seg(b, server, SYN, 9000, 0)
	if n := len(tr.flows.asides); n != 100-2 {
		t.Fatalf("%d first segments kept, want one per unproven flow, 98", n)
	}
	tr.Advance(now.Add(time.Hour)) // the rest time out
	if n := len(tr.flows.asides); n != 0 {
		t.Errorf("%d first segments kept after every pickup timed out", n)
	}
}

// TestSeparateSpaces checks that the same 4-tuple in two VLANs or two
// overlay networks is two connections, and that the tunnel id, like the
// VLAN, is the same for both directions of one.
func TestSeparateSpaces(t *testing.T) {
	tr := New(Config{})
	c, s := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	spaces := []struct {
		vlan   uint16
		tunnel uint32
	}{{0, 0}, {5, 0}, {0, 5}, {0, 6}, {5, 6}}
	for _, sp := range spaces {
		hs := []Segment{
			{Src: c, SrcPort: 40000, Dst: s, DstPort: 80, Seq: 100, Flags: SYN},
			{Src: s, SrcPort: 80, Dst: c, DstPort: 40000, Seq: 500, Ack: 101, Flags: SYN | ACK},
			{Src: c, SrcPort: 40000, Dst: s, DstPort: 80, Seq: 101, Ack: 501, Flags: ACK},
		}
		for i := range hs {
			hs[i].UnixNano = int64(i+1) * 1e6
			hs[i].VLAN, hs[i].Tunnel, hs[i].Window = sp.vlan, sp.tunnel, 1000
			tr.Track(&hs[i])
		}
	}
	st := tr.Stats()
	if st.Flows != len(spaces) || st.States[Established] != 2*len(spaces) {
		t.Errorf("%d flows, %d ESTABLISHED; want %d and %d", st.Flows, st.States[Established], len(spaces), 2*len(spaces))
	}
}
