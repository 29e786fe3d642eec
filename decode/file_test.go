package decode

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// rec is one record to write and the frame expected back.
type rec struct {
	time time.Time
	data []byte
	wire int // 0: len(data)
	link LinkType
}

func (r rec) wireLen() int {
	if r.wire == 0 {
		return len(r.data)
	}
	return r.wire
}

// testRecs are frames with distinct contents, lengths and timestamps, one
// cut by the snaplen.
func testRecs(link LinkType) []rec {
	t0 := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	return []rec{
		{time: t0.Add(1 * time.Microsecond), data: []byte("first frame.."), link: link},
		{time: t0.Add(2*time.Second + 999999*time.Microsecond), data: bytes.Repeat([]byte{0xab}, 64), wire: 1514, link: link},
		{time: t0.Add(3 * time.Second), data: []byte{1, 2, 3}, link: link},
	}
}

// pcapBytes writes a classic pcap file by hand, in either byte order.
func pcapBytes(order binary.ByteOrder, nano bool, snaplen uint32, link LinkType, recs []rec) []byte {
	var b bytes.Buffer
	magic := uint32(0xa1b2c3d4)
	if nano {
		magic = 0xa1b23c4d
	}
	binary.Write(&b, order, []uint32{magic})
	binary.Write(&b, order, []uint16{2, 4})
	binary.Write(&b, order, []uint32{0, 0, snaplen, uint32(link)})
	for _, r := range recs {
		frac := uint32(r.time.Nanosecond())
		if !nano {
			frac /= 1000
		}
		binary.Write(&b, order, []uint32{uint32(r.time.Unix()), frac, uint32(len(r.data)), uint32(r.wireLen())})
		b.Write(r.data)
	}
	return b.Bytes()
}

// ng builds pcapng blocks by hand (draft-ietf-opsawg-pcapng).
type ng struct {
	order binary.ByteOrder
	b     bytes.Buffer
}

func (n *ng) block(typ uint32, body []byte) *ng {
	pad := (4 - len(body)%4) % 4
	l := uint32(12 + len(body) + pad)
	binary.Write(&n.b, n.order, []uint32{typ, l})
	n.b.Write(body)
	n.b.Write(make([]byte, pad))
	binary.Write(&n.b, n.order, l)
	return n
}

func (n *ng) shb() *ng {
	var b bytes.Buffer
	binary.Write(&b, n.order, uint32(0x1a2b3c4d))
	binary.Write(&b, n.order, []uint16{1, 0})
	binary.Write(&b, n.order, int64(-1))
	return n.block(blockSHB, b.Bytes())
}

// idb adds an interface; tsresol 0 leaves the option out (microseconds).
func (n *ng) idb(link LinkType, snaplen uint32, tsresol byte, tsoffset int64) *ng {
	var b bytes.Buffer
	binary.Write(&b, n.order, []uint16{uint16(link), 0})
	binary.Write(&b, n.order, snaplen)
	if tsresol != 0 {
		binary.Write(&b, n.order, []uint16{9, 1})
		b.Write([]byte{tsresol, 0, 0, 0})
	}
	if tsoffset != 0 {
		binary.Write(&b, n.order, []uint16{14, 8})
		binary.Write(&b, n.order, tsoffset)
	}
	binary.Write(&b, n.order, []uint16{0, 0})
	return n.block(blockIDB, b.Bytes())
}

func (n *ng) epb(iface uint32, ts uint64, r rec) *ng {
	var b bytes.Buffer
	binary.Write(&b, n.order, []uint32{iface, uint32(ts >> 32), uint32(ts), uint32(len(r.data)), uint32(r.wireLen())})
	b.Write(r.data)
	return n.block(blockEPB, b.Bytes())
}

