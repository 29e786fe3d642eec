package main

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/communityid"
	"github.com/tcptrack/tcptrack/internal/netlab"
	"github.com/tcptrack/tcptrack/tracker"
)

// connCaptures are the kernel recordings --connections is held to: FIN
// closes (TIME_WAIT left, or not yet), RSTs from either side, a refused
// connect, an unanswered SYN, the kernel's own FIN_WAIT2 and retry timers,
// the documented ambiguities, connections picked up mid-stream, and the
// 160 connections of every kind at once; IPv4 and IPv6. The ends that
// hang on a lost segment come in pairs, the segment lost after the capture
// point (last-ack, fin-wait1, synack-lost, fin-lost-data) and before it
// (the -unseen ones, fin-retransmit): the wire looks alike, the kernel's
// answer need not.
var connCaptures = []string{
	"close-client", "close-server-v6", "time-wait", "rst", "rst-v6",
	"refused", "refused-v6", "syn-sent", "fin-timeout", "retry-timeout",
	"last-ack-v6", "last-ack-unseen", "last-ack-unseen-v6",
	"fin-wait1", "fin-wait1-unseen", "fin-retransmit", "fin-retransmit-v6",
	"synack-lost", "synack-unseen", "syn-recv-unseen",
	"fin-lost-data", "fin-unseen-data",
	"midstream-v6", "mixed", "mixed-v6",
}

