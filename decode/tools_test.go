package decode

import (
	"bufio"
	"bytes"
	"io"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/tracker"
)

// realCaptures are captures recorded from the Linux kernel: the decoder's
// own (testdata/record.sh) and the project's (pcaps/).
func realCaptures(t *testing.T) []string {
	own, _ := filepath.Glob("testdata/*.pcap*")
	project, _ := filepath.Glob("../pcaps/*.pcap*")
	if len(own) == 0 {
		t.Fatal("no captures in testdata: run testdata/record.sh")
	}
	return append(own, project...)
}

func lookTool(t *testing.T, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (make deps installs it): %v", name, err)
	}
	return p
}

// decodeAll decodes every frame of a capture, keyed by frame number.
func decodeAll(t *testing.T, path string) (map[uint64]tracker.Segment, map[uint64]time.Time) {
	s, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := NewDecoder()
	segs, times := map[uint64]tracker.Segment{}, map[uint64]time.Time{}
	var (
		f   Frame
		seg tracker.Segment
	)
	for {
		if err := s.Next(&f); err == io.EOF {
			break
		} else if err != nil {
			// The project keeps broken captures for its error tests.
			t.Skipf("unreadable capture, not a decoding case: %v", err)
		}
		times[f.Number] = time.Unix(0, f.UnixNano)
		if d.Decode(&f, &seg) == nil {
			segs[f.Number] = seg
		}
	}
	return segs, times
}

// TestAgainstTshark compares every decoded field with Wireshark's dissectors
// on real captures, frame by frame.
func TestAgainstTshark(t *testing.T) {
	tshark := lookTool(t, "tshark")
	fields := []string{"frame.number", "frame.time_epoch", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport",
		"tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.window_size_value", "tcp.len", "vlan.id",
		"tcp.options.mss_val", "tcp.options.wscale.shift", "tcp.options.sack_perm", "tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr"}
	for _, path := range realCaptures(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			args := []string{"-n", "-r", path, "-Y", "tcp", "-T", "fields", "-E", "separator=/t", "-E", "occurrence=l"}
			for _, f := range fields {
				args = append(args, "-e", f)
			}
			out, err := exec.Command(tshark, args...).Output()
			if err != nil {
				t.Fatalf("tshark: %v", err)
			}
			segs, times := decodeAll(t, path)
			seen := 0
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				v := strings.Split(sc.Text(), "\t")
				if len(v) != len(fields) {
					t.Fatalf("tshark line %q: %d fields", sc.Text(), len(v))
				}
				num := parseU(t, v[0])
				got, ok := segs[num]
				if !ok {
					t.Errorf("frame %d: tshark decodes TCP, we skipped it", num)
					continue
				}
				seen++
				sec, frac, _ := strings.Cut(v[1], ".")
				ns, err := strconv.Atoi((frac + "000000000")[:9])
				if err != nil {
					t.Fatalf("tshark time %q: %v", v[1], err)
				}
				if ts := time.Unix(int64(parseU(t, sec)), int64(ns)); !ts.Equal(times[num]) {
					t.Errorf("frame %d: time %v, tshark %v", num, times[num], ts)
				}
				src, dst := v[2], v[3]
				if src == "" {
					src, dst = v[4], v[5]
				}
				want := tracker.Segment{
					UnixNano: got.UnixNano,
					Src:      netip.MustParseAddr(src), Dst: netip.MustParseAddr(dst),
					SrcPort: uint16(parseU(t, v[6])), DstPort: uint16(parseU(t, v[7])),
					VLAN: uint16(parseU(t, v[13])),
					Seq:  uint32(parseU(t, v[8])), Ack: uint32(parseU(t, v[9])),
					Flags:      tracker.Flags(parseU(t, v[10])),
					Window:     uint16(parseU(t, v[11])),
					PayloadLen: uint32(parseU(t, v[12])),
					Options: tracker.Options{
						MSS:           uint16(parseU(t, v[14])),
						WScale:        uint8(parseU(t, v[15])),
						HasWScale:     v[15] != "",
						SACKPermitted: v[16] != "",
						HasTimestamps: v[17] != "",
						TSVal:         uint32(parseU(t, v[17])),
						TSEcr:         uint32(parseU(t, v[18])),
					},
				}
				if got != want {
					t.Errorf("frame %d:\n got    %+v\n tshark %+v", num, got, want)
				}
			}
			if seen != len(segs) {
				t.Errorf("decoded %d segments, tshark %d", len(segs), seen)
			}
		})
	}
}

// parseU parses tshark's decimal or 0x-prefixed values; empty is zero.
func parseU(t *testing.T, s string) uint64 {
	if s == "" {
		return 0
	}
	n, err := strconv.ParseUint(s, 0, 64)
	if err != nil {
		t.Fatalf("tshark value %q: %v", s, err)
	}
	return n
}

// TestFilterAgainstTcpdump checks that Filter selects the same frames as
// tcpdump does with the same expression.
func TestFilterAgainstTcpdump(t *testing.T) {
	tcpdump := lookTool(t, "tcpdump")
	exprs := []string{"tcp[tcpflags] & tcp-syn != 0", "ip6", "tcp port 8001 or tcp port 8004", "src host 127.0.0.1 and tcp[tcpflags] & tcp-fin != 0", "greater 100"}
	for _, path := range realCaptures(t) {
		for _, expr := range exprs {
			t.Run(filepath.Base(path)+"/"+expr, func(t *testing.T) {
				// tcpdump -tt prints each matching frame's timestamp first.
				out, err := exec.Command(tcpdump, "-n", "-tt", "-r", path, expr).Output()
				if err != nil {
					t.Skipf("tcpdump cannot read it either (a broken capture kept for error tests): %v", err)
				}
				var want []string
				for line := range strings.Lines(string(out)) {
					want = append(want, strings.Fields(line)[0])
				}
				flt, err := NewFilter(expr)
				if err != nil {
					t.Fatal(err)
				}
				defer flt.Close()
				s, err := OpenFile(path)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				var got []string
				var f Frame
				for s.Next(&f) == nil {
					ok, err := flt.Match(&f)
					if err != nil {
						t.Fatal(err)
					}
					if ok {
						got = append(got, strconv.FormatInt(f.UnixNano/1e9, 10)+"."+strconv.Itoa(int(f.UnixNano%1e9/1000) + 1e6)[1:])
					}
				}
				if strings.Join(got, " ") != strings.Join(want, " ") {
					t.Errorf("matched %d frames %v\ntcpdump matched %d %v", len(got), got, len(want), want)
				}
			})
		}
	}
}

func TestFilterErrors(t *testing.T) {
	if _, err := NewFilter("tcp port"); err == nil || !strings.Contains(err.Error(), `"tcp port"`) {
		t.Errorf("syntax error: got %v, want an error quoting the expression", err)
	}
	f, err := NewFilter("ether host 02:00:00:00:00:01")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Match(&Frame{LinkType: LinkRaw, Data: []byte{0x45}}); err == nil || !strings.Contains(err.Error(), "RAW") {
		t.Errorf("ether host on raw IP: got %v, want an error naming the link type", err)
	}
	if f, err := NewFilter(""); f != nil || err != nil {
		t.Errorf("empty expression: %v %v, want nil filter", f, err)
	}
	var none *Filter
	if ok, err := none.Match(&Frame{}); !ok || err != nil {
		t.Errorf("nil filter: %v %v, want a match", ok, err)
	}
}
