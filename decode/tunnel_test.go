package decode

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/tcptrack/tcptrack/tracker"
)

// Outer (underlay) addresses of the tunnels built here.
var (
	under4src, under4dst = net.IP{203, 0, 113, 1}, net.IP{203, 0, 113, 2}
	under6src, under6dst = net.ParseIP("2001:db8:ffff::1"), net.ParseIP("2001:db8:ffff::2")
)

// outer4 and outer6 wrap payload in an IPv4 or IPv6 header of protocol proto.
func outer4(t testing.TB, proto layers.IPProtocol, payload []byte) []byte {
	return serialize(t, &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: under4src, DstIP: under4dst}, gopacket.Payload(payload))
}

func outer6(t testing.TB, proto layers.IPProtocol, payload []byte) []byte {
	return serialize(t, &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: under6src, DstIP: under6dst}, gopacket.Payload(payload))
}

// udpTo is a UDP header to port dport (checksum 0, allowed for tunnels).
func udpTo(dport uint16, payload []byte) []byte {
	h := make([]byte, 8)
	binary.BigEndian.PutUint16(h, 49152)
	binary.BigEndian.PutUint16(h[2:], dport)
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
	return append(h, payload...)
}

// greWith is a GRE header: flags, protocol type, then the optional 32-bit
// fields in order (checksum word, key, sequence, ack), as the flags say.
func greWith(flags, proto uint16, fields []uint32, payload []byte) []byte {
	h := binary.BigEndian.AppendUint16(nil, flags)
	h = binary.BigEndian.AppendUint16(h, proto)
	for _, f := range fields {
		h = binary.BigEndian.AppendUint32(h, f)
	}
	return append(h, payload...)
}

// labels is an MPLS label stack, bottom-of-stack set on the last.
func labels(payload []byte, ls ...uint32) []byte {
	var h []byte
	for i, l := range ls {
		v := l<<12 | 64 // TTL 64
		if i == len(ls)-1 {
			v |= 1 << 8
		}
		h = binary.BigEndian.AppendUint32(h, v)
	}
	return append(h, payload...)
}

func vxlanHdr(vni uint32, payload []byte) []byte {
	h := []byte{0x08, 0, 0, 0}
	return append(binary.BigEndian.AppendUint32(h, vni<<8), payload...)
}

// geneveHdr carries an option of optWords 4-byte words.
func geneveHdr(proto uint16, vni uint32, optWords int, payload []byte) []byte {
	h := []byte{byte(optWords), 0}
	h = binary.BigEndian.AppendUint16(h, proto)
	h = binary.BigEndian.AppendUint32(h, vni<<8)
	h = append(h, make([]byte, optWords*4)...)
	if optWords > 0 {
		h[8+2], h[8+3] = 1, byte(optWords-1) // option class 0, type 1, its length
	}
	return append(h, payload...)
}

func pppoeHdr(payload []byte) []byte {
	h := []byte{0x11, 0, 0x12, 0x34}
	return append(binary.BigEndian.AppendUint16(h, uint16(len(payload))), payload...)
}

// erspan2Hdr and erspan3Hdr are ERSPAN type II and III headers naming
// vlan; the type III one has the optional platform subheader.
func erspan2Hdr(vlan uint16, payload []byte) []byte {
	h := binary.BigEndian.AppendUint16(nil, 1<<12|vlan)
	h = append(h, 0, 7, 0, 0, 0, 0) // session 7
	return append(h, payload...)
}

func erspan3Hdr(vlan uint16, payload []byte) []byte {
	h := binary.BigEndian.AppendUint16(nil, 2<<12|vlan)
	h = append(h, 0, 7, 0, 0, 0, 1, 0, 0, 0, 1) // session 7, timestamp 1, O set
	h = append(h, make([]byte, 8)...)
	return append(h, payload...)
}

func withTunnel(s tracker.Segment, id uint32) tracker.Segment {
	s.Tunnel = id
	return s
}

