package decode

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
)

// IP fragments are put back together here, before TCP is read, so that a
// TCP header cut across two fragments, or an RST whose flags travel in the
// second, reaches the tracker as it reaches the kernel.
//
// It is written here rather than taken from a library because none fits a
// decoder that allocates nothing per frame. gopacket's ip4defrag, the one
// beside the gopacket already used, reads IPv4 only (no IPv6 fragment
// header), allocates per fragment (a list element, and a map entry and a
// list per datagram, then a new layers.IPv4 and payload per datagram built),
// bounds only the fragments of one datagram (8,192) and not how many
// datagrams are in progress, times nothing out unless called to, and on an
// overlap keeps the bytes that came first, where Linux drops the datagram.
//
// What it does, as Linux's ip_frag_queue and ip6_frag_queue (kernel 6.x)
// do it:
//
//   - A datagram is known by its source, destination and identification,
//     and for IPv4 its protocol, within its VLAN and overlay network.
//   - Fragments are kept as Linux keeps them, in runs: a fragment that
//     follows on from the last one extends its run, any other starts one.
//     A fragment wholly inside a run is a duplicate, dropped alone; one
//     that overlaps anything else drops the whole datagram and every
//     fragment held for it (RFC 5722 for IPv6; Linux does the same for
//     IPv4). A later fragment with the same identification starts afresh.
//   - A last fragment that ends before bytes already held, or elsewhere
//     than an earlier last fragment, or a fragment beyond the end a last
//     fragment set, or an empty one, drops the datagram; a datagram over
//     65,535 bytes is dropped when complete. An IPv4 fragment that is not
//     the last is cut to a multiple of 8 bytes; an IPv6 one of another
//     length, or one ending past 65,535, is dropped alone, as is an IPv6
//     first fragment that holds the start of a TCP header but not all of
//     it (RFC 7112; Linux checks it when TCP follows the fragment header
//     directly, and so does this).
//   - A datagram not complete 30 seconds after its first fragment came, on
//     the capture clock, is dropped (Linux's ipfrag_time and ip6frag_time).
//
// Memory is fixed: at most maxDatagrams datagrams in progress, each keeping
// its first fragment's IP header and the first fragKeep bytes of its
// payload, which hold every header the decoder reads (only the lengths of
// the rest matter, and they come from the IP headers, as for a frame cut
// by the snaplen). The whole store, 1.1 MiB, is allocated at the
// first fragment, and nothing after. When it is full, the oldest datagram
// is dropped for the new one. Linux instead refuses every fragment while
// its queues hold more than ipfrag_high_thresh (4 MiB), so under a flood
// of fragments the two may differ: tcptrack keeps the newest datagrams,
// which the ones that complete are.

// Bounds of the store, and Linux's reassembly timeout.
const (
	maxDatagrams  = 1024 // in progress at once
	fragKeep      = 256  // payload bytes kept per datagram
	fragHeaderMax = 256  // IP header bytes kept: IPv4's 60 at most; IPv6's up to and with the fragment header
	maxRuns       = 64   // runs per datagram: fragments in order make one, in reverse order one each
	fragTimeout   = 30e9 // nanoseconds
	maxDatagram   = 65535
)

// fragKey names a datagram in progress. It holds no pointer, as nothing in
// the store does.
type fragKey struct {
	src, dst [16]byte
	id       uint32
	tunnel   uint32
	vlan     uint16
	proto    uint8 // IPv4's protocol; IPv6's key has none
	v6       bool
}

// run is a stretch of a datagram's payload held without a gap.
type run struct{ start, end int32 }

type datagram struct {
	key        fragKey
	hash       uint32
	born       int64 // capture time of the first fragment to come
	prev, next int32 // age order, oldest first; next also chains the free slots
	frames     uint32
	size       int32 // payload length, once the last fragment came
	meat       int32 // payload bytes held
	lastIn     bool
	nruns      uint8
	hdrLen     uint16 // 0 until the fragment at offset 0 came
	runs       [maxRuns]run
	captured   [fragKeep / 64]uint64 // which of data's bytes were captured
	hdr        [fragHeaderMax]byte
	data       [fragKeep]byte
}

