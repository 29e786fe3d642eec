package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/testkit"
)

// child is tcptrack run as a process of its own (the test binary
// re-executed as main, see TestMain), so that exit codes, signals and
// stdout are the real ones.
func child(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "TCPTRACK_AS_MAIN=1")
	return cmd
}

// runBin runs tcptrack to its end with stdin from in (nil: none) and
// returns its exit code, stdout and stderr.
func runBin(t *testing.T, in io.Reader, args ...string) (int, string, string) {
	t.Helper()
	cmd := child(args...)
	cmd.Stdin = in
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("tcptrack %q: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return code, out.String(), errb.String()
}

const handshake = "../../pcaps/handshake.pcap"

// TestShortOptions checks the tcpdump habits: short options that combine
// and take attached values, -n as a no-op, long options with = or a space,
// "-" as a value.
func TestShortOptions(t *testing.T) {
	data, err := os.ReadFile(handshake)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-r", handshake},
		{"-nr", handshake},
		{"-r" + handshake},
		{"-n", "-r", handshake},
		{"-nnr", handshake},
		{"--read", handshake},
		{"--read=" + handshake},
		{"-r", "-"},
		{"-nr", "-"},
		{"--read", "-"},
		{"-r", handshake, "tcp", "port", "80"},
		{"-r", handshake, "tcp port 80"},
		{"-r", handshake, ""}, // a DaemonSet's empty filter
	} {
		var in io.Reader
		if slices.Contains(args, "-") {
			in = bytes.NewReader(data)
		}
		code, out, errs := runBin(t, in, args...)
		if code != 0 || out != "ESTABLISHED 2\n" || errs != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 0, %q, nothing", args, code, out, errs, "ESTABLISHED 2\n")
		}
	}
}

// TestUsageErrors checks that a bad command line gets exit 2 and one line on
// stderr that names the flag and ends with "see --help", never the manual.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "-r FILE or an interface with -i IFACE"},
		{[]string{"-r", handshake, "-i", "lo"}, "exclude each other"},
		{[]string{"--no-such-flag"}, "unknown long flag '--no-such-flag'"},
		{[]string{"-x", "-r", handshake}, "unknown short flag '-x'"},
		{[]string{"-r", handshake, "--advance", "61"}, "--advance 61: a duration needs a unit, e.g. 61s"},
		{[]string{"-r", handshake, "--advance", "-1s"}, "--advance -1s: want a duration of 0 or more"},
		{[]string{"-r", handshake, "--time-wait", "soon"}, "--time-wait soon: want a duration"},
		{[]string{"-r", handshake, "--time-wait", "-1s"}, "--time-wait -1s: want a positive duration"},
		{[]string{"-r", handshake, "--handshake-timeout", "75"}, "--handshake-timeout 75: a duration needs a unit, e.g. 75s"},
		{[]string{"-r", handshake, "--handshake-timeout", "0s"}, "--handshake-timeout 0s: want a positive duration"},
		{[]string{"-r", handshake, "--max-flows", "0"}, "--max-flows 0: want 1 to 2147483647"},
		{[]string{"-r", handshake, "--max-flows", "-1"}, "--max-flows -1: want 1 to 2147483647"},
		{[]string{"-r", handshake, "--max-flows", "4294967296"}, "--max-flows"},
		{[]string{"-r", handshake, "--local", "nonsense"}, "--local nonsense"},
		{[]string{"-r", handshake, "--log.level", "loud"}, "--log.level loud: want debug, info, warn or error"},
		{[]string{"-r", handshake, "-s", "96"}, "-s, --snapshot-length SNAPLEN applies to live capture (-i) only"},
		{[]string{"-r", handshake, "--user", "nobody"}, "--user USER applies to live capture (-i) only"},
		{[]string{"-r", handshake, "--web.listen-address", ":1"}, "--web.listen-address ADDR applies to live capture (-i) only"},
		{[]string{"-i", "lo", "--advance", "61s"}, "--advance applies to files (-r) only"},
		{[]string{"-i", "lo", "-s", "40"}, "-s 40: want 96 to 262144 bytes"},
		{[]string{"-i", "lo", "-B", "-1"}, "-B -1: want a size in KiB"},
		{[]string{"-i", "lo", "--capture-engine", "dpdk"}, "--capture-engine"},
		{[]string{"-i", "lo", "--web.max-connections", "0"}, "--web.max-connections 0: want 1 or more"},
		{[]string{"-i", "lo", "--web.read-timeout", "0s"}, "want positive durations"},
		{[]string{"-i", "lo", "--web.listen-address", "", "--web.listen-address", ":1"}, "give it alone"},
		{[]string{"-r", handshake, "not a filter ("}, "filter"},
		{[]string{"-r", handshake, "--info"}, "--info prints under the lines of --sockets"},
		{[]string{"-r", handshake, "--connections.seed", "7"}, "--connections.seed applies to --connections"},
		{[]string{"-r", handshake, "--connections", "-", "--connections.seed", "65536"}, "--connections.seed 65536: want 0 to 65535"},
		{[]string{"top", "-r", handshake, "--connections", "-"}, "--connections - would write over it"},
		{[]string{"-r", handshake, "--at", "soon"}, "--at soon: want a time (2026-11-21T08:52:00.5Z, or Unix seconds"},
		{[]string{"-r", handshake, "--at", "-1s"}, "--at -1s: want an offset of 0 or more"},
		{[]string{"-r", handshake, "--at", "2026-13-01T00:00:00Z"}, "--at 2026-13-01T00:00:00Z: want a time"},
		{[]string{"-r", handshake, "--at", "1.5s", "--advance", "1s"}, "--at and --advance exclude each other"},
		{[]string{"-i", "lo", "--at", "1.5s"}, "--at applies to files (-r) only"},
		{[]string{"-r", handshake, "--every", "1"}, "--every 1: a duration needs a unit, e.g. 1s"},
		{[]string{"-r", handshake, "--every", "0s"}, "--every 0s: want 1ms or more"},
		{[]string{"-r", handshake, "--every", "1s", "--sockets"}, "--every prints the counts over time"},
		{[]string{"-i", "lo", "--every", "1s"}, "--every applies to files (-r) only"},
		{[]string{"-r", handshake, "--plot", "-"}, "--plot -: give a file name"},
		{[]string{"-i", "lo", "--plot", "x.svg"}, "--plot applies to files (-r) only"},
		{[]string{"top", "-r", handshake, "--at", "1s"}, "tcptrack top replays the file"},
	} {
		code, out, errs := runBin(t, nil, tc.args...)
		lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
		if code != exitUsage || out != "" || len(lines) != 1 || !strings.Contains(errs, tc.want) || !strings.HasSuffix(errs, "see --help\n") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2, no stdout, one line with %q ending in \"see --help\"",
				tc.args, code, out, errs, tc.want)
		}
	}
}