// tunnelCases are frames of every encapsulation, each with the segment it
// carries.
func tunnelCases(t testing.TB) []struct {
	name string
	link LinkType
	data []byte
	want tracker.Segment
} {
	v4, v6 := ipv4Packet(t), ipv6Packet(t, 0, nil)
	w4, w6 := wantSegment(v4src, v4dst, 0), wantSegment(v6src, v6dst, 0)
	eth4 := func(tags ...uint16) []byte { return ether(t, layers.EthernetTypeIPv4, tags, v4) }
	eth6 := func(tags ...uint16) []byte { return ether(t, layers.EthernetTypeIPv6, tags, v6) }
	return []struct {
		name string
		link LinkType
		data []byte
		want tracker.Segment
	}{
		{"mpls two labels/ipv4", LinkEthernet, ether(t, layers.EthernetTypeMPLSUnicast, nil, labels(v4, 100, 200)), w4},
		{"mpls multicast/ipv6", LinkEthernet, ether(t, layers.EthernetTypeMPLSMulticast, nil, labels(v6, 16)), w6},
		{"mpls/ethernet/ipv6", LinkEthernet, ether(t, layers.EthernetTypeMPLSUnicast, nil, labels(mutate(eth6(), func(b []byte) []byte { b[0], b[1] = 0, 0x1b; return b }), 300)), w6},
		{"vlan/mpls/control word/ethernet/ipv4", LinkEthernet, ether(t, layers.EthernetTypeMPLSUnicast, []uint16{9}, labels(cat([]byte{0, 0, 0, 0}, eth4()), 300)), wantSegment(v4src, v4dst, 9)},
		{"pppoe/ipv4", LinkEthernet, ether(t, layers.EthernetTypePPPoESession, nil, pppoeHdr(cat([]byte{0, 0x21}, v4))), w4},
		{"pppoe/ipv6 with ethernet padding", LinkEthernet, cat(ether(t, layers.EthernetTypePPPoESession, nil, pppoeHdr(cat([]byte{0, 0x57}, v6))), make([]byte, 6)), w6},
		{"ppp link/hdlc framing/ipv4", LinkPPP, cat([]byte{0xff, 0x03, 0, 0x21}, v4), w4},
		{"ppp link/compressed protocol/ipv6", LinkPPPHDLC, cat([]byte{0x57}, v6), w6},
		{"ppp_ether link/ipv4", LinkPPPEther, pppoeHdr(cat([]byte{0, 0x21}, v4)), w4},
		{"ipip", LinkRaw, outer4(t, layers.IPProtocolIPv4, v4), w4},
		{"6in4 (sit)", LinkEthernet, ether(t, layers.EthernetTypeIPv4, []uint16{4}, outer4(t, layers.IPProtocolIPv6, v6)), wantSegment(v6src, v6dst, 4)},
		{"4in6", LinkRaw, outer6(t, layers.IPProtocolIPv4, v4), w4},
		{"6in6 behind a destination options header", LinkRaw, outer6(t, layers.IPProtocolIPv6Destination, cat(extHdr(layers.IPProtocolIPv6, 0), v6)), w6},
		{"mpls in ip", LinkRaw, outer4(t, 137, labels(v4, 1000)), w4},
		{"gre/ipv4, vlan kept", LinkEthernet, ether(t, layers.EthernetTypeIPv4, []uint16{7}, outer4(t, layers.IPProtocolGRE, greWith(0, 0x0800, nil, v4))), wantSegment(v4src, v4dst, 7)},
		{"gre key/ipv4: the key's space", LinkEthernet, ether(t, layers.EthernetTypeIPv4, []uint16{7}, outer4(t, layers.IPProtocolGRE, greWith(greKey, 0x0800, []uint32{99}, v4))), withTunnel(w4, 99)},
		{"gre checksum key sequence/gretap/vlan/ipv6", LinkRaw, outer6(t, layers.IPProtocolGRE, greWith(greChecksum|greKey|greSeq, 0x6558, []uint32{0, 0xfffffffe, 1}, eth6(3))), withTunnel(wantSegment(v6src, v6dst, 3), 0xfffffffe)},
		{"gre/mpls/ipv4", LinkRaw, outer4(t, layers.IPProtocolGRE, greWith(0, 0x8847, nil, labels(v4, 5))), w4},
		{"pptp gre version 1/ppp/ipv4", LinkRaw, outer4(t, layers.IPProtocolGRE, greWith(greKey|greSeq|greAck|1, 0x880b, []uint32{uint32(len(v4) + 2), 1, 2}, cat([]byte{0xff, 0x03, 0, 0x21}, v4))), w4},
		{"erspan type I", LinkEthernet, ether(t, layers.EthernetTypeIPv4, []uint16{7}, outer4(t, layers.IPProtocolGRE, greWith(0, 0x88be, nil, eth4()))), w4},
		{"erspan type II names the vlan", LinkEthernet, ether(t, layers.EthernetTypeIPv4, nil, outer4(t, layers.IPProtocolGRE, greWith(greSeq, 0x88be, []uint32{5}, erspan2Hdr(12, eth4())))), wantSegment(v4src, v4dst, 12)},
		{"erspan type III, subheader, tagged frame", LinkEthernet, ether(t, layers.EthernetTypeIPv4, nil, outer4(t, layers.IPProtocolGRE, greWith(greSeq, 0x22eb, []uint32{5}, erspan3Hdr(12, eth6(5))))), wantSegment(v6src, v6dst, 5)},
		{"vxlan", LinkEthernet, ether(t, layers.EthernetTypeIPv4, []uint16{7}, outer4(t, layers.IPProtocolUDP, udpTo(4789, vxlanHdr(5000, eth4())))), withTunnel(w4, 5000)},
		{"vxlan over ipv6, inner vlan", LinkRaw, outer6(t, layers.IPProtocolUDP, udpTo(4789, vxlanHdr(0xffffff, eth6(20)))), withTunnel(wantSegment(v6src, v6dst, 20), 0xffffff)},
		{"geneve with options/ethernet", LinkEthernet, ether(t, layers.EthernetTypeIPv4, nil, outer4(t, layers.IPProtocolUDP, udpTo(6081, geneveHdr(0x6558, 77, 2, eth4())))), withTunnel(w4, 77)},
		{"geneve/ipv6 directly", LinkRaw, outer6(t, layers.IPProtocolUDP, udpTo(6081, geneveHdr(0x86dd, 78, 0, v6))), withTunnel(w6, 78)},
		{"vxlan in gre in pppoe", LinkEthernet, ether(t, layers.EthernetTypePPPoESession, nil, pppoeHdr(cat([]byte{0, 0x21}, outer4(t, layers.IPProtocolGRE, greWith(greKey, 0x0800, []uint32{1}, outer4(t, layers.IPProtocolUDP, udpTo(4789, vxlanHdr(2, eth4())))))))), withTunnel(w4, 2)},
	}
}

