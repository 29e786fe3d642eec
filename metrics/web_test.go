package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/tracker"
)

// syncBuffer collects log output from the server's goroutines; it is shown
// only when the test fails.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeAddr returns a loopback address with a port the kernel has just handed
// out and taken back, for programs that must be told their port.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// startServe runs Serve on a fresh loopback port and returns the address once
// it accepts connections. At cleanup it cancels Serve and checks that it
// returned nil in time.
func startServe(t *testing.T, cfg WebConfig, c *Collector) string {
	t.Helper()
	return startServeN(t, cfg, c, 1)[0]
}

// startServeN is startServe on n addresses.
func startServeN(t *testing.T, cfg WebConfig, c *Collector, n int) []string {
	t.Helper()
	cfg.ListenAddresses = nil
	for range n {
		cfg.ListenAddresses = append(cfg.ListenAddresses, freeAddr(t))
	}
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, cfg, c, slog.New(slog.NewTextHandler(&logs, nil))) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve still running 10s after its context was cancelled")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for _, addr := range cfg.ListenAddresses {
		for {
			conn, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				conn.Close()
				break
			}
			select {
			case err := <-done:
				done <- err // for the cleanup
				t.Fatalf("Serve returned before accepting: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("nothing accepts on %s after 5s: %v", addr, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return cfg.ListenAddresses
}

var testClient = &http.Client{Timeout: 5 * time.Second}

// get fetches url and returns the status and body.
func get(t *testing.T, client *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestServeEndpoints(t *testing.T) {
	c := NewCollector()
	snap := &Snapshot{Tracker: stateStats(t, map[string]int{"established": 2, "time_wait": 1, "listen": 3})}
	c.Publish(snap)
	byDefault := "http://" + startServe(t, WebConfig{}, c)
	moved := "http://" + startServe(t, WebConfig{TelemetryPath: "/probe/{metrics}/"}, c)

	tests := []struct {
		name       string
		url        string
		wantStatus int
		want       string // the whole body if exact, else a part of it
		exact      bool
	}{
		{"landing page", byDefault + "/", 200, `href="/metrics"`, false},
		{"landing page links counts", byDefault + "/", 200, `href="/counts"`, false},
		{"metrics", byDefault + "/metrics", 200, `tcptrack_connection_states{state="established"} 2` + "\n", false},
		{"build info", byDefault + "/metrics", 200, "tcptrack_build_info{", false},
		{"go runtime", byDefault + "/metrics", 200, "go_goroutines ", false},
		{"process", byDefault + "/metrics", 200, "process_start_time_seconds ", false},
		{"counts", byDefault + "/counts", 200, "ESTABLISHED 2\nTIME_WAIT 1\n", true},
		{"counts with listeners", byDefault + "/counts?all=1", 200, "ESTABLISHED 2\nTIME_WAIT 1\nLISTEN 3\n", true},
		{"counts all=false", byDefault + "/counts?all=false", 200, "ESTABLISHED 2\nTIME_WAIT 1\n", true},
		{"counts bad all", byDefault + "/counts?all=maybe", 400, "all: want a boolean", false},
		{"counts as JSON", byDefault + "/counts?format=json", 200, `"states":{"CLOSE_WAIT":0,"CLOSING":0,"ESTABLISHED":2,`, false},
		{"counts bad format", byDefault + "/counts?format=xml", 400, "format: want json or text", false},
		{"no listing without a source", byDefault + "/sockets", 404, "", false},
		{"unknown path", byDefault + "/nothing", 404, "", false},
		{"moved telemetry path", moved + "/probe/%7Bmetrics%7D/", 200, `tcptrack_connection_states{state="listen"} 3` + "\n", false},
		{"old telemetry path gone", moved + "/metrics", 404, "", false},
		{"no subtree under the telemetry path", moved + "/probe/%7Bmetrics%7D/x", 404, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := get(t, testClient, tt.url)
			if status != tt.wantStatus {
				t.Errorf("status %d, want %d; body:\n%s", status, tt.wantStatus, body)
			}
			if tt.exact && body != tt.want || !tt.exact && !strings.Contains(body, tt.want) {
				t.Errorf("body:\n%s\nwant (exact %v):\n%s", body, tt.exact, tt.want)
			}
		})
	}

	t.Run("landing page offers no profiling", func(t *testing.T) {
		// pprof is not served, so the page must not link to it.
		if _, body := get(t, testClient, byDefault+"/"); strings.Contains(body, "/debug/pprof") {
			t.Error("landing page links to /debug/pprof, which is not served")
		}
	})

	t.Run("counts follow Publish", func(t *testing.T) {
		c.Publish(&Snapshot{Tracker: stateStats(t, map[string]int{"close_wait": 4})})
		if _, body := get(t, testClient, byDefault+"/counts"); body != "CLOSE_WAIT 4\n" {
			t.Errorf("after Publish, /counts = %q, want %q", body, "CLOSE_WAIT 4\n")
		}
	})
}

// TestServeSockets checks /sockets as text and JSON lines, from the
// Sockets function, with and without listeners.
func TestServeSockets(t *testing.T) {
	l := &Listing{
		Sockets:   []tracker.Socket{{State: tracker.Established, Local: netip.MustParseAddrPort("192.0.2.2:80"), Peer: netip.MustParseAddrPort("192.0.2.1:40000")}},
		Listeners: []tracker.Socket{{State: tracker.Listen, Local: netip.MustParseAddrPort("192.0.2.2:80")}},
	}
	var asked []bool
	var mu sync.Mutex
	cfg := WebConfig{Sockets: func(_ context.Context, all bool) (*Listing, error) {
		mu.Lock()
		asked = append(asked, all)
		mu.Unlock()
		return l, nil
	}}
	base := "http://" + startServe(t, cfg, NewCollector())
	for _, tc := range []struct{ url, accept, want string }{
		{base + "/sockets", "", "ESTABLISHED       0      0 192.0.2.2:80"},
		{base + "/sockets?all=1", "", "LISTEN            0      0 192.0.2.2:80                                  *:*"},
		{base + "/sockets?format=json", "", `{"state":"ESTABLISHED","recv_q":0,"send_q":0,"local":"192.0.2.2:80","peer":"192.0.2.1:40000"}` + "\n"},
		{base + "/sockets?all=true", "application/json", `{"state":"LISTEN","recv_q":0,"send_q":0,"local":"192.0.2.2:80"}` + "\n"},
	} {
		req, _ := http.NewRequest("GET", tc.url, nil)
		if tc.accept != "" {
			req.Header.Set("Accept", tc.accept)
		}
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), tc.want) {
			t.Errorf("%s (Accept %q): %d\n%s\nwant it to hold %q", tc.url, tc.accept, resp.StatusCode, body, tc.want)
		}
	}
	if want := []bool{false, true, false, true}; fmt.Sprint(asked) != fmt.Sprint(want) {
		t.Errorf("Sockets called with all = %v, want %v", asked, want)
	}
}

