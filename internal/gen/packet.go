package gen

import (
	"bufio"
	"encoding/binary"
	"io"

	"github.com/tcptrack/tcptrack/tracker"
)

const (
	linkTypeEthernet = 1
	minFrame         = 60 // Ethernet minimum without FCS; NICs pad shorter frames
	// maxHeaders is Ethernet + 802.1Q + IPv6 + the largest TCP header.
	maxHeaders = 14 + 4 + 40 + 60
)

// Options layouts of a SYN, as the named stacks send them.
type synStyle uint8

const (
	synLinux   synStyle = iota // MSS, SACK_PERM, TS, NOP, WS
	synWindows                 // MSS, NOP, WS, NOP, NOP, SACK_PERM
	synBare                    // no options: a flooding tool's SYN
)

// pcapWriter serializes frames by hand into one reused buffer: a packet costs
// a few hundred nanoseconds and no allocation.
type pcapWriter struct {
	w       *bufio.Writer
	snaplen int
	buf     [16 + maxHeaders]byte
	zeros   []byte
	packets int
	bytes   int64
}

func newPcapWriter(w io.Writer, snaplen int) (*pcapWriter, error) {
	pw := &pcapWriter{w: bufio.NewWriterSize(w, 1<<20), snaplen: snaplen, zeros: make([]byte, snaplen)}
	var h [24]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], 0xa1b2c3d4) // microsecond resolution
	le.PutUint16(h[4:], 2)
	le.PutUint16(h[6:], 4)
	le.PutUint32(h[16:], uint32(snaplen))
	le.PutUint32(h[20:], linkTypeEthernet)
	if _, err := pw.w.Write(h[:]); err != nil {
		return nil, err
	}
	return pw, nil
}

func (pw *pcapWriter) flush() error { return pw.w.Flush() }

// write emits one segment of c as a pcap record stamped at s.at.
func (pw *pcapWriter) write(c *conn, s *step) error {
	src, dst := int(s.dir), 1-int(s.dir)
	b := pw.buf[16:]
	be := binary.BigEndian

	// Ethernet: locally administered MACs derived from the IP addresses.
	putMAC(b[0:6], &c.addr[dst], c.v6)
	putMAC(b[6:12], &c.addr[src], c.v6)
	n := 12
	if c.vlan != 0 {
		be.PutUint16(b[n:], 0x8100)
		be.PutUint16(b[n+2:], c.vlan)
		n += 4
	}

	optLen := c.optionsLen(s)
	tcpLen := 20 + optLen
	ipLen := 20
	if c.v6 {
		ipLen = 40
	}
	ip := n + 2
	tcp := ip + ipLen
	if c.v6 {
		be.PutUint16(b[n:], 0x86dd)
		be.PutUint32(b[ip:], 0x60000000|uint32(c.id&0xfffff))
		be.PutUint16(b[ip+4:], uint16(tcpLen+int(s.plen)))
		b[ip+6] = 6
		b[ip+7] = c.ttl[src]
		copy(b[ip+8:ip+24], c.addr[src][:])
		copy(b[ip+24:ip+40], c.addr[dst][:])
	} else {
		be.PutUint16(b[n:], 0x0800)
		b[ip] = 0x45
		b[ip+1] = 0
		be.PutUint16(b[ip+2:], uint16(ipLen+tcpLen+int(s.plen)))
		c.ipid[src]++
		be.PutUint16(b[ip+4:], c.ipid[src])
		be.PutUint16(b[ip+6:], 0x4000) // DF
		b[ip+8] = c.ttl[src]
		b[ip+9] = 6
		b[ip+10], b[ip+11] = 0, 0
		copy(b[ip+12:ip+16], c.addr[src][:4])
		copy(b[ip+16:ip+20], c.addr[dst][:4])
		be.PutUint16(b[ip+10:], ^fold(sum(b[ip:ip+20], 0)))
	}

	be.PutUint16(b[tcp:], c.port[src])
	be.PutUint16(b[tcp+2:], c.port[dst])
	be.PutUint32(b[tcp+4:], s.seq)
	be.PutUint32(b[tcp+8:], s.ack)
	b[tcp+12] = byte(tcpLen/4) << 4
	b[tcp+13] = byte(s.flags)
	be.PutUint16(b[tcp+14:], s.win)
	b[tcp+16], b[tcp+17], b[tcp+18], b[tcp+19] = 0, 0, 0, 0
	c.putOptions(b[tcp+20:tcp+tcpLen], s)

	// The payload is zeros, which add nothing to the one's-complement sum,
	// so the checksum is right even though the payload is never written.
	var ps uint32
	segLen := uint32(tcpLen) + uint32(s.plen)
	if c.v6 {
		ps = sum(b[ip+8:ip+40], 0) + segLen + 6
	} else {
		ps = sum(b[ip+12:ip+20], 0) + segLen + 6
	}
	be.PutUint16(b[tcp+16:], ^fold(sum(b[tcp:tcp+tcpLen], ps)))

	hdr := tcp + tcpLen
	wire := hdr + int(s.plen)
	if wire < minFrame {
		wire = minFrame
	}
	capLen := min(wire, pw.snaplen)

	le := binary.LittleEndian
	r := pw.buf[:16]
	le.PutUint32(r[0:], uint32(s.at/1e6))
	le.PutUint32(r[4:], uint32(s.at%1e6))
	le.PutUint32(r[8:], uint32(capLen))
	le.PutUint32(r[12:], uint32(wire))
	if capLen <= hdr {
		_, err := pw.w.Write(pw.buf[:16+capLen])
		return pw.count(wire, err)
	}
	if _, err := pw.w.Write(pw.buf[:16+hdr]); err != nil {
		return err
	}
	_, err := pw.w.Write(pw.zeros[:capLen-hdr])
	return pw.count(wire, err)
}

