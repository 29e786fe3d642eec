package main

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// The terminal view is a subcommand, "tcptrack top -i IFACE" or "tcptrack
// top -r FILE", rather than a flag: without it tcptrack is what exporter
// users and scripts already run, and with it the same flags mean the same.
// kingpin cannot mix a command with the top-level filter argument, so the
// word is taken off the front before parsing. Its own flags are in the
// README's "tcptrack top" table.

// topOptions are the view's.
type topOptions struct {
	on      bool
	speed   float64
	paused  bool
	refresh time.Duration
}

const topWord = "top"

// takeTop reports whether args name the view, and returns them without
// its word.
func takeTop(args []string) ([]string, bool) {
	if len(args) > 0 && args[0] == topWord {
		return args[1:], true
	}
	return args, false
}

func addTopFlags(c *cli, o *options) {
	t := sectionTop
	o.top.speed, o.top.refresh = 1, time.Second
	value(c.flag(t, "speed", 0, "FACTOR", "`tcptrack top -r`: seconds of capture replayed per second (default 1: as it was captured); 0 reads as fast as it can; `+` and `-` change it while it plays"), "--speed", speedValue{&o.top.speed})
	c.flag(t, "paused", 0, "", "`tcptrack top -r`: start paused before the first packet; space plays, `.` steps one segment, `n` one second").BoolVar(&o.top.paused)
	value(c.flag(t, "refresh", 0, "DURATION", "`tcptrack top`: least time between two listings of the connections (default 1s; live, the capture loop answers once a second at most, and the view waits a second more for every 100,000 sockets)"), "--refresh", durationValue{&o.top.refresh})
}

// checkTop refuses what the view cannot do, and its flags without it.
func (c *cli) checkTop(o *options) error {
	if !o.top.on {
		for _, f := range c.specs {
			if f.section == sectionTop && f.set {
				return fmt.Errorf("--%s applies to tcptrack top only", f.long)
			}
		}
		return nil
	}
	switch {
	case o.sockets, o.json:
		return errors.New("tcptrack top draws on the terminal: --sockets and --json are for the report")
	case o.transitions == "-", o.connections == "-":
		return errors.New("tcptrack top draws on the terminal: --transitions - and --connections - would write over it; give a file")
	case c.byLong("advance").set:
		return errors.New("--advance: tcptrack top replays the file; n steps the clock by a second")
	case o.at.set, o.every > 0, o.plot != "":
		return errors.New("--at, --every and --plot are for the report: tcptrack top replays the file; n steps the clock by a second")
	case o.iface != "" && c.byLong("speed").set, o.iface != "" && c.byLong("paused").set:
		return errors.New("--speed and --paused apply to files (tcptrack top -r) only")
	case o.top.refresh < 100*time.Millisecond:
		return fmt.Errorf("--refresh %v: want 100ms or more", o.top.refresh)
	}
	// The table's ages, bytes, rates and RTTs are the tracker's facts,
	// kept only when asked for: 80 bytes a flow, and their cost a segment
	// (see the README's benchmarks).
	o.track.Info = true
	return nil
}

// speedValue is --speed.
type speedValue struct{ f *float64 }

func (v speedValue) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("%s: want a factor of 0 or more, e.g. 1, 10 or 0.5 (0: as fast as it reads)", s)
	}
	*v.f = f
	return nil
}

func (v speedValue) String() string { return strconv.FormatFloat(*v.f, 'g', -1, 64) }