func TestDecodeTunnels(t *testing.T) {
	for _, tt := range tunnelCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder()
			d.VerifyChecksums = true
			var got tracker.Segment
			if err := d.Decode(frame(tt.link, tt.data), &got); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeTunnelPorts(t *testing.T) {
	v4 := ipv4Packet(t)
	linux := frame(LinkRaw, outer4(t, layers.IPProtocolUDP, udpTo(8472, vxlanHdr(42, ether(t, layers.EthernetTypeIPv4, nil, v4)))))
	var seg tracker.Segment
	if err := NewDecoder().Decode(linux, &seg); !errors.Is(err, ErrNotTCP) {
		t.Errorf("port 8472 by default: %v, want not TCP", err)
	}
	d := NewDecoder()
	d.VXLANPorts = []uint16{4789, 8472}
	if err := d.Decode(linux, &seg); err != nil || seg.Tunnel != 42 {
		t.Errorf("port 8472 configured: %v, tunnel %d", err, seg.Tunnel)
	}
	d = NewDecoder()
	d.VXLANPorts = []uint16{}
	std := frame(LinkRaw, outer4(t, layers.IPProtocolUDP, udpTo(4789, vxlanHdr(42, ether(t, layers.EthernetTypeIPv4, nil, v4)))))
	if err := d.Decode(std, &seg); !errors.Is(err, ErrNotTCP) {
		t.Errorf("no VXLAN port: %v, want not TCP", err)
	}
}

func TestDecodeTunnelsSkipped(t *testing.T) {
	v4 := ipv4Packet(t)
	eth4 := ether(t, layers.EthernetTypeIPv4, nil, v4)
	nest := v4
	for range maxIPHeaders {
		nest = outer4(t, layers.IPProtocolIPv4, nest)
	}
	vx := outer4(t, layers.IPProtocolUDP, udpTo(4789, vxlanHdr(1, eth4)))
	tests := []struct {
		name  string
		frame *Frame
		want  Reason
	}{
		{"gre routing", frame(LinkRaw, outer4(t, layers.IPProtocolGRE, greWith(greRouting, 0x0800, []uint32{0}, v4))), ReasonGREHeader},
		{"gre version 2", frame(LinkRaw, outer4(t, layers.IPProtocolGRE, greWith(2, 0x0800, nil, v4))), ReasonGREHeader},
		{"gre unknown payload type", frame(LinkRaw, outer4(t, layers.IPProtocolGRE, greWith(0, 0x1234, nil, v4))), ReasonUnsupportedEncap},
		{"mpls payload neither ip nor ethernet", frame(LinkEthernet, ether(t, layers.EthernetTypeMPLSUnicast, nil, labels(mutate(v4, func(b []byte) []byte { b[0] = 0x95; return b }), 1))), ReasonUnsupportedEncap},
		{"mpls stack without a bottom", frame(LinkEthernet, ether(t, layers.EthernetTypeMPLSUnicast, nil, []byte{0, 1, 0, 64, 0, 2, 0, 64})), ReasonTruncated},
		{"pppoe version 2", frame(LinkEthernet, ether(t, layers.EthernetTypePPPoESession, nil, mutate(pppoeHdr(cat([]byte{0, 0x21}, v4)), func(b []byte) []byte { b[0] = 0x21; return b }))), ReasonPPPoEHeader},
		{"pppoe longer than the frame", frame(LinkEthernet, ether(t, layers.EthernetTypePPPoESession, nil, mutate(pppoeHdr(cat([]byte{0, 0x21}, v4)), func(b []byte) []byte { b[4] = 0xff; return b }))), ReasonPPPoEHeader},
		{"pppoe lcp", frame(LinkEthernet, ether(t, layers.EthernetTypePPPoESession, nil, pppoeHdr([]byte{0xc0, 0x21, 1, 1, 0, 4}))), ReasonNotIP},
		{"vxlan without the I flag", frame(LinkRaw, mutate(vx, func(b []byte) []byte { b[28] = 0; return b })), ReasonVXLANHeader},
		{"vxlan udp length 4", frame(LinkRaw, mutate(vx, func(b []byte) []byte { b[24], b[25] = 0, 4; return b })), ReasonUDPLength},
		{"vxlan cut by the snaplen", &Frame{Data: vx[:20+8+8+10], CaptureLen: 46, WireLen: len(vx), LinkType: LinkRaw}, ReasonTruncated},
		{"geneve version 1", frame(LinkRaw, outer4(t, layers.IPProtocolUDP, udpTo(6081, mutate(geneveHdr(0x6558, 1, 0, eth4), func(b []byte) []byte { b[0] = 0x40; return b })))), ReasonGeneveHeader},
		{"geneve payload type unknown", frame(LinkRaw, outer4(t, layers.IPProtocolUDP, udpTo(6081, geneveHdr(0x0806, 1, 0, eth4)))), ReasonUnsupportedEncap},
		{"erspan type II of version 2", frame(LinkRaw, outer4(t, layers.IPProtocolGRE, greWith(greSeq, 0x88be, []uint32{1}, mutate(erspan2Hdr(1, eth4), func(b []byte) []byte { b[0] = 0x20; return b })))), ReasonERSPANHeader},
		{"udp to another port", frame(LinkRaw, outer4(t, layers.IPProtocolUDP, udpTo(53, []byte("x")))), ReasonNotTCP},
		{"nine nested ip headers", frame(LinkRaw, nest), ReasonTunnelDepth},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder()
			var seg tracker.Segment
			err := d.Decode(tt.frame, &seg)
			var re *ReasonError
			if !errors.As(err, &re) || re.Reason != tt.want {
				t.Fatalf("Decode error %v, want reason %v", err, tt.want)
			}
			if n := d.Stats().Skipped[tt.want]; n != 1 {
				t.Errorf("count for %v = %d, want 1", tt.want, n)
			}
		})
	}
	// Eight nested IP headers are still decoded.
	var seg tracker.Segment
	if err := NewDecoder().Decode(frame(LinkRaw, nest[20:]), &seg); err != nil {
		t.Errorf("eight nested ip headers: %v", err)
	}
}