// TestConnectionsKernel runs --connections on kernel recordings, read up
// to the moment of their ss snapshot, and checks every line against the
// kernel's ss and against tshark, never against tcptrack itself:
//   - one line per connection (tshark's distinct tcp.stream), written
//     once the tracker lets go of the flow or the capture ends, so that
//     an end the wire took back is never written;
//   - each line's Community ID is tshark's for that stream;
//   - each endpoint's final state is the kernel's for that socket (in the
//     tracker's documented reading where the wire is ambiguous), and an
//     endpoint ss does not list is in no counted state;
//   - "end" is "open" exactly when ss lists a socket of the connection
//     alive (TIME_WAIT aside); a connection that ended did so by "rst" if
//     tshark saw an RST in it, reset_by naming its sender, else by "fin"
//     if ss shows TIME-WAIT or tshark saw both FINs, else by "timeout";
//   - every documented field is there, times RFC 3339.
func TestConnectionsKernel(t *testing.T) {
	needTshark(t)
	for _, name := range connCaptures {
		t.Run(name, func(t *testing.T) {
			pcap := filepath.Join("..", "..", "pcaps", name+".pcap")
			raw, err := os.ReadFile(filepath.Join("..", "..", "pcaps", name+".ss"))
			if err != nil {
				t.Fatal(err)
			}
			kernel, err := netlab.ParseSS(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			sc, err := netlab.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			streams, last := tsharkStreams(t, pcap, 0)
			args := timerFlags(sc.Config)
			if at, ok := netlab.SnapshotTime(bytes.NewReader(raw)); ok && at.After(last) {
				args = append(args, "--advance", at.Sub(last).String())
			}
			recs := runConnections(t, pcap, args...)
			checkConnections(t, recs, streams, kernel)
		})
	}
}

// TestConnectionsSeed checks --connections.seed against tshark's
// communityid.seed, over IPv4 and IPv6.
func TestConnectionsSeed(t *testing.T) {
	needTshark(t)
	for _, name := range []string{"time-wait", "mixed-v6"} {
		pcap := filepath.Join("..", "..", "pcaps", name+".pcap")
		streams, _ := tsharkStreams(t, pcap, 4711)
		recs := runConnections(t, pcap, "--connections.seed", "4711")
		if len(recs) < len(streams) || len(recs) == 0 {
			t.Fatalf("%s: %d lines, tshark has %d streams", name, len(recs), len(streams))
		}
		for _, r := range recs {
			if s := streamOf(streams, r); s == nil || s.cid != r.CommunityID {
				t.Errorf("%s: %s %s: community_id %s with seed 4711, tshark's %v", name, r.Client.Addr, r.Server.Addr, r.CommunityID, s)
			}
		}
	}
}

// TestConnectionsHandshakeTimeout reads the unanswered SYNs of syn-sent
// (tshark: SYNs only, nothing back) past --handshake-timeout: the line
// says the timer ended the connection. The kernel's own SYN_SENT outlives
// it (six retries, about 127 s), so this holds the documented timer, not
// the kernel, which no recording here shows giving up on a handshake.
func TestConnectionsHandshakeTimeout(t *testing.T) {
	needTshark(t)
	pcap := filepath.Join("..", "..", "pcaps", "syn-sent.pcap")
	streams, _ := tsharkStreams(t, pcap, 0)
	recs := runConnections(t, pcap, "--handshake-timeout", "10s", "--advance", "11s")
	n := 0
	for _, r := range recs {
		s := streamOf(streams, r)
		if s == nil || !s.synOnly {
			continue
		}
		n++
		if r.End != "timeout" || r.Client.State != "CLOSE" {
			t.Errorf("%s: end %q, client %s; want the timer's end and CLOSE", r.Client.Addr, r.End, r.Client.State)
		}
	}
	if n != 1 {
		t.Errorf("%d unanswered connections in syn-sent, want 1", n)
	}
}

// TestConnectionsToStdout sends the transitions and the connections both
// to stdout, with the listing and its facts: every line before the report
// is a whole JSON object, the close record among them, and the report
// with a facts line under each socket comes last.
func TestConnectionsToStdout(t *testing.T) {
	args := []string{"-r", "../../pcaps/half-close.pcap", "--transitions", "-", "--connections", "-", "--sockets", "--info"}
	code, out, errs := runBin(t, nil, args...)
	if code != 0 {
		t.Fatalf("%q: exit %d: %s", args, code, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	n, conns := 0, 0
	for ; n < len(lines) && strings.HasPrefix(lines[n], "{"); n++ {
		var m map[string]any
		if err := json.Unmarshal([]byte(lines[n]), &m); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", n+1, err, lines[n])
		}
		if m["end"] != nil {
			conns++
		}
	}
	// half-close: one connection, FIN_WAIT2 and CLOSE_WAIT at the end.
	report := lines[n:]
	if conns != 1 || len(report) != 5 || !strings.HasPrefix(report[0], "State") ||
		!strings.HasPrefix(report[2], "\t age:") || !strings.HasPrefix(report[4], "\t age:") {
		t.Errorf("%d connection lines, then the report:\n%s\nwant 1, then a listing of two sockets each with its facts", conns, strings.Join(report, "\n"))
	}
}

func needTshark(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark, the referee of the Community IDs and of the streams, is not installed (apt-get install tshark; CI has it)")
	}
}

// timerFlags are the flags that give tcptrack the scenario's timers.
func timerFlags(c tracker.Config) []string {
	var args []string
	for _, f := range []struct {
		flag string
		d    time.Duration
	}{
		{"--time-wait", c.TimeWait}, {"--handshake-timeout", c.HandshakeTimeout},
		{"--fin-timeout", c.FinTimeout}, {"--retry-timeout", c.RetryTimeout},
	} {
		if f.d > 0 {
			args = append(args, f.flag, f.d.String())
		}
	}
	return args
}

type connRecord struct {
	Time        time.Time `json:"time"`
	CommunityID string    `json:"community_id"`
	Client      struct {
		Addr  string `json:"addr"`
		State string `json:"state"`
	} `json:"client"`
	Server struct {
		Addr  string `json:"addr"`
		State string `json:"state"`
	} `json:"server"`
	End     string    `json:"end"`
	ResetBy string    `json:"reset_by"`
	Start   time.Time `json:"start"`
	Last    time.Time `json:"last"`
}

// connFields are the fields every line has, and those of each endpoint.
var (
	connFields     = []string{"time", "community_id", "client", "server", "end", "start", "last", "duration", "picked_up"}
	endpointFields = []string{"addr", "state", "since", "bytes", "retrans", "confirmed", "sack", "timestamps", "ecn", "tfo"}
)

// runConnections runs tcptrack -r pcap --connections FILE args and returns
// the file's lines, each checked for its fields.
func runConnections(t *testing.T, pcap string, args ...string) []connRecord {
	t.Helper()
	out := filepath.Join(t.TempDir(), "conns.json")
	args = append([]string{"-r", pcap, "--connections", out}, args...)
	if code, _, errs := runBin(t, nil, args...); code != 0 {
		t.Fatalf("%q: exit %d: %s", args, code, errs)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var recs []connRecord
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %v: %s", err, sc.Text())
		}
		missing := missingFields(m, connFields)
		for _, ep := range []string{"client", "server"} {
			var e map[string]json.RawMessage
			json.Unmarshal(m[ep], &e)
			missing = append(missing, missingFields(e, endpointFields)...)
		}
		var r connRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			missing = append(missing, err.Error())
		}
		if len(missing) > 0 {
			t.Errorf("line lacks %v: %s", missing, sc.Text())
		}
		recs = append(recs, r)
	}
	return recs
}

