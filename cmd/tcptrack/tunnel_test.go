package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// vxlanPcap returns a pcap of one TCP handshake, 10.0.0.1:40000 to
// 10.0.0.2:80, in each VNI of vnis, carried in VXLAN to UDP port port over
// an Ethernet and IPv4 underlay: the same addresses in every overlay.
func vxlanPcap(port uint16, vnis ...uint32) []byte {
	var b bytes.Buffer
	h := make([]byte, 24)
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4) // microsecond pcap
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 65535)
	binary.LittleEndian.PutUint32(h[20:], 1) // Ethernet
	b.Write(h)
	client, server := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
	usec := uint32(0)
	for _, vni := range vnis {
		for _, s := range []struct {
			src, dst         [4]byte
			sport, dport     uint16
			flags            byte
			seq, ack         uint32
			outerSrc, outerD byte
		}{
			{client, server, 40000, 80, 0x02, 1000, 0, 1, 2},    // SYN
			{server, client, 80, 40000, 0x12, 5000, 1001, 2, 1}, // SYN+ACK
			{client, server, 40000, 80, 0x10, 1001, 5001, 1, 2}, // ACK
		} {
			tcp := make([]byte, 20)
			binary.BigEndian.PutUint16(tcp[0:], s.sport)
			binary.BigEndian.PutUint16(tcp[2:], s.dport)
			binary.BigEndian.PutUint32(tcp[4:], s.seq)
			binary.BigEndian.PutUint32(tcp[8:], s.ack)
			tcp[12], tcp[13] = 5<<4, s.flags
			binary.BigEndian.PutUint16(tcp[14:], 64240)
			inner := ethernetIPv4(6, s.src, s.dst, tcp)
			vx := make([]byte, 8, 8+len(inner))
			vx[0] = 0x08 // the VNI is valid
			binary.BigEndian.PutUint32(vx[4:], vni<<8)
			udp := make([]byte, 8, 8+len(vx)+len(inner))
			binary.BigEndian.PutUint16(udp[0:], 50000)
			binary.BigEndian.PutUint16(udp[2:], port)
			binary.BigEndian.PutUint16(udp[4:], uint16(8+len(vx)+len(inner)))
			udp = append(append(udp, vx...), inner...)
			frame := ethernetIPv4(17, [4]byte{192, 0, 2, s.outerSrc}, [4]byte{192, 0, 2, s.outerD}, udp)
			rec := make([]byte, 16)
			usec += 1000
			binary.LittleEndian.PutUint32(rec[0:], 1_700_000_000)
			binary.LittleEndian.PutUint32(rec[4:], usec)
			binary.LittleEndian.PutUint32(rec[8:], uint32(len(frame)))
			binary.LittleEndian.PutUint32(rec[12:], uint32(len(frame)))
			b.Write(rec)
			b.Write(frame)
		}
	}
	return b.Bytes()
}

// ethernetIPv4 wraps payload in an IPv4 header of protocol proto and an
// Ethernet header.
func ethernetIPv4(proto byte, src, dst [4]byte, payload []byte) []byte {
	f := make([]byte, 34, 34+len(payload))
	copy(f, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00})
	ip := f[14:]
	ip[0], ip[8], ip[9] = 0x45, 64, proto
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(payload)))
	copy(ip[12:], src[:])
	copy(ip[16:], dst[:])
	return append(f, payload...)
}

// TestVXLANPorts checks that VXLAN is decoded on the UDP ports
// --decode.vxlan-ports names, and only on them: a port named replaces the
// default, the flag repeated adds ports, and ” leaves none.
func TestVXLANPorts(t *testing.T) {
	at8472 := write(t, "vxlan-8472.pcap", vxlanPcap(8472, 5000))
	at4789 := write(t, "vxlan-4789.pcap", vxlanPcap(4789, 5000))
	for _, c := range []struct {
		args []string
		want int // ESTABLISHED endpoints listed
	}{
		{[]string{"-r", at8472}, 0},
		{[]string{"-r", at8472, "--decode.vxlan-ports", "8472"}, 2},
		{[]string{"-r", at8472, "--decode.vxlan-ports", "4789,8472"}, 2},
		{[]string{"-r", at8472, "--decode.geneve-ports", "8472"}, 0},
		{[]string{"-r", at4789}, 2},
		{[]string{"-r", at4789, "--decode.vxlan-ports", "8472"}, 0},
		{[]string{"-r", at4789, "--decode.vxlan-ports", ""}, 0},
	} {
		code, out, errs := runCmd(append(c.args, "--sockets")...)
		if code != exitOK {
			t.Fatalf("%q: exit %d: %s", c.args, code, errs)
		}
		if n := strings.Count(out, "ESTAB"); n != c.want {
			t.Errorf("%q: %d ESTABLISHED endpoints, want %d:\n%s", c.args, n, c.want, out)
		}
	}
	if code, _, errs := runCmd("-r", at8472, "--decode.vxlan-ports", "8472,70000"); code != exitUsage || !strings.Contains(errs, "--decode.vxlan-ports") {
		t.Errorf("port 70000: exit %d, stderr %q; want %d naming the flag", code, errs, exitUsage)
	}
}

// TestTunnelsInListing checks that the same addresses in two VXLAN
// overlays are two listeners and two connections, each named by its VNI
// in the JSON listing and in the transitions.
func TestTunnelsInListing(t *testing.T) {
	p := write(t, "vxlan-two-vnis.pcap", vxlanPcap(4789, 5000, 5001))
	code, out, errs := runCmd("-r", p, "--sockets", "--json", "-a")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rows []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var s struct {
			State, Local, Peer string
			Tunnel             uint32
		}
		if err := json.Unmarshal([]byte(l), &s); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		rows = append(rows, fmt.Sprintf("%s %s %s %d", s.State, s.Local, s.Peer, s.Tunnel))
	}
	want := []string{
		"ESTABLISHED 10.0.0.1:40000 10.0.0.2:80 5000",
		"ESTABLISHED 10.0.0.1:40000 10.0.0.2:80 5001",
		"ESTABLISHED 10.0.0.2:80 10.0.0.1:40000 5000",
		"ESTABLISHED 10.0.0.2:80 10.0.0.1:40000 5001",
		"LISTEN 10.0.0.2:80  5000",
		"LISTEN 10.0.0.2:80  5001",
	}
	slices.Sort(rows)
	if !slices.Equal(rows, want) {
		t.Errorf("listing:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}

	// Each overlay's handshake: the server to SYN_RECV and ESTABLISHED,
	// the client to SYN_SENT and ESTABLISHED.
	_, out, _ = runCmd("-r", p, "--transitions", "-")
	for _, vni := range []string{"5000", "5001"} {
		if n := strings.Count(out, `"tunnel":`+vni+`,`); n != 4 {
			t.Errorf("%d transitions in tunnel %s, want 4:\n%s", n, vni, out)
		}
	}
}
