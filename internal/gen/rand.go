package gen

import "math"

// rng is splitmix64: tiny, fast, and fixed forever, so that a seed gives the
// same file whatever the Go version (math/rand's streams are not promised
// stable across releases).
type rng struct{ s uint64 }

func newRNG(seed, stream uint64) rng {
	r := rng{s: seed ^ (stream * 0xd1342543de82ef95)}
	r.next()
	return r
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *rng) u32() uint32 { return uint32(r.next() >> 32) }

// intn returns a value in [0, n) for 0 < n < 2^32.
func (r *rng) intn(n int) int { return int(uint64(r.u32()) * uint64(n) >> 32) }

// between returns a value in [lo, hi].
func (r *rng) between(lo, hi int64) int64 { return lo + int64(r.intn(int(hi-lo+1))) }

// pct reports true with probability p/100.
func (r *rng) pct(p int) bool { return r.intn(100) < p }

func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// exp draws from an exponential distribution with the given mean, capped at
// 20 means so that one unlucky draw cannot stall a connection for the whole
// file.
func (r *rng) exp(mean float64) int64 {
	// The float64 conversions forbid fused multiply-add, so that arm64
	// and amd64 round alike and write the same bytes.
	x := float64(-mean * math.Log(1-r.float()))
	if x > 20*mean {
		x = 20 * mean
	}
	return int64(x)
}

// logUniform draws from [lo, hi] with a uniform logarithm: RTTs spread over
// orders of magnitude.
func (r *rng) logUniform(lo, hi float64) int64 {
	return int64(float64(lo * math.Exp(float64(r.float()*math.Log(hi/lo)))))
}
