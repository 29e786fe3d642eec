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

func TestAges(t *testing.T) {
	a := newAges()
	t0 := time.Unix(1000, 0)
	rows := conns(listing())
	a.stamp(rows, t0)
	for _, r := range rows {
		if !r.Seen.Equal(t0) || !r.Before {
			t.Errorf("first listing: %v seen %v before %v", r.Client, r.Seen, r.Before)
		}
	}
	l := listing()
	l.Sockets = append(l.Sockets[:1], tracker.Socket{State: tracker.SynSent, Local: ap("192.0.2.7:1"), Peer: ap("192.0.2.8:2"), Client: true})
	rows = conns(l)
	a.stamp(rows, t0.Add(5*time.Second))
	if rows[0].Before != true || !rows[0].Seen.Equal(t0) {
		t.Errorf("kept: %+v", rows[0])
	}
	if rows[1].Before || !rows[1].Seen.Equal(t0.Add(5*time.Second)) {
		t.Errorf("new: %+v", rows[1])
	}
	if got := age(t0, t0.Add(75*time.Second), true); got != "1m15s+" {
		t.Errorf("age %q", got)
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

// TestLayout checks that 80 columns keep the addresses and both states,
// and that a wide terminal shows every column.
func TestLayout(t *testing.T) {
	rows := []Conn{{Client: ap("192.168.100.100:55555"), Server: ap("192.168.100.101:65535")}}
	title := func(keep []int) string {
		var s []string
		for _, i := range keep {
			s = append(s, connColumns[i].title)
		}
		return strings.Join(s, " ")
	}
	keep, widths := layout(connColumns, rows, time.Time{}, 80)
	if got := title(keep); got != "CLIENT SERVER CLIENT-STATE SERVER-STATE SEEN" {
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
