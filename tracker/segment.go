package tracker

import (
	"net/netip"
)

// Flags are the TCP header flags, laid out as in byte 13 of the header so
// that a decoder can copy that byte.
type Flags uint8

// TCP header flags.
const (
	FIN Flags = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
)

// Has reports whether all of the flags in m are set.
func (f Flags) Has(m Flags) bool { return f&m == m }

// String lists the set flags in tcpdump's letters, e.g. "S." for SYN+ACK.
func (f Flags) String() string {
	var b [8]byte
	n := 0
	for _, x := range [...]struct {
		f Flags
		c byte
	}{{SYN, 'S'}, {FIN, 'F'}, {RST, 'R'}, {PSH, 'P'}, {URG, 'U'}, {ECE, 'E'}, {CWR, 'W'}, {ACK, '.'}} {
		if f&x.f != 0 {
			b[n] = x.c
			n++
		}
	}
	if n == 0 {
		return "none"
	}
	return string(b[:n])
}

// Options holds the TCP options that matter for tracking.
type Options struct {
	MSS           uint16
	WScale        uint8 // valid when HasWScale
	HasWScale     bool
	SACKPermitted bool
	HasTimestamps bool
	TSVal, TSEcr  uint32
	FastOpen      bool // a TCP Fast Open option (kind 34): a cookie or a request for one
}

// Segment is one TCP segment as seen on the wire: the plain value that package
// decode produces and the tracker consumes.
type Segment struct {
	// UnixNano is the capture timestamp in nanoseconds since the Unix
	// epoch, as time.Time.UnixNano gives it: a plain integer, cheaper to
	// build, copy and compare per segment than a time.Time.
	UnixNano         int64
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	VLAN             uint16 // innermost 802.1Q VLAN id; 0 when untagged
	Seq, Ack         uint32
	Flags            Flags
	Window           uint16 // as in the header, unscaled
	PayloadLen       uint32 // from the IP length fields, so snaplen-truncated segments count their bytes
	Options          Options
	// Tunnel is the id of the overlay network the segment travelled in:
	// the VNI of VXLAN or Geneve, or the GRE key; 0 outside one. Like the
	// VLAN, it is part of the flow key, since the same addresses in two
	// overlays are two hosts.
	Tunnel uint32
}
