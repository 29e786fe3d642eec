package netlab

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/tracker"
)

func TestParseSSI(t *testing.T) {
	in := "# time 2026-12-06T00:13:31.5Z\n# netns client\n" +
		"State      Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess\n" +
		"ESTAB      0      0          192.0.2.1:49376    192.0.2.2:114  timer:(keepalive,13sec,0)\n" +
		"\t ts sack ecn ecnseen bbr wscale:10,7 rto:204 rtt:0.169/0.259 ato:40 mss:1448 pmtu:1500 rcvmss:1448 advmss:1448 cwnd:11 " +
		"bytes_sent:5448 bytes_retrans:1448 bytes_acked:4001 bytes_received:7000 segs_out:11 segs_in:9 data_segs_out:4 " +
		"bbr:(bw:858073560bps,mrtt:0.021) send 749552941bps lastsnd:752 pacing_rate 5427106416bps retrans:0/1 minrtt:0.021\n" +
		"# netns server\n" +
		"LISTEN     0      4096       192.0.2.2:114       0.0.0.0:*\n" +
		"\t bbr cwnd:10 tcp-ulp-mptcp\n" +
		"SYN-RECV   0      0          192.0.2.2:89      192.0.2.1:40444 timer:(on,1.2sec,1)\n" +
		"TIME-WAIT  0      0          192.0.2.2:81      192.0.2.1:37422 timer:(timewait,59sec,0)\n"
	got, err := ParseSSI(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d sockets, want 4: %+v", len(got), got)
	}
	e := got[0]
	want := SocketInfo{
		Socket: Socket{Netns: "client", State: tracker.Established,
			Local: netip.MustParseAddrPort("192.0.2.1:49376"), Peer: netip.MustParseAddrPort("192.0.2.2:114")},
		Has: true, TS: true, SACK: true, ECN: true, ECNSeen: true, WScale: [2]int{10, 7},
		MSS: 1448, AdvMSS: 1448, RcvMSS: 1448,
		BytesSent: 5448, BytesAcked: 4001, BytesReceived: 7000, BytesRetrans: 1448,
		RetransTotal: 1, SegsOut: 11, DataSegsOut: 4, RTT: 0.169,
	}
	if e != want {
		t.Errorf("established:\n got %+v\nwant %+v", e, want)
	}
	if l := got[1]; l.State != tracker.Listen || !l.Has || l.TS || l.WScale != [2]int{-1, -1} {
		t.Errorf("listener %+v: facts line with no options", l)
	}
	for _, s := range got[2:] {
		if s.Has || s.WScale != [2]int{-1, -1} {
			t.Errorf("%s: %+v, want no facts", s.State, s)
		}
	}
	if _, err := ParseSSI(strings.NewReader("\t ts sack\n")); err == nil {
		t.Error("a facts line before any socket parsed")
	}
}