// reassembler is the store of datagrams in progress.
type reassembler struct {
	slots  [maxDatagrams]datagram
	index  [2 * maxDatagrams]int32 // open addressing: slot+1, 0 is empty
	seed   uint64
	oldest int32 // age order's ends, -1 when empty
	newest int32
	free   int32 // chain of free slots through next
	out    [fragHeaderMax + fragKeep]byte
	stats  *Stats
}

func newReassembler(st *Stats) *reassembler {
	r := &reassembler{seed: rand.Uint64() | 1, oldest: -1, newest: -1, stats: st}
	for i := range r.slots {
		r.slots[i].next = int32(i + 1)
	}
	r.slots[maxDatagrams-1].next = -1
	return r
}

// fragment is one fragment as the IP steps found it.
type fragment struct {
	key      fragKey
	offset   int32 // of its payload in the datagram's
	end      int32
	more     bool
	hdr      []byte // the IP header, to the fragment header's end for IPv6
	captured []byte // the captured part of its payload
}

// defrag takes the fragment whose IP header starts at ipOff of data and
// whose payload (IPv4) or fragment header (IPv6) starts at at, the
// datagram ending at end on the wire. It returns the datagram once its
// last fragment came, as a frame cut after fragKeep bytes of payload:
// valid until the next call of Decode. Otherwise it says why not, and
// has counted the frame.
func (d *Decoder) defrag(now int64, data []byte, ipOff, at, end int) ([]byte, int, Reason) {
	var f fragment
	w := &d.w
	f.key.vlan, f.key.tunnel = w.vlan, w.tunnel
	ip := data[ipOff:]
	payload := at
	if ip[0]>>4 == 4 {
		copy(f.key.src[:], ip[12:16])
		copy(f.key.dst[:], ip[16:20])
		f.key.id = uint32(binary.BigEndian.Uint16(ip[4:]))
		f.key.proto = ip[9]
		frag := binary.BigEndian.Uint16(ip[6:])
		f.offset = int32(frag&ipv4Offset) * 8
		f.more = frag&ipv4MoreFragments != 0
		f.end = f.offset + int32(end-at)
		if f.more {
			f.end &^= 7
		}
	} else {
		copy(f.key.src[:], ip[8:24])
		copy(f.key.dst[:], ip[24:40])
		f.key.v6 = true
		h := data[at : at+8]
		f.key.id = binary.BigEndian.Uint32(h[4:])
		frag := binary.BigEndian.Uint16(h[2:])
		f.offset = int32(frag &^ 7)
		f.more = frag&1 != 0
		payload = at + 8
		f.end = f.offset + int32(end-payload)
		if f.end > maxDatagram || f.more && f.end&7 != 0 ||
			f.offset == 0 && h[0] == protoTCP && end-payload < 20 {
			return nil, 0, d.fragSkip(ReasonFragmentLength)
		}
		if payload-ipOff > fragHeaderMax {
			return nil, 0, d.fragSkip(ReasonIPv6ExtHeaders)
		}
	}
	f.hdr = data[ipOff:payload]
	if capEnd := min(len(data), end, payload+int(f.end-f.offset)); capEnd > payload {
		f.captured = data[payload:capEnd]
	}
	if d.frag == nil {
		d.frag = newReassembler(&d.stats)
	}
	return d.frag.add(now, &f)
}

// fragSkip counts a fragment dropped alone.
func (d *Decoder) fragSkip(r Reason) Reason {
	d.stats.Skipped[r]++
	return r
}

// held is what Decode returns for a fragment held: counted in Stats.Held,
// not yet under a reason.
const held = ReasonFragment