func (pw *pcapWriter) count(wire int, err error) error {
	pw.packets++
	pw.bytes += int64(wire)
	return err
}

func putMAC(m []byte, a *[16]byte, v6 bool) {
	m[0], m[1] = 0x02, 0x00
	if v6 { // the low bytes tell hosts apart
		copy(m[2:6], a[12:16])
		return
	}
	copy(m[2:6], a[:4])
}

// sum and fold compute the Internet checksum (RFC 1071). The decoder has
// its own, written apart on purpose: TestChecksums has it verify these.
func sum(b []byte, s uint32) uint32 {
	for len(b) >= 2 {
		s += uint32(b[0])<<8 | uint32(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint32(b[0]) << 8
	}
	return s
}

func fold(s uint32) uint16 {
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}

// optionsLen is the length of the TCP options of s, a multiple of 4.
func (c *conn) optionsLen(s *step) int {
	if s.flags&tracker.SYN != 0 {
		switch c.synStyle(int(s.dir)) {
		case synLinux:
			return 20
		case synWindows:
			return 12
		}
		return 0
	}
	if c.ts && s.flags&tracker.RST == 0 {
		return 12
	}
	return 0
}

func (c *conn) synStyle(side int) synStyle {
	if side == server && c.style[client] != synBare {
		// Linux answers with timestamps only when they were offered.
		if c.ts {
			return synLinux
		}
		return synWindows
	}
	return c.style[side]
}

// putOptions writes the options of s into o, len(o) == optionsLen(s).
func (c *conn) putOptions(o []byte, s *step) {
	if len(o) == 0 {
		return
	}
	side := int(s.dir)
	be := binary.BigEndian
	// TSval ticks in milliseconds from a random per-host origin; TSecr
	// echoes the newest TSval this side has seen from its peer.
	tsval := c.tsOff[side] + uint32(s.at/1000)
	tsecr := c.lastTS[1-side]
	if s.flags&tracker.SYN != 0 && s.flags&tracker.ACK == 0 {
		tsecr = 0
	}
	c.lastTS[side] = tsval
	if s.flags&tracker.SYN == 0 {
		o[0], o[1], o[2], o[3] = 1, 1, 8, 10
		be.PutUint32(o[4:], tsval)
		be.PutUint32(o[8:], tsecr)
		return
	}
	mss := c.mss[side]
	if c.synStyle(side) == synLinux {
		o[0], o[1] = 2, 4
		be.PutUint16(o[2:], mss)
		o[4], o[5] = 4, 2
		o[6], o[7] = 8, 10
		be.PutUint32(o[8:], tsval)
		be.PutUint32(o[12:], tsecr)
		o[16] = 1
		o[17], o[18], o[19] = 3, 3, c.wscale[side]
		return
	}
	o[0], o[1] = 2, 4
	be.PutUint16(o[2:], mss)
	o[4] = 1
	o[5], o[6], o[7] = 3, 3, c.wscale[side]
	o[8], o[9] = 1, 1
	o[10], o[11] = 4, 2
}
