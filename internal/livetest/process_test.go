package livetest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"golang.org/x/sys/unix"

	"github.com/tcptrack/tcptrack/internal/netlab"
	"github.com/tcptrack/tcptrack/internal/testkit"
	"github.com/tcptrack/tcptrack/tracker"
)

// webAddr is where tcptrack listens, on the loopback of the namespace it
// captures in: reachable however the captured link fares, and never seen by
// a capture on the veth.
const webAddr = "127.0.0.1:9717"

// Bounds of the waits. tcptrack publishes a snapshot every second, and only
// between two reads of the capture, which wait at most 500 ms on a quiet
// link.
const (
	startTimeout = 10 * time.Second // build done: exec, open the capture, bind the listener
	agreeTimeout = 8 * time.Second  // from the last packet to a snapshot that shows it
	exitTimeout  = 10 * time.Second // SIGTERM to exit, with a 5 s web shutdown grace inside
	pollEvery    = 100 * time.Millisecond
)

var (
	binDir   string
	build    sync.Once
	binPath  string
	buildErr error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// requireRoot skips the test unless it runs as root, as CI does.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces, veth links and nftables rules, and captures live (CI runs as root)")
	}
}

// tcptrackBinary builds cmd/tcptrack from this module once per test binary
// and returns its path.
func tcptrackBinary(t *testing.T) string {
	t.Helper()
	build.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		if binDir, buildErr = os.MkdirTemp("", "livetest-"); buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "tcptrack")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool, "build", "-o", binPath, "github.com/tcptrack/tcptrack/cmd/tcptrack")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1") // libpcap
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build cmd/tcptrack: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// liveTracker is a tcptrack -i process running inside a namespace, and a
// client that reaches its web listener from inside that namespace.
type liveTracker struct {
	cmd            *exec.Cmd
	stdout, stderr testkit.LockedBuffer
	done           chan struct{} // closed once the process has exited
	waitErr        error         // valid after done
	client         *http.Client
	// counters holds every tcptrack_ counter series at the last scrape,
	// backwards every time one was lower than before: counters carry
	// over capture reopens and never go back.
	counters  map[string]float64
	backwards []string
}