func gz(t testing.TB, b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// readAll reads every frame, copying the data, until the first error.
func readAll(s Source) ([]rec, []uint64, error) {
	var (
		got  []rec
		nums []uint64
		f    Frame
	)
	for {
		last := f
		err := s.Next(&f)
		if err != nil && !sameFrame(&f, &last) {
			return got, nums, fmt.Errorf("Next changed the frame when it failed with %w", err)
		}
		if err == io.EOF {
			return got, nums, nil
		}
		if err != nil {
			return got, nums, err
		}
		if f.CaptureLen != len(f.Data) {
			return got, nums, fmt.Errorf("frame %d: CaptureLen %d, len(Data) %d", f.Number, f.CaptureLen, len(f.Data))
		}
		// An append to Data must copy, not write over the next frame.
		if cap(f.Data) != len(f.Data) {
			return got, nums, fmt.Errorf("frame %d: cap(Data) %d beyond len %d", f.Number, cap(f.Data), len(f.Data))
		}
		r := rec{time: time.Unix(0, f.UnixNano), data: append([]byte(nil), f.Data...), link: f.LinkType}
		if f.WireLen != len(f.Data) {
			r.wire = f.WireLen
		}
		got = append(got, r)
		nums = append(nums, f.Number)
	}
}

// sameFrame reports whether a and b are the same, Data by its slice header:
// after Next the bytes it pointed to may have been overwritten.
func sameFrame(a, b *Frame) bool {
	return unsafe.SliceData(a.Data) == unsafe.SliceData(b.Data) && len(a.Data) == len(b.Data) && cap(a.Data) == cap(b.Data) &&
		a.UnixNano == b.UnixNano && a.CaptureLen == b.CaptureLen && a.WireLen == b.WireLen && a.LinkType == b.LinkType && a.Number == b.Number
}

func checkRecs(t *testing.T, got []rec, nums []uint64, want []rec) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("read %d frames, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if !g.time.Equal(w.time) || !bytes.Equal(g.data, w.data) || g.wireLen() != w.wireLen() || g.link != w.link || nums[i] != uint64(i+1) {
			t.Errorf("frame %d: got %v %x wire %d link %v number %d\nwant %v %x wire %d link %v number %d",
				i, g.time, g.data, g.wireLen(), g.link, nums[i], w.time, w.data, w.wireLen(), w.link, i+1)
		}
	}
}

// manyRecs are n frames of lengths 1 to 1514 in no order, so that files of
// them outgrow the read buffer and records straddle its refills.
func manyRecs(n int, link LinkType) []rec {
	t0 := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	recs := make([]rec, n)
	for i := range recs {
		data := make([]byte, 1+i*7919%1514)
		for j := range data {
			data[j] = byte(i + j)
		}
		recs[i] = rec{time: t0.Add(time.Duration(i) * 1234567 * time.Nanosecond).Truncate(time.Microsecond), data: data, link: link}
		if i%3 == 0 {
			recs[i].wire = len(data) + i%100 + 1
		}
	}
	return recs
}

