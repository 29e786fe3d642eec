package decode

import "encoding/binary"

// EtherTypes (and GRE protocol types) of the encapsulations the decoder
// follows.
const (
	etherMPLS      = 0x8847
	etherMPLSMulti = 0x8848
	etherPPPoE     = 0x8864 // PPPoE session stage; discovery (0x8863) carries no IP
	etherPPP       = 0x880b // PPP in GRE (PPTP's enhanced GRE)
	etherTEB       = 0x6558 // transparent Ethernet bridging: an Ethernet frame in GRE or Geneve
	etherERSPAN2   = 0x88be // ERSPAN type II (type I when GRE carries no sequence number)
	etherERSPAN3   = 0x22eb

	protoIPIP = 4   // IPv4 in IP
	protoIPv6 = 41  // IPv6 in IP (6in4 and 6in6)
	protoUDP  = 17  // for VXLAN and Geneve
	protoGRE  = 47  // generic routing encapsulation
	protoMPLS = 137 // MPLS in IP (RFC 4023)
)

// Default UDP ports of the UDP tunnels (IANA's). Linux's vxlan device
// defaults to 8472 unless told dstport 4789; add it to
// Decoder.VXLANPorts for such networks (flannel's among them).
const (
	DefaultVXLANPort  = 4789
	DefaultGenevePort = 6081
)

// maxIPHeaders bounds how many IP headers one frame may nest, tunnels in
// tunnels, so that a crafted frame cannot make Decode walk thousands of
// layers; deeper frames are skipped as ReasonTunnelDepth. Real networks
// nest two or three.
const maxIPHeaders = 8

// newSpace starts the address space of an overlay network: its id replaces
// the VLAN and the id of the network around it, whose addresses are
// another space; tags inside it are the inner frame's own.
func (w *walk) newSpace(id uint32) {
	w.vlan, w.tunnel = 0, id
}

// mpls reads a label stack to its bottom label. Labels are per hop, not
// an address space, so they are not part of the flow key. What follows
// carries no type: it is told by its first nibble, as tshark does, 4 or 6
// for IP and 0 for an Ethernet pseudowire, whose frame comes first or
// after a 4-byte control word, whichever puts an EtherType the decoder
// follows in its place (the frame first when both do).
func mpls(w *walk, data []byte, off, end int) (layer, int, int, Reason) {
	for {
		if len(data)-off < 4 {
			return 0, 0, 0, ReasonTruncated
		}
		bottom := data[off+2]&1 != 0
		off += 4
		if bottom {
			break
		}
	}
	if len(data) <= off {
		return 0, 0, 0, ReasonTruncated
	}
	switch data[off] >> 4 {
	case 4:
		return layerIPv4, off, end, proceed
	case 6:
		return layerIPv6, off, end, proceed
	case 0:
		for _, cw := range [...]int{0, 4} {
			if len(data)-off >= cw+14 {
				if _, r := etherLayer(binary.BigEndian.Uint16(data[off+cw+12:])); r == proceed {
					return layerEthernet, off + cw, end, proceed
				}
			}
		}
		if len(data)-off < 18 {
			return 0, 0, 0, ReasonTruncated
		}
	}
	return 0, 0, 0, ReasonUnsupportedEncap
}

// pppoe reads a PPPoE session header (RFC 2516), whose length bounds the
// PPP frame inside.
func pppoe(w *walk, data []byte, off, end int) (layer, int, int, Reason) {
	if len(data)-off < 6 {
		return 0, 0, 0, ReasonTruncated
	}
	if data[off] != 0x11 || data[off+1] != 0 { // version 1, type 1, session data
		return 0, 0, 0, ReasonPPPoEHeader
	}
	n := int(binary.BigEndian.Uint16(data[off+4:]))
	if off+6+n > end {
		return 0, 0, 0, ReasonPPPoEHeader
	}
	return layerPPP, off + 6, off + 6 + n, proceed
}