func (r *reassembler) add(now int64, f *fragment) ([]byte, int, Reason) {
	r.expire(now)
	h := r.hash(&f.key)
	i := r.lookup(&f.key, h)
	if i < 0 {
		i = r.create(now, &f.key, h)
	}
	g := &r.slots[i]
	// Lengths, in ip_frag_queue's order.
	if !f.more {
		if f.end < g.size || g.lastIn && f.end != g.size {
			return nil, 0, r.drop(i, ReasonFragmentLength, 1)
		}
		g.lastIn, g.size = true, f.end
	} else if f.end > g.size {
		if g.lastIn {
			return nil, 0, r.drop(i, ReasonFragmentLength, 1)
		}
		g.size = f.end
	}
	if f.end <= f.offset {
		return nil, 0, r.drop(i, ReasonFragmentLength, 1)
	}
	switch g.insert(f.offset, f.end) {
	case insertDuplicate:
		r.stats.Skipped[ReasonFragmentDuplicate]++
		return nil, 0, ReasonFragmentDuplicate
	case insertOverlap:
		return nil, 0, r.drop(i, ReasonFragmentOverlap, 1)
	case insertFull:
		return nil, 0, r.drop(i, ReasonFragmentEvicted, 1)
	}
	g.meat += f.end - f.offset
	if f.offset == 0 {
		g.hdrLen = uint16(copy(g.hdr[:], f.hdr))
	}
	if n := min(len(f.captured), fragKeep-int(f.offset)); n > 0 {
		copy(g.data[f.offset:], f.captured[:n])
		g.markCaptured(int(f.offset), int(f.offset)+n)
	}
	if !g.lastIn || g.meat != g.size || g.hdrLen == 0 {
		g.frames++
		r.stats.Held++
		return nil, 0, held
	}
	// Complete: the fragments held before this one are counted as
	// reassembled; this one is the datagram's, and Decode counts it.
	hdrLen := int(g.hdrLen)
	if hdrLen+int(g.size) > maxDatagram && !g.key.v6 || hdrLen-40+int(g.size) > maxDatagram && g.key.v6 {
		return nil, 0, r.drop(i, ReasonFragmentLength, 1)
	}
	out := r.out[:]
	copy(out, g.hdr[:hdrLen])
	kept := min(int(g.size), g.capturedPrefix())
	copy(out[hdrLen:], g.data[:kept])
	if g.key.v6 {
		binary.BigEndian.PutUint16(out[4:], uint16(hdrLen-40+int(g.size)))
		// The fragment header stays, as an atomic fragment (offset 0,
		// no more fragments), which the IPv6 step reads as a whole
		// datagram.
		out[hdrLen-6], out[hdrLen-5] = 0, 0
	} else {
		binary.BigEndian.PutUint16(out[2:], uint16(hdrLen+int(g.size)))
		out[6] &^= 0x3f // MF and the offset; DF stays
		out[7] = 0
	}
	wire := hdrLen + int(g.size)
	r.stats.Skipped[ReasonFragment] += uint64(g.frames)
	r.stats.Held -= uint64(g.frames)
	r.stats.Reassembled++
	r.release(i)
	n := hdrLen + kept
	return out[:n:n], wire, proceed
}

// drop drops datagram i and the frames held for it, with extra more (the
// fragment at hand), all counted under reason.
func (r *reassembler) drop(i int32, reason Reason, extra uint32) Reason {
	g := &r.slots[i]
	r.stats.Skipped[reason] += uint64(g.frames + extra)
	r.stats.Held -= uint64(g.frames)
	r.release(i)
	return reason
}

// expire drops the datagrams older than the timeout. They are in age
// order, so only the oldest need looking at.
func (r *reassembler) expire(now int64) {
	for r.oldest >= 0 && now-r.slots[r.oldest].born > fragTimeout {
		r.drop(r.oldest, ReasonFragmentTimeout, 0)
	}
}

// create takes a slot for a new datagram, the oldest's when none is free.
func (r *reassembler) create(now int64, k *fragKey, h uint32) int32 {
	if r.free < 0 {
		r.drop(r.oldest, ReasonFragmentEvicted, 0)
	}
	i := r.free
	g := &r.slots[i]
	r.free = g.next
	*g = datagram{key: *k, hash: h, born: now, prev: r.newest, next: -1}
	if r.newest >= 0 {
		r.slots[r.newest].next = i
	} else {
		r.oldest = i
	}
	r.newest = i
	r.insertIndex(i)
	return i
}