func missingFields(m map[string]json.RawMessage, fields []string) []string {
	var out []string
	for _, f := range fields {
		if _, ok := m[f]; !ok {
			out = append(out, f)
		}
	}
	return out
}

// stream is one TCP connection as tshark sees it.
type stream struct {
	a, b    netip.AddrPort // the endpoints, a first seen sending
	cid     string
	rstFrom []netip.AddrPort       // senders of RSTs
	finFrom map[netip.AddrPort]int // FIN segments by sender
	synOnly bool                   // nothing but SYNs from a
	lines   []connRecord           // the --connections lines of it
}

// tsharkStreams returns tshark's streams of pcap, keyed by tcp.stream,
// with Community IDs of seed, and the time of the last frame.
func tsharkStreams(t *testing.T, pcap string, seed int) (map[string]*stream, time.Time) {
	t.Helper()
	cmd := exec.Command("tshark", "-r", pcap, "--enable-protocol", "communityid", "-o", fmt.Sprintf("communityid.seed:%d", seed),
		"-T", "fields", "-E", "separator=,", "-e", "frame.time_epoch", "-e", "tcp.stream", "-e", "communityid",
		"-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport",
		"-e", "tcp.flags.syn", "-e", "tcp.flags.ack", "-e", "tcp.flags.reset", "-e", "tcp.flags.fin")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v: %s", err, errb.String())
	}
	set := func(s string) bool { return s == "1" || s == "True" }
	streams := map[string]*stream{}
	var last time.Time
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(line, ",")
		if len(f) != 13 {
			t.Fatalf("tshark line %q: want 13 fields", line)
		}
		if sec, err := strconv.ParseFloat(f[0], 64); err == nil {
			// Microseconds, as the captures are stamped: a float64
			// holds them exactly this century.
			last = time.Unix(0, int64(math.Round(sec*1e6))*1e3)
		}
		if f[1] == "" {
			continue // not TCP
		}
		src := netip.MustParseAddrPort(joinHostPort(f[3]+f[4], f[5]))
		dst := netip.MustParseAddrPort(joinHostPort(f[6]+f[7], f[8]))
		s := streams[f[1]]
		if s == nil {
			s = &stream{a: src, b: dst, cid: f[2], finFrom: map[netip.AddrPort]int{}, synOnly: true}
			streams[f[1]] = s
		}
		if s.cid != f[2] {
			t.Fatalf("tshark: stream %s has two Community IDs, %s and %s", f[1], s.cid, f[2])
		}
		if set(f[11]) {
			s.rstFrom = append(s.rstFrom, src)
		}
		if set(f[12]) {
			s.finFrom[src]++
		}
		if src != s.a || !set(f[9]) || set(f[10]) {
			s.synOnly = false
		}
	}
	return streams, last
}

func joinHostPort(addr, port string) string {
	if strings.Contains(addr, ":") {
		return "[" + addr + "]:" + port
	}
	return addr + ":" + port
}

// streamOf returns tshark's stream of r, by its endpoints.
func streamOf(streams map[string]*stream, r connRecord) *stream {
	c, err1 := netip.ParseAddrPort(r.Client.Addr)
	s, err2 := netip.ParseAddrPort(r.Server.Addr)
	if err1 != nil || err2 != nil {
		return nil
	}
	for _, st := range streams {
		if st.a == c && st.b == s || st.a == s && st.b == c {
			return st
		}
	}
	return nil
}

