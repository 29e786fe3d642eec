package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// floodWriter writes a pcap of Ethernet/IPv4/TCP frames without options or
// payload, built by hand: a million-tuple flood is written in a second.
type floodWriter struct {
	w   *bufio.Writer
	f   *os.File
	ns  int64 // the next frame's time, nanoseconds since the Unix epoch
	buf [16 + 54]byte
}

func newFloodWriter(t *testing.T, path string) *floodWriter {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	fw := &floodWriter{w: bufio.NewWriterSize(f, 1<<20), f: f, ns: 1_700_000_000_000_000_000}
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b23c4d) // nanosecond pcap
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 65535)
	binary.LittleEndian.PutUint32(h[20:], 1) // Ethernet
	fw.w.Write(h[:])
	return fw
}

// seg writes one segment from src:sp to dst:dp, one microsecond after the
// last.
func (fw *floodWriter) seg(src, dst uint32, sp, dp uint16, flags byte, seq, ack uint32, payload int) {
	fw.ns += 1000
	b := fw.buf[:]
	binary.LittleEndian.PutUint32(b[0:], uint32(fw.ns/1e9))
	binary.LittleEndian.PutUint32(b[4:], uint32(fw.ns%1e9))
	binary.LittleEndian.PutUint32(b[8:], 54)
	binary.LittleEndian.PutUint32(b[12:], uint32(54+payload))
	e := b[16:]
	copy(e[0:12], []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1})
	binary.BigEndian.PutUint16(e[12:], 0x0800)
	ip := e[14:]
	ip[0], ip[1] = 0x45, 0
	binary.BigEndian.PutUint16(ip[2:], uint16(40+payload))
	binary.BigEndian.PutUint32(ip[4:], 0)
	ip[8], ip[9] = 64, 6
	binary.BigEndian.PutUint16(ip[10:], 0)
	binary.BigEndian.PutUint32(ip[12:], src)
	binary.BigEndian.PutUint32(ip[16:], dst)
	tcp := ip[20:]
	binary.BigEndian.PutUint16(tcp[0:], sp)
	binary.BigEndian.PutUint16(tcp[2:], dp)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	binary.BigEndian.PutUint32(tcp[8:], ack)
	tcp[12], tcp[13] = 5<<4, flags
	binary.BigEndian.PutUint16(tcp[14:], 502)
	binary.BigEndian.PutUint32(tcp[16:], 0)
	fw.w.Write(b)
}

func (fw *floodWriter) close(t *testing.T) {
	t.Helper()
	if err := fw.w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := fw.f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TCP flags as in the header.
const (
	fFIN = 1
	fSYN = 2
	fRST = 4
	fPSH = 8
	fACK = 16
)

// TestFloodsBounded replays 1,000 real connections, then a million-tuple
// flood of each kind a spoofer can send, under --max-flows 100000: peak
// memory stays within the README's bound (40 MiB plus 128 bytes per flow of
// the bound), every real connection is still ESTABLISHED on both sides, and
// the flood adds no ESTABLISHED endpoint.
func TestFloodsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads 60 to 110 MB captures; skipped with -short")
	}
	const (
		maxFlows = 100_000
		sources  = 1_000_000
		server   = 0xC0000202 // 192.0.2.2
	)
	src := func(i int) uint32 { return 0x0A000000 | uint32(i) } // 10.x.y.z
	floods := []struct {
		name string
		emit func(fw *floodWriter, i int)
	}{
		{"ACK flood", func(fw *floodWriter, i int) {
			fw.seg(src(i), server, uint16(1024+i%60000), 80, fACK, uint32(i), uint32(i*7), 0)
		}},
		{"two-ACK flood", func(fw *floodWriter, i int) {
			fw.seg(src(i), server, uint16(1024+i%60000), 80, fACK, uint32(i), uint32(i*7), 0)
			fw.seg(src(i), server, uint16(1024+i%60000), 80, fACK, uint32(i), uint32(i*7+1000), 0)
		}},
		{"FIN flood", func(fw *floodWriter, i int) {
			fw.seg(src(i), server, uint16(1024+i%60000), 80, fFIN|fACK, uint32(i), uint32(i*7), 0)
		}},
		{"listener flood", func(fw *floodWriter, i int) {
			// A million invented servers, each answering a SYN.
			fw.seg(0xC0000201, src(i), 40000, 80, fSYN, 100, 0, 0)
			fw.seg(src(i), 0xC0000201, 80, 40000, fSYN|fACK, uint32(i), 101, 0)
		}},
	}
	for _, fl := range floods {
		t.Run(fl.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "flood.pcap")
			fw := newFloodWriter(t, p)
			// The real connections: 192.0.2.1:port <-> 192.0.2.2:443,
			// a handshake and a request each.
			for i := range 1000 {
				c, port := uint32(0xC0000201), uint16(20000+i)
				fw.seg(c, server, port, 443, fSYN, 1000, 0, 0)
				fw.seg(server, c, 443, port, fSYN|fACK, 5000, 1001, 0)
				fw.seg(c, server, port, 443, fACK, 1001, 5001, 0)
				fw.seg(c, server, port, 443, fACK|fPSH, 1001, 5001, 100)
				fw.seg(server, c, 443, port, fACK, 5001, 1101, 0)
			}
			for i := range sources {
				fl.emit(fw, i)
			}
			fw.close(t)

			_, rss := runChild(t, "-r", p, "--max-flows", fmt.Sprint(maxFlows))
			if bound := int64(floodBase + floodPerFlow*maxFlows); rss > bound {
				t.Errorf("peak RSS %d MiB, bound %d MiB", rss>>20, bound>>20)
			}
			t.Logf("peak RSS %d MiB under --max-flows %d", rss>>20, maxFlows)
			if fl.name == "ACK flood" {
				// The facts touched for every flow (the flood's
				// tuples never prove a connection, so no line is
				// written): the bound with them.
				_, rss := runChild(t, "-r", p, "--max-flows", fmt.Sprint(maxFlows), "--connections", os.DevNull)
				if bound := int64(floodBase + (floodPerFlow+factsPerFlow)*maxFlows); rss > bound {
					t.Errorf("with the facts: peak RSS %d MiB, bound %d MiB", rss>>20, bound>>20)
				}
				t.Logf("with the facts: peak RSS %d MiB under --max-flows %d", rss>>20, maxFlows)
			}
			out, _ := runChild(t, "-r", p, "--max-flows", fmt.Sprint(maxFlows), "--sockets")
			established := 0
			for _, l := range strings.Split(out, "\n") {
				f := strings.Fields(l)
				if len(f) == 5 && f[0] == "ESTABLISHED" {
					established++
					if !strings.HasSuffix(f[3], ":443") && !strings.HasSuffix(f[4], ":443") {
						t.Errorf("a flood endpoint is ESTABLISHED: %s", l)
					}
				}
			}
			if established != 2000 {
				t.Errorf("%d ESTABLISHED endpoints, want the 2,000 of the real connections", established)
			}
		})
	}
}
