package netlab

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/tracker"
)

func TestParseSS(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name string
		in   string
		want []Socket
	}{
		{
			name: "record format, IPv4, both headers",
			in: `# netns client
State     Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
TIME-WAIT 0      0          192.0.2.1:37422    192.0.2.2:81         
# netns server
State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN 0      4096       192.0.2.2:81        0.0.0.0:*          
LAST-ACK 0      1          192.0.2.2:85      192.0.2.1:56224       
`,
			want: []Socket{
				{Netns: "client", State: tracker.TimeWait, Local: ap("192.0.2.1:37422"), Peer: ap("192.0.2.2:81")},
				{Netns: "server", State: tracker.Listen, RecvQ: 0, SendQ: 4096, Local: ap("192.0.2.2:81"), Peer: ap("0.0.0.0:0")},
				{Netns: "server", State: tracker.LastAck, SendQ: 1, Local: ap("192.0.2.2:85"), Peer: ap("192.0.2.1:56224")},
			},
		},
		{
			name: "IPv6 brackets, wildcards, every ss state spelling",
			in: `# netns host
LISTEN     0      4096           [::1]:90            [::]:*
LISTEN     0      128                *:22               *:*
ESTAB      0      0      [2001:db8::1]:52756 [2001:db8::2]:80
SYN-SENT   0      1      [2001:db8::1]:41718 [2001:db8::2]:88
SYN-RECV   0      0      [2001:db8::2]:89   [2001:db8::1]:43856
FIN-WAIT-1 0      1      [2001:db8::1]:37142 [2001:db8::2]:86
FIN-WAIT-2 0      0      [2001:db8::1]:43634 [2001:db8::2]:83
CLOSE-WAIT 0      0      [2001:db8::2]:83   [2001:db8::1]:43634
CLOSING    1      1      [2001:db8::2]:87   [2001:db8::1]:55370
`,
			want: []Socket{
				{Netns: "host", State: tracker.Listen, SendQ: 4096, Local: ap("[::1]:90"), Peer: ap("[::]:0")},
				{Netns: "host", State: tracker.Listen, SendQ: 128, Local: ap("[::]:22"), Peer: ap("[::]:0")},
				{Netns: "host", State: tracker.Established, Local: ap("[2001:db8::1]:52756"), Peer: ap("[2001:db8::2]:80")},
				{Netns: "host", State: tracker.SynSent, SendQ: 1, Local: ap("[2001:db8::1]:41718"), Peer: ap("[2001:db8::2]:88")},
				{Netns: "host", State: tracker.SynRecv, Local: ap("[2001:db8::2]:89"), Peer: ap("[2001:db8::1]:43856")},
				{Netns: "host", State: tracker.FinWait1, SendQ: 1, Local: ap("[2001:db8::1]:37142"), Peer: ap("[2001:db8::2]:86")},
				{Netns: "host", State: tracker.FinWait2, Local: ap("[2001:db8::1]:43634"), Peer: ap("[2001:db8::2]:83")},
				{Netns: "host", State: tracker.CloseWait, Local: ap("[2001:db8::2]:83"), Peer: ap("[2001:db8::1]:43634")},
				{Netns: "host", State: tracker.Closing, RecvQ: 1, SendQ: 1, Local: ap("[2001:db8::2]:87"), Peer: ap("[2001:db8::1]:55370")},
			},
		},
		{
			name: "plain ss output, IPv4-mapped peers unmapped, device suffixes dropped",
			in: `State Recv-Q Send-Q Local Address:Port Peer Address:Port Process
ESTAB 12    34     [::ffff:192.0.2.2]:80 [::ffff:192.0.2.1]:50000 users:(("x",pid=1,fd=3))
LISTEN 0    511        192.0.2.2%veth0:53       0.0.0.0:*
LISTEN 0    511        [fe80::1]%veth0:22          [::]:*
`,
			want: []Socket{
				{State: tracker.Established, RecvQ: 12, SendQ: 34, Local: ap("192.0.2.2:80"), Peer: ap("192.0.2.1:50000")},
				{State: tracker.Listen, SendQ: 511, Local: ap("192.0.2.2:53"), Peer: ap("0.0.0.0:0")},
				{State: tracker.Listen, SendQ: 511, Local: ap("[fe80::1]:22"), Peer: ap("[::]:0")},
			},
		},
		{name: "empty", in: "", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSS(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d sockets, want %d: %+v", len(got), len(tt.want), got)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("socket %d:\n got %+v\nwant %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseSSErrors(t *testing.T) {
	for _, tt := range []struct{ name, in string }{
		{"unknown state", "BOGUS 0 0 192.0.2.1:1 192.0.2.2:2\n"},
		{"too few fields", "ESTAB 0 0 192.0.2.1:1\n"},
		{"bad queue", "ESTAB x 0 192.0.2.1:1 192.0.2.2:2\n"},
		{"no port", "ESTAB 0 0 192.0.2.1 192.0.2.2:2\n"},
		{"port out of range", "ESTAB 0 0 192.0.2.1:65536 192.0.2.2:2\n"},
		{"bad address", "ESTAB 0 0 192.0.2.300:1 192.0.2.2:2\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSS(strings.NewReader("# netns a\n" + tt.in))
			if !errors.Is(err, ErrSSFormat) {
				t.Fatalf("err = %v, want ErrSSFormat", err)
			}
			if !strings.Contains(err.Error(), "line 2") {
				t.Errorf("err = %v, want the line number", err)
			}
		})
	}
}
