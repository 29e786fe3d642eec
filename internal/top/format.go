package top

import (
	"strconv"
	"time"
)

// The table's numbers are written to fit narrow columns, with the
// precision that tells rows apart.

// age spells a duration: "3.2s" below ten seconds, then "45s", "9m59s",
// "59m", "9h59m", "23h", "9d23h", "45d", cut (not rounded) to the unit
// shown; with atLeast a "+" says it is a lower bound.
func age(d time.Duration, atLeast bool) string {
	d = max(d, 0)
	two := func(big, small time.Duration, b, s string) string {
		n := d / big
		if n >= 10 {
			return strconv.Itoa(int(n)) + b
		}
		return strconv.Itoa(int(n)) + b + strconv.Itoa(int(d%big/small)) + s
	}
	var s string
	switch {
	case d < 10*time.Second:
		s = strconv.Itoa(int(d/time.Second)) + "." + strconv.Itoa(int(d%time.Second/(100*time.Millisecond))) + "s"
	case d < time.Minute:
		s = strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		s = two(time.Minute, time.Second, "m", "s")
	case d < 24*time.Hour:
		s = two(time.Hour, time.Minute, "h", "m")
	default:
		s = two(24*time.Hour, time.Hour, "d", "h")
	}
	if atLeast {
		s += "+"
	}
	return s
}

// quantity spells a count of bytes, or bytes per second, exact below
// exact, then with three significant digits and k, M, G or T (powers of
// 1000), cut rather than rounded: "123k", "4.35M".
func quantity(x, exact float64) string {
	if x < exact {
		return strconv.FormatUint(uint64(x), 10)
	}
	units := "kMGTPE"
	u := -1
	for x >= 1000 && u < len(units)-1 {
		x /= 1000
		u++
	}
	return sig3(x) + units[u:u+1]
}

// rtt spells a round trip in at most five characters: "43us", "999us",
// "1.2ms", "12ms", "123ms", "1.23s", cut rather than rounded.
func rtt(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return strconv.Itoa(int(d/time.Microsecond)) + "us"
	case d < 10*time.Millisecond:
		return strconv.Itoa(int(d/time.Millisecond)) + "." + strconv.Itoa(int(d%time.Millisecond/(100*time.Microsecond))) + "ms"
	case d < time.Second:
		return strconv.Itoa(int(d/time.Millisecond)) + "ms"
	}
	return sig3(d.Seconds()) + "s"
}

// sig3 writes x, at least 1, with three significant digits, cut. The
// nudge keeps a cut from losing a digit to the float's error (4.35 is
// 4.3499...).
func sig3(x float64) string {
	const nudge = 1e-9
	switch {
	case x < 10:
		return strconv.FormatFloat(float64(int(x*100+nudge))/100, 'f', 2, 64)
	case x < 100:
		return strconv.FormatFloat(float64(int(x*10+nudge))/10, 'f', 1, 64)
	}
	return strconv.Itoa(int(x + nudge))
}
