package decode

import "encoding/binary"

// IP protocol numbers the decoder follows.
const (
	protoHopByHop = 0
	protoTCP      = 6
	protoRouting  = 43
	protoFragment = 44
	protoESP      = 50
	protoAH       = 51
	protoDestOpts = 60
)

// protoLayer returns the layer an IP protocol number announces.
func protoLayer(p uint8) (layer, Reason) {
	switch p {
	case protoTCP:
		return layerTCP, proceed
	case protoIPIP:
		return layerIPv4, proceed
	case protoIPv6:
		return layerIPv6, proceed
	case protoGRE:
		return layerGRE, proceed
	case protoUDP:
		return layerUDP, proceed
	case protoMPLS:
		return layerMPLS, proceed
	}
	return 0, ReasonNotTCP // includes ESP and no next header
}

// plainIPv4 reads the usual IPv4 header: 20 bytes, not a fragment,
// carrying TCP, no longer than the frame allows, with the fixed TCP header
// captured. ok false says the header is something else, and ipv4 must
// read it.
func plainIPv4(data []byte, off, end int) (tcpOff, tcpEnd int, ok bool) {
	// With 40 bytes captured, end-off is at least 40 too, and the
	// unsigned comparison below is the range 40 to end-off.
	if len(data)-off < 40 {
		return 0, 0, false
	}
	ip := (*[20]byte)(data[off:])
	// Version 4, header length 5, neither more fragments nor a fragment
	// offset (DF aside).
	head := binary.BigEndian.Uint64(ip[:])
	total := int(head >> 32 & 0xffff)
	if head&0xff00_0000_0000_3fff != 0x4500_0000_0000_0000 || ip[9] != protoTCP || uint(total-40) > uint(end-off-40) {
		return 0, 0, false
	}
	return off + 20, off + total, true
}

// plainIPv6 reads the usual IPv6 header: TCP right after it, a payload
// length that is not 0 (jumbogram or offload), no longer than the frame
// allows, with the fixed TCP header captured. ok false says ipv6 must
// read it.
func plainIPv6(data []byte, off, end int) (tcpOff, tcpEnd int, ok bool) {
	if len(data)-off < 60 { // as in plainIPv4: end-off is at least 60
		return 0, 0, false
	}
	ip := (*[40]byte)(data[off:])
	plen := int(binary.BigEndian.Uint16(ip[4:]))
	if ip[0]>>4 != 6 || ip[6] != protoTCP || uint(plen-20) > uint(end-off-60) {
		return 0, 0, false
	}
	return off + 40, off + 40 + plen, true
}

// IPv4 flags and fragment offset (RFC 791).
const (
	ipv4MoreFragments = 0x2000
	ipv4Offset        = 0x1fff
)

// ipv4 reads an IPv4 header. The addresses are left where they are, for
// Decode to read at the end. A fragment is returned as ReasonFragment,
// with the offsets of its payload, for Decode to reassemble.
func ipv4(w *walk, data []byte, off, end int) (layer, int, int, Reason) {
	if len(data)-off < 20 {
		return 0, 0, 0, ReasonTruncated
	}
	// Read through an array pointer made once the length is checked: a
	// re-slice per layer cost 9 to 19 instructions in bounds checks and
	// the pointer adjustment for an empty result.
	ip := (*[20]byte)(data[off:])
	if ip[0]>>4 != 4 {
		return 0, 0, 0, ReasonIPVersion
	}
	ihl := int(ip[0]&0x0f) * 4
	if ihl < 20 {
		return 0, 0, 0, ReasonIPv4HeaderLength
	}
	next, r := protoLayer(ip[9])
	if r != proceed {
		return 0, 0, 0, r
	}
	fragment := binary.BigEndian.Uint16(ip[6:])&(ipv4MoreFragments|ipv4Offset) != 0
	total := int(binary.BigEndian.Uint16(ip[2:]))
	wire := end - off
	if total == 0 && !fragment {
		// Segmentation offload on the capturing host can leave the
		// length zero; the frame's length is then the datagram's.
		total = wire
	}
	// A fragment may be shorter than a TCP header: the header may end
	// in the next one.
	if total > wire || total < ihl || next == layerTCP && !fragment && total < ihl+20 {
		return 0, 0, 0, ReasonIPLength
	}
	if len(data)-off < ihl {
		return 0, 0, 0, ReasonTruncated
	}
	if fragment {
		return 0, off + ihl, off + total, ReasonFragment
	}
	return next, off + ihl, off + total, proceed
}

// ipv6 reads an IPv6 header and its extension headers. A fragment is
// returned as ReasonFragment, with the offsets of its fragment header and
// of the datagram's end, for Decode to reassemble.
func ipv6(w *walk, data []byte, off, end int) (layer, int, int, Reason) {
	ip := data[off:]
	if len(ip) < 40 {
		return 0, 0, 0, ReasonTruncated
	}
	if ip[0]>>4 != 6 {
		return 0, 0, 0, ReasonIPVersion
	}
	plen := int(binary.BigEndian.Uint16(ip[4:]))
	wire := end - off
	if plen == 0 {
		// A jumbogram, or a GSO super-packet seen on the sending host:
		// the length is the frame's.
		plen = wire - 40
	}
	stop := 40 + plen // within ip
	if stop > wire {
		return 0, 0, 0, ReasonIPLength
	}
	proto, pos := ip[6], 40
	// Linux walks any number of extension headers (ten destination
	// options headers in a row still complete a handshake), so the walk
	// is bounded by the payload alone: each header takes at least 8 bytes
	// of it.
chain:
	for i := 0; ; i++ {
		if !isExtHeader(proto) {
			break chain
		}
		if proto == protoHopByHop && i > 0 {
			return 0, 0, 0, ReasonIPv6ExtHeaders // RFC 8200: only right after the IPv6 header
		}
		if pos+8 > stop {
			return 0, 0, 0, ReasonIPv6ExtHeaders
		}
		if len(ip) < pos+8 {
			return 0, 0, 0, ReasonTruncated
		}
		n := (int(ip[pos+1]) + 1) * 8
		switch proto {
		case protoFragment:
			// Offset 0 without more fragments is an atomic
			// fragment (RFC 6946), a whole datagram.
			if binary.BigEndian.Uint16(ip[pos+2:])&0xfff9 != 0 {
				if _, r := protoLayer(ip[pos]); r != proceed && !isExtHeader(ip[pos]) {
					return 0, 0, 0, r
				}
				return 0, off + pos, off + stop, ReasonFragment
			}
			n = 8
		case protoAH:
			n = (int(ip[pos+1]) + 2) * 4
		}
		if pos+n > stop {
			return 0, 0, 0, ReasonIPv6ExtHeaders
		}
		proto = ip[pos]
		pos += n
	}
	next, r := protoLayer(proto)
	if r != proceed {
		return 0, 0, 0, r
	}
	if next == layerTCP && stop-pos < 20 {
		return 0, 0, 0, ReasonIPLength
	}
	return next, off + pos, off + stop, proceed
}

// isExtHeader reports whether an IPv6 next-header value is an extension
// header the decoder walks.
func isExtHeader(p uint8) bool {
	switch p {
	case protoHopByHop, protoRouting, protoDestOpts, protoFragment, protoAH:
		return true
	}
	return false
}
