package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/testkit"
)

// requireRoot skips a test of live capture unless it runs as root, as CI
// does.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: captures live on lo (CI runs as root)")
	}
}

// freeAddr returns a loopback address whose port the kernel has just
// handed out and taken back.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// liveProc is tcptrack -i lo running as a child process.
type liveProc struct {
	cmd    *exec.Cmd
	addr   string // its web listener
	stderr testkit.LockedBuffer
	done   chan error
}

// quietFilter keeps tcptrack's tracker out of the tests' own traffic on
// lo: the tests measure the web listener, not the tracking.
const quietFilter = "tcp port 1"

// startLive runs tcptrack -i lo with extra flags, stdout to stdout (nil:
// discarded), and waits until its web listener answers. Cleanup kills it.
func startLive(t *testing.T, stdout io.Writer, extra ...string) *liveProc {
	t.Helper()
	requireRoot(t)
	p := &liveProc{addr: freeAddr(t), done: make(chan error, 1)}
	args := append([]string{"-i", "lo", "--web.listen-address", p.addr}, extra...)
	p.cmd = child(append(args, quietFilter)...)
	p.cmd.Stdout = stdout
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("tcptrack stderr:\n%s", p.stderr.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get("http://" + p.addr + "/metrics"); err == nil {
			resp.Body.Close()
			return p
		}
		select {
		case err := <-p.done:
			t.Fatalf("tcptrack exited at start: %v\n%s", err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("tcptrack does not serve on %s after 10s", p.addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *liveProc) alive() bool {
	select {
	case err := <-p.done:
		p.done <- err
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits for the exit.
func (p *liveProc) stop(t *testing.T) error {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("tcptrack still runs 15 s after SIGTERM")
		return nil
	}
}

// waitStderr waits until tcptrack's stderr holds s.
func (p *liveProc) waitStderr(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.stderr.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("stderr lacks %q after 10 s:\n%s", s, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func httpGet(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestLiveStdoutClosed is an exporter whose stdout reader went away: a
// SIGUSR1 report then fails with EPIPE, which is logged, and the exporter
// keeps serving; SIGHUP is logged too and does not end it.
func TestLiveStdoutClosed(t *testing.T) {
	requireRoot(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p := startLive(t, w, "--json") // counts of nothing are no lines; JSON always writes
	w.Close()
	r.Close() // the reader is gone
	for range 2 {
		p.cmd.Process.Signal(syscall.SIGUSR1)
		time.Sleep(300 * time.Millisecond)
	}
	p.waitStderr(t, "SIGUSR1: printing the report failed")
	if !strings.Contains(p.stderr.String(), "broken pipe") {
		t.Errorf("the failure does not say why: %s", p.stderr.String())
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitStderr(t, "SIGHUP")
	time.Sleep(300 * time.Millisecond)
	if !p.alive() {
		t.Fatalf("tcptrack died: %v", <-p.done)
	}
	if code, _ := httpGet(t, "http://"+p.addr+"/metrics"); code != 200 {
		t.Errorf("/metrics answers %d after the broken pipe", code)
	}
}

// TestLiveListing checks SIGUSR1 and the web endpoints under --sockets and
// --json: the listing, as text and as JSON.
func TestLiveListing(t *testing.T) {
	requireRoot(t)
	var out testkit.LockedBuffer
	p := startLive(t, &out, "--sockets", "--json")
	p.cmd.Process.Signal(syscall.SIGUSR1)
	time.Sleep(2 * time.Second)
	// No traffic passes the filter: an empty JSON listing is no lines at
	// all, and a counts report would have been one.
	if out.String() != "" {
		t.Errorf("SIGUSR1 with --sockets --json on no traffic printed %q, want nothing", out.String())
	}
	if code, body := httpGet(t, "http://"+p.addr+"/sockets"); code != 200 || !strings.HasPrefix(body, "State ") {
		t.Errorf("/sockets: %d %q", code, body)
	}
	if code, body := httpGet(t, "http://"+p.addr+"/counts?format=json"); code != 200 || !json.Valid([]byte(body)) || !strings.Contains(body, `"ESTABLISHED":0`) {
		t.Errorf("/counts?format=json: %d %q", code, body)
	}
	if code, body := httpGet(t, "http://"+p.addr+"/counts", "Accept", "application/json"); code != 200 || !json.Valid([]byte(body)) {
		t.Errorf("/counts with Accept: application/json: %d %q", code, body)
	}
	if code, _ := httpGet(t, "http://"+p.addr+"/sockets?format=xml"); code != 400 {
		t.Errorf("/sockets?format=xml: %d, want 400", code)
	}
	if err := p.stop(t); err != nil {
		t.Errorf("exit: %v", err)
	}
}

// TestLiveStartErrors checks what fails the start at once, with one line
// that says why.
func TestLiveStartErrors(t *testing.T) {
	code, _, errs := runBin(t, nil, "-i", "nosuch0", "--web.listen-address", "")
	if code != exitCapture || !strings.Contains(errs, "no interface nosuch0 here; there are lo") || !strings.Contains(errs, "--wait-for-interface") {
		t.Errorf("unknown interface: exit %d, stderr %q", code, errs)
	}
	requireRoot(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	code, _, errs = runBin(t, nil, "-i", "lo", "--web.listen-address", busy.Addr().String(), quietFilter)
	if code != exitCapture || !strings.Contains(errs, "address already in use") {
		t.Errorf("address in use: exit %d, stderr %q", code, errs)
	}
}

// TestWebConfigUnreadableByUser starts as root with --user nobody and a web
// configuration that only root can read, or that names a key only root
// can read: the start must fail naming the file, as nobody would fail to
// read it at every scrape.
func TestWebConfigUnreadableByUser(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	// nobody may enter, not read what root keeps
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o755)
	cert, key := selfSigned(t, dir)
	os.Chmod(cert, 0o644)
	os.Chmod(key, 0o600) // root's alone
	tlsConf := filepath.Join(dir, "tls.yml")
	os.WriteFile(tlsConf, []byte("tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"), 0o644)
	rootOnly := filepath.Join(dir, "root-only.yml")
	os.WriteFile(rootOnly, []byte("basic_auth_users:\n  scraper: $2y$10$X/hLbg7f1bbW4ZJoXWvGYe3QHbX9WhyMOZbBVNRlvVE8MYqYSRf2y\n"), 0o600)
	for _, tc := range []struct{ conf, names string }{
		{rootOnly, "web config " + rootOnly},
		{tlsConf, "key_file " + key},
	} {
		code, _, errs := runBin(t, nil, "-i", "lo", "--user", "nobody", "--web.listen-address", freeAddr(t),
			"--web.config.file", tc.conf, quietFilter)
		if code != exitUsage || !strings.Contains(errs, "--user nobody cannot read the "+tc.names) || strings.Count(errs, "tcptrack: ") != 1 {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 and one line naming %s", tc.conf, code, errs, tc.names)
		}
	}
	// Readable by nobody: it starts, and serves TLS.
	os.Chmod(key, 0o644)
	p := startLiveTLS(t, "--user", "nobody", "--web.config.file", tlsConf)
	if !p.alive() {
		t.Fatal("tcptrack with a readable configuration did not start")
	}
}

// startLiveTLS is startLive for a listener that serves TLS.
func startLiveTLS(t *testing.T, extra ...string) *liveProc {
	t.Helper()
	p := &liveProc{addr: freeAddr(t), done: make(chan error, 1)}
	p.cmd = child(append(append([]string{"-i", "lo", "--web.listen-address", p.addr}, extra...), quietFilter)...)
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", p.addr); err == nil {
			c.Close()
			// A scrape over TLS, as nobody reads the key for it.
			out, err := exec.Command("curl", "-sk", "https://"+p.addr+"/counts").CombinedOutput()
			if _, lookErr := exec.LookPath("curl"); lookErr == nil && err != nil {
				t.Errorf("a scrape over TLS failed: %v %s\n%s", err, out, p.stderr.String())
			}
			return p
		}
		if !p.alive() {
			t.Fatalf("tcptrack exited: %s", p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("no TLS listener after 10 s")
	return nil
}

// selfSigned writes cert.pem and key.pem into dir.
func selfSigned(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(k)
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return cert, key
}

// procFDs and procRSS read a process's open descriptors and resident
// memory.
func procFDs(pid int) int {
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	return len(ents)
}

func procRSS(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// promQuery runs an instant PromQL query at time at and returns the single
// value.
func promQuery(ctx context.Context, promAddr, query string, at time.Time) (float64, error) {
	u := fmt.Sprintf("http://%s/api/v1/query?query=%s&time=%d", promAddr, urlEscape(query), at.Unix())
	req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var ans struct {
		Status string
		Error  string
		Data   struct {
			Result []struct{ Value [2]any }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		return 0, err
	}
	if ans.Status != "success" || len(ans.Data.Result) != 1 {
		return 0, fmt.Errorf("query %s: status %s %s, %d results", query, ans.Status, ans.Error, len(ans.Data.Result))
	}
	s, _ := ans.Data.Result[0].Value[1].(string)
	return strconv.ParseFloat(s, 64)
}

func urlEscape(s string) string {
	var b bytes.Buffer
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// TestLiveTransitionsFlushed checks that live, --transitions - reaches
// stdout within about a second of the change, each line whole.
func TestLiveTransitionsFlushed(t *testing.T) {
	requireRoot(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	addr := freeAddr(t)
	var out testkit.LockedBuffer
	cmd := child("-i", "lo", "--web.listen-address", addr, "--transitions", "-", "tcp", "port", strconv.Itoa(port))
	cmd.Stdout = &out
	var errb testkit.LockedBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Wait for the capture: the listener serves once it is open.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listener: %s", errb.String())
		}
	}
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dialled := time.Now()
	for !strings.Contains(out.String(), `"to":"ESTABLISHED"`) {
		if time.Since(dialled) > 3*time.Second {
			t.Fatalf("no transition on stdout 3 s after a connection (stdout %q)", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("the handshake's transitions reached stdout %v after the dial", time.Since(dialled).Round(time.Millisecond))
	s := out.String()
	for _, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("not a whole JSON line: %q", line)
		}
	}
}
