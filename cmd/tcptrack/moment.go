package main

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// moment is --at: a time on the capture clock, absolute or counted from the
// capture's first packet.
type moment struct {
	set      bool
	abs      time.Time     // when !relative
	offset   time.Duration // from the first packet, when relative
	relative bool
}

// parseMoment reads an RFC 3339 time, a Unix time in seconds with an
// optional fraction (as tcpdump -tt prints it), or a duration from the
// first packet with an optional "+" (1.5s, +2m). A bare number is a Unix
// time: an offset needs its unit, as every duration flag does.
func parseMoment(s string) (moment, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return moment{set: true, abs: t}, nil
	}
	if t, ok := parseUnix(s); ok {
		return moment{set: true, abs: t}, nil
	}
	d, err := time.ParseDuration(strings.TrimPrefix(s, "+"))
	switch {
	case err != nil:
		return moment{}, errors.New("want a time (2026-11-21T08:52:00.5Z, or Unix seconds such as 1795251120.5) or an offset from the first packet (1.5s, +2m)")
	case d < 0:
		return moment{}, errors.New("want an offset of 0 or more from the first packet, e.g. 1.5s")
	}
	return moment{set: true, offset: d, relative: true}, nil
}

// parseUnix reads seconds since 1970 with up to 9 decimals, exactly: a
// float64 would round nanoseconds away, which decides which side of the
// moment a packet falls on.
func parseUnix(s string) (time.Time, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 9 || strings.Trim(whole+frac, "0123456789") != "" {
		return time.Time{}, false
	}
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || sec > math.MaxInt64/int64(time.Second)-1 {
		return time.Time{}, false
	}
	var nsec int64
	if frac != "" {
		nsec, _ = strconv.ParseInt(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
	}
	return time.Unix(sec, nsec), true
}

// nanos returns the moment in nanoseconds since 1970, given the first
// packet's time; an offset past what the clock holds is clamped to its end,
// as --advance is.
func (m moment) nanos(first int64) int64 {
	if !m.relative {
		// UnixNano is undefined outside 1678 to 2262.
		switch {
		case m.abs.Before(time.Unix(0, math.MinInt64)):
			return math.MinInt64
		case m.abs.After(time.Unix(0, math.MaxInt64)):
			return math.MaxInt64
		}
		return m.abs.UnixNano()
	}
	n := first + int64(m.offset)
	if n < first {
		return math.MaxInt64
	}
	return n
}

func (m moment) String() string {
	switch {
	case !m.set:
		return ""
	case m.relative:
		return "+" + m.offset.String()
	}
	return m.abs.UTC().Format(time.RFC3339Nano)
}
