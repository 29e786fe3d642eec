package top

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/tcptrack/tcptrack/metrics"
	"github.com/tcptrack/tcptrack/tracker"
)

// screenText returns the simulated screen as lines.
func screenText(s tcell.SimulationScreen) string {
	cells, w, h := s.GetContents()
	var b strings.Builder
	for y := range h {
		for x := range w {
			c := cells[y*w+x]
			if len(c.Runes) == 0 {
				b.WriteByte(' ')
			} else {
				b.WriteRune(c.Runes[0])
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// waitFor polls the screen until it holds every one of want.
func waitFor(t *testing.T, s tcell.SimulationScreen, want ...string) string {
	t.Helper()
	var text string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		got := make(chan string, 1)
		s.PostEventWait(tcell.NewEventInterrupt(func() { got <- screenText(s) }))
		text = <-got
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(text, w)
		}
		if ok {
			return text
		}
	}
	t.Fatalf("screen lacks %q:\n%s", want, text)
	return ""
}

// TestViewKeys drives the view on a simulated 80x24 screen: the header,
// the table, a filter, the per-port view, sorting, and q.
func TestViewKeys(t *testing.T) {
	s := tcell.NewSimulationScreen("UTF-8")
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	s.SetSize(80, 24)
	snap := &metrics.Snapshot{CaptureUp: true, Packets: 42}
	snap.Tracker.Time = time.Unix(1700000000, 0)
	snap.Tracker.States[tracker.Established] = 2
	snap.Tracker.States[tracker.CloseWait] = 1
	cfg := Config{Screen: s, Title: "lo", Refresh: 10 * time.Millisecond,
		Snapshot: func() *metrics.Snapshot { return snap },
		Listing:  func(context.Context) (*metrics.Listing, error) { return listing(), nil },
	}
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), cfg) }()
	waitFor(t, s, "ESTABLISHED 2", "CLOSE_WAIT 1", "SYN_SENT 0", "3 of 3 connections", "192.0.2.9:1234")

	typeText := func(keys string) {
		for _, r := range keys {
			s.InjectKey(tcell.KeyRune, r, tcell.ModNone)
		}
	}
	typeText("/port 80")
	waitFor(t, s, "filter: port 80")
	s.InjectKey(tcell.KeyEnter, 0, tcell.ModNone)
	text := waitFor(t, s, "1 of 3 connections")
	if strings.Contains(text, "192.0.2.9:1234") {
		t.Errorf("the filter let port 443 through:\n%s", text)
	}
	typeText("/")
	s.InjectKey(tcell.KeyCtrlU, 0, tcell.ModNone)
	typeText("state nope")
	s.InjectKey(tcell.KeyEnter, 0, tcell.ModNone)
	waitFor(t, s, "bad filter")
	s.InjectKey(tcell.KeyCtrlU, 0, tcell.ModNone)
	s.InjectKey(tcell.KeyEnter, 0, tcell.ModNone)
	waitFor(t, s, "3 of 3 connections")

	s.InjectKey(tcell.KeyTab, 0, tcell.ModNone)
	waitFor(t, s, "2 server ports of 3 connections", "CONNS")
	s.InjectKey(tcell.KeyTab, 0, tcell.ModNone)
	typeText("3")
	waitFor(t, s, "C-STATE^")
	typeText("3")
	waitFor(t, s, "C-STATEv")

	s.PostEventWait(tcell.NewEventInterrupt(func() { s.SetSize(60, 20) }))
	s.PostEventWait(tcell.NewEventResize(60, 20))
	waitFor(t, s, "S-STATE")

	typeText("q")
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("q did not quit")
	}
}
