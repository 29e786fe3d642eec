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

	// VXLANPorts and GenevePorts are the UDP destination ports whose
	// datagrams are decoded as VXLAN and Geneve; nil means the IANA port
	// (DefaultVXLANPort, DefaultGenevePort), empty means none. Set them
	// before the first Decode.
	VXLANPorts, GenevePorts []uint16

	stats Stats
	// frag holds the datagrams in progress, made at the first fragment.
	frag *reassembler
	// w is the walk of the frame being decoded. It lives here rather
	// than on Decode's stack because the table's steps are called through
	// function values, which the compiler must assume keep their
	// arguments: a walk on the stack would be allocated on every call.
	w walk
}

// NewDecoder returns a Decoder with checksum verification off and the
// default tunnel ports.
func NewDecoder() *Decoder { return &Decoder{} }

// tunnelPorts are the UDP ports of the tunnels, as Decode reads them.
type tunnelPorts struct {
	vxlan, geneve []uint16
	set           bool
}

func (d *Decoder) setPorts() {
	p := &d.w.ports
	p.vxlan, p.geneve, p.set = d.VXLANPorts, d.GenevePorts, true
	if p.vxlan == nil {
		p.vxlan = []uint16{DefaultVXLANPort}
	}
	if p.geneve == nil {
		p.geneve = []uint16{DefaultGenevePort}
	}
}

// Stats returns the counts so far. Like Decode, call it from the goroutine
// that owns the Decoder; the copy it returns can go anywhere.
func (d *Decoder) Stats() Stats { return d.stats }

func (d *Decoder) skip(r Reason) error {
	d.stats.Skipped[r]++
	return reasonErrors[r]
}

// layer names what the bytes at an offset of a frame hold: each has one
// step that reads it and says what follows.
type layer uint8

const (
	layerEthernet layer = iota
	layerVLAN           // an 802.1Q or 802.1ad tag, after the MAC addresses
	layerSLL            // Linux cooked capture v1
	layerSLL2           // Linux cooked capture v2
	layerNull           // BSD loopback: a 4-byte address family
	layerRaw            // IPv4 or IPv6, as the version nibble says
	layerPPP            // a PPP protocol field, after HDLC framing if any
	layerPPPoE          // a PPPoE session header
	layerMPLS           // an MPLS label stack
	layerIPv4
	layerIPv6
	layerGRE
	layerERSPAN2
	layerERSPAN3
	layerUDP // only as a tunnel: any other UDP datagram ends the walk
	layerVXLAN
	layerGeneve
	layerTCP // the last layer: Decode reads it into the Segment
	numLayers
)

// walk is what the steps of one frame hand on to each other besides the
// frame's bytes and the offset of the next layer. It holds no pointer:
// storing one into the Decoder would cost a write-barrier check per frame.
type walk struct {
	tunnel uint32 // the overlay's id (Segment.Tunnel)
	vlan   uint16
	ports  tunnelPorts // set on the first Decode
}

// A step reads the layer at off of data, which ends on the wire at end
// as the length fields of the headers around it say (past len(data)
// when the snaplen cut the frame). It returns the layer that follows,
// where it starts and ends, or a reason to skip the frame (anything but
// proceed). The offset and the end travel in registers, as arguments and
// results; the walk holds what changes rarely.
type step func(w *walk, data []byte, off, end int) (next layer, nextOff, nextEnd int, r Reason)

// proceed is the Reason a step returns when the frame goes on.
const proceed = NumReasons

// steps is every layer's step but the last.
var steps = [numLayers]step{
	layerEthernet: ethernet,
	layerVLAN:     vlanTag,
	layerSLL:      cookedV1,
	layerSLL2:     cookedV2,
	layerNull:     loopback,
	layerRaw:      raw,
	layerPPP:      ppp,
	layerPPPoE:    pppoe,
	layerMPLS:     mpls,
	layerIPv4:     ipv4,
	layerIPv6:     ipv6,
	layerGRE:      gre,
	layerERSPAN2:  erspan2,
	layerERSPAN3:  erspan3,
	layerUDP:      udp,
	layerVXLAN:    vxlan,
	layerGeneve:   geneve,
}