// ppp reads a PPP protocol field (RFC 1661), after the HDLC address and
// control bytes when they are there, as on the PPP link types. Control
// protocols (LCP, IPCP, ...) are not IP.
func ppp(w *walk, data []byte, off, end int) (layer, int, int, Reason) {
	if len(data)-off >= 2 && data[off] == 0xff && data[off+1] == 0x03 {
		off += 2
	}
	if len(data) <= off {
		return 0, 0, 0, ReasonTruncated
	}
	proto := uint16(data[off])
	if proto&1 == 0 { // not compressed to one byte
		if len(data)-off < 2 {
			return 0, 0, 0, ReasonTruncated
		}
		proto = binary.BigEndian.Uint16(data[off:])
		off++
	}
	off++
	switch proto {
	case 0x21:
		return layerIPv4, off, end, proceed
	case 0x57:
		return layerIPv6, off, end, proceed
	case 0x281:
		return layerMPLS, off, end, proceed
	}
	return 0, 0, 0, ReasonNotIP
}

// GRE header flags (RFC 2784, RFC 2890, and RFC 2637 for version 1).
const (
	greChecksum = 0x8000
	greRouting  = 0x4000
	greKey      = 0x2000
	greSeq      = 0x1000
	greAck      = 0x0080 // version 1 only
	greVersion  = 0x0007
)

// gre reads a GRE header: version 0 with any of checksum, key and
// sequence number, or version 1 (PPTP) carrying PPP. A key is the id of
// the overlay's address space (see walk.newSpace); version 1's key field
// holds a length and a per-direction call id instead, and is no space.
// Like Linux, it refuses the routing field of RFC 1701.
func gre(w *walk, data []byte, off, end int) (layer, int, int, Reason) {
	if len(data)-off < 4 {
		return 0, 0, 0, ReasonTruncated
	}
	flags, proto := binary.BigEndian.Uint16(data[off:]), binary.BigEndian.Uint16(data[off+2:])
	n := 4
	if flags&greChecksum != 0 {
		n += 4
	}
	keyAt := off + n
	if flags&greKey != 0 {
		n += 4
	}
	if flags&greSeq != 0 {
		n += 4
	}
	switch flags & greVersion {
	case 0:
		if flags&greRouting != 0 {
			return 0, 0, 0, ReasonGREHeader
		}
	case 1:
		if proto != etherPPP || flags&(greChecksum|greRouting|greKey) != greKey {
			return 0, 0, 0, ReasonGREHeader
		}
		if flags&greAck != 0 {
			n += 4
		}
	default:
		return 0, 0, 0, ReasonGREHeader
	}
	if len(data)-off < n {
		return 0, 0, 0, ReasonTruncated
	}
	if flags&(greKey|greVersion) == greKey {
		w.newSpace(binary.BigEndian.Uint32(data[keyAt:]))
	}
	off += n
	switch proto {
	case etherIPv4:
		return layerIPv4, off, end, proceed
	case etherIPv6:
		return layerIPv6, off, end, proceed
	case etherTEB:
		return layerEthernet, off, end, proceed
	case etherERSPAN2:
		if flags&greSeq == 0 {
			// Type I: the mirrored frame alone, in the address space
			// it was mirrored from (see erspan2).
			w.vlan, w.tunnel = 0, 0
			return layerEthernet, off, end, proceed
		}
		return layerERSPAN2, off, end, proceed
	case etherERSPAN3:
		return layerERSPAN3, off, end, proceed
	case etherMPLS, etherMPLSMulti:
		return layerMPLS, off, end, proceed
	case etherPPP:
		return layerPPP, off, end, proceed
	}
	return 0, 0, 0, ReasonUnsupportedEncap
}

