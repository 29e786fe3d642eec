package tracker

import (
	"net/netip"

	"github.com/tcptrack/tcptrack/internal/mmapmem"
)

// The slab holds the flow records (conns) by slot, reused through a free
// list chained through conn.next; beside it, the IPv6 addresses of the
// flows that have them (v6, by conn.a) and the segments kept aside for a
// few flows (asides, by slot).

// at returns the conn in slot i.
func (t *table) at(i int32) *conn { return &t.conns[i] }

// alloc returns a slot for a new flow, its conn zeroed but for no timer:
// the last one freed, or else a slot never used.
func (t *table) alloc() int32 {
	var i int32
	if t.free >= 0 {
		i = t.free
		t.free = t.at(i).next
	} else {
		i = t.used
		t.used++
	}
	*t.at(i) = conn{heapIdx: -1}
	return i
}

// release puts slot i on the free list, with its IPv6 addresses and what
// is kept aside for it.
func (t *table) release(i int32) {
	c := t.at(i)
	if c.fam == famV6 {
		t.v6buf = append(t.v6buf, int32(c.a))
	}
	t.dropAside(i)
	c.setClass(classFree)
	c.next = t.free
	t.free = i
}

func (t *table) matches(c *conn, k *flowKey) bool {
	if c.ep[0].port != k.pa || c.ep[1].port != k.pb || c.vlan != k.vlan || c.tunnel != k.tunnel {
		return false
	}
	if k.v4 {
		return c.fam != famV6 && c.a == uint32(k.alo) && c.b == uint32(k.blo)
	}
	if c.fam != famV6 {
		return false
	}
	return t.v6[c.a] == [4]uint64{k.ahi, k.alo, k.bhi, k.blo}
}

// store keeps k in c.
func (t *table) store(c *conn, k *flowKey, as4in6 bool) {
	c.ep[0].port, c.ep[1].port, c.vlan, c.tunnel = k.pa, k.pb, k.vlan, k.tunnel
	switch {
	case k.v4 && as4in6:
		c.fam, c.a, c.b = fam4in6, uint32(k.alo), uint32(k.blo)
	case k.v4:
		c.fam, c.a, c.b = famV4, uint32(k.alo), uint32(k.blo)
	default:
		var j int32
		if n := len(t.v6buf); n > 0 {
			j = t.v6buf[n-1]
			t.v6buf = t.v6buf[:n-1]
		} else {
			if t.v6 == nil {
				t.v6 = mmapmem.Array[[4]uint64](t.mem, len(t.conns))
			}
			j = t.v6n
			t.v6n++
		}
		t.v6[j] = [4]uint64{k.ahi, k.alo, k.bhi, k.blo}
		c.fam, c.a = famV6, uint32(j)
	}
}

// key returns the flowKey of conn c.
func (t *table) key(c *conn) flowKey {
	k := flowKey{pa: c.ep[0].port, pb: c.ep[1].port, vlan: c.vlan, tunnel: c.tunnel, v4: c.fam != famV6}
	if c.fam == famV6 {
		p := &t.v6[c.a]
		k.ahi, k.alo, k.bhi, k.blo = p[0], p[1], p[2], p[3]
	} else {
		k.alo, k.blo = 0xffff<<32|uint64(c.a), 0xffff<<32|uint64(c.b)
	}
	k.hash = t.index.hash(&k)
	return k
}

// addr returns the address and port of side (0 for a, 1 for b) of c.
func (t *table) addr(c *conn, side int) netip.AddrPort {
	port, a := c.ep[side].port, c.a
	if side == 1 {
		a = c.b
	}
	switch c.fam {
	case famV4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{byte(a >> 24), byte(a >> 16), byte(a >> 8), byte(a)}), port)
	case fam4in6:
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff,
			12: byte(a >> 24), 13: byte(a >> 16), 14: byte(a >> 8), 15: byte(a)}), port)
	}
	p := &t.v6[c.a]
	return netip.AddrPortFrom(netip.AddrFrom16(as16(p[2*side], p[2*side+1])), port)
}

// flow returns the name of c, client first.
func (t *table) flow(c *conn) Flow {
	cl := c.client()
	return Flow{VLAN: c.vlan, Tunnel: c.tunnel, Src: t.addr(c, cl), Dst: t.addr(c, 1-cl)}
}

// sender returns the side of c that sent seg, one of its segments.
func (t *table) sender(c *conn, seg *Segment) int {
	a := t.addr(c, 0)
	if a.Port() == seg.SrcPort && a.Addr().Unmap() == seg.Src.Unmap() {
		return 0
	}
	return 1
}

// keepAside keeps a for the flow in slot i until dropAside.
func (t *table) keepAside(i int32, a aside) { t.asides[i] = a }

// aside returns what is kept aside for slot i.
func (t *table) aside(i int32) aside { return t.asides[i] }

// dropAside forgets what is kept aside for slot i, if anything.
func (t *table) dropAside(i int32) {
	if len(t.asides) > 0 {
		delete(t.asides, i)
	}
}
