package decode

import (
	"encoding/binary"
	"io"
	"time"
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
// comparisons and filled field by field: assigning a whole Frame literal
// through f builds it on the stack and copies it with 16-byte moves that
// stall on the 8-byte stores just made (a third of this function's time in
// a profile).
func (p *pcapReader) Next(f *Frame) error {
	b := p.buf
	if rest := b.buf[b.start:b.end]; len(rest) >= 16 {
		caplen, wirelen := p.u32(rest[8:]), p.u32(rest[12:])
		if caplen <= p.limit && caplen <= wirelen && int(caplen) <= len(rest)-16 {
			p.frame(f, rest, int(caplen), int(wirelen))
			return nil
		}
	}
	return p.next(f)
}

// next is Next's slow path: a record that straddles the end of the buffer,
// the end of the file, or a bad record, with the checks in the order that
// picks the error.
func (p *pcapReader) next(f *Frame) error {
	hdr, err := p.buf.peek(16)
	if len(hdr) < 16 {
		if len(hdr) == 0 && err == io.EOF {
			return io.EOF
		}
		return p.readError("record header", len(hdr), 16, err)
	}
	caplen := int64(p.u32(hdr[8:]))
	wirelen := int64(p.u32(hdr[12:]))
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
	p.frame(f, rec, int(caplen), int(wirelen))
	return nil
}

// frame fills f from the record at the start of rec and consumes it. Data's
// capacity ends with the frame, so that an append copies instead of writing
// over the next record.
func (p *pcapReader) frame(f *Frame, rec []byte, caplen, wirelen int) {
	sec, frac := int64(p.u32(rec)), int64(p.u32(rec[4:]))
	if !p.nano {
		frac *= 1000
	}
	p.n++
	f.Data = rec[16 : 16+caplen : 16+caplen]
	f.Time = time.Unix(sec, frac).UTC()
	f.CaptureLen = caplen
	f.WireLen = wirelen
	f.LinkType = p.link
	f.Number = p.n
	p.buf.discard(16 + caplen)
}