// TestSteps calls single steps alone on the bytes of their layer.
func TestSteps(t *testing.T) {
	tests := []struct {
		name     string
		step     step
		data     []byte
		next     layer
		off, end int
		tunnel   uint32
	}{
		{"ethernet", ethernet, cat(make([]byte, 12), []byte{0x88, 0x47}), layerMPLS, 14, 100, 0},
		{"vxlan", vxlan, vxlanHdr(7, make([]byte, 14)), layerEthernet, 8, 100, 7},
		{"geneve", geneve, geneveHdr(0x0800, 8, 1, nil), layerIPv4, 12, 100, 8},
		{"gre key", gre, greWith(greKey, 0x86dd, []uint32{9}, nil), layerIPv6, 8, 100, 9},
		{"mpls", mpls, labels([]byte{0x60}, 1, 2, 3), layerIPv6, 12, 100, 0},
		{"udp", udp, udpTo(6081, make([]byte, 20)), layerGeneve, 8, 28, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder()
			d.setPorts()
			next, off, end, r := tt.step(&d.w, tt.data, 0, 100)
			if r != proceed || next != tt.next || off != tt.off || end != tt.end || d.w.tunnel != tt.tunnel {
				t.Errorf("got layer %d at %d..%d, tunnel %d, reason %v; want layer %d at %d..%d, tunnel %d", next, off, end, d.w.tunnel, r, tt.next, tt.off, tt.end, tt.tunnel)
			}
		})
	}
}

