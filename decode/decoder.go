package decode

import (
	"encoding/binary"
	"net/netip"

	"github.com/tcptrack/tcptrack/tracker"
)

// Decoder turns frames into tracker.Segments. It allocates nothing per frame
// and keeps no reference to the frame's bytes: the Segment holds values
// only, so the frame may be reused as soon as Decode returns.
//
// The zero value is not ready for use; call NewDecoder. A Decoder is not
// safe for concurrent use: give each goroutine its own.
type Decoder struct {
	// VerifyChecksums makes Decode verify TCP checksums and skip bad ones as
	// ReasonChecksum. It is off by default because captures taken on a
	// sending host see checksums before the NIC fills them in (offload),
	// and such segments are valid. Segments cut by the snaplen cannot be
	// verified and pass. The IPv6 pseudo-header uses the destination in
	// the IPv6 header, so a segment with a routing header that still has
	// segments left fails verification.
	VerifyChecksums bool

	stats Stats
}

// NewDecoder returns a Decoder with checksum verification off.
func NewDecoder() *Decoder { return &Decoder{} }

// Stats returns the counts so far. Like Decode, call it from the goroutine
// that owns the Decoder; the copy it returns can go anywhere.
func (d *Decoder) Stats() Stats { return d.stats }

// EtherTypes and IP protocol numbers the decoder follows.
const (
	etherIPv4  = 0x0800
	etherIPv6  = 0x86dd
	etherVLAN  = 0x8100 // 802.1Q
	etherQinQ  = 0x88a8 // 802.1ad service tag
	etherQinQ1 = 0x9100 // pre-standard QinQ, still seen on switches

	protoHopByHop = 0
	protoTCP      = 6
	protoRouting  = 43
	protoFragment = 44
	protoESP      = 50
	protoAH       = 51
	protoDestOpts = 60

	// nopNopTimestamps is how the usual options of a segment after the
	// handshake begin: NOP, NOP, then timestamps (kind 8, length 10).
	nopNopTimestamps = 0x0101080a
)

// Address family values a BSD loopback header may carry for IPv6: the value
// of AF_INET6 differs between the systems that write such captures.
func isAFInet6(v uint32) bool { return v == 10 || v == 24 || v == 28 || v == 30 }

func (d *Decoder) skip(r Reason) error {
	d.stats.Skipped[r]++
	return reasonErrors[r]
}

