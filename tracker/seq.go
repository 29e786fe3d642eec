package tracker

// Seq is a TCP sequence number: a 32-bit value compared modulo 2^32, as in
// RFC 793 section 3.3. Never compare two Seqs with < directly.
type Seq uint32

// LessThan reports whether v comes before w in sequence space.
func (v Seq) LessThan(w Seq) bool { return int32(v-w) < 0 }

// LessThanEq reports whether v is w or comes before it.
func (v Seq) LessThanEq(w Seq) bool { return v == w || v.LessThan(w) }

// InWindow reports whether v lies in [first, first+size).
func (v Seq) InWindow(first Seq, size uint32) bool {
	return uint32(v-first) < size
}

// Add returns v advanced by n.
func (v Seq) Add(n uint32) Seq { return v + Seq(n) }

// Size returns the distance from v forward to w.
func (v Seq) Size(w Seq) uint32 { return uint32(w - v) }