// pcapgoFile writes recs with gopacket's pcapgo writer, an implementation
// independent of the reader under test.
func pcapgoFile(t testing.TB, nano bool, link layers.LinkType, recs []rec) []byte {
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	if nano {
		w = pcapgo.NewWriterNanos(&b)
	}
	if err := w.WriteFileHeader(65535, link); err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		ci := gopacket.CaptureInfo{Timestamp: r.time, CaptureLength: len(r.data), Length: r.wireLen()}
		if err := w.WritePacket(ci, r.data); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func TestReadFormats(t *testing.T) {
	eth := testRecs(LinkEthernet)
	nanoRecs := testRecs(LinkRaw)
	nanoRecs[0].time = nanoRecs[0].time.Add(7 * time.Nanosecond)

	// pcapng by gopacket's writer: two interfaces, two link types, micro-
	// and nanosecond resolution, packets interleaved.
	var ngb bytes.Buffer
	w, err := pcapgo.NewNgWriterInterface(&ngb, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet, SnapLength: 65535, TimestampResolution: 6},
		pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "tcptrack test"}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := w.AddInterface(pcapgo.NgInterface{Name: "tun0", LinkType: layers.LinkTypeRaw, SnapLength: 65535, TimestampResolution: 9})
	if err != nil {
		t.Fatal(err)
	}
	mixed := []rec{eth[0], nanoRecs[0], eth[1], nanoRecs[2]}
	for i, r := range mixed {
		ci := gopacket.CaptureInfo{Timestamp: r.time, CaptureLength: len(r.data), Length: r.wireLen()}
		if i%2 == 1 {
			ci.InterfaceIndex = raw
		}
		if err := w.WritePacket(ci, r.data); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()

	// Several read buffers' worth, by gopacket's writers too.
	many := manyRecs(3000, LinkEthernet)
	var manyNg bytes.Buffer
	mw, err := pcapgo.NewNgWriter(&manyNg, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range many {
		if err := mw.WritePacket(gopacket.CaptureInfo{Timestamp: r.time, CaptureLength: len(r.data), Length: r.wireLen()}, r.data); err != nil {
			t.Fatal(err)
		}
	}
	mw.Flush()

	// pcapng by hand, big-endian: resolutions 2^-10 and 10^-3 with an
	// offset, a block to skip, and a second section whose interfaces
	// replace the first's.
	t0 := time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)
	be := &ng{order: binary.BigEndian}
	be.shb().idb(LinkLinuxSLL2, 0, 0x80|10, 0).idb(LinkNull, 0, 3, 100)
	be.block(4, make([]byte, 8)) // name resolution block, skipped
	be.epb(0, uint64(t0.Unix())<<10|512, rec{data: []byte("binary")})
	be.epb(1, uint64(t0.Unix()-100)*1000+5, rec{data: []byte("milli"), wire: 99})
	be.shb().idb(LinkLoop, 0, 9, 0)
	be.epb(0, uint64(t0.UnixNano()+1), rec{data: []byte("nano")})
	beWant := []rec{
		{time: t0.Add(500 * time.Millisecond), data: []byte("binary"), link: LinkLinuxSLL2},
		{time: t0.Add(5 * time.Millisecond), data: []byte("milli"), wire: 99, link: LinkNull},
		{time: t0.Add(1), data: []byte("nano"), link: LinkLoop},
	}

	tests := []struct {
		name string
		file []byte
		want []rec
	}{
		{"pcap little-endian micro (pcapgo)", pcapgoFile(t, false, layers.LinkTypeEthernet, eth), eth},
		{"pcap little-endian nano (pcapgo)", pcapgoFile(t, true, layers.LinkTypeRaw, nanoRecs), nanoRecs},
		{"pcap big-endian micro", pcapBytes(binary.BigEndian, false, 65535, LinkEthernet, eth), eth},
		{"pcap big-endian nano", pcapBytes(binary.BigEndian, true, 0, LinkRaw, nanoRecs), nanoRecs},
		{"pcap sll2 link type", pcapBytes(binary.LittleEndian, false, 262144, LinkLinuxSLL2, testRecs(LinkLinuxSLL2)), testRecs(LinkLinuxSLL2)},
		{"pcapng two interfaces (pcapgo)", ngb.Bytes(), mixed},
		{"pcapng big-endian sections and resolutions", be.b.Bytes(), beWant},
		{"pcap.gz", gz(t, pcapgoFile(t, false, layers.LinkTypeEthernet, eth)), eth},
		{"pcapng.gz", gz(t, ngb.Bytes()), mixed},
		{"gzip of two members", append(gz(t, pcapBytes(binary.LittleEndian, false, 0, LinkEthernet, eth)[:30]), gz(t, pcapBytes(binary.LittleEndian, false, 0, LinkEthernet, eth)[30:])...), eth},
		{"pcap with no records", pcapBytes(binary.LittleEndian, false, 0, LinkEthernet, nil), nil},
		{"pcap over several read buffers (pcapgo)", pcapgoFile(t, false, layers.LinkTypeEthernet, many), many},
		{"pcap big-endian over several read buffers", pcapBytes(binary.BigEndian, true, 1514, LinkEthernet, many), many},
		{"pcapng over several read buffers (pcapgo)", manyNg.Bytes(), many},
		{"pcap.gz over several read buffers", gz(t, pcapgoFile(t, true, layers.LinkTypeEthernet, many)), many},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewReader("test.cap", io.NopCloser(bytes.NewReader(tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			got, nums, err := readAll(s)
			if err != nil {
				t.Fatal(err)
			}
			checkRecs(t, got, nums, tt.want)
		})
	}
}

func TestReadCorrupt(t *testing.T) {
	eth := testRecs(LinkEthernet)
	good := pcapBytes(binary.LittleEndian, false, 65535, LinkEthernet, eth)
	const hdr = 24 // pcap file header
	rec1 := hdr + 16 + len(eth[0].data)
	rec2 := rec1 + 16 + len(eth[1].data)
	setLen := func(b []byte, at int, caplen uint32) []byte {
		binary.LittleEndian.PutUint32(b[at+8:], caplen)
		return b
	}
	ngHead := func() *ng { return (&ng{order: binary.LittleEndian}).shb().idb(LinkEthernet, 65535, 0, 0) }
	ng2 := ngHead().epb(0, 1, eth[0]).epb(0, 2, eth[2]).b.Bytes()
	ngAt := len(ngHead().epb(0, 1, eth[0]).b.Bytes()) // offset of the second packet block
	corruptGz := gz(t, good)
	corruptGz[len(corruptGz)/2] ^= 0xff

	tests := []struct {
		name   string
		file   []byte
		want   error
		frames int    // frames returned before the error
		msg    string // the error names this
	}{
		{"empty", nil, ErrEmpty, 0, "test.cap: empty file"},
		{"bad magic", []byte("GET / HTTP/1.1\r\n\r\n and more text"), ErrBadMagic, 0, "test.cap: packet 1 (offset 0)"},
		{"three bytes", []byte{0xd4, 0xc3, 0xb2}, ErrTruncated, 0, "test.cap: packet 1 (offset 0)"},
		{"file header cut", good[:10], ErrTruncated, 0, "file header"},
		{"pcap version 3", func() []byte { b := bytes.Clone(good); b[4] = 3; return b }(), ErrCorrupt, 0, "version 3"},
		{"truncated last record", good[:len(good)-1], ErrTruncated, 2, fmt.Sprintf("test.cap: packet 3 (offset %d)", rec2)},
		{"record header cut", good[:rec2+7], ErrTruncated, 2, "packet 3"},
		{"record beyond snaplen", setLen(bytes.Clone(good), rec1, 65536), ErrCorrupt, 1, fmt.Sprintf("packet 2 (offset %d): corrupt capture: record length 65536 beyond the file's snaplen 65535", rec1)},
		{"absurd record, no snaplen", setLen(pcapBytes(binary.LittleEndian, false, 0, LinkEthernet, eth), rec1, 1<<30), ErrCorrupt, 1, "absurd"},
		{"record longer than on the wire", setLen(bytes.Clone(good), hdr, uint32(len(eth[0].data)+1)), ErrCorrupt, 0, "beyond its wire length"},
		{"garbage in the middle", append(bytes.Clone(good[:rec2]), bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 20)...), ErrCorrupt, 2, "packet 3"},
		{"gzip cut in the middle", gz(t, good)[:40], ErrTruncated, 0, "test.cap: packet"},
		{"gzip cut after the first record", func() []byte {
			// Flush after each record so that the cut falls between
			// records in the compressed stream.
			var out bytes.Buffer
			w := gzip.NewWriter(&out)
			w.Write(good[:rec1])
			w.Flush()
			n := out.Len()
			w.Write(good[rec1:])
			w.Close()
			return out.Bytes()[:n]
		}(), ErrTruncated, 1, "decompressed offset"},
		{"gzip damaged", corruptGz, ErrCorrupt, -1, "test.cap"},
		{"pcapng block length not a multiple of 4", func() []byte { b := bytes.Clone(ng2); binary.LittleEndian.PutUint32(b[ngAt+4:], 37); return b }(), ErrCorrupt, 1, fmt.Sprintf("packet 2 (offset %d)", ngAt)},
		{"pcapng block length under 12", func() []byte { b := bytes.Clone(ng2); binary.LittleEndian.PutUint32(b[ngAt+4:], 8); return b }(), ErrCorrupt, 1, "bad block length 8"},
		{"pcapng trailing length differs", func() []byte { b := bytes.Clone(ng2); b[len(b)-4]++; return b }(), ErrCorrupt, 1, "trailing length"},
		{"pcapng block past the end", ng2[:len(ng2)-8], ErrTruncated, 1, "packet 2"},
		{"pcapng absurd block", func() []byte { b := bytes.Clone(ng2); binary.LittleEndian.PutUint32(b[ngAt+4:], 1<<30); return b }(), ErrCorrupt, 1, "absurd"},
		{"pcapng skipped block trailer differs", func() []byte {
			n := ngHead().block(4, make([]byte, 8))
			b := n.b.Bytes()
			b[len(b)-4]++
			return b
		}(), ErrCorrupt, 0, "trailing block length"},
		{"pcapng of too many interfaces", func() []byte {
			n := ngHead()
			for range maxInterfaces {
				n.idb(LinkEthernet, 65535, 0, 0)
			}
			return gz(t, n.b.Bytes())
		}(), ErrCorrupt, 0, "more than 65536 interfaces"},
		{"pcapng packet before interface", (&ng{order: binary.LittleEndian}).shb().epb(0, 1, eth[0]).b.Bytes(), ErrCorrupt, 0, "interface 0, only 0 described"},
		{"pcapng unknown interface", ngHead().epb(0, 1, eth[0]).epb(3, 1, eth[0]).b.Bytes(), ErrCorrupt, 1, "packet 2"},
		{"pcapng bad byte-order magic", func() []byte { b := bytes.Clone(ng2); b[8] = 0; return b }(), ErrBadMagic, 0, "byte-order magic"},
		{"pcapng captured length past its block", func() []byte { b := bytes.Clone(ng2); binary.LittleEndian.PutUint32(b[ngAt+8+12:], 200); return b }(), ErrCorrupt, 1, "runs past its block"},
		{"pcapng if_tsresol 10^-20", (&ng{order: binary.LittleEndian}).shb().idb(LinkEthernet, 0, 20, 0).b.Bytes(), ErrCorrupt, 0, "if_tsresol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewReader("test.cap", io.NopCloser(bytes.NewReader(tt.file)))
			var got []rec
			if err == nil {
				got, _, err = readAll(s)
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if tt.frames >= 0 && len(got) != tt.frames {
				t.Errorf("%d frames before the error, want %d", len(got), tt.frames)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not contain %q", err, tt.msg)
			}
		})
	}
}

func TestOpenFile(t *testing.T) {
	dir := t.TempDir()
	file := pcapBytes(binary.LittleEndian, false, 0, LinkEthernet, testRecs(LinkEthernet))

	t.Run("missing", func(t *testing.T) {
		_, err := OpenFile(filepath.Join(dir, "nope.pcap"))
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "nope.pcap") {
			t.Errorf("error %v, want fs.ErrNotExist naming the file", err)
		}
	})
	t.Run("directory", func(t *testing.T) {
		_, err := OpenFile(dir)
		if !errors.Is(err, ErrIsDir) || !strings.Contains(err.Error(), dir) {
			t.Errorf("error %v, want ErrIsDir naming the directory", err)
		}
	})
	t.Run("gzip file by content, not name", func(t *testing.T) {
		p := filepath.Join(dir, "capture.pcap")
		os.WriteFile(p, gz(t, file), 0o644)
		s, err := OpenFile(p)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		got, nums, err := readAll(s)
		if err != nil {
			t.Fatal(err)
		}
		checkRecs(t, got, nums, testRecs(LinkEthernet))
	})
	t.Run("fifo", func(t *testing.T) {
		p := filepath.Join(dir, "fifo")
		if err := syscall.Mkfifo(p, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		go func() {
			w, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				return
			}
			// Dribble the file in small writes: the reader must not
			// need it all at once.
			for b := file; len(b) > 0; b = b[min(7, len(b)):] {
				w.Write(b[:min(7, len(b))])
			}
			w.Close()
		}()
		s, err := OpenFile(p)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		got, nums, err := readAll(s)
		if err != nil {
			t.Fatal(err)
		}
		checkRecs(t, got, nums, testRecs(LinkEthernet))
	})
	t.Run("stdin", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		old := os.Stdin
		os.Stdin = r
		t.Cleanup(func() { os.Stdin = old; r.Close() })
		go func() { w.Write(file[:len(file)-2]); w.Close() }()
		s, err := OpenFile("-")
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := readAll(s)
		if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "stdin: packet 3") || len(got) != 2 {
			t.Errorf("got %d frames and %v, want 2 frames then ErrTruncated naming stdin and packet 3", len(got), err)
		}
	})
}

