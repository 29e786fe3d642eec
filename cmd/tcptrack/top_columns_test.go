package main

import (
	"math"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// viewStream is what tshark makes of one TCP conversation of a capture.
type viewStream struct {
	first   float64   // its first frame, seconds since the epoch
	bytes   [2]uint64 // payload each way, from the stream's first sender
	from    [2]netip.AddrPort
	syns    int     // frames with SYN set, SYN+ACKs included
	irtt    float64 // tcp.analysis.initial_rtt, seconds; 0 if none
	hasIRTT bool
}

// tsharkViewStreams reads a capture with tshark: each TCP stream keyed by its
// two endpoints (the last stream when a 4-tuple was reused), and the time
// of the last frame. Payload counts leave out what tshark calls a
// retransmission or a keep-alive, as the view counts sequence space once.
func tsharkViewStreams(t *testing.T, pcap string) (map[[2]netip.AddrPort]*viewStream, float64) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		if os.Geteuid() == 0 {
			t.Fatal("tshark is missing; make deps-test installs it")
		}
		t.Skip("tshark is not installed (make deps-test installs it as root)")
	}
	out, err := exec.Command("tshark", "-r", pcap, "-T", "fields", "-E", "separator=,",
		"-e", "tcp.stream", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport",
		"-e", "frame.time_epoch", "-e", "tcp.len", "-e", "tcp.flags.syn",
		"-e", "tcp.analysis.retransmission", "-e", "tcp.analysis.fast_retransmission",
		"-e", "tcp.analysis.spurious_retransmission", "-e", "tcp.analysis.keep_alive",
		"-e", "tcp.analysis.initial_rtt").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	byNum := map[string]*viewStream{}
	var order []string
	last := 0.0
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, ",")
		if len(f) != 15 {
			t.Fatalf("tshark line %q", l)
		}
		src := netip.MustParseAddrPort(bracket(f[1]+f[2]) + ":" + f[3])
		dst := netip.MustParseAddrPort(bracket(f[4]+f[5]) + ":" + f[6])
		at, _ := strconv.ParseFloat(f[7], 64)
		last = max(last, at)
		s, ok := byNum[f[0]]
		if !ok {
			s = &viewStream{first: at, from: [2]netip.AddrPort{src, dst}}
			byNum[f[0]] = s
			order = append(order, f[0])
		}
		if f[9] == "1" || f[9] == "True" {
			s.syns++
		}
		if f[14] != "" {
			s.irtt, _ = strconv.ParseFloat(f[14], 64)
			s.hasIRTT = true
		}
		if f[10]+f[11]+f[12]+f[13] != "" {
			continue
		}
		n, _ := strconv.ParseUint(f[8], 10, 64)
		if src == s.from[0] {
			s.bytes[0] += n
		} else {
			s.bytes[1] += n
		}
	}
	streams := map[[2]netip.AddrPort]*viewStream{}
	for _, num := range order {
		s := byNum[num]
		streams[[2]netip.AddrPort{s.from[0], s.from[1]}] = s
		streams[[2]netip.AddrPort{s.from[1], s.from[0]}] = s
	}
	return streams, last
}

// bracket brackets an IPv6 address for ParseAddrPort.
func bracket(a string) string {
	if strings.Contains(a, ":") {
		return "[" + a + "]"
	}
	return a
}

// parseAge reads the view's AGE back: the value and the unit it was cut to.
func parseAge(t *testing.T, s string) (v, unit float64) {
	t.Helper()
	s = strings.TrimSuffix(s, "+")
	if !strings.HasSuffix(s, "s") || strings.ContainsAny(s, "mhd") {
		t.Fatalf("age %q: the recording is shorter than a minute", s)
	}
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "s"), 64)
	if err != nil {
		t.Fatalf("age %q", s)
	}
	if strings.Contains(s, ".") {
		return v, 0.1
	}
	return v, 1
}