// checkConnections holds the lines recs to tshark's streams and the
// kernel's sockets (see TestConnectionsKernel).
func checkConnections(t *testing.T, recs []connRecord, streams map[string]*stream, kernel []netlab.Socket) {
	t.Helper()
	for _, r := range recs {
		s := streamOf(streams, r)
		if s == nil {
			t.Errorf("%s %s: no such stream in tshark", r.Client.Addr, r.Server.Addr)
			continue
		}
		if r.CommunityID != s.cid {
			t.Errorf("%s %s: community_id %s, tshark's %s", r.Client.Addr, r.Server.Addr, r.CommunityID, s.cid)
		}
		s.lines = append(s.lines, r)
	}
	// The kernel's sockets by their endpoints, in the state the tracker
	// is to read them in.
	type pair struct{ local, peer netip.AddrPort }
	ss := map[pair]tracker.State{}
	for _, k := range kernel {
		st := k.State
		if a, ok := k.Reading(); ok {
			st = a.Reading
		}
		if st.Counted() {
			ss[pair{k.Local, k.Peer}] = st
		}
	}
	for id, s := range streams {
		// One line a connection, written when the tracker let go of it
		// (or at the file's end): an end that the wire took back (a FIN
		// resent after the ACK that ended it) is not written.
		if n := len(s.lines); n != 1 {
			t.Errorf("tshark's stream %s (%s %s): %d lines %+v, want one", id, s.a, s.b, n, s.lines)
			if n == 0 {
				continue
			}
		}
		r := s.lines[len(s.lines)-1]
		client, server := netip.MustParseAddrPort(r.Client.Addr), netip.MustParseAddrPort(r.Server.Addr)
		alive, timeWait := false, false
		for _, e := range []struct {
			name, state string
			local, peer netip.AddrPort
		}{{"client", r.Client.State, client, server}, {"server", r.Server.State, server, client}} {
			want, listed := ss[pair{e.local, e.peer}]
			switch {
			case listed && e.state != want.String():
				t.Errorf("%s %s: %s %s, the kernel's is %s", r.Client.Addr, r.Server.Addr, e.name, e.state, want)
			case !listed && (e.state != tracker.Close.String() && e.state != tracker.Unknown.String()):
				t.Errorf("%s %s: %s %s, the kernel has no such socket", r.Client.Addr, r.Server.Addr, e.name, e.state)
			}
			alive = alive || listed && want != tracker.TimeWait
			timeWait = timeWait || listed && want == tracker.TimeWait
		}
		var wantEnd, wantBy string
		switch {
		case alive:
			wantEnd = "open"
		case len(s.rstFrom) > 0:
			wantEnd, wantBy = "rst", "server"
			if s.rstFrom[len(s.rstFrom)-1] == client {
				wantBy = "client"
			}
		case timeWait || len(s.finFrom) == 2:
			wantEnd = "fin"
		default:
			wantEnd = "timeout"
		}
		if r.End != wantEnd || r.ResetBy != wantBy {
			t.Errorf("%s %s: end %q reset_by %q, want %q %q (kernel and tshark)", r.Client.Addr, r.Server.Addr, r.End, r.ResetBy, wantEnd, wantBy)
		}
		if r.Last.Before(r.Start) || r.Time.Before(r.Start) {
			t.Errorf("%s %s: start %v, last %v, time %v out of order", r.Client.Addr, r.Server.Addr, r.Start, r.Last, r.Time)
		}
	}
}

