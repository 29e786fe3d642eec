package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/decode"
	"github.com/tcptrack/tcptrack/internal/chart"
	"github.com/tcptrack/tcptrack/internal/netlab"
	"github.com/tcptrack/tcptrack/internal/testkit"
	"github.com/tcptrack/tcptrack/tracker"
)

// The kernel recording with two moments: ss taken while the capture ran
// (moments.at1.ss), and at its end (moments.ss).
const moments = "../../pcaps/moments"

// TestAtMatchesKernel holds --at to the kernel at both moments of the
// committed recording: the counts and the --sockets listing as of each
// snapshot's time must equal that snapshot's ss -tan, LISTEN aside, as
// pcaps/ compares every capture.
func TestAtMatchesKernel(t *testing.T) {
	compareMoments(t, moments+".pcap", moments+netlab.FirstMoment, moments+".ss")
}

// TestAtFresh records the scenario afresh, so that today's kernel is the
// referee, and compares as TestAtMatchesKernel.
func TestAtFresh(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("records from the kernel in network namespaces: needs root (CI runs as root)")
	}
	sc, err := netlab.Lookup("moments")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := netlab.Record(ctx, sc, dir); err != nil {
		t.Fatalf("record: %v", err)
	}
	base := filepath.Join(dir, "moments")
	compareMoments(t, base+".pcap", base+netlab.FirstMoment, base+".ss")
}

func compareMoments(t *testing.T, pcap string, snapshots ...string) {
	t.Helper()
	sc, err := netlab.Lookup("moments")
	if err != nil {
		t.Fatal(err)
	}
	flags := configFlags(sc.Config)
	first := firstPacket(t, pcap)
	_, atEnd, _ := runCmd(append([]string{"-r", pcap}, flags...)...)
	for i, ss := range snapshots {
		kernel, at := readSnapshot(t, ss)
		// Every form of the moment is the same moment.
		forms := []string{at.Format(time.RFC3339Nano), unixText(at), "+" + at.Sub(first).String()}
		var outs []string
		for _, form := range forms {
			code, out, errs := runCmd(append([]string{"-r", pcap, "--at", form}, flags...)...)
			if code != exitOK {
				t.Fatalf("--at %s: exit %d: %s", form, code, errs)
			}
			outs = append(outs, out)
		}
		for j := range forms[1:] {
			if outs[j+1] != outs[0] {
				t.Errorf("%s: --at %s prints %q, --at %s %q", ss, forms[j+1], outs[j+1], forms[0], outs[0])
			}
		}
		want, wantSet := kernelView(t, ss, kernel)
		if got := parseCounts(t, outs[0]); !mapsEqual(got, want) {
			t.Errorf("%s: --at %s counts %v, the kernel %v", ss, forms[0], got, want)
		}
		if i == 0 && outs[0] == atEnd {
			t.Errorf("%s: the first moment reports what the end does; it does not test --at", ss)
		}
		code, out, errs := runCmd(append([]string{"-r", pcap, "--at", forms[0], "--sockets"}, flags...)...)
		if code != exitOK {
			t.Fatalf("--sockets: exit %d: %s", code, errs)
		}
		listed, err := netlab.ParseSS(strings.NewReader(out))
		if err != nil {
			t.Fatalf("--sockets output: %v\n%s", err, out)
		}
		got := map[string]int{}
		for _, s := range listed {
			got[sockKey(s)]++
		}
		if missing, extra := testkit.Diff(wantSet, got), testkit.Diff(got, wantSet); len(missing)+len(extra) > 0 {
			t.Errorf("%s: --at %s --sockets differs\nkernel only:\n\t%s\ntcptrack only:\n\t%s",
				ss, forms[0], strings.Join(missing, "\n\t"), strings.Join(extra, "\n\t"))
		}
		t.Logf("%s: %d sockets equal the kernel's at %s", filepath.Base(ss), len(listed), forms[0])
	}
}

// kernelView is what tcptrack should report of a snapshot: the counts and
// the socket keys, LISTEN aside, a documented ambiguity read as the tracker
// reads it.
func kernelView(t *testing.T, ss string, kernel []netlab.Socket) (map[string]int, map[string]int) {
	t.Helper()
	counts, set := map[string]int{}, map[string]int{}
	for _, s := range kernel {
		if !s.State.Counted() {
			continue
		}
		if a, ok := s.Reading(); ok {
			t.Logf("%s: %s %s: documented ambiguity, expected as %s: %s", ss, s.Local, s.State, a.Reading, a.Why)
			if s.State = a.Reading; !s.State.Counted() || a.Unconfirmed {
				continue
			}
		}
		counts[s.State.String()]++
		set[sockKey(s)]++
	}
	if len(set) == 0 {
		t.Fatalf("%s: no socket to compare", ss)
	}
	return counts, set
}