// Decode decodes f into seg. On success every field of seg is overwritten.
// Otherwise it returns a *ReasonError matching ErrNotTCP or ErrMalformed,
// counts the reason, and leaves seg in an unspecified state.
//
// PayloadLen comes from the IP length fields, not from the captured bytes,
// so segments cut by the snaplen count all their bytes; for the first
// fragment of a fragmented datagram it counts that fragment's bytes only.
func (d *Decoder) Decode(f *Frame, seg *tracker.Segment) error {
	d.stats.Frames++
	// Capped at its length, data's capacity is a value the compiler already
	// holds, and the array pointers made below need no third register
	// carried through the function for it (9 instructions a frame fewer,
	// all spills and reloads).
	data := f.Data[:len(f.Data):len(f.Data)]
	if len(data) == 0 {
		return d.skip(ReasonZeroLength)
	}

	var (
		off    int    // start of the IP header
		ether  uint16 // what the link layer says follows; 0 means "look at the version nibble"
		vlan   uint16
		tagged bool // the link layer may carry VLAN tags
	)
	// Tested in turn, Ethernet first: a switch on the value is compiled to
	// a binary search, which took Ethernet, by far the most common, through
	// three comparisons.
	switch link := f.LinkType; {
	case link == LinkEthernet:
		if len(data) < 14 {
			return d.skip(ReasonTruncated)
		}
		ether, off, tagged = binary.BigEndian.Uint16(data[12:]), 14, true
	case link == LinkLinuxSLL:
		if len(data) < 16 {
			return d.skip(ReasonTruncated)
		}
		ether, off, tagged = binary.BigEndian.Uint16(data[14:]), 16, true
	case link == LinkLinuxSLL2:
		if len(data) < 20 {
			return d.skip(ReasonTruncated)
		}
		ether, off, tagged = binary.BigEndian.Uint16(data), 20, true
	case link == LinkNull, link == LinkLoop:
		if len(data) < 4 {
			return d.skip(ReasonTruncated)
		}
		// NULL stores the family in the capturing host's byte order, LOOP
		// in network order; either way it is below 256, which tells the
		// order apart.
		fam := binary.LittleEndian.Uint32(data)
		if data[0] == 0 && data[1] == 0 {
			fam = binary.BigEndian.Uint32(data)
		}
		switch {
		case fam == 2:
			ether = etherIPv4
		case isAFInet6(fam):
			ether = etherIPv6
		default:
			return d.skip(ReasonNotIP)
		}
		off = 4
	case link == LinkRaw, link == LinkRawDLT12, link == LinkRawDLT14:
		// The version nibble decides.
	case link == LinkIPv4:
		ether = etherIPv4
	case link == LinkIPv6:
		ether = etherIPv6
	default:
		return d.skip(ReasonUnsupportedLink)
	}
	// VLAN tags: Ethernet carries them inline, and libpcap re-inserts the
	// tags the kernel stripped into cooked captures the same way. Each tag
	// is 4 bytes, so the loop ends with the frame. Plain IPv4, the usual
	// case, needs none of these comparisons.
	if tagged && ether != etherIPv4 {
		for ether == etherVLAN || ether == etherQinQ || ether == etherQinQ1 {
			if len(data) < off+4 {
				return d.skip(ReasonTruncated)
			}
			vlan = binary.BigEndian.Uint16(data[off:]) & 0x0fff
			ether = binary.BigEndian.Uint16(data[off+2:])
			off += 4
		}
		if ether != etherIPv4 && ether != etherIPv6 {
			return d.skip(ReasonNotIP)
		}
	}
	seg.VLAN = vlan

	// From here on the headers are found by offsets into data, and read
	// through array pointers made once each header's length is checked:
	// a re-slice per layer (ip := data[off:], then the TCP header, then
	// its options) cost 9 to 19 instructions each in bounds checks and
	// the pointer adjustment for an empty result, and every field read
	// from a slice of unknown length is checked again.
	if len(data) <= off {
		return d.skip(ReasonTruncated)
	}
	version := data[off] >> 4
	if ether == 0 {
		switch version {
		case 4:
			ether = etherIPv4
		case 6:
			ether = etherIPv6
		default:
			return d.skip(ReasonNotIP)
		}
	}
	// The wire length bounds the IP length fields. Trust the captured bytes
	// over a record header that claims fewer.
	ipWire := max(f.WireLen, len(data)) - off // bytes of IP on the wire

	var (
		tcpOff int // start of the TCP header in data
		ipEnd  int // end of the IP datagram in data, per its length fields
	)
	// The addresses go straight into seg, as the options do below: kept in
	// locals until the end, they took registers the rest of the function
	// needed and were spilled to the stack and read back.
	if ether == etherIPv4 {
		if len(data)-off < 20 {
			return d.skip(ReasonTruncated)
		}
		ip := (*[20]byte)(data[off:])
		if version != 4 {
			return d.skip(ReasonIPVersion)
		}
		ihl := int(ip[0]&0x0f) * 4
		if ihl < 20 {
			return d.skip(ReasonIPv4HeaderLength)
		}
		if ip[9] != protoTCP {
			return d.skip(ReasonNotTCP)
		}
		if binary.BigEndian.Uint16(ip[6:])&0x1fff != 0 {
			return d.skip(ReasonFragment)
		}
		total := int(binary.BigEndian.Uint16(ip[2:]))
		if total == 0 {
			// Segmentation offload on the capturing host can leave the
			// length zero; the frame's length is then the datagram's.
			total = ipWire
		}
		if total > ipWire || total < ihl+20 {
			return d.skip(ReasonIPLength)
		}
		if len(data)-off < ihl {
			return d.skip(ReasonTruncated)
		}
		seg.Src = netip.AddrFrom4([4]byte(ip[12:16]))
		seg.Dst = netip.AddrFrom4([4]byte(ip[16:20]))
		tcpOff, ipEnd = off+ihl, off+total
	} else {
		ip := data[off:]
		if len(ip) < 40 {
			return d.skip(ReasonTruncated)
		}
		if version != 6 {
			return d.skip(ReasonIPVersion)
		}
		plen := int(binary.BigEndian.Uint16(ip[4:]))
		if plen == 0 {
			// A jumbogram, or a GSO super-packet seen on the sending
			// host: the length is the frame's.
			plen = ipWire - 40
		}
		end := 40 + plen // within ip
		if end > ipWire {
			return d.skip(ReasonIPLength)
		}
		next, pos := ip[6], 40
		// Linux walks any number of extension headers (ten destination
		// options headers in a row still complete a handshake), so the
		// walk is bounded by the payload alone: each header takes at
		// least 8 bytes of it.
	chain:
		for i := 0; ; i++ {
			switch next {
			case protoTCP:
				break chain
			case protoHopByHop, protoRouting, protoDestOpts, protoFragment, protoAH:
			default:
				return d.skip(ReasonNotTCP) // includes ESP and no next header
			}
			if next == protoHopByHop && i > 0 {
				return d.skip(ReasonIPv6ExtHeaders) // RFC 8200: only right after the IPv6 header
			}
			if pos+8 > end {
				return d.skip(ReasonIPv6ExtHeaders)
			}
			if len(ip) < pos+8 {
				return d.skip(ReasonTruncated)
			}
			n := (int(ip[pos+1]) + 1) * 8
			switch next {
			case protoFragment:
				if binary.BigEndian.Uint16(ip[pos+2:])&0xfff8 != 0 {
					return d.skip(ReasonFragment)
				}
				n = 8
			case protoAH:
				n = (int(ip[pos+1]) + 2) * 4
			}
			if pos+n > end {
				return d.skip(ReasonIPv6ExtHeaders)
			}
			next = ip[pos]
			pos += n
		}
		if end-pos < 20 {
			return d.skip(ReasonIPLength)
		}
		seg.Src = netip.AddrFrom16([16]byte(ip[8:24]))
		seg.Dst = netip.AddrFrom16([16]byte(ip[24:40]))
		tcpOff, ipEnd = off+pos, off+end
	}

	// Both branches leave at least 20 bytes of TCP segment per the IP
	// header, so only the capture can be short of a TCP header; that one
	// test also catches extension headers cut by the snaplen (tcpOff
	// beyond the data).
	tcpLen := ipEnd - tcpOff                 // the TCP segment's length per the IP header
	capLen := min(ipEnd, len(data)) - tcpOff // how much of it was captured
	if capLen < 20 {
		return d.skip(ReasonTruncated)
	}
	tcp := (*[20]byte)(data[tcpOff:])
	doff := int(tcp[12]>>4) * 4
	if doff < 20 || doff > tcpLen {
		return d.skip(ReasonTCPDataOffset)
	}
	// Port 0 is a port like any other to Linux, which completes
	// handshakes from and to it.
	seg.SrcPort, seg.DstPort = binary.BigEndian.Uint16(tcp[0:]), binary.BigEndian.Uint16(tcp[2:])
	seg.Seq = binary.BigEndian.Uint32(tcp[4:])
	seg.Ack = binary.BigEndian.Uint32(tcp[8:])
	seg.Flags = tracker.Flags(tcp[13])
	seg.Window = binary.BigEndian.Uint16(tcp[14:])
	seg.PayloadLen = uint32(tcpLen - doff)
	// Field by field: a whole-literal store is built on the stack and
	// copied, and the copy stalls on store forwarding (see pcapReader.Next).
	// All of seg but the options is stored before them, so that little
	// lives across the call to parseOptions.
	seg.UnixNano = f.UnixNano

	// Options go straight into seg: parsed into a local and then assigned,
	// they were copied with a 16-byte load that stalled on the 1-, 2- and
	// 4-byte stores just made (store forwarding).
	seg.Options = tracker.Options{}
	switch optEnd := min(doff, capLen); {
	case optEnd == 20:
		// No options (or none captured): a fifth of the segments of the
		// bench's mix trace, and not worth a call.
	case optEnd == 32 && binary.BigEndian.Uint32((*[32]byte)(data[tcpOff:])[20:]) == nopNopTimestamps:
		// Nearly every segment after the handshake of a Linux or BSD
		// stack carries timestamps alone, behind two NOPs (RFC 7323,
		// appendix A). Read here, they cost neither a call nor a walk
		// of the list.
		opts := (*[32]byte)(data[tcpOff:])
		seg.Options.HasTimestamps = true
		seg.Options.TSVal = binary.BigEndian.Uint32(opts[24:])
		seg.Options.TSEcr = binary.BigEndian.Uint32(opts[28:])
	case optEnd == 40 && isLinuxSYNOptions((*[40]byte)(data[tcpOff:])):
		// Linux opens every connection, both ways, with MSS, SACK
		// permitted, timestamps, NOP and window scale, in that order
		// (tcp_options_write). parseOptions walked those five options
		// for about 220 instructions and 4 mispredicted branches.
		h := (*[40]byte)(data[tcpOff:])
		seg.Options.MSS = binary.BigEndian.Uint16(h[22:])
		seg.Options.SACKPermitted = true
		seg.Options.HasTimestamps = true
		seg.Options.TSVal = binary.BigEndian.Uint32(h[28:])
		seg.Options.TSEcr = binary.BigEndian.Uint32(h[32:])
		seg.Options.WScale, seg.Options.HasWScale = h[39], true
	default:
		if !parseOptions(data[tcpOff+20:tcpOff+optEnd], capLen < doff, &seg.Options) {
			return d.skip(ReasonTCPOptions)
		}
	}
	if d.VerifyChecksums && capLen == tcpLen && !checksumOK(data[off:ipEnd], tcpOff-off, ether == etherIPv6) {
		return d.skip(ReasonChecksum)
	}
	d.stats.Segments++
	return nil
}