// linkLayer returns the first layer of a frame of link type link, and
// false for link types the decoder does not read. Tested in turn, Ethernet
// first: a switch on the value is compiled to a binary search, which took
// Ethernet, by far the most common, through three comparisons.
func linkLayer(link LinkType) (layer, bool) {
	switch {
	case link == LinkEthernet:
		return layerEthernet, true
	case link == LinkLinuxSLL:
		return layerSLL, true
	case link == LinkLinuxSLL2:
		return layerSLL2, true
	case link == LinkNull, link == LinkLoop:
		return layerNull, true
	case link == LinkRaw, link == LinkRawDLT12, link == LinkRawDLT14:
		return layerRaw, true
	case link == LinkIPv4:
		return layerIPv4, true
	case link == LinkIPv6:
		return layerIPv6, true
	case link == LinkPPP, link == LinkPPPHDLC:
		return layerPPP, true
	case link == LinkPPPEther:
		return layerPPPoE, true
	}
	return 0, false
}

// walkFrame finds the innermost IP header and the TCP header of any
// frame, one layer at a time through the table of steps, reassembling
// fragments. It returns the bytes the TCP header is in: the frame's, or
// after the last fragment of a datagram, the reassembled datagram's. The
// VLAN and the tunnel id are left in d.w. A skipped frame is counted, and
// its error returned.
func (d *Decoder) walkFrame(f *Frame, data []byte, end int) (_ []byte, ipOff, tcpOff, tcpEnd int, err error) {
	if len(data) == 0 {
		return nil, 0, 0, 0, d.skip(ReasonZeroLength)
	}
	l, ok := linkLayer(f.LinkType)
	if !ok {
		return nil, 0, 0, 0, d.skip(ReasonUnsupportedLink)
	}
	w := &d.w
	w.vlan, w.tunnel = 0, 0
	if !w.ports.set {
		d.setPorts()
	}
	off, r := 0, proceed
	for ips := 0; l != layerTCP; {
		if l == layerIPv4 || l == layerIPv6 {
			// Every IP header after the first is a tunnel's, and
			// only they can nest without end: the bound on them
			// bounds the walk.
			if ips++; ips > maxIPHeaders {
				return nil, 0, 0, 0, d.skip(ReasonTunnelDepth)
			}
			ipOff = off
		}
		if l, off, end, r = steps[l](w, data, off, end); r != proceed {
			if r != ReasonFragment {
				return nil, 0, 0, 0, d.skip(r)
			}
			// A fragment: held, or the last of its datagram, which
			// is read from its IP header again (counted once).
			if data, end, r = d.defrag(f.UnixNano, data, ipOff, off, end); r != proceed {
				return nil, 0, 0, 0, reasonErrors[r] // counted by defrag
			}
			l, off, ipOff = layerIPv4, 0, 0
			if data[0]>>4 == 6 {
				l = layerIPv6
			}
			ips--
		}
	}
	return data, ipOff, off, end, nil
}