func sockKey(s netlab.Socket) string { return testkit.Key(s.State, s.Local, s.Peer, s.SendQ) }

func mapsEqual(a, b map[string]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// parseCounts reads the report's "STATE n" lines.
func parseCounts(t *testing.T, out string) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		st, n, ok := strings.Cut(l, " ")
		v, err := strconv.Atoi(n)
		if !ok || err != nil {
			t.Fatalf("report line %q", l)
		}
		m[st] = v
	}
	return m
}

func readSnapshot(t *testing.T, path string) ([]netlab.Socket, time.Time) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at, ok := netlab.SnapshotTime(bytes.NewReader(raw))
	if !ok {
		t.Fatalf("%s: no # time line", path)
	}
	socks, err := netlab.ParseSS(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return socks, at
}

// firstPacket returns the time of the capture's first frame.
func firstPacket(t *testing.T, path string) time.Time {
	t.Helper()
	src, err := decode.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var fr decode.Frame
	if err := src.Next(&fr); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return time.Unix(0, fr.UnixNano)
}

// unixText writes t as tcpdump -tt does, with nanoseconds.
func unixText(t time.Time) string {
	return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
}

// configFlags are the command-line flags of a scenario's tracker
// configuration.
func configFlags(c tracker.Config) []string {
	var f []string
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--time-wait", c.TimeWait}, {"--handshake-timeout", c.HandshakeTimeout}, {"--fin-timeout", c.FinTimeout}, {"--retry-timeout", c.RetryTimeout}} {
		if d.v != 0 {
			f = append(f, d.flag, d.v.String())
		}
	}
	return f
}

// row is one --every row.
type row struct {
	at     time.Time
	counts map[string]int
}

func parseRows(t *testing.T, out string) ([]string, []row) {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) < 2 {
		t.Fatalf("--every output (%v):\n%s", err, out)
	}
	var rows []row
	for _, r := range recs[1:] {
		at, err := time.Parse(time.RFC3339Nano, r[0])
		if err != nil {
			t.Fatalf("row %q: %v", r, err)
		}
		c := map[string]int{}
		for i, v := range r[1:] {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("row %q: %v", r, err)
			}
			if n != 0 {
				c[recs[0][i+1]] = n
			}
		}
		rows = append(rows, row{at, c})
	}
	return recs[0], rows
}

