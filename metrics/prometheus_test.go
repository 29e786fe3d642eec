package metrics

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/tracker"
)

// briefNames are the metric names fixed by the team brief, which deploy/
// rules and dashboards rely on.
var briefNames = []string{
	"tcptrack_connection_states",
	"tcptrack_flows",
	"tcptrack_flows_max",
	"tcptrack_packets_total",
	"tcptrack_segments_total",
	"tcptrack_transitions_total",
	"tcptrack_rst_ignored_total",
	"tcptrack_segments_ignored_total",
	"tcptrack_decode_errors_total",
	"tcptrack_evictions_total",
	"tcptrack_capture_drops_total",
	"tcptrack_capture_up",
	"tcptrack_build_info",
}

// factNames are the families of the per-connection facts, which the alert
// rules and the dashboard in deploy/ rely on.
var factNames = []string{
	"tcptrack_handshake_rtt_seconds",
	"tcptrack_oldest_endpoint_age_seconds",
	"tcptrack_port_oldest_endpoint_age_seconds",
}

// TestPromtoolCheckMetrics scrapes the running handler and has promtool, the
// linter Prometheus ships, check the exposition.
func TestPromtoolCheckMetrics(t *testing.T) {
	promtool := needTool(t, "promtool")
	c := NewCollector()
	s := testSnapshot(t)
	s.Facts = true
	s.Ports = []PortStates{{Port: 443}}
	s.Ports[0].RTT.observe(3 * time.Millisecond)
	s.Ports[0].Oldest[tracker.CloseWait] = s.Tracker.Time.Add(-time.Hour).UnixNano()
	s.PortsOtherRTT.observe(20 * time.Second)
	s.Oldest = s.Ports[0].Oldest
	c.Publish(s)
	addr := startServe(t, WebConfig{}, c)
	status, body := get(t, testClient, "http://"+addr+"/metrics")
	if status != 200 {
		t.Fatalf("scrape: status %d", status)
	}

	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}

	typed := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			typed[f[2]] = true
		}
	}
	for _, name := range append(briefNames, factNames...) {
		if !typed[name] {
			t.Errorf("%s missing from the scrape", name)
		}
	}
}

// TestPrometheusScrape runs a real Prometheus server against the listener and
// reads the per-state values back through its query API, for two published
// snapshots in turn.
func TestPrometheusScrape(t *testing.T) {
	prometheus := needTool(t, "prometheus")
	c := NewCollector()
	target := startServe(t, WebConfig{}, c)

	promAddr := startPrometheus(t, prometheus, target)

	for i, want := range []map[string]int{
		{
			"established": 31, "syn_sent": 2, "syn_recv": 3, "fin_wait1": 4, "fin_wait2": 5,
			"time_wait": 17, "close_wait": 6, "last_ack": 7, "closing": 1, "listen": 8,
		},
		{
			"established": 30, "syn_sent": 0, "syn_recv": 0, "fin_wait1": 0, "fin_wait2": 1,
			"time_wait": 19, "close_wait": 9, "last_ack": 0, "closing": 0, "listen": 8,
		},
	} {
		c.Publish(&Snapshot{Tracker: stateStats(t, want), CaptureUp: true})
		start := time.Now()
		got, err := waitForStates(promAddr, target, want, 30*time.Second)
		if err != nil {
			t.Fatalf("snapshot %d: %v; last answer %v, want %v", i, err, got, want)
		}
		t.Logf("snapshot %d read back through Prometheus after %v", i, time.Since(start).Round(time.Millisecond))
	}
}

// startPrometheus runs a Prometheus server that scrapes target every
// second, for the test's duration, and returns its address.
func startPrometheus(t *testing.T, prometheus, target string) string {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: tcptrack
    static_configs:
      - targets: [%q]
`, target), 0o600); err != nil {
		t.Fatal(err)
	}
	promAddr := freeAddr(t)
	var logs syncBuffer
	cmd := exec.Command(prometheus,
		"--config.file="+conf,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr,
	)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs.String())
		}
	})
	return promAddr
}

// waitForStates queries Prometheus until tcptrack_connection_states from the
// target equals want, or the timeout passes. It returns the last answer.
func waitForStates(promAddr, target string, want map[string]int, timeout time.Duration) (map[string]int, error) {
	query := "http://" + promAddr + "/api/v1/query?query=" +
		url.QueryEscape(`tcptrack_connection_states{job="tcptrack",instance="`+target+`"}`)
	var got map[string]int
	err := fmt.Errorf("no answer within %v", timeout)
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		got, err = queryStates(query)
		if err == nil && maps.Equal(got, want) {
			return got, nil
		}
	}
	if err == nil {
		err = fmt.Errorf("values differ after %v", timeout)
	}
	return got, err
}

// queryStates runs an instant query and returns the value per state label.
func queryStates(query string) (map[string]int, error) {
	resp, err := testClient.Get(query)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var answer struct {
		Status string
		Error  string
		Data   struct {
			ResultType string
			Result     []struct {
				Metric map[string]string
				Value  [2]any // [unix time, "value"]
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		return nil, fmt.Errorf("query answer: %w", err)
	}
	if answer.Status != "success" || answer.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query: status %q, type %q: %s", answer.Status, answer.Data.ResultType, answer.Error)
	}
	got := map[string]int{}
	for _, r := range answer.Data.Result {
		s, ok := r.Value[1].(string)
		if !ok {
			return nil, fmt.Errorf("query: sample value %v is not a string", r.Value[1])
		}
		v, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("query: sample value: %w", err)
		}
		got[r.Metric["state"]] = v
	}
	return got, nil
}