// bigFile is a capture of n copies of frame.
func bigFile(n int, frame []byte, ngFormat bool) []byte {
	r := rec{time: time.Unix(1e9, 0), data: frame}
	if ngFormat {
		b := (&ng{order: binary.LittleEndian}).shb().idb(LinkEthernet, 0, 0, 0)
		for i := range n {
			b.epb(0, uint64(i), r)
		}
		return b.b.Bytes()
	}
	return pcapBytes(binary.LittleEndian, false, 0, LinkEthernet, func() []rec {
		rs := make([]rec, n)
		for i := range rs {
			rs[i] = r
		}
		return rs
	}())
}

func TestReadAllocations(t *testing.T) {
	frame := ether(t, layers.EthernetTypeIPv4, nil, ipv4Packet(t))
	for _, ngFormat := range []bool{false, true} {
		s, err := NewReader("alloc.cap", io.NopCloser(bytes.NewReader(bigFile(3000, frame, ngFormat))))
		if err != nil {
			t.Fatal(err)
		}
		var f Frame
		if n := testing.AllocsPerRun(2000, func() {
			if err := s.Next(&f); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Errorf("pcapng %v: %v allocations per Next, want 0", ngFormat, n)
		}
	}
}

func benchmarkRead(b *testing.B, ngFormat, gzipped bool) {
	frame := ether(b, layers.EthernetTypeIPv4, nil, ipv4Packet(b))
	file := bigFile(10000, frame, ngFormat)
	if gzipped {
		file = gz(b, file)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	var (
		s Source
		f Frame
	)
	for b.Loop() {
		if s == nil {
			var err error
			if s, err = NewReader("bench.cap", io.NopCloser(bytes.NewReader(file))); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Next(&f); err == io.EOF {
			s = nil
		} else if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadPcap(b *testing.B)     { benchmarkRead(b, false, false) }
func BenchmarkReadPcapng(b *testing.B)   { benchmarkRead(b, true, false) }
func BenchmarkReadPcapGzip(b *testing.B) { benchmarkRead(b, false, true) }

// TestPcapngTime converts pcapng timestamps by hand-worked examples: the
// common resolutions, a binary one, if_tsoffset, and corrupt values beyond
// what int64 nanoseconds hold, which must clamp rather than wrap around.
func TestPcapngTime(t *testing.T) {
	const maxNs = maxSec * int64(time.Second)
	for _, c := range []struct {
		units  uint64
		offset int64
		ts     uint64
		want   int64
	}{
		{1e6, 0, 1_763_712_000_123_456, 1_763_712_000_123_456_000},
		{1e9, 0, 1_763_712_000_123_456_789, 1_763_712_000_123_456_789},
		{1 << 10, 0, 3<<10 | 512, 3_500_000_000},    // 3.5 s in 1/1024 s units
		{1e6, 100, 1_500_000, 101_500_000_000},      // offset in seconds
		{1e6, -2, 1_000_000, -1_000_000_000},        // before the epoch
		{1, 0, math.MaxUint64, maxNs},               // year 584 billion
		{1e6, math.MaxInt64, 1_000_000, maxNs},      // offset past the range
		{1e6, math.MinInt64, 0, -maxNs},             // and before it
		{1e9, 0, math.MaxUint64, maxNs + 709551615}, // the fraction is kept
	} {
		in := ngIface{units: c.units, offset: c.offset}
		if got := in.time(c.ts); got != c.want {
			t.Errorf("units %d offset %d: time(%d) = %d, want %d", c.units, c.offset, c.ts, got, c.want)
		}
	}
}
