package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/internal/gen"
)

// TestMain lets a test run tcptrack as a child process (the test binary
// re-executed), so that the child's peak memory can be measured alone, or
// as a holder of idle connections.
func TestMain(m *testing.M) {
	if addr := os.Getenv("TCPTRACK_HOLD_CONNS"); addr != "" {
		holdConns(addr) // a client of the listener flood, see listener_test.go
		return
	}
	if os.Getenv("TCPTRACK_AS_MAIN") == "1" {
		code := run(os.Args[1:], os.Stdout, os.Stderr)
		if p := os.Getenv("TCPTRACK_HWM_FILE"); p != "" {
			// VmHWM is this address space's peak RSS. getrusage's
			// ru_maxrss would not do: it keeps the parent's RSS from
			// before the exec.
			status, _ := os.ReadFile("/proc/self/status")
			os.WriteFile(p, status, 0o644)
		}
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// runChild runs tcptrack with args in a child process and returns its
// stdout and peak resident memory in bytes.
func runChild(t *testing.T, args ...string) (string, int64) {
	t.Helper()
	hwm := filepath.Join(t.TempDir(), "status")
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "TCPTRACK_AS_MAIN=1", "TCPTRACK_HWM_FILE="+hwm)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("tcptrack %v: %v\n%s", args, err, errb.String())
	}
	status, err := os.ReadFile(hwm)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmHWM:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return out.String(), kb * 1024
		}
	}
	t.Fatalf("no VmHWM in /proc/self/status:\n%s", status)
	return "", 0
}

// floodMemoryBound is the peak memory the README promises for a flood
// under --max-flows N: floodBase plus floodPerFlow for every flow of the
// bound.
const (
	floodBase    = 40 << 20
	floodPerFlow = 128
	// factsPerFlow is what the connection facts add to every flow, with
	// --info, --connections, the terminal view and the exporter.
	factsPerFlow = 80
)

// TestSYNFloodBounded replays a SYN flood from a million spoofed sources,
// unanswered and half of them answered, interleaved with 1,000 real
// connections under --max-flows 100000: memory stays within the stated
// bound, every real connection is still ESTABLISHED on both sides at the
// end, and the counts show the real connections exactly: the flood is only
// in the UNCONFIRMED line.
func TestSYNFloodBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads a 100 MB capture; skipped with -short")
	}
	for _, answered := range []int{0, 50} {
		t.Run(fmt.Sprintf("answered %d%%", answered), func(t *testing.T) { synFlood(t, answered) })
	}
}

func synFlood(t *testing.T, answerPct int) {
	p := filepath.Join(t.TempDir(), "flood.pcap")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	res, err := gen.Generate(w, gen.Config{Mode: gen.SYNFlood, Seed: 3, Sources: 1_000_000, RealConns: 1000, AnswerPct: answerPct})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	const maxFlows = 100_000
	out, rss := runChild(t, "-r", p, "--max-flows", "100000")
	if bound := int64(floodBase + floodPerFlow*maxFlows); rss > bound {
		t.Errorf("peak RSS %d MiB, bound %d MiB", rss>>20, bound>>20)
	}
	t.Logf("peak RSS %d MiB for %d packets under --max-flows %d", rss>>20, res.Packets, maxFlows)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 1 || lines[0] != "ESTABLISHED 2000" {
		t.Errorf("counts %q, want only ESTABLISHED 2000: the flood belongs in the unconfirmed counts", out)
	}
	all, _ := runChild(t, "-r", p, "--max-flows", "100000", "-a")
	if !strings.Contains(all, "UNCONFIRMED ") {
		t.Errorf("-a printed %q: no UNCONFIRMED line", all)
	}
	out, _ = runChild(t, "-r", p, "--max-flows", "100000", "--sockets")
	established := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 5 && f[0] == "ESTABLISHED" {
			established[f[3]+" "+f[4]] = true
		}
	}
	if len(res.Real) != 1000 {
		t.Fatalf("generator made %d real connections, want 1000", len(res.Real))
	}
	for _, fl := range res.Real {
		c, s := fl.Src.String(), fl.Dst.String()
		if !established[c+" "+s] || !established[s+" "+c] {
			t.Errorf("real connection %s -> %s is not ESTABLISHED on both sides", c, s)
		}
	}
}