// Decode decodes f into seg. On success every field of seg is overwritten.
// Otherwise it returns a *ReasonError matching ErrNotTCP or ErrMalformed,
// counts the reason, and leaves seg in an unspecified state.
//
// PayloadLen comes from the IP length fields, not from the captured bytes,
// so segments cut by the snaplen count all their bytes.
//
// IP fragments are reassembled (see reassembly.go): the segment of a
// fragmented datagram comes from the Decode of the fragment that completed
// it, with that fragment's time; the others return ReasonFragment (held,
// counted in Stats.Held until their datagram's fate is known) or the
// reason they were dropped for.
func (d *Decoder) Decode(f *Frame, seg *tracker.Segment) error {
	d.stats.Frames++
	// Capped at its length, data's capacity is a value the compiler already
	// holds, and the array pointers the steps make need no third register
	// carried through them for it.
	data := f.Data[:len(f.Data):len(f.Data)]
	// The wire length bounds the IP length fields. Trust the captured bytes
	// over a record header that claims fewer.
	end := max(f.WireLen, len(data))
	var (
		ipOff, tcpOff, tcpEnd int // the innermost IP header and the TCP segment
		ok                    bool
	)
	// The usual frame, Ethernet with at most one 802.1Q tag, then IPv4
	// or IPv6 carrying TCP (see plainIPv4 and plainIPv6), is read here,
	// with the few tests that tell it apart, addresses and all: through
	// the walk, it took two thirds more instructions (316 against 192 a
	// frame in BenchmarkDecode). It is read as the steps ethernet,
	// vlanTag, ipv4 and ipv6 would read it (TestPlainFrameAsWalk and
	// FuzzDecode hold it to that); any frame it refuses takes the walk,
	// which knows every other case and why a frame is skipped.
	if f.LinkType == LinkEthernet && len(data) >= 14+40 {
		t, vlan := binary.BigEndian.Uint16(data[12:]), uint16(0)
		ipOff = 14
		if t == etherVLAN {
			vlan, t, ipOff = binary.BigEndian.Uint16(data[14:])&0x0fff, binary.BigEndian.Uint16(data[16:]), 18
		}
		switch t {
		case etherIPv4:
			if tcpOff, tcpEnd, ok = plainIPv4(data, ipOff, end); ok {
				ip := (*[20]byte)(data[ipOff:])
				seg.Src = netip.AddrFrom4([4]byte(ip[12:16]))
				seg.Dst = netip.AddrFrom4([4]byte(ip[16:20]))
			}
		case etherIPv6:
			if tcpOff, tcpEnd, ok = plainIPv6(data, ipOff, end); ok {
				ip := (*[40]byte)(data[ipOff:])
				seg.Src = netip.AddrFrom16([16]byte(ip[8:24]))
				seg.Dst = netip.AddrFrom16([16]byte(ip[24:40]))
			}
		}
		seg.VLAN, seg.Tunnel = vlan, 0
	}
	if !ok {
		var err error
		if data, ipOff, tcpOff, tcpEnd, err = d.walkFrame(f, data, end); err != nil {
			return err
		}
		seg.VLAN, seg.Tunnel = d.w.vlan, d.w.tunnel
		// The addresses are read from the innermost IP header here
		// rather than kept from its step: copied to the walk and from
		// there, they took two stores and two loads more.
		if ip := data[ipOff:]; ip[0]>>4 == 6 {
			seg.Src = netip.AddrFrom16([16]byte(ip[8:24]))
			seg.Dst = netip.AddrFrom16([16]byte(ip[24:40]))
		} else {
			seg.Src = netip.AddrFrom4([4]byte(ip[12:16]))
			seg.Dst = netip.AddrFrom4([4]byte(ip[16:20]))
		}
	}
	end = tcpEnd
	// The last layer, TCP, is read here rather than in a step: called,
	// it cost a third more time per frame in spills around the call.
	seg.UnixNano = f.UnixNano
	// The IP steps leave at least 20 bytes of TCP segment per the IP
	// header, so only the capture can be short of a TCP header; that one
	// test also catches extension headers cut by the snaplen (tcpOff
	// beyond the data).
	tcpLen := end - tcpOff                 // the TCP segment's length per the IP header
	capLen := min(end, len(data)) - tcpOff // how much of it was captured
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

	// Options go straight into seg: parsed into a local and then assigned,
	// they were copied with a 16-byte load that stalled on the 1-, 2- and
	// 4-byte stores just made (store forwarding). All of seg but the
	// options is stored before them, so that little lives across the call
	// to parseOptions.
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
	if d.VerifyChecksums && capLen == tcpLen && !checksumOK(data[ipOff:end], tcpOff-ipOff) {
		return d.skip(ReasonChecksum)
	}
	d.stats.Segments++
	return nil
}