// TestEveryOnKernel checks --every on the recording: with the interval from
// the first packet to the first snapshot, the first row falls on it and
// equals the kernel's ss then; every row is at the next multiple of the
// interval, the last at the last packet; each row equals --at its time;
// and the last row equals the plain report, in CSV and as JSON lines.
func TestEveryOnKernel(t *testing.T) {
	sc, err := netlab.Lookup("moments")
	if err != nil {
		t.Fatal(err)
	}
	flags := configFlags(sc.Config)
	pcap := moments + ".pcap"
	first := firstPacket(t, pcap)
	kernel, t1 := readSnapshot(t, moments+netlab.FirstMoment)
	want, _ := kernelView(t, moments+netlab.FirstMoment, kernel)
	_, plain, _ := runCmd(append([]string{"-r", pcap}, flags...)...)
	_, plainJSON, _ := runCmd(append([]string{"-r", pcap, "--json"}, flags...)...)

	for _, every := range []time.Duration{t1.Sub(first), 250 * time.Millisecond} {
		code, out, errs := runCmd(append([]string{"-r", pcap, "--every", every.String()}, flags...)...)
		if code != exitOK {
			t.Fatalf("--every %v: exit %d: %s", every, code, errs)
		}
		header, rows := parseRows(t, out)
		if want := "time,ESTABLISHED,SYN_SENT,SYN_RECV,FIN_WAIT1,FIN_WAIT2,TIME_WAIT,CLOSE_WAIT,LAST_ACK,CLOSING"; strings.Join(header, ",") != want {
			t.Errorf("header %q, want %q", strings.Join(header, ","), want)
		}
		if len(rows) < 2 {
			t.Fatalf("--every %v: %d rows", every, len(rows))
		}
		for i, r := range rows[:len(rows)-1] {
			if at := first.Add(time.Duration(i+1) * every); !r.at.Equal(at) {
				t.Errorf("--every %v: row %d at %v, want %v", every, i+1, r.at, at)
			}
			_, out, _ := runCmd(append([]string{"-r", pcap, "--at", r.at.Format(time.RFC3339Nano)}, flags...)...)
			if at := parseCounts(t, out); !mapsEqual(at, r.counts) {
				t.Errorf("--every %v: row %d (%v) %v, --at then %v", every, i+1, r.at, r.counts, at)
			}
		}
		last := rows[len(rows)-1]
		if gap := last.at.Sub(first.Add(time.Duration(len(rows)-1) * every)); gap <= 0 || gap > every {
			t.Errorf("--every %v: the last row comes %v after the last multiple of the interval", every, gap)
		}
		if got := parseCounts(t, plain); !mapsEqual(last.counts, got) {
			t.Errorf("--every %v: last row %v, the report %v", every, last.counts, got)
		}
		if every == t1.Sub(first) {
			if !rows[0].at.Equal(t1) || !mapsEqual(rows[0].counts, want) {
				t.Errorf("--every %v: first row at %v %v, the kernel at %v: %v", every, rows[0].at, rows[0].counts, t1, want)
			}
		}
		_, js, _ := runCmd(append([]string{"-r", pcap, "--every", every.String(), "--json"}, flags...)...)
		lines := strings.Split(strings.TrimSuffix(js, "\n"), "\n")
		if len(lines) != len(rows) || lines[len(lines)-1]+"\n" != plainJSON {
			t.Errorf("--every %v --json: %d lines (want %d), the last %q, --json alone %q", every, len(lines), len(rows), lines[len(lines)-1], plainJSON)
		}
	}
}

// TestPlotSVG checks the picture: valid XML, mode 0600, a legend entry and
// a line (in the state's colour, the legend's sample beside it) for each
// state with a count at any sample, and nothing for the others.
func TestPlotSVG(t *testing.T) {
	sc, err := netlab.Lookup("moments")
	if err != nil {
		t.Fatal(err)
	}
	flags := configFlags(sc.Config)
	p := filepath.Join(t.TempDir(), "states.svg")
	code, out, errs := runCmd(append([]string{"-r", moments + ".pcap", "--every", "100ms", "--plot", p}, flags...)...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	header, rows := parseRows(t, out)
	present := map[string]bool{}
	for _, r := range rows {
		for st := range r.counts {
			present[st] = true
		}
	}
	if len(present) < 5 {
		t.Fatalf("only %d states in the capture: %v", len(present), present)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	texts, strokes := svgContent(t, bufio.NewReader(f))
	for i, name := range header[1:] {
		c := chart.Palette[i]
		colour := fmt.Sprintf("stroke:#%02X%02X%02X", c.R, c.G, c.B)
		lines := strokes[colour]
		inLegend := slices.Contains(texts, name)
		switch {
		case present[name] && (!inLegend || lines != 2):
			t.Errorf("%s is in the capture: legend entry %v, %d paths in %s, want the legend and 2 (the line, the legend's sample)", name, inLegend, lines, colour)
		case !present[name] && (inLegend || lines != 0):
			t.Errorf("%s is not in the capture: legend entry %v, %d paths in %s, want none", name, inLegend, lines, colour)
		}
	}
}

// svgContent parses an SVG document as XML and returns its texts and, by
// stroke colour, how many paths are drawn in it.
func svgContent(t *testing.T, r io.Reader) ([]string, map[string]int) {
	t.Helper()
	dec := xml.NewDecoder(r)
	var (
		texts   []string
		strokes = map[string]int{}
		inText  bool
		root    string
	)
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed XML: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = e.Name.Local
			}
			inText = e.Name.Local == "text"
			if e.Name.Local == "path" {
				for _, a := range e.Attr {
					for _, decl := range strings.Split(a.Value, ";") {
						if a.Name.Local == "style" && strings.HasPrefix(decl, "stroke:#") {
							strokes["stroke:#"+strings.ToUpper(decl[8:])]++
						}
					}
				}
			}
		case xml.CharData:
			if inText {
				texts = append(texts, strings.TrimSpace(string(e)))
			}
		case xml.EndElement:
			inText = false
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	return texts, strokes
}
