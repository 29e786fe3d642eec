package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/netlab"
	"github.com/tcptrack/tcptrack/tracker"
)

// TestTopLive runs tcptrack top on the server's end of a veth pair while
// real kernel sockets are driven into many states, in tmux: pausing holds
// the view still while a new connection is made, /metrics is served
// meanwhile, a connection moving known amounts of data shows them (see
// transfer), and once the lab is frozen the header equals ss -tan of both
// namespaces.
func TestTopLive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and captures live (CI runs as root)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	l, err := netlab.New(ctx, netlab.Veth, netlab.IPv4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("closing the lab: %v", err)
		}
	})
	sc := netlab.Scenario{Name: "top-live", Topology: netlab.Veth, Family: netlab.IPv4, Iface: "veth0",
		Parts: []netlab.Part{
			{Kind: netlab.Established, N: 3}, {Kind: netlab.CloseClient, N: 2}, {Kind: netlab.HalfClose, N: 1},
			{Kind: netlab.TimeWait, N: 1}, {Kind: netlab.LastAck, N: 1}, {Kind: netlab.SynSent, N: 1},
			{Kind: netlab.SynRecv, N: 1}, {Kind: netlab.Reset, N: 1},
		}}
	var m *tmuxTerm
	err = sc.Play(l, func() error {
		m = newTerm(t, 80, 24, "ip netns exec "+l.Server.Netns+" "+os.Args[0]+
			" top -i veth0 --web.listen-address 127.0.0.1:9717")
		m.waitText("capture up", "metrics 127.0.0.1:9717/metrics")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	screen := m.waitFor("the scenario's connections", func(s string) bool {
		return headerCounts(t, s)["ESTABLISHED"] >= 2*3
	})

	// Paused, the view holds still while a connection is made.
	const port = 7001
	ln, err := l.Server.Listen(port)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	m.keys("Space")
	m.waitText("PAUSED")
	before := headerCounts(t, m.screen())
	c, err := l.Client.Dial(netip.AddrPortFrom(l.Server.Addr, port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(2500 * time.Millisecond) // two publishes
	if s := m.screen(); !maps(headerCounts(t, s), before) || strings.Contains(s, ":7001 ") {
		t.Errorf("paused, the view moved from %v:\n%s", before, s)
	}
	// The exporter goes on meanwhile.
	if body := scrape(t, l); !strings.Contains(body, `tcptrack_connection_states{state="established"}`) {
		t.Errorf("/metrics while the view is paused:\n%.500s", body)
	}
	m.keys("Space")
	m.waitFor("the new connection", func(s string) bool {
		return !strings.Contains(s, "PAUSED") && strings.Contains(s, ":7001 ")
	})

	transfer(t, l, m)

	raw, err := l.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	kernel, err := netlab.ParseSS(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for s := tracker.State(0); s < tracker.NumStates; s++ {
		if s.Counted() {
			want[s.String()] = 0
		}
	}
	for _, s := range kernel {
		// The scrape above went over lo, which tcptrack does not watch.
		if s.State.Counted() && !s.Local.Addr().IsLoopback() {
			want[s.State.String()]++
		}
	}
	t.Logf("ss -tan, both namespaces:\n%s", raw)
	screen = m.waitFor(fmt.Sprintf("the header to equal ss: %v", want), func(s string) bool { return maps(headerCounts(t, s), want) })
	m.keys("/")
	m.typeText("port 7001")
	m.keys("Enter")
	m.waitText("1 of ", ":7001 ", "ESTABLISHED ESTABLISHED")
	t.Logf("the view:\n%s", screen)
	m.keys("q")
	m.waitText("EXIT=0")
}

// scrape GETs /metrics inside the server's namespace.
func scrape(t *testing.T, l *netlab.Lab) string {
	t.Helper()
	c, err := l.Server.Dial(netip.MustParseAddrPort("127.0.0.1:9717"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
	b, _ := io.ReadAll(c)
	return string(b)
}

// transfer makes a connection that moves known amounts of data: the server
// sends 30,000 bytes at once, then the client 20,000 every 100 ms for 4 s
// (200,000 bytes/s), on a schedule, not after sleeps, so that any interval
// of a second or more holds its share give or take one write. On a terminal
// wide enough for every column, the view must show the client's rate while
// it sends (with the server's at 0: a rate over the last interval, not the
// connection's life), then both byte counts exactly, the handshake's RTT,
// and an age within the time since the dial.
func transfer(t *testing.T, l *netlab.Lab, m *tmuxTerm) {
	t.Helper()
	const (
		port           = 7002
		answer         = 30_000
		chunk, chunks  = 20_000, 40
		every          = 100 * time.Millisecond
		rate           = chunk * int(time.Second/every)
		sent           = chunk * chunks
		rateLo, rateHi = rate * 8 / 10, rate * 12 / 10
	)
	ln, err := l.Server.Listen(port)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		sc, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer sc.Close()
		if _, err := sc.Write(make([]byte, answer)); err != nil {
			served <- err
			return
		}
		n, err := io.CopyN(io.Discard, sc, sent)
		if err == nil && n != sent {
			err = fmt.Errorf("the server read %d bytes, want %d", n, sent)
		}
		served <- err
	}()
	dialed := time.Now()
	c, err := l.Client.Dial(netip.AddrPortFrom(l.Server.Addr, port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.ReadFull(c, make([]byte, answer)); err != nil {
		t.Fatal(err)
	}
	wrote := make(chan error, 1)
	go func() {
		buf := make([]byte, chunk)
		start := time.Now()
		for k := range chunks {
			time.Sleep(time.Until(start.Add(time.Duration(k) * every)))
			if _, err := c.Write(buf); err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	m.resize(200, 50)
	row := func(s string) []string {
		for _, r := range rowsOf(s) {
			if len(r) >= 13 && strings.HasSuffix(r[1], fmt.Sprintf(":%d", port)) {
				return r
			}
		}
		return nil
	}
	screen := m.waitFor(fmt.Sprintf("C>S %d to %d bytes/s and S>C 0 on :%d", rateLo, rateHi, port), func(s string) bool {
		r := row(s)
		if r == nil || r[7] != "0" {
			return false
		}
		x := parseQuantity(r[6])
		return x >= rateLo && x <= rateHi
	})
	t.Logf("while sending:\n%s", screen)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	screen = m.waitFor(fmt.Sprintf("C-BYTES %d and S-BYTES %d on :%d, both rates 0", sent, answer, port), func(s string) bool {
		r := row(s)
		return r != nil && r[9] == strconv.Itoa(sent) && r[10] == strconv.Itoa(answer) && r[6] == "0" && r[7] == "0"
	})
	r := row(screen)
	if us, _ := parseRTT(t, r[8]); us <= 0 || us > 10_000 {
		t.Errorf("RTT %s on a veth pair, want a handshake under 10 ms", r[8])
	}
	// The listing shown is at most a refresh and a publish old.
	age, unit := parseAge(t, r[4])
	if since := time.Since(dialed).Seconds(); age > since || age+unit < since-3 {
		t.Errorf("AGE %s, dialed %.1fs ago", r[4], since)
	}
	m.resize(80, 24)
}

// parseQuantity reads a count the view wrote with quantity back.
func parseQuantity(s string) int {
	mult := 1
	for i, u := range []string{"k", "M", "G"} {
		if strings.HasSuffix(s, u) {
			s, mult = strings.TrimSuffix(s, u), []int{1e3, 1e6, 1e9}[i]
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return -1
	}
	return int(f * float64(mult))
}