// isLinuxSYNOptions reports whether the TCP header h carries the options of
// a Linux SYN or SYN+ACK: MSS (kind 2, length 4), SACK permitted (4, 2),
// timestamps (8, 10), NOP, window scale (3, 3). The values in between are
// masked out.
func isLinuxSYNOptions(h *[40]byte) bool {
	return binary.BigEndian.Uint64(h[20:])&0xffff0000ffffffff == 0x020400000402080a &&
		binary.BigEndian.Uint32(h[36:])&0xffffff00 == 0x01030300
}

// parseOptions reads the options that matter from b, the option bytes of a
// TCP header. cut says the capture ended inside the header: then an option
// that runs off the end of b is where the capture stopped, not an error, and
// parsing ends there. Options of a known kind but the wrong length are
// ignored, as Linux does. It returns false for malformed options. It sets
// the fields of the options it finds and leaves the others alone.
func parseOptions(b []byte, cut bool, o *tracker.Options) bool {
	for i := 0; i < len(b); {
		kind := b[i]
		switch kind {
		case 0: // end of option list
			return true
		case 1: // no-operation
			i++
			continue
		}
		if i+1 >= len(b) {
			return cut
		}
		n := int(b[i+1])
		if n < 2 {
			return false
		}
		if i+n > len(b) {
			return cut
		}
		v := b[i+2 : i+n]
		switch {
		case kind == 2 && n == 4:
			o.MSS = binary.BigEndian.Uint16(v)
		case kind == 3 && n == 3:
			o.WScale, o.HasWScale = v[0], true
		case kind == 4 && n == 2:
			o.SACKPermitted = true
		case kind == 8 && n == 10:
			o.HasTimestamps = true
			o.TSVal = binary.BigEndian.Uint32(v)
			o.TSEcr = binary.BigEndian.Uint32(v[4:])
		}
		i += n
	}
	return true
}

// checksumOK verifies the checksum of the TCP segment at tcpOff in ip, an
// IPv4 or IPv6 datagram captured whole. It works out the pseudo-header
// from the IP header here rather than where Decode reads that header, so
// that Decode keeps no sum in a register for the rare caller that asks.
func checksumOK(ip []byte, tcpOff int, v6 bool) bool {
	addrs := ip[12:20]
	if v6 {
		addrs = ip[8:40]
	}
	tcp := ip[tcpOff:]
	return fold(sum16(tcp, sum16(addrs, protoTCP+uint64(len(tcp))))) == 0xffff
}

// sum16 adds b to the running one's-complement sum as 16-bit big-endian
// words (RFC 1071), without folding the carries.
func sum16(b []byte, sum uint64) uint64 {
	for len(b) >= 2 {
		sum += uint64(b[0])<<8 | uint64(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	return sum
}

// fold folds the carries of a one's-complement sum into 16 bits.
func fold(sum uint64) uint16 {
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}
