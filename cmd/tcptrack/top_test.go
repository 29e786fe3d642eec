package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/netlab"
	"github.com/tcptrack/tcptrack/tracker"
)

// tmuxTerm is a terminal that tmux draws, for driving tcptrack top as a person
// would: keys in, the screen out.
type tmuxTerm struct {
	t       *testing.T
	sock    string
	session string
}

// newTerm starts cmdline in a detached tmux session of w by h cells; when
// the command ends the pane shows EXIT=status and stays.
func newTerm(t *testing.T, w, h int, cmdline string) *tmuxTerm {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Geteuid() == 0 {
			t.Fatal("tmux is missing; make deps-test installs it")
		}
		t.Skip("tmux is not installed (make deps-test installs it as root)")
	}
	m := &tmuxTerm{t: t, sock: filepath.Join(t.TempDir(), "tmux.sock"), session: "top"}
	t.Cleanup(func() { exec.Command("tmux", "-S", m.sock, "kill-server").Run() })
	m.tmux("-f", "/dev/null", "new-session", "-d", "-s", m.session, "-x", strconv.Itoa(w), "-y", strconv.Itoa(h),
		"env TERM=xterm-256color TCPTRACK_AS_MAIN=1 "+cmdline+"; echo EXIT=$?; sleep 600")
	return m
}

