package decode

import (
	"encoding/binary"
	"io"
	"math"
	"math/bits"
	"time"
)

// ngReader reads pcapng: sections, each with its own byte order and its own
// interfaces, each interface with its own link type, snaplen and timestamp
// resolution. https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-03.html
type ngReader struct {
	*reader
	be     bool // byte order of the current section
	ifaces []ngIface
	last   int64 // timestamp of the previous packet, for Simple Packet Blocks
}

type ngIface struct {
	link    LinkType
	snaplen int64
	units   uint64 // timestamp units per second
	offset  int64  // if_tsoffset: seconds added to every timestamp
}

const (
	blockSHB = 0x0a0d0d0a // section header
	blockIDB = 1          // interface description
	blockPB  = 2          // packet (obsolete, still written by old tools)
	blockSPB = 3          // simple packet
	blockEPB = 6          // enhanced packet
)

func (r *ngReader) u16(b []byte) uint16 {
	if r.be {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *ngReader) u32(b []byte) uint32 {
	if r.be {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

// Next reads blocks until the next packet. f.Data points into the reader's
// buffer and is valid until the next call.
func (r *ngReader) Next(f *Frame) error {
	for {
		hdr, err := r.buf.peek(12)
		if len(hdr) == 0 && err == io.EOF {
			return io.EOF
		}
		if len(hdr) < 12 {
			return r.readError("block header", len(hdr), 12, err)
		}
		typ := r.u32(hdr)
		if typ == blockSHB {
			switch binary.BigEndian.Uint32(hdr[8:]) {
			case 0x1a2b3c4d:
				r.be = true
			case 0x4d3c2b1a:
				r.be = false
			default:
				return r.errorf(ErrBadMagic, "section header: byte-order magic % x", hdr[8:12])
			}
		}
		blen := int64(r.u32(hdr[4:]))
		if blen < 12 || blen%4 != 0 {
			return r.errorf(ErrCorrupt, "block type %#x: bad block length %d", typ, blen)
		}
		if !isPacketBlock(typ) && typ != blockSHB && typ != blockIDB {
			if err := r.skipBlock(blen); err != nil {
				return err
			}
			continue
		}
		if blen > maxBlock {
			return r.errorf(ErrCorrupt, "block type %#x: block length %d is absurd (limit %d)", typ, blen, maxBlock)
		}
		blk, err := r.buf.peek(int(blen))
		if int64(len(blk)) < blen {
			return r.readError("block", len(blk), int(blen), err)
		}
		if trail := int64(r.u32(blk[blen-4:])); trail != blen {
			return r.errorf(ErrCorrupt, "block type %#x: trailing length %d differs from leading %d", typ, trail, blen)
		}
		body := blk[8 : blen-4]
		switch typ {
		case blockSHB:
			err = r.section(body)
		case blockIDB:
			err = r.iface(body)
		default:
			var ok bool
			ok, err = r.packet(typ, body, f)
			if ok {
				r.buf.discard(int(blen))
				return nil
			}
		}
		if err != nil {
			return err
		}
		r.buf.discard(int(blen))
	}
}

func isPacketBlock(typ uint32) bool {
	return typ == blockEPB || typ == blockSPB || typ == blockPB
}

// skipBlock streams past a block the reader does not need, checking only that
// its trailing length matches.
func (r *ngReader) skipBlock(blen int64) error {
	start := r.buf.off
	if n, err := r.buf.skip(blen - 4); err != nil {
		return r.readError("block", int(n), int(blen), err)
	}
	t, err := r.buf.peek(4)
	if len(t) < 4 {
		return r.readError("block trailer", len(t), 4, err)
	}
	if trail := int64(r.u32(t)); trail != blen {
		r.buf.off = start // report the block, not its end
		return r.errorf(ErrCorrupt, "trailing block length %d differs from leading %d", trail, blen)
	}
	r.buf.discard(4)
	return nil
}

func (r *ngReader) section(body []byte) error {
	if len(body) < 16 {
		return r.errorf(ErrCorrupt, "section header block too short (%d bytes)", len(body))
	}
	if major := r.u16(body[4:]); major != 1 {
		return r.errorf(ErrCorrupt, "section header: pcapng version %d, want 1", major)
	}
	r.ifaces = r.ifaces[:0]
	return nil
}

// maxInterfaces bounds the interfaces of one section, so that a file of
// nothing but interface blocks (20 bytes each, and they compress to
// nothing) cannot take gigabytes: 65,536 take 2.5 MB, and no capture host
// has that many.
const maxInterfaces = 1 << 16

func (r *ngReader) iface(body []byte) error {
	if len(r.ifaces) >= maxInterfaces {
		return r.errorf(ErrCorrupt, "more than %d interfaces in one section", maxInterfaces)
	}
	if len(body) < 8 {
		return r.errorf(ErrCorrupt, "interface description block too short (%d bytes)", len(body))
	}
	in := ngIface{
		link:    LinkType(r.u16(body)),
		snaplen: int64(r.u32(body[4:])),
		units:   1e6,
	}
	for opts := body[8:]; len(opts) >= 4; {
		code, n := r.u16(opts), int(r.u16(opts[2:]))
		if code == 0 { // opt_endofopt
			break
		}
		if 4+n > len(opts) {
			return r.errorf(ErrCorrupt, "interface %d: option %d runs past its block", len(r.ifaces), code)
		}
		v := opts[4 : 4+n]
		switch {
		case code == 9 && n == 1: // if_tsresol
			if v[0]&0x80 != 0 {
				if v[0]&0x7f > 63 {
					return r.errorf(ErrCorrupt, "interface %d: if_tsresol 2^-%d", len(r.ifaces), v[0]&0x7f)
				}
				in.units = 1 << (v[0] & 0x7f)
			} else {
				if v[0] > 19 {
					return r.errorf(ErrCorrupt, "interface %d: if_tsresol 10^-%d", len(r.ifaces), v[0])
				}
				in.units = 1
				for range v[0] {
					in.units *= 10
				}
			}
		case code == 14 && n == 8: // if_tsoffset
			if r.be {
				in.offset = int64(binary.BigEndian.Uint64(v))
			} else {
				in.offset = int64(binary.LittleEndian.Uint64(v))
			}
		}
		opts = opts[4+(n+3)&^3:]
	}
	r.ifaces = append(r.ifaces, in)
	return nil
}

// packet fills f from a packet block; ok is false for blocks that carry no
// frame.
func (r *ngReader) packet(typ uint32, body []byte, f *Frame) (ok bool, err error) {
	var (
		id              int
		ts              uint64
		caplen, wirelen int64
		data            []byte
		hasTime         = true
	)
	switch typ {
	case blockEPB, blockPB:
		if len(body) < 20 {
			return false, r.errorf(ErrCorrupt, "packet block too short (%d bytes)", len(body))
		}
		if typ == blockEPB {
			id = int(r.u32(body))
		} else {
			id = int(r.u16(body))
		}
		ts = uint64(r.u32(body[4:]))<<32 | uint64(r.u32(body[8:]))
		caplen, wirelen = int64(r.u32(body[12:])), int64(r.u32(body[16:]))
		if caplen > int64(len(body)-20) {
			return false, r.errorf(ErrCorrupt, "captured length %d runs past its block", caplen)
		}
		data = body[20 : 20+caplen]
	case blockSPB:
		if len(body) < 4 {
			return false, r.errorf(ErrCorrupt, "simple packet block too short (%d bytes)", len(body))
		}
		if len(r.ifaces) == 0 {
			return false, r.errorf(ErrCorrupt, "simple packet block before any interface description")
		}
		// A simple packet block has no timestamp and no captured length:
		// the frame is the original length cut at the snaplen and the body.
		wirelen = int64(r.u32(body))
		caplen = min(wirelen, int64(len(body)-4))
		if s := r.ifaces[0].snaplen; s > 0 {
			caplen = min(caplen, s)
		}
		data = body[4 : 4+caplen]
		hasTime = false
	}
	if id >= len(r.ifaces) {
		return false, r.errorf(ErrCorrupt, "packet on interface %d, only %d described", id, len(r.ifaces))
	}
	in := &r.ifaces[id]
	switch {
	case caplen > maxRecord:
		return false, r.errorf(ErrCorrupt, "record length %d is absurd (limit %d)", caplen, maxRecord)
	case in.snaplen > 0 && caplen > in.snaplen:
		return false, r.errorf(ErrCorrupt, "record length %d beyond interface %d's snaplen %d", caplen, id, in.snaplen)
	case wirelen < caplen:
		return false, r.errorf(ErrCorrupt, "record length %d beyond its wire length %d", caplen, wirelen)
	}
	if hasTime {
		r.last = in.time(ts)
	}
	r.n++
	// Field by field, not *f = Frame{...}: see pcapReader.Next. Data's
	// capacity ends with the frame, so that an append copies.
	f.Data = data[:caplen:caplen]
	f.UnixNano = r.last
	f.CaptureLen = int(caplen)
	f.WireLen = int(wirelen)
	f.LinkType = in.link
	f.Number = r.n
	return true, nil
}

// maxSec bounds the seconds of a timestamp so that it fits in int64
// nanoseconds (years 1678 to 2262).
const maxSec = math.MaxInt64/int64(time.Second) - 1

// time converts a timestamp in the interface's units to nanoseconds since
// the Unix epoch. A timestamp beyond what that holds, which only a corrupt
// file has, is clamped rather than left to wrap around into the past.
func (in *ngIface) time(ts uint64) int64 {
	var sec, ns uint64
	switch in.units {
	case 1e6:
		sec, ns = ts/1e6, ts%1e6*1e3
	case 1e9:
		sec, ns = ts/1e9, ts%1e9
	default:
		sec = ts / in.units
		// frac < units, so the high word is below units and Div64 cannot
		// overflow.
		hi, lo := bits.Mul64(ts%in.units, 1e9)
		ns, _ = bits.Div64(hi, lo, in.units)
	}
	s := int64(min(sec, uint64(maxSec))) + min(max(in.offset, -maxSec), maxSec)
	return min(max(s, -maxSec), maxSec)*1e9 + int64(ns)
}
