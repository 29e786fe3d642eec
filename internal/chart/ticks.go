package chart

import (
	"math"
	"strconv"
)

// tick is a value on an axis and its label.
type tick struct {
	v     float64
	label string
}

// step is the distance between ticks for a span to be cut into at most n
// parts: 1, 2 or 5 times a power of ten, the steps a reader counts in.
func step(span float64, n int) float64 {
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5} {
		if m*mag >= raw {
			return m * mag
		}
	}
	return 10 * mag
}

// ticks are the multiples of s from 0 to top, labelled with as many
// decimals as s needs: 0.5 steps read 0.5, 1.0, 1.5 and 2 steps 2, 4, 6.
func ticks(top, s float64) []tick {
	decimals := max(0, -int(math.Floor(math.Log10(s)+1e-9)))
	var ts []tick
	// Multiplying rather than adding steps keeps 3 × 0.1 from drifting.
	for i := 0; float64(i)*s <= top*(1+1e-9); i++ {
		v := float64(i) * s
		ts = append(ts, tick{v, strconv.FormatFloat(v, 'f', decimals, 64)})
	}
	return ts
}