func (m *tmuxTerm) tmux(args ...string) string {
	m.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", m.sock}, args...)...).CombinedOutput()
	if err != nil {
		m.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (m *tmuxTerm) screen() string { return m.tmux("capture-pane", "-p", "-t", m.session) }

// keys types keys as tmux names them ("q", "Tab", "Enter", "Space").
func (m *tmuxTerm) keys(keys ...string) {
	m.tmux(append([]string{"send-keys", "-t", m.session}, keys...)...)
}

// typeText types s literally.
func (m *tmuxTerm) typeText(s string) { m.tmux("send-keys", "-t", m.session, "-l", s) }

func (m *tmuxTerm) resize(w, h int) {
	m.tmux("resize-window", "-t", m.session, "-x", strconv.Itoa(w), "-y", strconv.Itoa(h))
}

// waitFor returns the screen once ok holds of it, or fails after 20 s.
func (m *tmuxTerm) waitFor(what string, ok func(string) bool) string {
	m.t.Helper()
	var s string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if s = m.screen(); ok(s) {
			return s
		}
	}
	m.t.Fatalf("waited 20 s for %s; the screen:\n%s", what, s)
	return ""
}

// waitText waits for every one of want on the screen.
func (m *tmuxTerm) waitText(want ...string) string {
	m.t.Helper()
	return m.waitFor(fmt.Sprintf("%q", want), func(s string) bool {
		for _, w := range want {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	})
}

var headerCount = regexp.MustCompile(`\b(ESTABLISHED|SYN_SENT|SYN_RECV|FIN_WAIT1|FIN_WAIT2|TIME_WAIT|CLOSE_WAIT|LAST_ACK|CLOSING) (\d+)\b`)

// headerCounts reads the per-state counts from the view's header, the
// lines above the table.
func headerCounts(t *testing.T, screen string) map[string]int {
	t.Helper()
	head, _, _ := strings.Cut(screen, "CLIENT ")
	got := map[string]int{}
	for _, m := range headerCount.FindAllStringSubmatch(head, -1) {
		n, _ := strconv.Atoi(m[2])
		got[m[1]] = n
	}
	if len(got) != 9 {
		t.Fatalf("the header shows %d states, want all 9:\n%s", len(got), screen)
	}
	return got
}

// kernelCounts reads a recording's ss snapshot into per-state counts as
// the tracker reads the same wire: LISTEN aside, the documented ambiguities
// in the tracker's reading (see pcaps/kernel_test.go).
func kernelCounts(t *testing.T, ssPath string) map[string]int {
	t.Helper()
	f, err := os.Open(ssPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	socks, err := netlab.ParseSS(f)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{}
	for s := tracker.State(0); s < tracker.NumStates; s++ {
		if s.Counted() {
			want[s.String()] = 0
		}
	}
	for _, s := range socks {
		st := s.State
		if a, ok := s.Reading(); ok {
			if a.Unconfirmed {
				continue
			}
			st = a.Reading
		}
		if st.Counted() {
			want[st.String()]++
		}
	}
	return want
}

// rowsOf returns the table's rows: the lines below the column titles, up
// to the key line, split into fields.
func rowsOf(screen string) [][]string {
	var rows [][]string
	in := false
	for _, l := range strings.Split(screen, "\n") {
		switch {
		case strings.HasPrefix(l, "CLIENT ") || strings.Contains(l, "PORT "):
			in = true
		case strings.HasPrefix(l, "q quit"):
			in = false
		case in && strings.TrimSpace(l) != "":
			rows = append(rows, strings.Fields(l))
		}
	}
	return rows
}

var shownRe = regexp.MustCompile(`(\d+) of (\d+) connections`)

func shown(t *testing.T, screen string) (n, of int) {
	t.Helper()
	m := shownRe.FindStringSubmatch(screen)
	if m == nil {
		t.Fatalf("no \"N of M connections\" line:\n%s", screen)
	}
	n, _ = strconv.Atoi(m[1])
	of, _ = strconv.Atoi(m[2])
	return n, of
}

// TestTopKernelRecording replays the kernel recording of every state
// (pcaps/mixed.pcap) in tcptrack top on an 80x24 terminal and drives it:
// the header equals the kernel's ss counts, the table sorts by a column
// either way and by the tracker's AGE and RTT, filters by state and by
// port, shows the per-port summary, survives resizes, and q restores the
// terminal.
func TestTopKernelRecording(t *testing.T) {
	m := newTerm(t, 80, 24, os.Args[0]+" top -r ../../pcaps/mixed.pcap --speed 0")
	screen := m.waitText("END OF FILE")
	screen = m.waitFor("the listing at the end", func(s string) bool {
		n, of := shown(t, s)
		return n > 0 && n == of
	})
	got, want := headerCounts(t, screen), kernelCounts(t, "../../pcaps/mixed.ss")
	if !maps(got, want) {
		t.Errorf("header %v, kernel's ss %v:\n%s", got, want, screen)
	}
	_, report, _ := runBin(t, nil, "-r", "../../pcaps/mixed.pcap")
	for _, l := range strings.Split(strings.TrimSpace(report), "\n") {
		if f := strings.Fields(l); len(f) != 2 || strconv.Itoa(got[f[0]]) != f[1] {
			t.Errorf("tcptrack -r says %q, the header %v", l, got)
		}
	}
	_, conns := shown(t, screen)

	t.Run("sort", func(t *testing.T) {
		rank := func(name string) int {
			s, _ := tracker.ParseState(name)
			return int(s)
		}
		for _, tc := range []struct {
			key, title string
			desc       bool
		}{{"3", "C-STATE^", false}, {"3", "C-STATEv", true}, {"4", "S-STATE^", false}, {"r", "S-STATEv", true}} {
			m.keys(tc.key)
			screen := m.waitText(tc.title)
			col := 2
			if strings.HasPrefix(tc.title, "S-") {
				col = 3
			}
			rows := rowsOf(screen)
			if len(rows) < 10 {
				t.Fatalf("%d rows on 24 lines:\n%s", len(rows), screen)
			}
			ranks := make([]int, len(rows))
			for i, r := range rows {
				ranks[i] = rank(r[col])
			}
			sorted := slices.IsSorted(ranks)
			if tc.desc {
				slices.Reverse(ranks)
				sorted = slices.IsSorted(ranks)
			}
			if !sorted {
				t.Errorf("%s: column %d not in order:\n%s", tc.title, col+1, screen)
			}
		}
		// The tracker's columns sort by their values: AGE youngest first
		// (5), RTT longest first (9, then r; the sixth column, IN-STATE,
		// gives way at 80 columns, so that RTT is the eighth shown).
		for _, tc := range []struct {
			keys  []string
			title string
			col   int
			value func(string) float64
		}{
			{[]string{"5"}, "AGE^", 4, func(s string) float64 { v, _ := parseAge(t, s); return v }},
			{[]string{"9", "r"}, "RTTv", 7, func(s string) float64 { v, _ := parseRTT(t, s); return -v }},
		} {
			m.keys(tc.keys...)
			screen := m.waitText(tc.title)
			rows := rowsOf(screen)
			if len(rows) < 10 {
				t.Fatalf("%d rows on 24 lines:\n%s", len(rows), screen)
			}
			var vals []float64
			for _, r := range rows {
				vals = append(vals, tc.value(r[tc.col]))
			}
			if !slices.IsSorted(vals) || vals[0] == vals[len(vals)-1] {
				t.Errorf("%s: column %d not in order, or all one value:\n%s", tc.title, tc.col+1, screen)
			}
		}
		m.keys("2") // back to the server's address
		m.waitText("SERVER^")
	})

	t.Run("filter", func(t *testing.T) {
		for _, tc := range []struct{ expr, every string }{
			{"state time_wait", "TIME_WAIT"},
			{"port 443", ":443 "},
			{"close-wait and not port 443", "CLOSE_WAIT"},
		} {
			m.keys("/", "C-u")
			m.typeText(tc.expr)
			m.keys("Enter")
			// The filter's line may be drawn a frame before the rows it
			// selects: wait for a frame whose rows all match, and fail
			// with the last frame if none comes.
			screen := m.waitFor("rows filtered by "+tc.expr, func(s string) bool {
				if !strings.Contains(s, "filter: "+tc.expr) {
					return false
				}
				for _, r := range rowsOf(s) {
					if !strings.Contains(strings.Join(r, " ")+" ", tc.every) {
						return false
					}
				}
				return true
			})
			n, of := shown(t, screen)
			if n == 0 || n >= of || of != conns {
				t.Errorf("%s: %d of %d connections shown", tc.expr, n, of)
			}
			for _, r := range rowsOf(screen) {
				if l := strings.Join(r, " ") + " "; !strings.Contains(l, tc.every) {
					t.Errorf("%s: row %q lacks %q", tc.expr, l, tc.every)
				}
			}
		}
		m.keys("/", "C-u")
		m.typeText("state nonsense")
		m.keys("Enter")
		m.waitText("bad filter")
		m.keys("C-u", "Enter")
		m.waitText(fmt.Sprintf("%d of %d connections", conns, conns))
	})

	t.Run("ports", func(t *testing.T) {
		m.keys("Tab")
		screen := m.waitText("server ports of", "PORT", "ESTAB")
		total := 0
		for _, r := range rowsOf(screen) {
			n, err := strconv.Atoi(r[1])
			if err != nil {
				t.Fatalf("row %q:\n%s", r, screen)
			}
			total += n
		}
		if total != conns {
			t.Errorf("the ports' connections add up to %d, want %d:\n%s", total, conns, screen)
		}
		m.keys("Tab")
		m.waitText("C-STATE")
	})

	t.Run("resize", func(t *testing.T) {
		m.resize(132, 40)
		m.waitText("IN-STATE", "C-BYTES", "S-BYTES", "NOTE")
		m.resize(50, 15)
		m.waitFor("the header and the table at 50x15", func(s string) bool {
			return !strings.Contains(s, "AGE") && strings.Contains(s, "ESTABLISHED") && strings.Contains(s, "C-STATE")
		})
		m.resize(80, 24)
		screen = m.waitText("AGE", "C>S", "S>C", "RTT")
		if got := headerCounts(t, screen); !maps(got, want) {
			t.Errorf("after resizing the header says %v", got)
		}
	})

	t.Run("quit", func(t *testing.T) {
		m.keys("q")
		screen := m.waitText("EXIT=0")
		if strings.Contains(screen, "C-STATE") || strings.Contains(screen, "ESTABLISHED") {
			t.Errorf("the view is still on the screen after q:\n%s", screen)
		}
	})
}

// TestTopReplayKeys starts a replay paused, steps it a segment and a second
// at a time, plays it, pauses it, and reads it to the end.
func TestTopReplayKeys(t *testing.T) {
	m := newTerm(t, 80, 24, os.Args[0]+" top -r ../../pcaps/mixed.pcap --paused")
	packets := regexp.MustCompile(`packets (\d+)`)
	count := func(s string) int {
		m := packets.FindStringSubmatch(s)
		if m == nil {
			return -1
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	// The view may draw before the replay's first publish, which reads the
	// first packet to start its clock: wait for it.
	screen := m.waitFor("paused at the first packet", func(s string) bool {
		return strings.Contains(s, "PAUSED") && strings.Contains(s, "ESTABLISHED 0") && count(s) > 0
	})
	clock := regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`)
	start := count(screen)
	time.Sleep(500 * time.Millisecond)
	if n := count(m.screen()); n != start {
		t.Fatalf("paused, the replay read on: packets %d then %d", start, n)
	}
	m.keys(".")
	screen = m.waitFor("one step", func(s string) bool { return count(s) == start+1 })
	m.keys("n")
	screen2 := m.waitFor("a second on", func(s string) bool {
		return clock.FindString(s) != clock.FindString(screen)
	})
	t0, _ := time.Parse("2006-01-02 15:04:05", clock.FindString(screen))
	t1, _ := time.Parse("2006-01-02 15:04:05", clock.FindString(screen2))
	if d := t1.Sub(t0); d < time.Second || d > 2*time.Second {
		t.Errorf("n moved the clock by %v", d)
	}
	m.keys("Space")
	m.waitFor("playing", func(s string) bool { return !strings.Contains(s, "PAUSED") && strings.Contains(s, "speed 1x") })
	m.keys("Space")
	m.waitText("PAUSED")
	// The replay may be tracking a segment as the key arrives: the
	// count settles at its next publish.
	time.Sleep(replayPublishEvery + 100*time.Millisecond)
	n := count(m.screen())
	time.Sleep(500 * time.Millisecond)
	if got := count(m.screen()); got != n {
		t.Errorf("paused again, the replay read on: packets %d then %d", n, got)
	}
	m.keys("e")
	screen = m.waitText("END OF FILE")
	if got, want := headerCounts(t, screen), kernelCounts(t, "../../pcaps/mixed.ss"); !maps(got, want) {
		t.Errorf("at the end the header says %v, the kernel %v", got, want)
	}
	m.keys("q")
	m.waitText("EXIT=0")
}

func maps(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestTopConnections: a replay in the view writes --connections as file
// mode does, the connections still held when it stops included: one line
// for each of tshark's streams, by Community ID.
func TestTopConnections(t *testing.T) {
	needTshark(t)
	const pcap = "../../pcaps/mixed.pcap"
	out := filepath.Join(t.TempDir(), "conns.json")
	m := newTerm(t, 80, 24, os.Args[0]+" top -r "+pcap+" --connections "+out)
	m.waitText("packets")
	m.keys("e") // to the end at once
	m.waitText("END OF FILE")
	m.keys("q")
	m.waitText("EXIT=0")
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	streams, _ := tsharkStreams(t, pcap, 0)
	want := map[string]int{}
	for _, s := range streams {
		want[s.cid]++
	}
	got := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r struct {
			CommunityID string `json:"community_id"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("not JSON: %v: %s", err, line)
		}
		got[r.CommunityID]++
	}
	if !maps(got, want) {
		t.Errorf("%d lines for %d Community IDs, tshark has %d streams for %d", len(strings.Split(strings.TrimSpace(string(b)), "\n")), len(got), len(streams), len(want))
	}
}