// TestTunnelsAgainstTshark writes every generated tunnel frame into one
// pcapng file (an interface per link type) and compares the decoded
// segments with Wireshark's dissectors field by field, the tunnel id
// included (the innermost VXLAN or Geneve VNI, else the GRE key). The
// VLAN, which an overlay's id resets, is checked by TestDecodeTunnels.
func TestTunnelsAgainstTshark(t *testing.T) {
	tshark := lookTool(t, "tshark")
	cases := tunnelCases(t)
	n := (&ng{order: binary.LittleEndian}).shb()
	ifaces := map[LinkType]uint32{}
	for _, c := range cases {
		if _, ok := ifaces[c.link]; !ok {
			ifaces[c.link] = uint32(len(ifaces))
			n.idb(c.link, 65535, 9, 0)
		}
	}
	for i, c := range cases {
		n.epb(ifaces[c.link], uint64(testTime.UnixNano()+int64(i)), rec{data: c.data})
	}
	path := filepath.Join(t.TempDir(), "tunnels.pcapng")
	if err := os.WriteFile(path, n.b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	fields := []string{"frame.number", "ip.src", "ip.dst", "ipv6.src", "ipv6.dst", "tcp.srcport", "tcp.dstport",
		"tcp.seq_raw", "tcp.ack_raw", "tcp.flags", "tcp.window_size_value", "tcp.len", "vxlan.vni", "geneve.vni", "gre.key",
		"ip.version", "ipv6.version", "frame.protocols"}
	args := []string{"-n", "-r", path, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=l",
		"-d", "udp.port==4789,vxlan", "-d", "udp.port==6081,geneve"}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	out, err := exec.Command(tshark, args...).Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	segs, _ := decodeAll(t, path)
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		v := strings.Split(sc.Text(), "\t")
		num := parseU(t, v[0])
		c := cases[num-1]
		got, ok := segs[num]
		if !ok {
			t.Errorf("%s: not decoded", c.name)
			continue
		}
		if strings.Contains(c.name, "mpls/") && strings.Contains(c.name, "ethernet") {
			// Ethernet pseudowires: whether a control word comes first
			// is a guess, and tshark's guesses differ from the
			// decoder's (which looks for an EtherType it follows):
			// it took this control word for the start of a frame
			// with EtherType 0, and this frame's MAC address, which
			// begins with a 0 nibble, for a control word.
			continue
		}
		if v[5] == "" {
			t.Errorf("%s: tshark finds no TCP in it (%s)", c.name, v[17])
			continue
		}
		// The innermost IP header is the last in frame.protocols.
		src, dst := v[1], v[2]
		if p := strings.Split(v[17], ":"); slices.Index(p, "ipv6") > slices.Index(p, "ip") {
			src, dst = v[3], v[4]
		}
		tunnel := cmp.Or(v[12], v[13], v[14])
		want := got
		want.Src, want.Dst = netip.MustParseAddr(src), netip.MustParseAddr(dst)
		want.SrcPort, want.DstPort = uint16(parseU(t, v[5])), uint16(parseU(t, v[6]))
		want.Seq, want.Ack = uint32(parseU(t, v[7])), uint32(parseU(t, v[8]))
		want.Flags, want.Window = tracker.Flags(parseU(t, v[9])), uint16(parseU(t, v[10]))
		want.PayloadLen, want.Tunnel = uint32(parseU(t, v[11])), uint32(parseU(t, tunnel))
		if got != want {
			t.Errorf("%s (%s):\n got    %+v\n tshark %+v", c.name, v[17], got, want)
		}
	}
}
