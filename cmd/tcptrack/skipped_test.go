package main

import (
	"encoding/binary"
	"strings"
	"testing"
)

// TestSkippedWarning checks that every class of frame skipped that may have
// held TCP is named, with its count, on one warning line at the default log
// level, and that a capture of plain non-TCP traffic warns of nothing.
func TestSkippedWarning(t *testing.T) {
	// An IPv4 header (20 bytes, protocol p, total length n) from 192.0.2.1
	// to 192.0.2.2.
	ip4 := func(p byte, n int) []byte {
		h := []byte{0x45, 0, byte(n >> 8), byte(n), 0, 0, 0, 0, 64, p, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2}
		return h
	}
	gre := append(ip4(47, 20+4+20), 0, 0, 0x12, 0x34) // GRE carrying protocol type 0x1234
	gre = append(gre, make([]byte, 20)...)
	tests := []struct {
		name   string
		link   uint32
		frame  []byte
		reason string // "" means no warning
	}{
		{"unsupported link type", 105, make([]byte, 40), "unsupported_link"},
		{"unsupported encapsulation", 101, gre, "unsupported_encapsulation"},
		{"too short for the headers", 101, ip4(6, 40)[:12], "truncated"},
		{"malformed", 101, append(ip4(6, 30), make([]byte, 10)...), "ip_length"},
		{"udp is no loss", 101, append(ip4(17, 28), 0, 53, 0, 53, 0, 8, 0, 0), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b []byte
			b = binary.LittleEndian.AppendUint32(b, 0xa1b2c3d4)
			b = binary.LittleEndian.AppendUint16(b, 2)
			b = binary.LittleEndian.AppendUint16(b, 4)
			b = append(b, make([]byte, 8)...)
			b = binary.LittleEndian.AppendUint32(b, 65535)
			b = binary.LittleEndian.AppendUint32(b, tt.link)
			for range 3 {
				b = binary.LittleEndian.AppendUint32(b, 1)
				b = binary.LittleEndian.AppendUint32(b, 0)
				b = binary.LittleEndian.AppendUint32(b, uint32(len(tt.frame)))
				b = binary.LittleEndian.AppendUint32(b, uint32(len(tt.frame)))
				b = append(b, tt.frame...)
			}
			code, _, stderr := runCmd("-r", write(t, "skip.pcap", b))
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			warned := strings.Contains(stderr, "frames skipped")
			if tt.reason == "" {
				if warned {
					t.Errorf("warning for traffic that is plainly not TCP: %s", stderr)
				}
				return
			}
			if !warned || !strings.Contains(stderr, "skipped_"+tt.reason+"=3") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("want one warning line with skipped_%s=3, got: %s", tt.reason, stderr)
			}
		})
	}
}