// TestHelpAndVersion checks that --help and -h print the manual on stdout
// and --version prints every build field.
func TestHelpAndVersion(t *testing.T) {
	if code, out, _ := runBin(t, nil, "-anr", handshake); code != 0 || out != "ESTABLISHED 2\nLISTEN 1\n" {
		t.Errorf("-anr: exit %d, %q", code, out)
	}
	for _, flag := range []string{"--help", "-h"} {
		code, out, errs := runBin(t, nil, flag)
		if code != 0 || errs != "" || !strings.HasPrefix(out, "NAME\n") || !strings.Contains(out, "--max-flows N") {
			t.Errorf("%s: exit %d, stderr %q, stdout starts %.40q", flag, code, errs, out)
		}
	}
	code, out, _ := runBin(t, nil, "--version")
	if code != 0 || !strings.HasPrefix(out, "tcptrack, version ") {
		t.Fatalf("--version: exit %d, %q", code, out)
	}
	for _, field := range []string{"build user:", "build date:", "go version:", "platform:"} {
		if !regexp.MustCompile(regexp.QuoteMeta(field) + ` +\S`).MatchString(out) {
			t.Errorf("--version: %q is empty:\n%s", field, out)
		}
	}
}

// TestHelpMatchesREADME holds the README's flag tables and --help to the
// same flags, spelled alike, with the same words.
func TestHelpMatchesREADME(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| (`-[^|]*) \\| (.*) \\|$")
	fromREADME := map[string]string{}
	for _, l := range strings.Split(string(readme), "\n") {
		m := row.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		spelling := strings.ReplaceAll(m[1], "`", "")
		if _, dup := fromREADME[spelling]; dup {
			t.Errorf("README: %s has two rows", spelling)
		}
		fromREADME[spelling] = strings.ReplaceAll(m[2], "`", "")
	}

	_, out, _ := runBin(t, nil, "--help")
	fromHelp := map[string]string{}
	var cur string
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "    -"):
			cur = strings.TrimSpace(l)
			fromHelp[cur] = ""
		case strings.HasPrefix(l, "        ") && cur != "":
			fromHelp[cur] = strings.TrimSpace(fromHelp[cur] + " " + strings.TrimSpace(l))
		default:
			cur = ""
		}
	}
	if len(fromHelp) < 20 {
		t.Fatalf("--help lists %d flags:\n%s", len(fromHelp), out)
	}
	for spelling, text := range fromHelp {
		readmeText, ok := fromREADME[spelling]
		switch {
		case !ok:
			t.Errorf("--help has %s, the README has no row for it", spelling)
		case readmeText != text:
			t.Errorf("%s:\n --help: %s\n README: %s", spelling, text, readmeText)
		}
	}
	for spelling := range fromREADME {
		if _, ok := fromHelp[spelling]; !ok {
			t.Errorf("the README has a row for %s, --help does not", spelling)
		}
	}
}

