package decode

import "encoding/binary"

// EtherTypes the decoder follows.
const (
	etherIPv4  = 0x0800
	etherIPv6  = 0x86dd
	etherVLAN  = 0x8100 // 802.1Q
	etherQinQ  = 0x88a8 // 802.1ad service tag
	etherQinQ1 = 0x9100 // pre-standard QinQ, still seen on switches
)

// etherLayer returns the layer an EtherType announces, or ReasonNotIP.
func etherLayer(t uint16) (layer, Reason) {
	switch t {
	case etherIPv4:
		return layerIPv4, proceed
	case etherIPv6:
		return layerIPv6, proceed
	case etherVLAN, etherQinQ, etherQinQ1:
		return layerVLAN, proceed
	case etherMPLS, etherMPLSMulti:
		return layerMPLS, proceed
	case etherPPPoE:
		return layerPPPoE, proceed
	}
	return 0, ReasonNotIP
}

// next returns the layer an EtherType announces at off, or the reason to
// skip the frame.
func next(t uint16, off, end int) (layer, int, int, Reason) {
	l, r := etherLayer(t)
	return l, off, end, r
}

// ethernet reads an Ethernet II header. Tags are their own layer (vlanTag):
// libpcap re-inserts the tags the kernel stripped into cooked captures the
// same way.
func ethernet(w *walk, data []byte, off, end int) (layer, int, int, Reason) {
	if len(data)-off < 14 {
		return 0, 0, 0, ReasonTruncated
	}
	l, r := etherLayer(binary.BigEndian.Uint16(data[off+12:]))
	return l, off + 14, end, r
}

// vlanTag reads an 802.1Q or 802.1ad tag: the VLAN id, then the EtherType
// of what follows. The innermost tag's id is the segment's VLAN.
func vlanTag(w *walk, data []byte, off, end int) (layer, int, int, Reason) {
	if len(data)-off < 4 {
		return 0, 0, 0, ReasonTruncated
	}
	w.vlan = binary.BigEndian.Uint16(data[off:]) & 0x0fff
	return next(binary.BigEndian.Uint16(data[off+2:]), off+4, end)
}

// cookedV1 reads a Linux cooked v1 header: the protocol is in its last two bytes.
func cookedV1(w *walk, data []byte, off, end int) (layer, int, int, Reason) {
	if len(data)-off < 16 {
		return 0, 0, 0, ReasonTruncated
	}
	return next(binary.BigEndian.Uint16(data[off+14:]), off+16, end)
}

// cookedV2 reads a Linux cooked v2 header: the protocol is in its first two
// bytes.
func cookedV2(w *walk, data []byte, off, end int) (layer, int, int, Reason) {
	if len(data)-off < 20 {
		return 0, 0, 0, ReasonTruncated
	}
	return next(binary.BigEndian.Uint16(data[off:]), off+20, end)
}

// loopback reads the 4-byte address family of BSD loopback (NULL and LOOP).
func loopback(w *walk, data []byte, off, end int) (layer, int, int, Reason) {
	if len(data)-off < 4 {
		return 0, 0, 0, ReasonTruncated
	}
	// NULL stores the family in the capturing host's byte order, LOOP in
	// network order; either way it is below 256, which tells the order
	// apart.
	b := data[off:]
	fam := binary.LittleEndian.Uint32(b)
	if b[0] == 0 && b[1] == 0 {
		fam = binary.BigEndian.Uint32(b)
	}
	switch {
	case fam == 2:
		return layerIPv4, off + 4, end, proceed
	case isAFInet6(fam):
		return layerIPv6, off + 4, end, proceed
	}
	return 0, 0, 0, ReasonNotIP
}

// Address family values a BSD loopback header may carry for IPv6: the value
// of AF_INET6 differs between the systems that write such captures.
func isAFInet6(v uint32) bool { return v == 10 || v == 24 || v == 28 || v == 30 }

// raw reads the version nibble of a bare IP datagram.
func raw(w *walk, data []byte, off, end int) (layer, int, int, Reason) {
	if len(data) <= off {
		return 0, 0, 0, ReasonTruncated
	}
	switch data[off] >> 4 {
	case 4:
		return layerIPv4, off, end, proceed
	case 6:
		return layerIPv6, off, end, proceed
	}
	return 0, 0, 0, ReasonNotIP
}