// startLive runs tcptrack live on iface inside netns, with extra flags if
// any, and waits until it serves metrics with the capture open. The test's cleanup kills it if it
// still runs, and logs its stderr if the test failed.
func startLive(ctx context.Context, t *testing.T, netns, iface string, extra ...string) *liveTracker {
	t.Helper()
	bin := tcptrackBinary(t)
	lt := &liveTracker{done: make(chan struct{}), counters: map[string]float64{}}
	// ip netns exec execs the command in place, so the process we signal
	// is tcptrack itself.
	args := append([]string{"netns", "exec", netns, bin, "-i", iface,
		"--web.listen-address", webAddr, "--log.level", "debug"}, extra...)
	lt.cmd = exec.Command("ip", args...)
	lt.cmd.Stdout = &lt.stdout
	lt.cmd.Stderr = &lt.stderr
	if err := lt.cmd.Start(); err != nil {
		t.Fatalf("start tcptrack: %v", err)
	}
	go func() {
		lt.waitErr = lt.cmd.Wait()
		close(lt.done)
	}()
	lt.client = &http.Client{
		Transport: &http.Transport{DialContext: dialIn(netns)},
		Timeout:   2 * time.Second,
	}
	t.Cleanup(func() {
		if !lt.exited() {
			_ = lt.cmd.Process.Kill()
			<-lt.done
		}
		lt.client.CloseIdleConnections()
		if lt.backwards != nil {
			t.Errorf("counters went back: %s", strings.Join(lt.backwards, "; "))
		}
		if t.Failed() {
			t.Logf("tcptrack stderr:\n%s", lt.stderr.String())
		}
	})
	err := lt.poll(ctx, startTimeout, func(m metrics) error {
		if up := m.captureUp(); up != 1 {
			return fmt.Errorf("tcptrack_capture_up %v", up)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("tcptrack did not come up on %s in %s: %v", iface, netns, err)
	}
	return lt
}

// agrees waits until the scraped tcptrack_connection_states equals want.
func (lt *liveTracker) agrees(ctx context.Context, want map[tracker.State]int) error {
	return lt.poll(ctx, agreeTimeout, func(m metrics) error {
		got, err := m.states()
		if err != nil {
			return err
		}
		if d := diff(got, want); d != "" {
			return errors.New(d)
		}
		return nil
	})
}

func (lt *liveTracker) exited() bool {
	select {
	case <-lt.done:
		return true
	default:
		return false
	}
}

// errExited is returned by poll when tcptrack is no longer running.
var errExited = errors.New("tcptrack exited")

// poll scrapes every pollEvery until cond accepts the metrics, and returns
// the last reason it gave (or the scrape error) if within passes first. It
// fails at once if the process exits: it must never do so on its own.
func (lt *liveTracker) poll(ctx context.Context, within time.Duration, cond func(metrics) error) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	var last error
	for {
		if lt.exited() {
			return fmt.Errorf("%w: %v", errExited, lt.waitErr)
		}
		m, err := lt.scrape(ctx)
		if err == nil {
			err = cond(m)
			if err == nil {
				return nil
			}
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %w", within, last)
		case <-lt.done:
		case <-tick.C:
		}
	}
}

// hold scrapes every pollEvery for d and requires every scrape to succeed
// and satisfy cond, and the process to keep running.
func (lt *liveTracker) hold(ctx context.Context, d time.Duration, cond func(metrics) error) error {
	end := time.Now().Add(d)
	for n := 0; ; n++ {
		if lt.exited() {
			return fmt.Errorf("%w: %v", errExited, lt.waitErr)
		}
		m, err := lt.scrape(ctx)
		if err == nil {
			err = cond(m)
		}
		if err != nil {
			return fmt.Errorf("scrape %d of a %s hold: %w", n+1, d, err)
		}
		if time.Now().After(end) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// waitFor calls cond every pollEvery until it returns nil, and returns its
// last error if within passes first.
func waitFor(ctx context.Context, within time.Duration, cond func() error) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %w", within, err)
		case <-time.After(pollEvery):
		}
	}
}

// counts fetches GET /counts, tcptrack's STATE count lines while it runs.
func (lt *liveTracker) counts(ctx context.Context) (map[tracker.State]int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+webAddr+"/counts", nil)
	if err != nil {
		return nil, err
	}
	resp, err := lt.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET /counts: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET /counts: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /counts: %s", resp.Status)
	}
	c, err := parseCounts(string(body))
	if err != nil {
		return nil, fmt.Errorf("GET /counts: %w", err)
	}
	return c, nil
}

// metrics is one scrape of /metrics.
type metrics map[string]*dto.MetricFamily

func (lt *liveTracker) scrape(ctx context.Context) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+webAddr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := lt.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape: parse: %w", err)
	}
	for name, f := range fams {
		if f.GetType() != dto.MetricType_COUNTER || !strings.HasPrefix(name, "tcptrack_") {
			continue
		}
		for _, s := range f.GetMetric() {
			key := name
			for _, lp := range s.GetLabel() {
				key += fmt.Sprintf(" %s=%q", lp.GetName(), lp.GetValue())
			}
			v := s.GetCounter().GetValue()
			if old, ok := lt.counters[key]; ok && v < old {
				lt.backwards = append(lt.backwards, fmt.Sprintf("%s from %v to %v", key, old, v))
			}
			lt.counters[key] = v
		}
	}
	return fams, nil
}

func (m metrics) captureUp() float64 {
	f := m["tcptrack_capture_up"]
	if f == nil || len(f.GetMetric()) != 1 {
		return -1
	}
	return f.GetMetric()[0].GetGauge().GetValue()
}

