package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Sizes of TestListenerUnderIdleFlood.
const (
	floodConns     = 20000
	floodPerHolder = 4000
	floodHold      = 15 * time.Second // past the 10 s read timeout, so idle connections are shed and replaced
)

// TestListenerUnderIdleFlood opens 20,000 idle connections to tcptrack's
// web listener while a real Prometheus server scrapes it every second:
// Prometheus must not miss a scrape, tcptrack must hold no more
// descriptors than its connection cap allows, and its descriptors and
// memory must come back to where they were once the clients are gone.
//
// Measured on a 2-core VM: before the cap and the timeouts, 20,000 idle
// connections took 20,000 descriptors and 450 MB, and the scrape timed out.
// With them, the figures are logged by the test (go test -v).
func TestListenerUnderIdleFlood(t *testing.T) {
	requireRoot(t)
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus is missing: make deps-test installs it")
	}
	if testing.Short() {
		t.Skip("about 30 s; skipped with -short")
	}
	p := startLive(t, nil)
	pid := p.cmd.Process.Pid
	time.Sleep(time.Second)
	baseFDs, baseRSS := procFDs(pid), procRSS(pid)

	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(conf, fmt.Appendf(nil, "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: tcptrack\n    static_configs:\n      - targets: [%q]\n", p.addr), 0o600)
	promAddr := freeAddr(t)
	var promLog lockedBuffer
	prom := exec.Command(promBin, "--config.file="+conf, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr)
	prom.Stdout, prom.Stderr = &promLog, &promLog
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		prom.Process.Kill()
		prom.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", promLog.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		if v, err := promQuery(ctx, promAddr, `up{job="tcptrack"}`, time.Now()); err == nil && v == 1 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("Prometheus never scraped tcptrack")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // a few scrapes on its kept-alive connection

	// The flood: every connection dialled at once, none sending a byte,
	// from holder processes of floodPerHolder connections each, so that
	// no process needs more descriptors than a default hard limit gives.
	// Beyond the cap and the kernel's accept queue a dial may time out;
	// an attacker's dials would too.
	floodStart := time.Now()
	var holders []*holder
	for range floodConns / floodPerHolder {
		holders = append(holders, startHolder(t, p.addr, floodPerHolder))
	}
	var peakFDs int
	var peakRSS int64
	sample := func() {
		peakFDs, peakRSS = max(peakFDs, procFDs(pid)), max(peakRSS, procRSS(pid))
	}
	for time.Since(floodStart) < floodHold {
		sample()
		time.Sleep(200 * time.Millisecond)
	}
	floodEnd := time.Now()
	var opened, failed int
	for _, h := range holders {
		o, f := h.release(t)
		opened, failed = opened+o, failed+f
	}
	time.Sleep(3 * time.Second)
	afterFDs, afterRSS := procFDs(pid), procRSS(pid)

	// One scrape a second over the flood, every one up: Prometheus records
	// up=0 for a failed scrape and nothing for a skipped one.
	secs := int(floodEnd.Sub(floodStart).Seconds())
	window := fmt.Sprintf("[%ds]", secs)
	scrapes, err := promQuery(ctx, promAddr, `count_over_time(up{job="tcptrack"}`+window+`)`, floodEnd)
	if err != nil {
		t.Fatal(err)
	}
	ups, err := promQuery(ctx, promAddr, `sum_over_time(up{job="tcptrack"}`+window+`)`, floodEnd)
	if err != nil {
		t.Fatal(err)
	}
	slowest, _ := promQuery(ctx, promAddr, `max_over_time(scrape_duration_seconds{job="tcptrack"}`+window+`)`, floodEnd)

	t.Logf("%d connections dialled, %d established, %d dials failed, over %d s", floodConns, opened, failed, secs)
	t.Logf("Prometheus: %.0f scrapes in %d s, %.0f up, slowest %.3f s", scrapes, secs, ups, slowest)
	t.Logf("tcptrack descriptors: %d before, %d at peak, %d after; RSS: %.1f MiB before, %.1f at peak, %.1f after",
		baseFDs, peakFDs, afterFDs, mib(baseRSS), mib(peakRSS), mib(afterRSS))

	if scrapes < float64(secs-1) || ups != scrapes {
		t.Errorf("Prometheus scraped %.0f times in %d s, %.0f of them up: want one a second, every one up", scrapes, secs, ups)
	}
	if limit := baseFDs + 512 + 16; peakFDs > limit {
		t.Errorf("tcptrack held %d descriptors at peak, over %d: the connection cap does not hold", peakFDs, limit)
	}
	if afterFDs > baseFDs+4 {
		t.Errorf("tcptrack holds %d descriptors after the flood, %d before", afterFDs, baseFDs)
	}
	if afterRSS > baseRSS+32<<20 || peakRSS > baseRSS+64<<20 {
		t.Errorf("tcptrack RSS %.1f MiB at peak and %.1f after, from %.1f", mib(peakRSS), mib(afterRSS), mib(baseRSS))
	}
	if !p.alive() {
		t.Fatal("tcptrack died in the flood")
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// holder is a child process that holds idle connections to the listener.
type holder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startHolder starts a holder that dials n connections to addr at once.
func startHolder(t *testing.T, addr string, n int) *holder {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "TCPTRACK_HOLD_CONNS="+addr, "TCPTRACK_HOLD_N="+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return &holder{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
}

// release lets the holder's connections go and returns how many it had
// opened and how many dials failed.
func (h *holder) release(t *testing.T) (opened, failed int) {
	t.Helper()
	line, err := h.out.ReadString('\n')
	if _, serr := fmt.Sscanf(line, "opened %d failed %d", &opened, &failed); err != nil || serr != nil {
		t.Fatalf("holder: %q %v %v", line, err, serr)
	}
	h.stdin.Close()
	if err := h.cmd.Wait(); err != nil {
		t.Errorf("holder: %v", err)
	}
	return opened, failed
}

// holdConns is the holder process: it dials TCPTRACK_HOLD_N connections to
// addr at once, says how many it opened once every dial is over, holds them
// until its stdin closes, then resets them (no TIME_WAIT left to take the
// next tests' ports).
func holdConns(addr string) {
	n, _ := strconv.Atoi(os.Getenv("TCPTRACK_HOLD_N"))
	var (
		mu     sync.Mutex
		conns  []net.Conn
		failed atomic.Int64
		wg     sync.WaitGroup
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 3*time.Second)
			if err != nil {
				failed.Add(1)
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	fmt.Printf("opened %d failed %d\n", len(conns), failed.Load())
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}
	os.Exit(0)
}
