package netlab

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/tcptrack/tcptrack/tracker"
)

// Socket is one line of `ss -tan` output.
type Socket struct {
	Netns        string // the role from the "# netns" line above it
	State        tracker.State
	RecvQ, SendQ uint32
	// Local and Peer are unmapped: ss writes an IPv4 peer of a dual-stack
	// socket as [::ffff:192.0.2.1], a capture shows 192.0.2.1. A wildcard
	// (* or 0.0.0.0) is the unspecified address, a * port is 0.
	Local, Peer netip.AddrPort
}

// ParseSS reads the .ss format that Record writes: blocks of raw `ss -tan`
// output, each preceded by a line "# netns NAME". Header lines ("State
// Recv-Q ...") and blank lines are skipped. Sockets before any "# netns"
// line have an empty Netns, so plain ss output parses too.
func ParseSS(r io.Reader) ([]Socket, error) {
	var (
		out   []Socket
		netns string
		line  int
	)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if name, ok := strings.CutPrefix(text, "# netns "); ok {
			netns = strings.TrimSpace(name)
			continue
		}
		s, ok, err := parseSocket(text, netns, line)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("netlab: reading ss output: %w", err)
	}
	return out, nil
}

// parseSocket reads one line of `ss -tan` output, trimmed; false for a
// header line, a comment or a blank line.
func parseSocket(text, netns string, line int) (Socket, bool, error) {
	f := strings.Fields(text)
	if len(f) == 0 || f[0] == "State" || strings.HasPrefix(f[0], "#") {
		return Socket{}, false, nil
	}
	if len(f) < 5 {
		return Socket{}, false, fmt.Errorf("%w: line %d: %d fields, want at least 5", ErrSSFormat, line, len(f))
	}
	st, ok := tracker.ParseState(f[0])
	if !ok {
		return Socket{}, false, fmt.Errorf("%w: line %d: unknown state %q", ErrSSFormat, line, f[0])
	}
	s := Socket{Netns: netns, State: st}
	var err error
	if s.RecvQ, err = parseQueue(f[1]); err != nil {
		return Socket{}, false, fmt.Errorf("%w: line %d: Recv-Q: %v", ErrSSFormat, line, err)
	}
	if s.SendQ, err = parseQueue(f[2]); err != nil {
		return Socket{}, false, fmt.Errorf("%w: line %d: Send-Q: %v", ErrSSFormat, line, err)
	}
	if s.Local, err = parseEndpoint(f[3]); err != nil {
		return Socket{}, false, fmt.Errorf("%w: line %d: local: %v", ErrSSFormat, line, err)
	}
	if s.Peer, err = parseEndpoint(f[4]); err != nil {
		return Socket{}, false, fmt.Errorf("%w: line %d: peer: %v", ErrSSFormat, line, err)
	}
	return s, true, nil
}

func parseQueue(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}

// parseEndpoint reads ss's ADDR:PORT, where ADDR is a dotted quad, an IPv6
// address in brackets, or *, optionally followed by %IFACE (a socket bound
// to a device), and PORT is a number or *.
func parseEndpoint(s string) (netip.AddrPort, error) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, fmt.Errorf("no port in %q", s)
	}
	host, portText := s[:i], s[i+1:]
	if j := strings.LastIndexByte(host, '%'); j >= 0 && !strings.Contains(host[j:], "]") {
		host = host[:j]
	}
	var port uint16
	if portText != "*" {
		n, err := strconv.ParseUint(portText, 10, 16)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("port in %q: %w", s, err)
		}
		port = uint16(n)
	}
	if host == "*" {
		return netip.AddrPortFrom(netip.IPv6Unspecified(), port), nil
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("address in %q: %w", s, err)
	}
	return netip.AddrPortFrom(addr.Unmap(), port), nil
}

// SnapshotTime returns the time of the snapshot, from the line "# time
// RFC3339" that Snapshot writes first; false for snapshots without one.
func SnapshotTime(r io.Reader) (time.Time, bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "# time "); ok {
			t, err := time.Parse(time.RFC3339Nano, v)
			return t, err == nil
		}
	}
	return time.Time{}, false
}
