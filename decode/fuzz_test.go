package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket/layers"
	"github.com/tcptrack/tcptrack/tracker"
)

// pcapsSeeds returns the project's recorded captures, to seed the fuzzers
// with what the kernel really sends.
func pcapsSeeds(t testing.TB) map[string][]byte {
	paths, _ := filepath.Glob("../pcaps/*.pcap*")
	seeds := map[string][]byte{}
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			seeds[p] = b
		}
	}
	return seeds
}

func FuzzDecode(f *testing.F) {
	for _, fr := range benchFrames(f) {
		f.Add(uint16(fr.LinkType), fr.Data, uint16(0))
	}
	v4, v6 := ipv4Packet(f), ipv6Packet(f, layers.IPProtocolIPv6HopByHop, cat(extHdr(layers.IPProtocolIPv6Fragment, 0), fragHdr(layers.IPProtocolTCP, 0, true)))
	f.Add(uint16(LinkRaw), v6, uint16(0))
	f.Add(uint16(LinkLinuxSLL), sll(0x8100, cat([]byte{0, 7, 0x86, 0xdd}, v6)), uint16(0))
	f.Add(uint16(LinkNull), null(binary.LittleEndian, 2, v4), uint16(0))
	f.Add(uint16(LinkLoop), null(binary.BigEndian, 24, v6), uint16(0))
	f.Add(uint16(LinkIPv4), v4[:40], uint16(len(v4)-40))
	f.Add(uint16(LinkEthernet), ether(f, layers.EthernetTypeIPv4, []uint16{1, 2, 3}, v4), uint16(0))
	for _, c := range tunnelCases(f) {
		f.Add(uint16(c.link), c.data, uint16(0))
	}
	for _, file := range pcapsSeeds(f) {
		s, err := NewReader("seed", io.NopCloser(bytes.NewReader(file)))
		if err != nil {
			continue
		}
		var fr Frame
		for i := 0; i < 50 && s.Next(&fr) == nil; i++ {
			f.Add(uint16(fr.LinkType), bytes.Clone(fr.Data), uint16(fr.WireLen-fr.CaptureLen))
		}
	}
	f.Fuzz(func(t *testing.T, link uint16, data []byte, cut uint16) {
		fr := &Frame{Data: data, CaptureLen: len(data), WireLen: len(data) + int(cut), LinkType: LinkType(link)}
		d := NewDecoder()
		d.VerifyChecksums = cut%2 == 1
		var seg, again tracker.Segment
		err := d.Decode(fr, &seg)
		var re *ReasonError
		switch {
		case err == nil:
			if int(seg.PayloadLen) > fr.WireLen {
				t.Fatalf("payload %d longer than the frame's %d bytes on the wire", seg.PayloadLen, fr.WireLen)
			}
			if !seg.Src.IsValid() || !seg.Dst.IsValid() {
				t.Fatalf("decoded segment without addresses: %+v", seg)
			}
		case !errors.As(err, &re) || re.Reason >= NumReasons:
			t.Fatalf("error %v is not a known reason", err)
		case errors.Is(err, ErrMalformed) == errors.Is(err, ErrNotTCP):
			t.Fatalf("error %v must match exactly one of ErrMalformed, ErrNotTCP", err)
		}
		accounted(t, d.Stats(), 1)
		// Decoding is a function of the frame alone: a fresh decoder
		// says the same. (The same decoder would take a fragment again
		// as a duplicate.)
		d2 := NewDecoder()
		d2.VerifyChecksums = d.VerifyChecksums
		if err2 := d2.Decode(fr, &again); err2 != err || err == nil && again != seg {
			t.Fatalf("second decode differs: %v %+v, first %v %+v", err2, again, err, seg)
		}
		d.Decode(fr, &again)
		accounted(t, d.Stats(), 2)
		if fr.LinkType == LinkEthernet && len(data) >= 14 {
			sameAsWalk(t, fr)
		}
	})
}

// accounted checks that the stats count each of frames frames once: as a
// segment, under a reason, or held.
func accounted(t *testing.T, s Stats, frames uint64) {
	t.Helper()
	var skipped uint64
	for _, n := range s.Skipped {
		skipped += n
	}
	if s.Frames != frames || s.Segments+skipped+s.Held != frames {
		t.Fatalf("stats %+v do not account for exactly %d frames", s, frames)
	}
}

func FuzzOpenFile(f *testing.F) {
	recs := testRecs(LinkEthernet)
	f.Add(pcapBytes(binary.LittleEndian, false, 65535, LinkEthernet, recs))
	f.Add(pcapBytes(binary.BigEndian, true, 0, LinkRaw, recs))
	ngf := (&ng{order: binary.BigEndian}).shb().idb(LinkLinuxSLL2, 0, 0x80|10, 0).idb(LinkNull, 0, 3, 100)
	ngf.block(4, make([]byte, 8)).epb(1, 12345, recs[0]).block(blockSPB, []byte{0, 0, 0, 4, 1, 2, 3, 4}).epb(0, 1, recs[1])
	f.Add(ngf.b.Bytes())
	f.Add(gz(f, ngf.b.Bytes()))
	f.Add(gz(f, pcapBytes(binary.LittleEndian, false, 0, LinkEthernet, recs))[:50])
	for _, file := range pcapsSeeds(f) {
		f.Add(file[:min(len(file), 4096)])
	}
	f.Fuzz(func(t *testing.T, file []byte) {
		s, err := NewReader("fuzz.cap", io.NopCloser(bytes.NewReader(file)))
		var fr Frame
		for n := uint64(1); err == nil; n++ {
			if err = s.Next(&fr); err != nil {
				break
			}
			if fr.Number != n || len(fr.Data) != fr.CaptureLen || fr.CaptureLen > fr.WireLen || fr.CaptureLen > maxRecord {
				t.Fatalf("frame %d: number %d, %d bytes, CaptureLen %d, WireLen %d", n, fr.Number, len(fr.Data), fr.CaptureLen, fr.WireLen)
			}
		}
		if err == io.EOF {
			return
		}
		known := false
		for _, sentinel := range []error{ErrEmpty, ErrBadMagic, ErrTruncated, ErrCorrupt} {
			known = known || errors.Is(err, sentinel)
		}
		if !known || !strings.HasPrefix(err.Error(), "fuzz.cap: ") {
			t.Fatalf("error %q: want a sentinel error naming the file", err)
		}
	})
}
