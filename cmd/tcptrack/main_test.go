package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/internal/gen"
)

// mixPcap writes a small synthetic capture and returns its bytes and the
// offsets at which each record starts.
func mixPcap(t *testing.T) ([]byte, []int) {
	t.Helper()
	var buf bytes.Buffer
	if _, err := gen.Generate(&buf, gen.Config{Mode: gen.Mix, Seed: 7, Packets: 3000}); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	var offs []int
	for off := 24; off+16 <= len(b); {
		offs = append(offs, off)
		off += 16 + int(binary.LittleEndian.Uint32(b[off+8:]))
	}
	return b, offs
}

func write(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestCorruptCapture checks that a damaged file reports everything before
// the damage, exactly as a clean file holding just those packets would,
// then names the file and packet number and exits 1.
func TestCorruptCapture(t *testing.T) {
	b, offs := mixPcap(t)
	const bad = 2000 // the record that is damaged, 0-based
	cut := b[:offs[bad]]
	want := write(t, "clean.pcap", cut)
	code, wantOut, errs := runCmd("-r", want)
	if code != exitOK || wantOut == "" {
		t.Fatalf("clean prefix: exit %d, stdout %q, stderr %q", code, wantOut, errs)
	}

	truncated := append([]byte{}, b[:offs[bad]+16+10]...) // header and 10 bytes of the record
	garbage := append([]byte{}, b...)
	binary.LittleEndian.PutUint32(garbage[offs[bad]+8:], 0x7fffffff) // absurd captured length
	binary.LittleEndian.PutUint32(garbage[offs[bad]+12:], 0x7fffffff)
	cases := []struct {
		name, file, msg string
		data            []byte
		out             string
	}{
		{"truncated record", "truncated.pcap", "packet 2001", truncated, wantOut},
		{"garbage in the middle", "garbage.pcap", "packet 2001", garbage, wantOut},
		{"bad magic", "magic.pcap", "magic", append([]byte("NOTPCAP!"), b[8:]...), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := write(t, c.file, c.data)
			code, out, errs := runCmd("-r", p)
			if code != exitCapture {
				t.Errorf("exit %d, want %d", code, exitCapture)
			}
			if out != c.out {
				t.Errorf("stdout\n%s\nwant the clean prefix's\n%s", out, c.out)
			}
			if !strings.Contains(errs, p) || !strings.Contains(errs, c.msg) {
				t.Errorf("stderr %q does not name the file %s and %q", errs, p, c.msg)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"-r", "a", "-i", "b"}, {"--local", "nonsense", "-r", "x"}, {"--no-such-flag"}} {
		if code, _, _ := runCmd(args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, _, errs := runCmd("-r", "/nonexistent/x.pcap"); code != exitCapture || !strings.Contains(errs, "/nonexistent/x.pcap") {
		t.Errorf("missing file: exit %d, stderr %q", code, errs)
	}
	if code, _, errs := runCmd("-r", t.TempDir()); code != exitCapture || !strings.Contains(errs, "directory") {
		t.Errorf("directory: exit %d, stderr %q", code, errs)
	}
}

// TestOutputsAgree checks that the counts, the JSON counts and the listing
// describe the same endpoints, and that --local keeps only its own.
func TestOutputsAgree(t *testing.T) {
	b, _ := mixPcap(t)
	p := write(t, "mix.pcap", b)
	_, counts, _ := runCmd("-r", p)
	_, listing, _ := runCmd("-r", p, "--sockets")
	perState := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(listing), "\n")[1:] {
		perState[strings.Fields(l)[0]]++
	}
	for _, l := range strings.Split(strings.TrimSpace(counts), "\n") {
		f := strings.Fields(l)
		if len(f) != 2 {
			t.Fatalf("count line %q", l)
		}
		if got := perState[f[0]]; f[1] != strconv.Itoa(got) {
			t.Errorf("%s: counts say %s, listing has %d", f[0], f[1], got)
		}
		delete(perState, f[0])
	}
	if len(perState) != 0 {
		t.Errorf("listing has states the counts lack: %v", perState)
	}
	_, local, _ := runCmd("-r", p, "--sockets", "--local", "2001:db8::/32")
	for _, l := range strings.Split(strings.TrimSpace(local), "\n")[1:] {
		if !strings.HasPrefix(strings.Fields(l)[3], "[2001:db8:") {
			t.Errorf("--local 2001:db8::/32 listed %q", l)
		}
	}
}
