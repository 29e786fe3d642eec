package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestMalformedAmongGood interleaves malformed copies of frames into a
// capture recorded from the kernel (pcaps/mixed.pcap, Ethernet, IPv4): the
// report must be exactly the clean capture's, so the broken frames disturb
// no flow, and stderr must count each one under its reason.
func TestMalformedAmongGood(t *testing.T) {
	clean, err := os.ReadFile(filepath.Join("..", "..", "pcaps", "mixed.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	// Each damage takes a copy of a TCP/IPv4 Ethernet frame (14-byte link
	// header, 20-byte IP header) and breaks one thing.
	type damage struct {
		reason string
		apply  func(f []byte) []byte
	}
	damages := []damage{
		{"tcp_data_offset", func(f []byte) []byte { f[14+20+12] = 2 << 4; return f }},
		{"ipv4_header_length", func(f []byte) []byte { f[14] = 0x43; return f }},
		{"ip_length", func(f []byte) []byte { binary.BigEndian.PutUint16(f[14+2:], 30); return f }},
		{"truncated", func(f []byte) []byte { return f[:14+12] }},
		{"zero_length", func(f []byte) []byte { return f[:0] }},
	}
	out := append([]byte{}, clean[:24]...)
	counts := map[string]int{}
	n := 0
	for off := 24; off+16 <= len(clean); n++ {
		caplen := int(binary.LittleEndian.Uint32(clean[off+8:]))
		rec := clean[off : off+16+caplen]
		out = append(out, rec...)
		off += 16 + caplen
		frame := rec[16:]
		if n%7 != 0 || len(frame) < 54 || binary.BigEndian.Uint16(frame[12:]) != 0x0800 || frame[14] != 0x45 {
			continue
		}
		d := damages[(n/7)%len(damages)]
		bad := d.apply(append([]byte{}, frame...))
		hdr := append([]byte{}, rec[:16]...)
		binary.LittleEndian.PutUint32(hdr[8:], uint32(len(bad)))
		if len(bad) > 0 {
			binary.LittleEndian.PutUint32(hdr[12:], uint32(len(bad)))
		}
		out = append(out, hdr...)
		out = append(out, bad...)
		counts[d.reason]++
	}
	if len(counts) != len(damages) {
		t.Fatalf("only %d kinds of damage were applied", len(counts))
	}
	p := write(t, "damaged.pcap", out)
	q := write(t, "clean.pcap", clean)
	for _, args := range [][]string{{}, {"--sockets"}} {
		_, want, _ := runCmd(append([]string{"-r", q}, args...)...)
		code, got, errs := runCmd(append([]string{"-r", p}, args...)...)
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, errs)
		}
		if got != want {
			t.Errorf("%v: damaged capture reports\n%s\nclean one\n%s", args, got, want)
		}
		for reason, c := range counts {
			if field := "skipped_" + reason + "=" + strconv.Itoa(c); !strings.Contains(errs, field+" ") && !strings.Contains(errs, field+"\n") {
				t.Errorf("stderr lacks %s: %s", field, errs)
			}
		}
	}
}