// TestTransitionsThenReport checks that with --transitions - every
// transition comes before the report, each on a line of its own, so that
// the JSON lines can be split from the counts.
func TestTransitionsThenReport(t *testing.T) {
	for _, args := range [][]string{
		{"--transitions", "-", "-r", "../../pcaps/close-client.pcap"},
		{"-r", "../../pcaps/close-client.pcap", "--transitions", "-", "--json"},
		{"-r", "../../pcaps/close-client.pcap", "--transitions=-", "--sockets"},
	} {
		code, out, errs := runBin(t, nil, args...)
		if code != 0 {
			t.Fatalf("%q: exit %d: %s", args, code, errs)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		n := 0
		for n < len(lines) && strings.HasPrefix(lines[n], `{"time":`) && strings.Contains(lines[n], `"endpoint":`) {
			var v map[string]any
			if err := json.Unmarshal([]byte(lines[n]), &v); err != nil {
				t.Fatalf("%q: line %d is not JSON: %v\n%s", args, n+1, err, lines[n])
			}
			n++
		}
		if n < 4 {
			t.Errorf("%q: %d transitions before the report, want the close's", args, n)
		}
		for _, l := range lines[n:] {
			if strings.Contains(l, `"endpoint":`) {
				t.Errorf("%q: a transition after the report: %s", args, l)
			}
		}
		if n == len(lines) {
			t.Errorf("%q: no report after the transitions", args)
		}
	}
}

// TestTransitionsFile checks the file's mode, that it is replaced at start,
// and that as root it is never written through a symbolic link.
func TestTransitionsFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "transitions.json")
	if err := os.WriteFile(p, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, "fresh.json")
	for _, f := range []string{p, fresh} {
		if code, _, errs := runBin(t, nil, "-r", handshake, "--transitions", f); code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
	}
	if b, _ := os.ReadFile(p); bytes.HasPrefix(b, []byte("old")) || !bytes.HasPrefix(b, []byte(`{"time":`)) {
		t.Errorf("an existing file was not replaced: %q", b)
	}
	if st, err := os.Stat(fresh); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("a new --transitions file: %v, mode %v, want 0600", err, st.Mode().Perm())
	}

	if os.Geteuid() != 0 {
		t.Skip("a symbolic link is refused as root only (CI runs as root)")
	}
	target := filepath.Join(dir, "precious")
	if err := os.WriteFile(target, []byte("keep me\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runBin(t, nil, "-r", handshake, "--transitions", link)
	if code != exitUsage || out != "" || !strings.Contains(errs, link+" is a symbolic link") {
		t.Errorf("through a symbolic link: exit %d, stdout %q, stderr %q; want exit 2 and a word about the link", code, out, errs)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep me\n" {
		t.Errorf("the link's target was written: %q", b)
	}
}

// pcapPrefix returns a pcap file's header and its first n records.
func pcapPrefix(t *testing.T, b []byte, offs []int, n int) []byte {
	t.Helper()
	if n >= len(offs) {
		return b
	}
	return b[:offs[n]]
}

// TestInterruptOnPipe is tcpdump -w - | tcptrack -r - stopped with Ctrl-C
// (SIGINT) or kill (SIGTERM): tcptrack prints the report of what it read,
// and says on stderr after which packet it stopped.
func TestInterruptOnPipe(t *testing.T) {
	b, offs := mixPcap(t)
	const sent = 2500
	prefix := pcapPrefix(t, b, offs, sent)
	want := write(t, "prefix.pcap", prefix)
	_, wantOut, _ := runCmd("-r", want)
	if wantOut == "" {
		t.Fatal("the prefix reports nothing")
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := child("-r", "-")
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The pipe stays open, as tcpdump keeps it: tcptrack waits
			// for more when the signal comes.
			defer stdin.Close()
			if _, err := stdin.Write(prefix); err != nil {
				t.Fatal(err)
			}
			time.Sleep(500 * time.Millisecond)
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("exit: %v", err)
				}
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatal("tcptrack still runs 10 s after the signal")
			}
			if out.String() != wantOut {
				t.Errorf("stdout\n%s\nwant the report of the %d packets sent\n%s", out.String(), sent, wantOut)
			}
			if w := "stopped reading stdin after packet 2500"; !strings.Contains(errb.String(), w) {
				t.Errorf("stderr %q lacks %q", errb.String(), w)
			}
		})
	}
}

