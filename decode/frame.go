package decode

import (
	"errors"
	"strconv"
)

// LinkType is a pcap LINKTYPE_ value: the link-layer header type of a frame.
// It is 16 bits wide because pcapng and pcap carry values above 255
// (LINKTYPE_LINUX_SLL2 is 276), which gopacket's layers.LinkType cannot hold.
type LinkType uint16

// Link types the Decoder understands. Values are the tcpdump.org LINKTYPE_
// registry's.
const (
	LinkNull      LinkType = 0   // BSD loopback: 4-byte address family in the capturing host's byte order
	LinkEthernet  LinkType = 1   // Ethernet, with any number of 802.1Q / 802.1ad tags
	LinkPPP       LinkType = 9   // PPP, with or without HDLC-like framing
	LinkRawDLT12  LinkType = 12  // DLT_RAW as most BSDs and Linux define it, found in some files
	LinkRawDLT14  LinkType = 14  // DLT_RAW as OpenBSD defines it, found in some files
	LinkPPPHDLC   LinkType = 50  // PPP in HDLC-like framing (PPP over serial lines)
	LinkPPPEther  LinkType = 51  // PPPoE: a PPPoE session header, then PPP
	LinkRaw       LinkType = 101 // raw IPv4 or IPv6, told apart by the version nibble
	LinkLoop      LinkType = 108 // OpenBSD loopback: address family in network byte order
	LinkLinuxSLL  LinkType = 113 // Linux cooked capture v1 (tcpdump -i any before libpcap 1.10)
	LinkIPv4      LinkType = 228 // raw IPv4 only
	LinkIPv6      LinkType = 229 // raw IPv6 only
	LinkLinuxSLL2 LinkType = 276 // Linux cooked capture v2 (tcpdump -i any since libpcap 1.10)
)

// String returns the registry's name for the link types above and the
// number for the rest.
func (l LinkType) String() string {
	switch l {
	case LinkNull:
		return "NULL"
	case LinkEthernet:
		return "EN10MB"
	case LinkPPP:
		return "PPP"
	case LinkPPPHDLC:
		return "PPP_HDLC"
	case LinkPPPEther:
		return "PPP_ETHER"
	case LinkRawDLT12, LinkRawDLT14, LinkRaw:
		return "RAW"
	case LinkLoop:
		return "LOOP"
	case LinkLinuxSLL:
		return "LINUX_SLL"
	case LinkIPv4:
		return "IPV4"
	case LinkIPv6:
		return "IPV6"
	case LinkLinuxSLL2:
		return "LINUX_SLL2"
	}
	return "LINKTYPE_" + strconv.Itoa(int(l))
}

// Frame is one captured frame.
//
// Data points into the Source's own buffer: it is valid only until the next
// call of Next on the same Source (or Close). Copy it to keep it.
type Frame struct {
	Data       []byte // the captured bytes; len(Data) == CaptureLen
	UnixNano   int64  // capture timestamp: nanoseconds since the Unix epoch (see tracker.Segment)
	CaptureLen int    // bytes captured (may be less than WireLen: snaplen)
	WireLen    int    // bytes the frame had on the wire
	LinkType   LinkType
	Number     uint64 // 1-based position of the frame in its capture
}

// Source yields frames one at a time. Next fills f and returns nil, or
// returns io.EOF after the last frame, or another error. A Source is not safe
// for concurrent use.
type Source interface {
	Next(f *Frame) error
	Close() error
}

// Errors returned by the file readers, always wrapped with the file name,
// the packet number and the byte offset; test with errors.Is.
var (
	ErrEmpty     = errors.New("empty file")
	ErrIsDir     = errors.New("is a directory")
	ErrBadMagic  = errors.New("not a pcap, pcapng or gzip file (bad magic)")
	ErrTruncated = errors.New("truncated record")
	ErrCorrupt   = errors.New("corrupt capture")
)