// parseRTT reads the view's RTT back in microseconds, and the unit it was
// cut to; "-" is -1.
func parseRTT(t *testing.T, s string) (v, unit float64) {
	t.Helper()
	switch {
	case s == "-":
		return -1, 0
	case strings.HasSuffix(s, "us"):
		v, err := strconv.ParseFloat(strings.TrimSuffix(s, "us"), 64)
		if err != nil {
			t.Fatalf("rtt %q", s)
		}
		return v, 1
	case strings.HasSuffix(s, "ms"):
		v, err := strconv.ParseFloat(strings.TrimSuffix(s, "ms"), 64)
		if err != nil {
			t.Fatalf("rtt %q", s)
		}
		if strings.Contains(s, ".") {
			return v * 1000, 100
		}
		return v * 1000, 1000
	}
	t.Fatalf("rtt %q: the recording's handshakes take less than a second", s)
	return 0, 0
}

// TestTopColumnsAgainstTshark replays the kernel recording of every state
// (pcaps/mixed.pcap) to its end on a terminal tall and wide enough for
// every connection and column, and holds each row to what tshark makes of
// the same capture: AGE to the time from the connection's first frame to
// the capture's last (the replay's clock at its end), C-BYTES and S-BYTES
// to tshark's payload count each way less retransmissions, RTT to tshark's
// initial RTT where the handshake was seen once (a retransmitted SYN
// restarts the view's measure, not tshark's), "-" where tshark has none.
func TestTopColumnsAgainstTshark(t *testing.T) {
	const pcap = "../../pcaps/mixed.pcap"
	streams, end := tsharkViewStreams(t, pcap)
	m := newTerm(t, 200, 190, os.Args[0]+" top -r "+pcap+" --speed 0")
	m.waitText("END OF FILE")
	screen := m.waitFor("the listing at the end", func(s string) bool {
		n, of := shown(t, s)
		return n > 0 && n == of && len(rowsOf(s)) == n
	})
	const titles = "CLIENT SERVER^ C-STATE S-STATE AGE IN-STATE C>S S>C RTT C-BYTES S-BYTES C-SENDQ S-SENDQ NOTE"
	if !strings.Contains(strings.Join(strings.Fields(screen), " "), titles) {
		t.Fatalf("want the columns %s:\n%s", titles, screen)
	}
	rows := rowsOf(screen)
	rtts := 0
	for _, r := range rows {
		client, server := netip.MustParseAddrPort(r[0]), netip.MustParseAddrPort(r[1])
		s := streams[[2]netip.AddrPort{client, server}]
		if s == nil {
			t.Errorf("row %v: tshark has no such stream", r)
			continue
		}
		age, unit := parseAge(t, r[4])
		if want := end - s.first; want < age-1e-6 || want >= age+unit+1e-6 {
			t.Errorf("%v: AGE %s, tshark's first frame %.6fs before the last", r[:2], r[4], want)
		}
		if strings.HasSuffix(r[4], "+") != (s.syns == 0) {
			t.Errorf("%v: AGE %s, and tshark saw %d SYNs", r[:2], r[4], s.syns)
		}
		cb, sb := s.bytes[0], s.bytes[1]
		if s.from[0] != client {
			cb, sb = sb, cb
		}
		if r[9] != strconv.FormatUint(cb, 10) || r[10] != strconv.FormatUint(sb, 10) {
			t.Errorf("%v: C-BYTES %s S-BYTES %s, tshark's payload %d and %d", r[:2], r[9], r[10], cb, sb)
		}
		got, unit := parseRTT(t, r[8])
		switch {
		case !s.hasIRTT:
			if got != -1 {
				t.Errorf("%v: RTT %s, and tshark has none", r[:2], r[8])
			}
		case s.syns == 2:
			// Two halves, each cut to the microsecond: up to 2 us less.
			want := math.Round(s.irtt * 1e6)
			if got == -1 || want < got-1e-6 || want >= got+unit+2 {
				t.Errorf("%v: RTT %s, tshark's initial RTT %.0fus", r[:2], r[8], want)
			}
			rtts++
		}
	}
	if len(rows) < 100 || rtts < 50 {
		t.Errorf("%d rows, %d RTTs compared: the recording has more", len(rows), rtts)
	}
	t.Logf("%d rows, %d RTTs compared, capture ends %s", len(rows), rtts, time.Unix(0, int64(end*1e9)).UTC())
	m.keys("q")
	m.waitText("EXIT=0")
}