// release frees slot i: out of the index and the age order.
func (r *reassembler) release(i int32) {
	g := &r.slots[i]
	r.removeIndex(i)
	if g.prev >= 0 {
		r.slots[g.prev].next = g.next
	} else {
		r.oldest = g.next
	}
	if g.next >= 0 {
		r.slots[g.next].prev = g.prev
	} else {
		r.newest = g.prev
	}
	g.next, r.free = r.free, i
}

func (r *reassembler) hash(k *fragKey) uint32 {
	x := r.seed
	for _, w := range [...]uint64{
		binary.LittleEndian.Uint64(k.src[:]), binary.LittleEndian.Uint64(k.src[8:]),
		binary.LittleEndian.Uint64(k.dst[:]), binary.LittleEndian.Uint64(k.dst[8:]),
		uint64(k.id)<<32 | uint64(k.tunnel),
		uint64(k.vlan)<<16 | uint64(k.proto)<<8 | uint64(b2u(k.v6)),
	} {
		hi, lo := bits.Mul64(x^w, 0x9e3779b97f4a7c15)
		x = hi ^ lo
	}
	return uint32(x ^ x>>32)
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

const indexMask = 2*maxDatagrams - 1

func (r *reassembler) lookup(k *fragKey, h uint32) int32 {
	for p := h & indexMask; r.index[p] != 0; p = (p + 1) & indexMask {
		i := r.index[p] - 1
		if g := &r.slots[i]; g.hash == h && g.key == *k {
			return i
		}
	}
	return -1
}

func (r *reassembler) insertIndex(i int32) {
	p := r.slots[i].hash & indexMask
	for r.index[p] != 0 {
		p = (p + 1) & indexMask
	}
	r.index[p] = i + 1
}

// removeIndex takes slot i out of the index, moving back the entries
// after it that probed past its place (backward-shift deletion), so that
// the index needs no tombstones.
func (r *reassembler) removeIndex(i int32) {
	p := r.slots[i].hash & indexMask
	for r.index[p] != i+1 {
		p = (p + 1) & indexMask
	}
	for q := (p + 1) & indexMask; r.index[q] != 0; q = (q + 1) & indexMask {
		home := r.slots[r.index[q]-1].hash & indexMask
		// The entry at q may fill the hole at p if its home is not
		// cyclically within (p, q].
		if (q-home)&indexMask >= (q-p)&indexMask {
			r.index[p] = r.index[q]
			p = q
		}
	}
	r.index[p] = 0
}

// Answers of insert.
const (
	inserted = iota
	insertDuplicate
	insertOverlap
	insertFull
)

// insert adds the payload stretch [offset, end) to the runs, as
// inet_frag_queue_insert does.
func (g *datagram) insert(offset, end int32) int {
	n := int(g.nruns)
	if n == 0 {
		g.runs[0], g.nruns = run{offset, end}, 1
		return inserted
	}
	// The common case: the fragment goes after everything held.
	if last := &g.runs[n-1]; last.end < end {
		switch {
		case offset < last.end:
			return insertOverlap
		case offset == last.end:
			last.end = end
			return inserted
		}
		if n == maxRuns {
			return insertFull
		}
		g.runs[n], g.nruns = run{offset, end}, uint8(n+1)
		return inserted
	}
	// Before the last run's end: find its place.
	at := 0
	for ; at < n; at++ {
		cur := g.runs[at]
		if end <= cur.start {
			break
		}
		if offset >= cur.end {
			continue
		}
		if offset >= cur.start && end <= cur.end {
			return insertDuplicate
		}
		return insertOverlap
	}
	if n == maxRuns {
		return insertFull
	}
	copy(g.runs[at+1:n+1], g.runs[at:n])
	g.runs[at], g.nruns = run{offset, end}, uint8(n+1)
	return inserted
}

func (g *datagram) markCaptured(from, to int) {
	for b := from; b < to; {
		word, bit := b/64, b%64
		n := min(64-bit, to-b)
		g.captured[word] |= (1<<n - 1) << bit // 1<<64 is 0 in Go: all ones
		b += n
	}
}

// capturedPrefix is how many of data's first bytes were all captured.
func (g *datagram) capturedPrefix() int {
	n := 0
	for _, w := range g.captured {
		t := bits.TrailingZeros64(^w)
		n += t
		if t < 64 {
			break
		}
	}
	return n
}