// TestSIGHUPReopens rotates --transitions as logrotate does while tcptrack
// reads a pipe: the file is renamed, SIGHUP makes tcptrack open a new one
// by the name, and the two files hold every transition between them.
func TestSIGHUPReopens(t *testing.T) {
	b, offs := mixPcap(t)
	whole := write(t, "whole.pcap", b)
	dir := t.TempDir()
	wantFile := filepath.Join(dir, "want.json")
	if code, _, errs := runBin(t, nil, "-r", whole, "--transitions", wantFile); code != 0 {
		t.Fatal(errs)
	}
	want, _ := os.ReadFile(wantFile)

	p := filepath.Join(dir, "transitions.json")
	cmd := child("-r", "-", "--transitions", p)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb testkit.LockedBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	// Batches of 1,024 segments reach the tracker as they fill: the
	// first 2,500 packets give at least one.
	if _, err := stdin.Write(b[:offs[2500]]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := os.Rename(p, p+".1"); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(errb.String(), "transitions file reopened") {
		if time.Now().After(deadline) {
			t.Fatalf("no word of the reopen on stderr: %q", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := stdin.Write(b[offs[2500]:]); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, errb.String())
	}
	old, _ := os.ReadFile(p + ".1")
	cur, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(old) == 0 || len(cur) == 0 {
		t.Errorf("rotated file %d bytes, new file %d bytes: want both written", len(old), len(cur))
	}
	if got := append(old, cur...); !bytes.Equal(got, want) {
		t.Errorf("the two files hold %d bytes, not the %d of one run's transitions", len(got), len(want))
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("the reopened file has mode %v, want 0600", st.Mode().Perm())
	}
}

// TestAdvanceClamped is a capture dated 2106 (the last second a pcap can
// hold) advanced by more than the nanosecond clock holds: TIME_WAIT must
// still run out, and the clamp is said.
func TestAdvanceClamped(t *testing.T) {
	b, err := os.ReadFile("../../pcaps/close-client.pcap")
	if err != nil {
		t.Fatal(err)
	}
	b = append([]byte{}, b...)
	if binary.LittleEndian.Uint32(b) != 0xa1b2c3d4 && binary.LittleEndian.Uint32(b) != 0xa1b23c4d {
		t.Fatalf("close-client.pcap is not a little-endian pcap")
	}
	n := 0
	for off := 24; off+16 <= len(b); n++ {
		binary.LittleEndian.PutUint32(b[off:], 0xffffff00+uint32(n)) // seconds: the end of 2106
		off += 16 + int(binary.LittleEndian.Uint32(b[off+8:]))
	}
	p := write(t, "2106.pcap", b)
	if code, out, errs := runBin(t, nil, "-r", p); code != 0 || out != "TIME_WAIT 1\n" {
		t.Fatalf("without --advance: exit %d, %q, %s", code, out, errs)
	}
	code, out, errs := runBin(t, nil, "-r", p, "--advance", "2000000h")
	if code != 0 || out != "" {
		t.Errorf("--advance 2000000h: exit %d, stdout %q, want TIME_WAIT over", code, out)
	}
	if !strings.Contains(errs, "clamped") || !strings.Contains(errs, "level=WARN") {
		t.Errorf("stderr does not say the clamp: %q", errs)
	}
}

// TestWarnings checks that what is dropped is said at the default level:
// a full table in file mode.
func TestWarnings(t *testing.T) {
	b, _ := mixPcap(t)
	p := write(t, "mix.pcap", b)
	code, _, errs := runBin(t, nil, "-r", p, "--max-flows", "3")
	if code != 0 || !strings.Contains(errs, "flow table full") || !strings.Contains(errs, "raise --max-flows") {
		t.Errorf("--max-flows 3: exit %d, stderr %q", code, errs)
	}
	sc := bufio.NewScanner(strings.NewReader(errs))
	for sc.Scan() {
		if !strings.Contains(sc.Text(), "level=WARN") {
			t.Errorf("stderr line not a warning: %s", sc.Text())
		}
	}
}
