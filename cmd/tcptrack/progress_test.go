package main

import (
	"bufio"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
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
	cmdline := "TCPTRACK_AS_MAIN=1 " + os.Args[0] + " -r " + p + "; echo EXIT=$?; sleep 60"
	tmux("new-session", "-d", "-x", "160", "-y", "30", cmdline)
	t.Cleanup(func() { exec.Command("tmux", "-S", sock, "kill-server").Run() })

	var sawBar bool
	var screen string
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		screen = tmux("capture-pane", "-p")
		if strings.Contains(screen, "reading") && strings.Contains(screen, "%") && strings.Contains(screen, "MB") {
			sawBar = true
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