// erspan2 reads an ERSPAN type II header. The mirrored frame is a copy of
// one seen elsewhere: its address space is the one it was mirrored from,
// so the session's GRE key is not kept, and the VLAN the header names (the
// frame's own, should its tag have been stripped) stands until the frame's
// own tags say otherwise.
func erspan2(w *walk, data []byte, off, end int) (layer, int, int, Reason) {
	if len(data)-off < 8 {
		return 0, 0, 0, ReasonTruncated
	}
	h := binary.BigEndian.Uint16(data[off:])
	if h>>12 != 1 {
		return 0, 0, 0, ReasonERSPANHeader
	}
	w.vlan, w.tunnel = h&0x0fff, 0
	return layerEthernet, off + 8, end, proceed
}

// erspan3 reads an ERSPAN type III header and its optional platform
// subheader; see erspan2 for the address space.
func erspan3(w *walk, data []byte, off, end int) (layer, int, int, Reason) {
	if len(data)-off < 12 {
		return 0, 0, 0, ReasonTruncated
	}
	h := binary.BigEndian.Uint16(data[off:])
	if h>>12 != 2 {
		return 0, 0, 0, ReasonERSPANHeader
	}
	w.vlan, w.tunnel = h&0x0fff, 0
	word := binary.BigEndian.Uint16(data[off+10:])
	n := 12
	if word&1 != 0 { // O: a platform-specific subheader follows
		n += 8
	}
	if word>>10&0x1f != 0 { // FT: 0 is Ethernet; 2, bare IP, is not seen in practice
		return 0, 0, 0, ReasonUnsupportedEncap
	}
	return layerEthernet, off + n, end, proceed
}

// udp reads a UDP header and goes on into it when its destination port is
// a VXLAN or Geneve port; any other UDP datagram is not TCP.
func udp(w *walk, data []byte, off, end int) (layer, int, int, Reason) {
	if len(data)-off < 8 {
		return 0, 0, 0, ReasonNotTCP // whatever it is, it is UDP
	}
	var next layer
	switch port := binary.BigEndian.Uint16(data[off+2:]); {
	case has(w.ports.vxlan, port):
		next = layerVXLAN
	case has(w.ports.geneve, port):
		next = layerGeneve
	default:
		return 0, 0, 0, ReasonNotTCP
	}
	n := int(binary.BigEndian.Uint16(data[off+4:]))
	if n < 8 || off+n > end {
		return 0, 0, 0, ReasonUDPLength
	}
	return next, off + 8, off + n, proceed
}

func has(ports []uint16, p uint16) bool {
	for _, q := range ports {
		if q == p {
			return true
		}
	}
	return false
}

// vxlan reads a VXLAN header (RFC 7348): the VNI names the overlay's
// address space, and an Ethernet frame follows.
func vxlan(w *walk, data []byte, off, end int) (layer, int, int, Reason) {
	if len(data)-off < 8 {
		return 0, 0, 0, ReasonTruncated
	}
	if data[off]&0x08 == 0 { // I: the VNI is valid
		return 0, 0, 0, ReasonVXLANHeader
	}
	w.newSpace(binary.BigEndian.Uint32(data[off+4:]) >> 8)
	return layerEthernet, off + 8, end, proceed
}

// geneve reads a Geneve header and its options (RFC 8926): the VNI names
// the overlay's address space, and the protocol type says what follows.
func geneve(w *walk, data []byte, off, end int) (layer, int, int, Reason) {
	if len(data)-off < 8 {
		return 0, 0, 0, ReasonTruncated
	}
	if data[off]>>6 != 0 {
		return 0, 0, 0, ReasonGeneveHeader
	}
	n := 8 + int(data[off]&0x3f)*4
	if off+n > end {
		return 0, 0, 0, ReasonGeneveHeader
	}
	w.newSpace(binary.BigEndian.Uint32(data[off+4:]) >> 8)
	switch binary.BigEndian.Uint16(data[off+2:]) {
	case etherTEB:
		return layerEthernet, off + n, end, proceed
	case etherIPv4:
		return layerIPv4, off + n, end, proceed
	case etherIPv6:
		return layerIPv6, off + n, end, proceed
	}
	return 0, 0, 0, ReasonUnsupportedEncap
}
