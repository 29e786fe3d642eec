package decode

import (
	"encoding/binary"
	"io"
	"math/bits"
)

// pcapReader reads the classic libpcap format.
// https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html
type pcapReader struct {
	*reader
	be      bool   // header fields are big-endian
	nano    bool   // timestamps count nanoseconds, not microseconds
	snaplen int64  // 0: unknown (some writers leave it zero)
	limit   uint32 // the longest record that is not an error: maxRecord or the snaplen
	link    LinkType
}

const (
	pcapMagicMicro = 0xa1b2c3d4
	pcapMagicNano  = 0xa1b23c4d
)

func (p *pcapReader) u32(b []byte) uint32 {
	if p.be {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (p *pcapReader) readHeader() error {
	hdr, err := p.buf.peek(24)
	magic := binary.LittleEndian.Uint32(hdr[:4]) // peek(4) succeeded before
	switch magic {
	case pcapMagicMicro, pcapMagicNano:
	default:
		magic = binary.BigEndian.Uint32(hdr[:4])
		if magic != pcapMagicMicro && magic != pcapMagicNano {
			return p.errorf(ErrBadMagic, "file header: magic % x", hdr[:4])
		}
		p.be = true
	}
	p.nano = magic == pcapMagicNano
	if len(hdr) < 24 {
		return p.readError("file header", len(hdr), 24, err)
	}
	if major := p.u16(hdr[4:]); major != 2 {
		return p.errorf(ErrCorrupt, "file header: pcap version %d.%d, want 2.x", major, p.u16(hdr[6:]))
	}
	p.snaplen = int64(p.u32(hdr[16:]))
	p.limit = maxRecord
	if p.snaplen > 0 {
		p.limit = uint32(min(p.snaplen, maxRecord))
	}
	// The upper bits of the link type field carry FCS information, which
	// does not matter here: the decoder goes by the IP length fields.
	p.link = LinkType(p.u32(hdr[20:]))
	p.buf.discard(24)
	return nil
}

func (p *pcapReader) u16(b []byte) uint16 {
	if p.be {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

// Next reads the next record. f.Data points into the reader's buffer and is
// valid until the next call.
//
// The common case, a good record wholly in the buffer, is checked with three
// comparisons and filled in place; everything else goes to fill, which
// either reports the error or brings the record into the buffer and comes
// back here, so that one piece of code fills frames. f is filled field by
// field: assigning a whole Frame literal through f builds it on the stack
// and copies it with 16-byte moves that stall on the 8-byte stores just
// made (a third of this function's time in a profile).
func (p *pcapReader) Next(f *Frame) error {
	for {
		b := p.buf
		rest := b.buf[b.start:b.end]
		if len(rest) >= 16 {
			stamp, lens := p.recordHeader((*[16]byte)(rest))
			caplen, wirelen := uint32(lens), uint32(lens>>32)
			if caplen <= p.limit && caplen <= wirelen && int(caplen) <= len(rest)-16 {
				frac := int64(stamp >> 32)
				if !p.nano {
					frac *= 1000
				}
				// The reader's own fields are read and written before
				// f's: the compiler cannot tell that f is elsewhere, and
				// after a store through f it loads them again.
				num, link, n := p.n+1, p.link, int(caplen)
				p.n = num
				b.discard(16 + n)
				// Data's capacity ends with the frame, so that an
				// append copies instead of writing over the next record.
				f.Data = rest[16 : 16+n : 16+n]
				f.UnixNano = int64(uint32(stamp))*1e9 + frac
				f.CaptureLen = n
				f.WireLen = int(wirelen)
				f.LinkType = link
				f.Number = num
				return nil
			}
		}
		if err := p.fill(); err != nil {
			return err
		}
	}
}

// recordHeader reads a record header as two words: the timestamp (seconds
// in the low half, the fraction in the high half) and the lengths (captured
// in the low half, on the wire in the high half). Two 8-byte loads and, for
// the other byte order, one swap of both words cost less than four loads
// that each test the byte order.
func (p *pcapReader) recordHeader(h *[16]byte) (stamp, lens uint64) {
	stamp, lens = binary.LittleEndian.Uint64(h[:8]), binary.LittleEndian.Uint64(h[8:])
	if p.be {
		// Reversing the eight bytes swaps the bytes of each half and the
		// halves; rotating by 32 puts the halves back.
		stamp = bits.RotateLeft64(bits.ReverseBytes64(stamp), 32)
		lens = bits.RotateLeft64(bits.ReverseBytes64(lens), 32)
	}
	return stamp, lens
}

// fill is Next's slow path, for a record that straddles the end of the
// buffer, the end of the file, or a bad record: it makes the checks in the
// order that picks the error, and on success leaves the whole record in the
// buffer, where Next finds it.
func (p *pcapReader) fill() error {
	hdr, err := p.buf.peek(16)
	if len(hdr) < 16 {
		if len(hdr) == 0 && err == io.EOF {
			return io.EOF
		}
		return p.readError("record header", len(hdr), 16, err)
	}
	_, lens := p.recordHeader((*[16]byte)(hdr))
	caplen, wirelen := int64(uint32(lens)), int64(lens>>32)
	switch {
	case caplen > maxRecord:
		return p.errorf(ErrCorrupt, "record length %d is absurd (limit %d)", caplen, maxRecord)
	case p.snaplen > 0 && caplen > p.snaplen:
		return p.errorf(ErrCorrupt, "record length %d beyond the file's snaplen %d", caplen, p.snaplen)
	case wirelen < caplen:
		return p.errorf(ErrCorrupt, "record length %d beyond its wire length %d", caplen, wirelen)
	}
	rec, err := p.buf.peek(16 + int(caplen))
	if len(rec) < 16+int(caplen) {
		return p.readError("record", len(rec), 16+int(caplen), err)
	}
	return nil
}
