package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/gen"
)

// TestProgressBar runs tcptrack on a capture that takes several seconds,
// under a terminal (tmux), and reads the screen: a bar with percent, bytes
// and time appears while it reads, and only the counts remain at the end.
// With stderr going to a file, nothing is drawn.
func TestProgressBar(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 500 MB capture; skipped with -short")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Geteuid() == 0 {
			t.Fatal("tmux is missing; make deps-test installs it")
		}
		t.Skip("tmux is not installed (make deps-test installs it as root)")
	}
	// Compressed, so that decompressing makes the read last several
	// seconds however fast tracking gets, without a gigabyte on disk.
	p := filepath.Join(t.TempDir(), "big.pcap.gz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	zw, _ := gzip.NewWriterLevel(bw, gzip.BestSpeed)
	if _, err := gen.Generate(zw, gen.Config{Mode: gen.Mix, Seed: 9, Packets: 12_000_000}); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	sock := filepath.Join(t.TempDir(), "tmux.sock")
	tmux := func(args ...string) string {
		out, err := exec.Command("tmux", append([]string{"-S", sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	t.Cleanup(func() { exec.Command("tmux", "-S", sock, "kill-server").Run() })
	rate := regexp.MustCompile(`([0-9.]+) (B|kB|MB|GB|TB)/s`)
	for i, tc := range []struct {
		name, cmdline string
		bar           []string // what the bar shows
	}{
		{"file", "TCPTRACK_AS_MAIN=1 " + os.Args[0] + " -r " + p, []string{"reading", "%", "MB / ", "MB/s", "left"}},
		{"stdin", "cat " + p + " | TCPTRACK_AS_MAIN=1 " + os.Args[0] + " -r -", []string{"reading stdin:", "MB, ", "MB/s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			session := fmt.Sprintf("s%d", i)
			tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "30", tc.cmdline+"; echo EXIT=$?; sleep 60")
			var sawBar bool
			var screen string
			for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				screen = tmux("capture-pane", "-p", "-t", session)
				if !sawBar && strings.Contains(screen, "reading") {
					sawBar = true
					for _, w := range tc.bar {
						if !strings.Contains(screen, w) {
							t.Errorf("the bar lacks %q:\n%s", w, screen)
						}
					}
					// The first frame's rate is the bytes over the time
					// since the start: nowhere near what memory can do.
					m := rate.FindStringSubmatch(screen)
					if m == nil {
						t.Fatalf("no rate in the bar:\n%s", screen)
					}
					v, _ := strconv.ParseFloat(m[1], 64)
					if v *= map[string]float64{"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}[m[2]]; v > 20e9 {
						t.Errorf("the first frame's rate is %s/s:\n%s", m[0], screen)
					}
				}
				if strings.Contains(screen, "EXIT=") {
					break
				}
			}
			if !sawBar {
				t.Errorf("no progress bar seen while reading; last screen:\n%s", screen)
			}
			if !strings.Contains(screen, "EXIT=0") || !strings.Contains(screen, "ESTABLISHED ") {
				t.Fatalf("tcptrack did not finish with counts; screen:\n%s", screen)
			}
			if strings.Contains(screen, "reading") {
				t.Errorf("the bar is still on screen after the end:\n%s", screen)
			}
		})
	}

	// Not a terminal: no bar, nothing on stderr at all for a clean file.
	errFile := filepath.Join(t.TempDir(), "stderr")
	ef, err := os.Create(errFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-r", p)
	cmd.Env = append(os.Environ(), "TCPTRACK_AS_MAIN=1")
	cmd.Stderr = ef
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	ef.Close()
	if b, _ := os.ReadFile(errFile); len(b) != 0 {
		t.Errorf("stderr to a file got %q, want nothing", b)
	}
}
