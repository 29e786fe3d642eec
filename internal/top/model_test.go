package top

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/metrics"
	"github.com/tcptrack/tcptrack/tracker"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// listing is a client and server in ESTABLISHED on port 80, a client in
// FIN_WAIT2 whose server is CLOSE_WAIT on 443, and a server in SYN_RECV on
// 443 whose client is not listed.
func listing() *metrics.Listing {
	return &metrics.Listing{Sockets: []tracker.Socket{
		{State: tracker.Established, Local: ap("192.0.2.1:40000"), Peer: ap("192.0.2.2:80"), Client: true, SendQ: 10},
		{State: tracker.Established, Local: ap("192.0.2.2:80"), Peer: ap("192.0.2.1:40000"), SendQ: 20},
		{State: tracker.CloseWait, Local: ap("[2001:db8::2]:443"), Peer: ap("[2001:db8::1]:50000")},
		{State: tracker.FinWait2, Local: ap("[2001:db8::1]:50000"), Peer: ap("[2001:db8::2]:443"), Client: true},
		{State: tracker.SynRecv, Local: ap("192.0.2.2:443"), Peer: ap("192.0.2.9:1234"), SendQ: 1, PickedUp: true},
	}}
}

func TestConns(t *testing.T) {
	rows := conns(listing())
	want := []Conn{
		{Client: ap("192.0.2.1:40000"), Server: ap("192.0.2.2:80"), ClientState: tracker.Established, ServerState: tracker.Established, ClientSendQ: 10, ServerSendQ: 20},
		{Client: ap("[2001:db8::1]:50000"), Server: ap("[2001:db8::2]:443"), ClientState: tracker.FinWait2, ServerState: tracker.CloseWait},
		{Client: ap("192.0.2.9:1234"), Server: ap("192.0.2.2:443"), ServerState: tracker.SynRecv, ServerSendQ: 1, PickedUp: true},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d: %+v", len(rows), len(want), rows)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, rows[i], want[i])
		}
	}
	ps := ports(rows)
	sortRows(ps, portColumns, order{col: 0})
	if len(ps) != 2 || ps[0].Port != 80 || ps[0].Conns != 1 || ps[0].States[tracker.Established] != 2 ||
		ps[1].Port != 443 || ps[1].Conns != 2 || ps[1].States[tracker.SynRecv] != 1 || ps[1].States[tracker.CloseWait] != 1 {
		t.Errorf("ports %+v", ps)
	}
}

// TestRates follows one connection's byte counts over three listings:
// over its life at first, then over each interval, the same while the
// clock stands still, and over its life again once the 4-tuple is reused.
func TestRates(t *testing.T) {
	t0 := time.Unix(1000, 0)
	row := func(start time.Time, c, s uint64) []Conn {
		return []Conn{{Client: ap("192.0.2.1:40000"), Server: ap("192.0.2.2:80"), Info: true, Start: start, ClientBytes: c, ServerBytes: s}}
	}
	r := newRates()
	for _, step := range []struct {
		at, start time.Time
		c, s      uint64
		rc, rs    float64
		rated     bool
	}{
		{t0, t0, 0, 0, 0, 0, false},                                              // no time yet: no rate
		{t0.Add(2 * time.Second), t0, 1000, 4000, 500, 2000, true},               // over its life
		{t0.Add(4 * time.Second), t0, 1500, 4000, 250, 0, true},                  // over the interval
		{t0.Add(4 * time.Second), t0, 1500, 4000, 250, 0, true},                  // the clock stood still
		{t0.Add(6 * time.Second), t0.Add(5 * time.Second), 300, 0, 300, 0, true}, // reused: a new life
	} {
		rows := row(step.start, step.c, step.s)
		r.update(rows, step.at)
		if got := rows[0]; got.Rated != step.rated || got.ClientRate != step.rc || got.ServerRate != step.rs {
			t.Errorf("at %v: rated %v %v/%v, want %v %v/%v", step.at.Sub(t0), got.Rated, got.ClientRate, got.ServerRate, step.rated, step.rc, step.rs)
		}
	}
}

// TestConnInfo checks that a row takes the tracker's facts from its
// sockets: the latest state change of either endpoint, and an RTT only
// when both halves of the handshake were seen.
func TestConnInfo(t *testing.T) {
	t0 := time.Unix(1000, 0)
	in := &tracker.Conn{Start: t0, SynRTT: 30 * time.Microsecond, AckRTT: 70 * time.Microsecond,
		Client: tracker.EndpointInfo{Since: t0.Add(time.Second), Bytes: 10},
		Server: tracker.EndpointInfo{Since: t0.Add(3 * time.Second), Bytes: 20}}
	l := listing()
	l.Sockets[0].Info, l.Sockets[1].Info = in, in
	rows := conns(l)
	c := rows[0]
	if !c.Info || !c.Start.Equal(t0) || !c.Changed.Equal(t0.Add(3*time.Second)) || c.ClientBytes != 10 || c.ServerBytes != 20 || c.RTT != 100*time.Microsecond {
		t.Errorf("row %+v", c)
	}
	if rows[1].Info {
		t.Errorf("a row without facts has them: %+v", rows[1])
	}
	half := *in
	half.SynRTT = 0
	l.Sockets[0].Info, l.Sockets[1].Info = &half, &half
	if rows := conns(l); rows[0].RTT != 0 {
		t.Errorf("RTT %v without the SYN", rows[0].RTT)
	}
}

