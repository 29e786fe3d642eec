package metrics

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/tracker"
)

// factsListing is one connection seen from both ends, with facts made up
// to tell each field from the others.
func factsListing(info bool) *Listing {
	t0 := time.Date(2026, 11, 21, 8, 52, 0, 0, time.UTC)
	cl, sv := netip.MustParseAddrPort("192.0.2.1:40000"), netip.MustParseAddrPort("192.0.2.2:80")
	c := &tracker.Conn{
		Flow:   tracker.Flow{Src: cl, Dst: sv},
		Client: tracker.EndpointInfo{Addr: cl, State: tracker.FinWait2, Since: t0.Add(8 * time.Second), Bytes: 1001, Retrans: 1, MSS: 1460, WScale: 7, SACK: true, Timestamps: true, ECN: true},
		Server: tracker.EndpointInfo{Addr: sv, State: tracker.CloseWait, Since: t0.Add(8*time.Second + 300*time.Millisecond), Bytes: 500, MSS: 1400, WScale: 9, SACK: true, TFO: true},
		Start:  t0, Last: t0.Add(12 * time.Second),
		SynRTT: 1052 * time.Microsecond, AckRTT: 48 * time.Microsecond,
	}
	return &Listing{
		Info: info,
		Time: t0.Add(12*time.Second + 345*time.Millisecond),
		Sockets: []tracker.Socket{
			{State: tracker.FinWait2, Local: cl, Peer: sv, Client: true, Info: c},
			{State: tracker.CloseWait, Local: sv, Peer: cl, Info: c},
		},
	}
}

// TestWriteSocketsInfo checks the facts line under each socket: seen from
// that socket's end (its bytes sent, its peer's MSS, its peer's window
// shift first, as ss), the options only when both SYNs offered them.
func TestWriteSocketsInfo(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSockets(&b, factsListing(true), false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	want := []string{
		"\t age:12.345s state_age:4.345s bytes_sent:1001 bytes_received:500 retrans:1 rtt_syn:1.052ms rtt_ack:0.048ms mss:1400 advmss:1460 wscale:9,7 sack tfo last:0.345s",
		"\t age:12.345s state_age:4.045s bytes_sent:500 bytes_received:1001 retrans:0 rtt_syn:1.052ms rtt_ack:0.048ms mss:1460 advmss:1400 wscale:7,9 sack tfo last:0.345s",
	}
	if len(lines) != 6 || lines[2] != want[0] || lines[4] != want[1] {
		t.Errorf("got:\n%s\nwant the socket lines each followed by:\n%s", b.String(), strings.Join(want, "\n"))
	}

	// Without Listing.Info the facts the tracker keeps for --connections
	// do not show: the listing is the one without facts, byte for byte.
	var plain, none bytes.Buffer
	WriteSockets(&plain, factsListing(false), false)
	l := factsListing(false)
	for i := range l.Sockets {
		l.Sockets[i].Info = nil
	}
	WriteSockets(&none, l, false)
	if plain.String() != none.String() || strings.Contains(plain.String(), "age:") {
		t.Errorf("without Info:\n%s\nwant:\n%s", plain.String(), none.String())
	}
}

// TestWriteSocketsJSONInfo checks that each JSON object carries the facts
// as fields of its own, with values seen from its end, and none without
// Listing.Info.
func TestWriteSocketsJSONInfo(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSocketsJSON(&b, factsListing(true), false); err != nil {
		t.Fatal(err)
	}
	var objs []map[string]any
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %v: %s", err, line)
		}
		objs = append(objs, m)
	}
	if len(objs) != 2 {
		t.Fatalf("%d objects, want 2:\n%s", len(objs), b.String())
	}
	for _, k := range []string{"state", "local", "age", "state_age", "bytes_sent", "bytes_received", "retrans", "rtt_syn", "rtt_ack", "mss", "advmss", "snd_wscale", "rcv_wscale", "sack", "timestamps", "ecn", "tfo", "last"} {
		if _, ok := objs[0][k]; !ok {
			t.Errorf("no %q in %v", k, objs[0])
		}
	}
	client, server := objs[0], objs[1]
	for k, want := range map[string]any{"bytes_sent": 1001.0, "bytes_received": 500.0, "mss": 1400.0, "snd_wscale": 9.0, "rcv_wscale": 7.0, "timestamps": false, "tfo": true, "age": 12.345} {
		if client[k] != want {
			t.Errorf("client's %s = %v, want %v", k, client[k], want)
		}
	}
	if server["bytes_sent"] != 500.0 || server["state_age"] != 4.045 {
		t.Errorf("server's bytes_sent %v, state_age %v: want 500 and 4.045", server["bytes_sent"], server["state_age"])
	}

	b.Reset()
	WriteSocketsJSON(&b, factsListing(false), false)
	if strings.Contains(b.String(), "age") {
		t.Errorf("facts without Listing.Info: %s", b.String())
	}
}
