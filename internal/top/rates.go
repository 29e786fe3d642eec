package top

import "time"

// rates works out each connection's bytes per second each way from the
// byte counts of successive listings, kept by flow between them.
//
// A rate is over the interval between the last two listings (--refresh, a
// second by default, on the capture clock): what the connection does now,
// not its average. A connection new since the previous listing (or listed
// for the first time, or reused by a new handshake since) has no earlier
// count, and its rate is over its life so far, from its first segment.
// When the capture clock has not moved between two listings (a replay
// paused or at its end), nothing was sent in between and the rates stay
// as they were.
type rates struct {
	at   time.Time // the capture time of the previous listing
	prev map[connKey]sample
	// next is the map the next listing fills, kept from one listing to
	// the next so that its room is not made again each time.
	next map[connKey]sample
}

type sample struct {
	start time.Time
	bytes [2]uint64
	rate  [2]float64
	rated bool
}

func newRates() *rates { return &rates{prev: map[connKey]sample{}, next: map[connKey]sample{}} }

// update fills in the rates of rows, listed at capture time now, and keeps
// their counts for the next listing.
func (r *rates) update(rows []Conn, now time.Time) {
	next := r.next
	clear(next)
	for i := range rows {
		c := &rows[i]
		if !c.Info {
			continue
		}
		k := c.key()
		s := sample{start: c.Start, bytes: [2]uint64{c.ClientBytes, c.ServerBytes}}
		p, ok := r.prev[k]
		// The same connection: a reused 4-tuple starts again, and its
		// counts with it.
		ok = ok && p.start.Equal(c.Start) && s.bytes[0] >= p.bytes[0] && s.bytes[1] >= p.bytes[1]
		switch {
		case ok && !now.After(r.at):
			s.rate, s.rated = p.rate, p.rated
		case ok:
			dt := now.Sub(r.at).Seconds()
			s.rate = [2]float64{float64(s.bytes[0]-p.bytes[0]) / dt, float64(s.bytes[1]-p.bytes[1]) / dt}
			s.rated = true
		case now.After(c.Start):
			dt := now.Sub(c.Start).Seconds()
			s.rate = [2]float64{float64(s.bytes[0]) / dt, float64(s.bytes[1]) / dt}
			s.rated = true
		}
		c.ClientRate, c.ServerRate, c.Rated = s.rate[0], s.rate[1], s.rated
		next[k] = s
	}
	r.prev, r.next, r.at = next, r.prev, now
}