// TestServeTimeouts checks that a connection that sends nothing is closed
// after the read timeout, freeing its place under the connection cap.
func TestServeTimeouts(t *testing.T) {
	addr := startServe(t, WebConfig{ReadTimeout: 300 * time.Millisecond, MaxConnections: 1}, NewCollector())
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	start := time.Now()
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("an idle connection read %v, want EOF when the server closes it", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("an idle connection was closed after %v, want about the read timeout", d)
	}
	if status, _ := get(t, testClient, "http://"+addr+"/counts"); status != 200 {
		t.Errorf("after the idle connection left, /counts answered %d", status)
	}
}

func TestServeErrors(t *testing.T) {
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(badYAML, []byte("tls_server_config: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missingKey := filepath.Join(dir, "nokey.yml")
	if err := os.WriteFile(missingKey, []byte("tls_server_config:\n  cert_file: "+filepath.Join(dir, "none.pem")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })

	tests := []struct {
		name string
		cfg  WebConfig
		want error
	}{
		{"config file missing", WebConfig{ConfigFile: filepath.Join(dir, "absent.yml")}, ErrWebConfig},
		{"config file not YAML", WebConfig{ConfigFile: badYAML}, ErrWebConfig},
		{"TLS without key", WebConfig{ConfigFile: missingKey}, ErrWebConfig},
		{"relative telemetry path", WebConfig{TelemetryPath: "metrics"}, ErrWebConfig},
		{"telemetry path over counts", WebConfig{TelemetryPath: CountsPath}, ErrWebConfig},
		{"telemetry path over landing page", WebConfig{TelemetryPath: "/"}, ErrWebConfig},
		{"address in use", WebConfig{ListenAddresses: []string{busy.Addr().String()}}, ErrServe},
		{"address not an address", WebConfig{ListenAddresses: []string{"127.0.0.1"}}, ErrServe},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.cfg.ListenAddresses) == 0 {
				// Never reached if the error comes first, as it must.
				tt.cfg.ListenAddresses = []string{freeAddr(t)}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := Serve(ctx, tt.cfg, NewCollector(), slog.New(slog.DiscardHandler))
			if !errors.Is(err, tt.want) {
				t.Errorf("Serve = %v, want an error wrapping %v", err, tt.want)
			}
			if ctx.Err() != nil {
				t.Error("Serve only returned when its context ran out")
			}
		})
	}
}

// TestServeReleasesListeners checks that when one address cannot be bound,
// the ones already bound are let go: the port is free for the next try.
func TestServeReleasesListeners(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })
	first := freeAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = Serve(ctx, WebConfig{ListenAddresses: []string{first, busy.Addr().String()}}, NewCollector(), slog.New(slog.DiscardHandler))
	if !errors.Is(err, ErrServe) {
		t.Fatalf("Serve = %v, want an error wrapping %v", err, ErrServe)
	}
	l, err := net.Listen("tcp", first)
	if err != nil {
		t.Fatalf("%s still held after Serve returned: %v", first, err)
	}
	l.Close()
}

// needTool returns the path of a program from the Debian package prometheus.
// CI runs as root and installs it with make deps, so there its absence is a
// failure; elsewhere the test is skipped.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Geteuid() == 0 {
		t.Fatalf("%s not found (%v): install the Debian package prometheus (make deps)", name, err)
	}
	t.Skipf("%s not found and not root: install the Debian package prometheus to run this test", name)
	return ""
}
