package decode

import (
	"encoding/binary"

	"github.com/tcptrack/tcptrack/internal/inetsum"
	"github.com/tcptrack/tcptrack/tracker"
)

// nopNopTimestamps is how the usual options of a segment after the
// handshake begin: NOP, NOP, then timestamps (kind 8, length 10).
const nopNopTimestamps = 0x0101080a

// tcp reads the TCP header at tcpOff, the last layer, into the segment.

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
		case kind == 34:
			o.FastOpen = true
		}
		i += n
	}
	return true
}

// checksumOK verifies the checksum of the TCP segment at tcpOff in ip, an
// IPv4 or IPv6 datagram captured whole. It works out the pseudo-header
// from the IP header here rather than where Decode reads that header, so
// that Decode keeps no sum in a register for the rare caller that asks.
func checksumOK(ip []byte, tcpOff int) bool {
	addrs := ip[12:20]
	if ip[0]>>4 == 6 {
		addrs = ip[8:40]
	}
	tcp := ip[tcpOff:]
	return inetsum.Fold(inetsum.Add(inetsum.Add(protoTCP+uint64(len(tcp)), addrs), tcp)) == 0xffff
}
