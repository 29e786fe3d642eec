package metrics

import (
	"cmp"
	"slices"
)

// topK keeps a set of at most k keys, the ones with the highest scores,
// with hysteresis: a key outside the set takes the place of the weakest
// member only after it has scored more than margin times that member's
// score, and at least one more, at hold updates in a row. So a set of
// keys of about the same score does not flap from one scrape to the next,
// and a key's series, once shown, stays at least hold updates. Free places
// are filled at once, as that takes nobody's place.
type topK[K comparable] struct {
	k, hold int
	members map[K]bool
	streak  map[K]int // challengers: updates in a row they have led the weakest member
}

// margin is how far a challenger must lead the weakest member.
const margin = 1.25

func newTopK[K comparable](k, hold int) *topK[K] {
	return &topK[K]{k: k, hold: max(hold, 1), members: map[K]bool{}, streak: map[K]int{}}
}

// scored is one key and its score.
type scored[K comparable] struct {
	key   K
	score float64
}

// update takes the scores of this update (keys not given score 0) and
// returns how many members changed.
func (t *topK[K]) update(scores []scored[K]) int {
	if t.k == 0 {
		return 0
	}
	of := make(map[K]float64, len(t.members))
	var rest []scored[K]
	for _, s := range scores {
		if t.members[s.key] {
			of[s.key] = s.score
		} else if s.score > 0 {
			rest = append(rest, s)
		}
	}
	// The best challengers first; only the first k can take a place.
	slices.SortFunc(rest, func(a, b scored[K]) int { return cmp.Compare(b.score, a.score) })
	rest = rest[:min(len(rest), t.k)]
	changed := 0
	for len(t.members) < t.k && len(rest) > 0 {
		t.members[rest[0].key] = true
		of[rest[0].key] = rest[0].score
		delete(t.streak, rest[0].key)
		rest = rest[1:]
		changed++
	}
	leading := map[K]bool{}
	for _, c := range rest {
		weakest, ws, found := c.key, 0.0, false
		for m := range t.members {
			if s := of[m]; !found || s < ws {
				weakest, ws, found = m, s, true
			}
		}
		if !found || c.score <= ws*margin || c.score < ws+1 {
			break // nor will the challengers after it
		}
		leading[c.key] = true
		if t.streak[c.key]++; t.streak[c.key] >= t.hold {
			delete(t.members, weakest)
			delete(of, weakest)
			t.members[c.key] = true
			of[c.key] = c.score
			delete(t.streak, c.key)
			changed++
		}
	}
	for k := range t.streak {
		if !leading[k] {
			delete(t.streak, k)
		}
	}
	return changed
}
