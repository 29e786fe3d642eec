package metrics

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/tcptrack/tcptrack/internal/testkit"
	"github.com/tcptrack/tcptrack/tracker"
)

// mixedRecording is a kernel recording of connections to eleven ports left
// in every state, with ss's listing of both namespaces at its end.
const mixedRecording = "../pcaps/mixed"

// TestFactsScrapeKernelRecording replays a kernel recording into a tracker
// that keeps the facts, as the exporter does, with every server port of
// the recording listed, and has a real Prometheus scrape the result. The
// handshake histogram of each port holds the round trips tshark finds
// (tcp.analysis.initial_rtt): the same count, sum and buckets. The age of
// the oldest CLOSE_WAIT endpoint of each port is the time from the FIN that
// put it there to the recording's last segment, both read from the pcap
// with gopacket, for the sockets the kernel's ss lists in CLOSE-WAIT.
func TestFactsScrapeKernelRecording(t *testing.T) {
	prometheus := needTool(t, "prometheus")
	rtts := tsharkRTTs(t, mixedRecording+".pcap")
	ports := make([]uint16, 0, len(rtts))
	for p := range rtts {
		ports = append(ports, p)
	}
	if !slices.Contains(ports, 80) || !slices.Contains(ports, 83) {
		t.Fatalf("tshark found handshakes on ports %v: the recording is not the one this test expects", ports)
	}
	wantAges := closeWaitAges(t, mixedRecording)
	if len(wantAges) < 2 {
		t.Fatalf("CLOSE_WAIT ages %v: want at least two ports", wantAges)
	}
	for p := range wantAges {
		if !slices.Contains(ports, p) {
			ports = append(ports, p)
		}
	}

	// As the live loop: a first publish before traffic, so that the
	// listed ports are exported from the first handshake.
	b := NewBreakdown(BreakdownConfig{Ports: ports})
	tr := factsTracker(b, 1<<12)
	c := NewCollector()
	publish := func() {
		s := &Snapshot{Tracker: tr.Stats(), CaptureUp: true}
		b.Update(tr, s)
		c.Publish(s)
	}
	publish()
	replay(t, tr, mixedRecording+".pcap")
	publish()

	target := startServe(t, WebConfig{}, c)
	promAddr := startPrometheus(t, prometheus, target)
	sel := `job="tcptrack",instance="` + target + `"`
	var got map[string]float64
	err := waitFor(30*time.Second, func() (err error) {
		got, err = queryValues(promAddr, `{__name__=~"tcptrack_handshake_rtt_seconds_.*|tcptrack_(port_)?oldest_endpoint_age_seconds",`+sel+`}`)
		if err == nil && len(got) == 0 {
			err = errors.New("no series yet")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	for port, want := range rtts {
		p := strconv.Itoa(int(port))
		if n := got[`tcptrack_handshake_rtt_seconds_count{port="`+p+`"}`]; n != float64(len(want)) {
			t.Errorf("port %s: %v handshakes, tshark %d", p, n, len(want))
		}
		var sum time.Duration
		for _, d := range want {
			sum += d
		}
		if s := got[`tcptrack_handshake_rtt_seconds_sum{port="`+p+`"}`]; math.Abs(s-sum.Seconds()) > 1e-9 {
			t.Errorf("port %s: RTT sum %v s, tshark %v", p, s, sum.Seconds())
		}
		for _, le := range RTTBuckets {
			n := 0
			for _, d := range want {
				if d <= le {
					n++
				}
			}
			key := fmt.Sprintf(`tcptrack_handshake_rtt_seconds_bucket{le="%v",port="%s"}`, le.Seconds(), p)
			if got[key] != float64(n) {
				t.Errorf("%s = %v, tshark %d", key, got[key], n)
			}
		}
	}
	if n := got[`tcptrack_handshake_rtt_seconds_count{port="other"}`]; n != 0 {
		t.Errorf("%v handshakes in other, every port being listed", n)
	}
	for port, want := range wantAges {
		key := fmt.Sprintf(`tcptrack_port_oldest_endpoint_age_seconds{port="%d",state="close_wait"}`, port)
		if a, ok := got[key]; !ok || math.Abs(a-want.Seconds()) > 1e-6 {
			t.Errorf("%s = %v, want %v from the pcap", key, a, want.Seconds())
		}
	}
	oldest := slices.Max(slices.Collect(maps.Values(wantAges)))
	if a := got[`tcptrack_oldest_endpoint_age_seconds{state="close_wait"}`]; math.Abs(a-oldest.Seconds()) > 1e-6 {
		t.Errorf("tcptrack_oldest_endpoint_age_seconds{state=\"close_wait\"} = %v, want %v from the pcap", a, oldest.Seconds())
	}
	t.Logf("handshakes by port (tshark): %d ports; CLOSE_WAIT ages: %v", len(rtts), wantAges)
}

// tsharkRTTs returns the initial RTT tshark finds for each handshake of
// the pcap, by the server port (the port its first SYN went to).
func tsharkRTTs(t *testing.T, pcap string) map[uint16][]time.Duration {
	t.Helper()
	tshark := needTool(t, "tshark")
	out, err := exec.Command(tshark, "-r", pcap, "-T", "fields", "-E", "separator=,",
		"-e", "tcp.stream", "-e", "tcp.flags.syn", "-e", "tcp.flags.ack", "-e", "tcp.dstport", "-e", "tcp.analysis.initial_rtt").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	port := map[string]uint16{}
	rtt := map[string]time.Duration{}
	// tshark also gives an initial RTT to a SYN refused by an RST: only
	// streams with a SYN+ACK had a handshake.
	answered := map[string]bool{}
	for l := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimSpace(l), ",")
		if len(f) != 5 || f[0] == "" {
			continue
		}
		syn := f[1] == "1" || f[1] == "True"
		ack := f[2] == "1" || f[2] == "True"
		if syn && ack {
			answered[f[0]] = true
		}
		if _, ok := port[f[0]]; !ok && syn && !ack {
			p, err := strconv.ParseUint(f[3], 10, 16)
			if err != nil {
				t.Fatalf("tshark port %q", f[3])
			}
			port[f[0]] = uint16(p)
		}
		if _, ok := rtt[f[0]]; !ok && f[4] != "" {
			s, err := strconv.ParseFloat(f[4], 64)
			if err != nil {
				t.Fatalf("tshark initial_rtt %q", f[4])
			}
			rtt[f[0]] = time.Duration(math.Round(s * 1e9))
		}
	}
	byPort := map[uint16][]time.Duration{}
	for stream, d := range rtt {
		if p, ok := port[stream]; ok && answered[stream] {
			byPort[p] = append(byPort[p], d)
		}
	}
	return byPort
}

// closeWaitAges returns, for each server port with sockets in CLOSE-WAIT in
// the recording's ss listing, the time from the earliest of their peers'
// FINs to the recording's last TCP segment, read from the pcap with
// gopacket.
func closeWaitAges(t *testing.T, recording string) map[uint16]time.Duration {
	t.Helper()
	ss, err := os.ReadFile(recording + ".ss")
	if err != nil {
		t.Fatal(err)
	}
	closeWait := map[[2]netip.AddrPort]bool{} // {the socket, its peer}
	for l := range strings.Lines(string(ss)) {
		f := strings.Fields(l)
		if len(f) >= 5 && f[0] == "CLOSE-WAIT" {
			closeWait[[2]netip.AddrPort{netip.MustParseAddrPort(f[3]), netip.MustParseAddrPort(f[4])}] = true
		}
	}
	fh, err := os.Open(recording + ".pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	r, err := pcapgo.NewReader(fh)
	if err != nil {
		t.Fatal(err)
	}
	fins := map[[2]netip.AddrPort]time.Time{}
	var last time.Time
	src := gopacket.NewPacketSource(r, r.LinkType())
	for {
		pk, err := src.NextPacket()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		tcp, _ := pk.Layer(layers.LayerTypeTCP).(*layers.TCP)
		if tcp == nil || pk.NetworkLayer() == nil {
			continue
		}
		at := pk.Metadata().Timestamp
		last = at
		nf := pk.NetworkLayer().NetworkFlow()
		from, _ := netip.AddrFromSlice(nf.Src().Raw())
		to, _ := netip.AddrFromSlice(nf.Dst().Raw())
		// The receiver of the FIN is the socket in CLOSE-WAIT.
		k := [2]netip.AddrPort{netip.AddrPortFrom(to, uint16(tcp.DstPort)), netip.AddrPortFrom(from, uint16(tcp.SrcPort))}
		if _, seen := fins[k]; tcp.FIN && !seen && closeWait[k] {
			fins[k] = at
		}
	}
	if len(fins) != len(closeWait) {
		t.Fatalf("FINs found for %d of the %d CLOSE-WAIT sockets", len(fins), len(closeWait))
	}
	ages := map[uint16]time.Duration{}
	for k, at := range fins {
		if a := last.Sub(at); a > ages[k[0].Port()] {
			ages[k[0].Port()] = a
		}
	}
	return ages
}

// replay feeds every TCP segment of the pcap to tr, as tcptrack -r does.
func replay(t *testing.T, tr *tracker.Tracker, pcap string) {
	t.Helper()
	testkit.File(t, pcap, tr.Track)
}

// waitFor calls cond every 250 ms until it returns nil or within passes,
// and returns its last error.
func waitFor(within time.Duration, cond func() error) error {
	err := cond()
	for deadline := time.Now().Add(within); err != nil && time.Now().Before(deadline); err = cond() {
		time.Sleep(250 * time.Millisecond)
	}
	return err
}

// queryValues runs an instant query and returns each series' value by
// its name and labels (job and instance aside, the rest sorted):
// name{a="x",b="y"}.
func queryValues(promAddr, query string) (map[string]float64, error) {
	resp, err := testClient.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(query))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var answer struct {
		Status, Error string
		Data          struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(bufio.NewReader(resp.Body)).Decode(&answer); err != nil {
		return nil, fmt.Errorf("query answer: %w", err)
	}
	if answer.Status != "success" {
		return nil, fmt.Errorf("query: %s", answer.Error)
	}
	out := map[string]float64{}
	for _, r := range answer.Data.Result {
		var labels []string
		for k, v := range r.Metric {
			if k != "__name__" && k != "job" && k != "instance" {
				labels = append(labels, fmt.Sprintf("%s=%q", k, v))
			}
		}
		slices.Sort(labels)
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("query: sample value %v", r.Value[1])
		}
		out[r.Metric["__name__"]+"{"+strings.Join(labels, ",")+"}"] = v
	}
	return out, nil
}
