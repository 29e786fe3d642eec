package tracker

import (
	"math/bits"
	"math/rand/v2"

	"github.com/tcptrack/tcptrack/internal/mmapmem"
)

// index maps flow keys to slots: open addressing with linear probing over
// entries that hold a key's 32-bit hash and its slot plus one (0 is empty).
// Entries are kept in Robin Hood order (an entry never sits further from
// its home than the one after it, unless that one is home), so that a
// lookup stops as soon as it meets an entry closer to home than itself, and
// deletion shifts back only the entries that were displaced, leaving no
// tombstones behind however much the flows churn.
// The hash is seeded at random, so that nobody can aim collisions at the
// table from the wire; slots are in a different order in every run, but
// nothing depends on that order.
type index struct {
	e     []uint64
	mem   *mmapmem.Mappings // where e is mapped
	n     int               // entries in use
	limit int               // entries beyond which it grows
	max   int               // length it never grows past
	seed  [4]uint64
}

// maxLoad bounds the index's load factor, as a fraction of 16.
const maxLoad = 13

func (x *index) init(maxFlows int, m *mmapmem.Mappings) {
	x.mem = m
	x.max = max(maxFlows*16/maxLoad+1, 8)
	x.resize(min(1024, x.max))
	for i := range x.seed {
		x.seed[i] = rand.Uint64()
	}
}

func (x *index) resize(n int) {
	old := x.e
	x.e = mmapmem.Array[uint64](x.mem, n)
	x.limit = n * maxLoad / 16
	if n == x.max {
		x.limit = n - 1
	}
	for _, e := range old {
		if e != 0 {
			x.place(e)
		}
	}
	// Given back at once, so that the flows added next take its pages
	// instead of new ones from the system.
	mmapmem.Free(x.mem, old)
}

// home returns the position where a key with hash h belongs: the hash
// scaled to the length, so that the length need not be a power of two.
func (x *index) home(h uint32) int { return int(uint64(h) * uint64(len(x.e)) >> 32) }

func (x *index) next(p int) int {
	if p++; p == len(x.e) {
		return 0
	}
	return p
}

// dist returns how far entry e, at position p, sits from its home.
func (x *index) dist(p int, e uint64) int {
	d := p - x.home(uint32(e>>32))
	if d < 0 {
		d += len(x.e)
	}
	return d
}

func (x *index) add(h uint32, i int32) {
	if x.n >= x.limit && len(x.e) < x.max {
		// Double, but go straight to the bound rather than stop short of
		// it: the last step would move nearly every entry again to gain
		// little room, and leave the index it replaced to collect.
		n := 2 * len(x.e)
		if 2*n > x.max {
			n = x.max
		}
		x.resize(n)
	}
	x.place(uint64(h)<<32 | uint64(uint32(i)+1))
	x.n++
}

// place puts entry e in Robin Hood order: it takes the place of the first
// entry that is closer to its home than e would be, which moves on in turn.
func (x *index) place(e uint64) {
	for p, d := x.home(uint32(e>>32)), 0; ; p, d = x.next(p), d+1 {
		o := x.e[p]
		if o == 0 {
			x.e[p] = e
			return
		}
		// Written without a branch, which would be a coin toss: the
		// place keeps the entry further from home, the other moves on.
		od := x.dist(p, o)
		stay, move, md := o, e, d
		if od < d {
			stay, move, md = e, o, od
		}
		x.e[p], e, d = stay, move, md
	}
}

func (x *index) del(h uint32, i int32) {
	want := uint64(h)<<32 | uint64(uint32(i)+1)
	p := x.home(h)
	for x.e[p] != want {
		p = x.next(p)
	}
	// Shift back the entries after p that were displaced, up to the first
	// that is home or an empty place.
	for q := x.next(p); x.e[q] != 0 && x.dist(q, x.e[q]) > 0; p, q = q, x.next(q) {
		x.e[p] = x.e[q]
	}
	x.e[p] = 0
	x.n--
}

// find returns the slot of the flow with key k, whose hash is filled in
// (see Tracker.keyOf).
func (t *table) find(k *flowKey) (int32, bool) {
	x := &t.index
	// Most keys sit within two places of their home (87% of the mix's
	// lookups), but which place is a coin toss to a branch: pick the entry
	// with the key's hash with masks, and probe only if it is not the
	// key's. Three places cut mispredictions by a seventh, four cost more
	// than they saved. The picks are arithmetic rather than ifs, so that no
	// build, profile-guided or not, can make branches of them.
	p := x.home(k.hash)
	q := x.next(p)
	e0, e1, e := x.e[p], x.e[q], x.e[x.next(q)]
	e ^= (e ^ e1) & same(uint32(e1>>32), k.hash)
	e ^= (e ^ e0) & same(uint32(e0>>32), k.hash)
	if e != 0 && uint32(e>>32) == k.hash {
		if i := int32(uint32(e)) - 1; t.matches(t.at(i), k) {
			return i, true
		}
	}
	return t.probe(k, p)
}

// probe is find's loop, from p, the key's home.
func (t *table) probe(k *flowKey, p int) (int32, bool) {
	x := &t.index
	for d := 0; ; p, d = x.next(p), d+1 {
		e := x.e[p]
		if e == 0 || x.dist(p, e) < d {
			return -1, false // k would have displaced e
		}
		if uint32(e>>32) == k.hash {
			if i := int32(uint32(e)) - 1; t.matches(t.at(i), k) {
				return i, true
			}
		}
	}
}

// hash mixes k's words with the seed, 64 by 64 bits into 128 and folded
// back, as wyhash does.
func (x *index) hash(k *flowKey) uint32 {
	ports := uint64(k.pa)<<32 | uint64(k.pb)<<16 | uint64(k.vlan)
	var h uint64
	if k.v4 {
		h = mix((k.alo<<32|k.blo&0xffffffff)^x.seed[0], ports^x.seed[1])
	} else {
		h = mix(k.ahi^x.seed[0], k.alo^x.seed[1]) ^ mix(k.bhi^x.seed[2], k.blo^x.seed[3])
		h = mix(h^x.seed[1], ports^x.seed[2])
	}
	if k.tunnel != 0 {
		// Few flows travel in an overlay: their id takes one more round
		// rather than every key a wider one.
		h = mix(h^x.seed[3], uint64(k.tunnel)^x.seed[0])
	}
	return uint32(h ^ h>>32)
}

// same returns all ones if a == b, else 0, without a branch.
func same(a, b uint32) uint64 { return -((uint64(a^b) - 1) >> 63) }

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}