// TestAppendConnIsJSON holds the hand-written line to what encoding/json
// writes for the same fields, byte for byte, over the values that change
// its shape: absent fields, exponents, nanoseconds, IPv6, VLAN, RST.
func TestAppendConnIsJSON(t *testing.T) {
	type endpoint struct {
		Addr       string    `json:"addr"`
		State      string    `json:"state"`
		Since      time.Time `json:"since"`
		Bytes      uint64    `json:"bytes"`
		Retrans    uint32    `json:"retrans"`
		Confirmed  bool      `json:"confirmed"`
		MSS        uint16    `json:"mss,omitempty"`
		WScale     *int8     `json:"wscale,omitempty"`
		SACK       bool      `json:"sack"`
		Timestamps bool      `json:"timestamps"`
		ECN        bool      `json:"ecn"`
		TFO        bool      `json:"tfo"`
	}
	type line struct {
		Time        time.Time `json:"time"`
		CommunityID string    `json:"community_id"`
		Client      endpoint  `json:"client"`
		Server      endpoint  `json:"server"`
		VLAN        uint16    `json:"vlan,omitempty"`
		End         string    `json:"end"`
		ResetBy     string    `json:"reset_by,omitempty"`
		Start       time.Time `json:"start"`
		Last        time.Time `json:"last"`
		Duration    float64   `json:"duration"`
		RTTSyn      float64   `json:"rtt_syn,omitempty"`
		RTTAck      float64   `json:"rtt_ack,omitempty"`
		PickedUp    bool      `json:"picked_up"`
	}
	ep := func(e *tracker.EndpointInfo) endpoint {
		j := endpoint{Addr: e.Addr.String(), State: e.State.String(), Since: e.Since.UTC(), Bytes: e.Bytes,
			Retrans: e.Retrans, Confirmed: e.Confirmed, MSS: e.MSS, SACK: e.SACK, Timestamps: e.Timestamps, ECN: e.ECN, TFO: e.TFO}
		if e.WScale >= 0 {
			w := e.WScale
			j.WScale = &w
		}
		return j
	}
	t0 := time.Date(2026, 11, 21, 8, 52, 0, 123456789, time.FixedZone("x", 3600))
	cases := []tracker.Conn{
		{Client: tracker.EndpointInfo{Addr: netip.MustParseAddrPort("192.0.2.1:1")}, Server: tracker.EndpointInfo{Addr: netip.MustParseAddrPort("192.0.2.2:2")}},
		{
			Flow:   tracker.Flow{VLAN: 7, Src: netip.MustParseAddrPort("192.0.2.1:40000"), Dst: netip.MustParseAddrPort("192.0.2.2:80")},
			Client: tracker.EndpointInfo{Addr: netip.MustParseAddrPort("192.0.2.1:40000"), State: tracker.TimeWait, Since: t0, Bytes: 1 << 40, Retrans: 3, Confirmed: true, MSS: 1460, WScale: 0, SACK: true, Timestamps: true},
			Server: tracker.EndpointInfo{Addr: netip.MustParseAddrPort("192.0.2.2:80"), State: tracker.Close, Since: t0.Add(time.Nanosecond), WScale: 14, ECN: true, TFO: true},
			Start:  t0.Add(-time.Hour), Last: t0, SynRTT: 500 * time.Nanosecond, AckRTT: 18 * time.Microsecond,
			End: "rst", ResetByClient: true,
		},
		{
			Flow:   tracker.Flow{Src: netip.MustParseAddrPort("[2001:db8::1]:5"), Dst: netip.MustParseAddrPort("[2001:db8::2]:443")},
			Client: tracker.EndpointInfo{Addr: netip.MustParseAddrPort("[2001:db8::1]:5"), State: tracker.Established, WScale: -1},
			Server: tracker.EndpointInfo{Addr: netip.MustParseAddrPort("[2001:db8::2]:443"), State: tracker.SynRecv, WScale: -1},
			Start:  t0, Last: t0.Add(7 * time.Nanosecond), AckRTT: 3 * time.Second, PickedUp: true, End: "rst",
		},
	}
	for i, c := range cases {
		at := t0.Add(time.Duration(i) * time.Minute)
		want := line{Time: at.UTC(), CommunityID: communityid.TCP(c.Flow.Src, c.Flow.Dst, 9), Client: ep(&c.Client), Server: ep(&c.Server),
			VLAN: c.Flow.VLAN, End: cmp.Or(c.End, endOpen), Start: c.Start.UTC(), Last: c.Last.UTC(),
			Duration: c.Last.Sub(c.Start).Seconds(), RTTSyn: c.SynRTT.Seconds(), RTTAck: c.AckRTT.Seconds(), PickedUp: c.PickedUp}
		if c.End == "rst" {
			want.ResetBy = map[bool]string{true: "client", false: "server"}[c.ResetByClient]
		}
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(want); err != nil {
			t.Fatal(err)
		}
		if got := appendConn(nil, &c, at, 9); string(got) != buf.String() {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, buf.String())
		}
	}
}
