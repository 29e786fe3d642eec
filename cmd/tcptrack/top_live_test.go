package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/netlab"
	"github.com/tcptrack/tcptrack/tracker"
)

// TestTopLive runs tcptrack top on the server's end of a veth pair while
// real kernel sockets are driven into many states, in tmux: pausing holds
// the view still while a new connection is made, /metrics is served
// meanwhile, and once the lab is frozen the header equals ss -tan of both
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
	m.waitText("1 of ", ":7001 ", "ESTABLISHED   ESTABLISHED")
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