// states returns tcptrack_connection_states by state, for the states that
// netstat and ss list as connections (LISTEN aside). Every one of them
// must have a series, as node_exporter's tcpstat collector always has.
func (m metrics) states() (map[tracker.State]int, error) {
	byLabel := map[string]float64{}
	if f := m["tcptrack_connection_states"]; f != nil {
		for _, s := range f.GetMetric() {
			for _, lp := range s.GetLabel() {
				if lp.GetName() == "state" {
					byLabel[lp.GetValue()] = s.GetGauge().GetValue()
				}
			}
		}
	}
	out := map[tracker.State]int{}
	for st := tracker.State(0); st < tracker.NumStates; st++ {
		if !st.Counted() {
			continue
		}
		v, ok := byLabel[st.Label()]
		if !ok {
			return nil, fmt.Errorf("no tcptrack_connection_states series with state=%q", st.Label())
		}
		out[st] = int(v)
	}
	return out, nil
}

// dialIn returns a DialContext that connects from inside netns: on a fresh
// OS thread that joins the namespace and is never handed back to the
// scheduler, since it dies with its goroutine. The socket stays in netns
// for life.
func dialIn(netns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		ch := make(chan result, 1)
		go func() {
			runtime.LockOSThread()
			f, err := os.Open(filepath.Join("/var/run/netns", netns))
			if err != nil {
				ch <- result{err: err}
				return
			}
			err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
			f.Close()
			if err != nil {
				ch <- result{err: fmt.Errorf("setns %s: %w", netns, err)}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			ch <- result{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

// stop sends SIGTERM and waits for the exit, returning the exit status.
func (lt *liveTracker) stop(t *testing.T) int {
	t.Helper()
	if err := lt.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-lt.done:
	case <-time.After(exitTimeout):
		t.Fatalf("tcptrack still running %s after SIGTERM", exitTimeout)
	}
	var ee *exec.ExitError
	switch {
	case lt.waitErr == nil:
		return 0
	case errors.As(lt.waitErr, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("waiting for tcptrack: %v", lt.waitErr)
	return -1
}

// parseCounts reads tcptrack's STATE count lines. Anything else on stdout
// is an error: the spec allows nothing else there.
func parseCounts(out string) (map[tracker.State]int, error) {
	got := map[tracker.State]int{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			return nil, fmt.Errorf("stdout line %q: want STATE count", sc.Text())
		}
		st, ok := tracker.ParseState(f[0])
		if !ok || st.String() != f[0] || !st.Counted() {
			return nil, fmt.Errorf("stdout line %q: not a counted state in netstat spelling", sc.Text())
		}
		n, err := strconv.Atoi(f[1])
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("stdout line %q: want a positive count", sc.Text())
		}
		if _, dup := got[st]; dup {
			return nil, fmt.Errorf("stdout: %s twice", st)
		}
		got[st] = n
	}
	return got, nil
}

// kernelCounts takes `ss -tan` in every namespace of the lab and counts the
// sockets per state, LISTEN aside, that the captured link carries: those on
// loopback (the scraper's connections to tcptrack) never cross a veth.
func kernelCounts(l *netlab.Lab) (map[tracker.State]int, string, error) {
	raw, err := l.SS()
	if err != nil {
		return nil, "", err
	}
	return countSS(raw)
}

func countSS(raw []byte) (map[tracker.State]int, string, error) {
	socks, err := netlab.ParseSS(bytes.NewReader(raw))
	if err != nil {
		return nil, string(raw), err
	}
	want := map[tracker.State]int{}
	for _, s := range socks {
		if !s.State.Counted() || s.Local.Addr().IsLoopback() {
			continue
		}
		// Where the wire cannot tell, tcptrack's documented reading.
		if a, ok := s.Reading(); ok {
			if !a.Unconfirmed && a.Reading.Counted() {
				want[a.Reading]++
			}
			continue
		}
		want[s.State]++
	}
	return want, string(raw), nil
}

// diff lists the states where got and want differ, in the output order.
func diff(got, want map[tracker.State]int) string {
	var d []string
	for st := tracker.State(0); st < tracker.NumStates; st++ {
		if st.Counted() && got[st] != want[st] {
			d = append(d, fmt.Sprintf("%s: tcptrack %d, kernel %d", st, got[st], want[st]))
		}
	}
	return strings.Join(d, "; ")
}