func TestFormat(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0.0s", 3250 * time.Millisecond: "3.2s", 45 * time.Second: "45s", 75 * time.Second: "1m15s",
		12*time.Minute + 30*time.Second: "12m", 3*time.Hour + 5*time.Minute: "3h5m", 30 * time.Hour: "1d6h",
		400 * time.Hour: "16d",
	} {
		if got := age(d, false); got != want {
			t.Errorf("age(%v) %q, want %q", d, got, want)
		}
	}
	if got := age(75*time.Second, true); got != "1m15s+" {
		t.Errorf("age at least %q", got)
	}
	for x, want := range map[float64]string{
		0: "0", 999: "999", 99999: "99999", 100_000: "100k", 123_456: "123k", 4_350_000: "4.35M", 12_345_678: "12.3M", 1e12: "1.00T",
	} {
		if got := quantity(x, 100_000); got != want {
			t.Errorf("quantity(%v) %q, want %q", x, got, want)
		}
	}
	if got := quantity(9_999_999, 10_000_000); got != "9999999" {
		t.Errorf("bytes %q", got)
	}
	for d, want := range map[time.Duration]string{
		43 * time.Microsecond: "43us", 1250 * time.Microsecond: "1.2ms", 12 * time.Millisecond: "12ms", 1234 * time.Millisecond: "1.23s",
	} {
		if got := rtt(d); got != want {
			t.Errorf("rtt(%v) %q, want %q", d, got, want)
		}
	}
}

func TestFilter(t *testing.T) {
	rows := conns(listing())
	for _, tc := range []struct {
		expr string
		want string // the servers' ports that pass, in order
	}{
		{"", "80 443 443"},
		{"port 80", "80"},
		{"80", "80"},
		{"port 40000", "80"},
		{"not port 80", "443 443"},
		{"! 80", "443 443"},
		{"state established", "80"},
		{"ESTAB", "80"},
		{"close-wait", "443"},
		{"CLOSE_WAIT or syn_recv", "443 443"},
		{"host 192.0.2.2", "80 443"},
		{"192.0.2.9", "443"},
		{"net 2001:db8::/32", "443"},
		{"[2001:db8::1]", "443"},
		{"net 192.0.2.0/24 and port 443", "443"},
		{"192.0.2.0/24 443", "443"},
		{"port 80 or state fin_wait2", "80 443"},
		{"vlan 0 and not established", "443 443"},
	} {
		t.Run(tc.expr, func(t *testing.T) {
			f, err := parseFilter(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for i := range rows {
				if f.match(&rows[i]) {
					got = append(got, strings.TrimPrefix(rows[i].Server.String()[strings.LastIndex(rows[i].Server.String(), ":"):], ":"))
				}
			}
			if s := strings.Join(got, " "); s != tc.want {
				t.Errorf("passes %q, want %q", s, tc.want)
			}
		})
	}
	for _, bad := range []string{"port", "port x", "port 70000", "state nope", "nonsense", "and 80", "80 or", "not", "net 10.0.0.0/99", "vlan 5000"} {
		if _, err := parseFilter(bad); !errors.Is(err, ErrFilter) {
			t.Errorf("%q: err %v, want ErrFilter", bad, err)
		}
	}
}

// TestLayout checks that 80 columns keep both states, the age, the rates
// and the RTT of connections between short addresses, and give long IPv4
// addresses their whole width before the rates; and that a wide terminal
// shows every column.
func TestLayout(t *testing.T) {
	short := []Conn{{Client: ap("192.0.2.1:55555"), Server: ap("192.0.2.2:443")}}
	keep, widths := layout(connColumns, short, time.Time{}, 80)
	if got := title(keep); got != "CLIENT SERVER C-STATE S-STATE AGE C>S S>C RTT" {
		t.Errorf("80 columns, short addresses: %s", got)
	}
	if total := len(widths) - 1 + sum(widths); total != 80 {
		t.Errorf("80 columns, short addresses: %d wide", total)
	}
	rows := []Conn{{Client: ap("192.168.100.100:55555"), Server: ap("192.168.100.101:65535")}}
	keep, widths = layout(connColumns, rows, time.Time{}, 80)
	if got := title(keep); got != "CLIENT SERVER C-STATE S-STATE AGE" {
		t.Errorf("80 columns: %s", got)
	}
	if widths[0] < 21 || widths[1] < 21 {
		t.Errorf("80 columns: address widths %v, want 21", widths)
	}
	keep, _ = layout(connColumns, rows, time.Time{}, 200)
	if len(keep) != len(connColumns) {
		t.Errorf("200 columns: %s", title(keep))
	}
	keep, _ = layout(portColumns, nil, time.Time{}, 80)
	if len(keep) != len(portColumns) {
		t.Errorf("ports at 80 columns: %d of %d columns", len(keep), len(portColumns))
	}
}

func title(keep []int) string {
	var s []string
	for _, i := range keep {
		s = append(s, connColumns[i].title)
	}
	return strings.Join(s, " ")
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}
