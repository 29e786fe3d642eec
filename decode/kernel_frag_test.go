package decode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/tcptrack/tcptrack/internal/netlab"
	"github.com/tcptrack/tcptrack/tracker"
	"golang.org/x/sys/unix"
)

// kernelFragCases are RSTs sent in fragments to a server's established
// socket, one connection each, and whether Linux resets the socket: the
// test asks the kernel rather than trusting this column, and holds
// tcptrack to the kernel. An RST with data keeps its TCP header whole in
// the first of its IPv6 fragments, as RFC 7112 asks.
var kernelFragCases = []struct {
	name   string
	v6     bool
	data   int     // bytes of data the RST carries
	pieces []piece // of the TCP segment, in the order sent
	resets bool
}{
	{"ipv4 tcp header split after 8 bytes", false, 0, []piece{{0, 8}, {8, -1}}, true},
	{"ipv4 in reverse order", false, 0, []piece{{8, -1}, {0, 8}}, true},
	{"ipv4 duplicate first fragment", false, 0, []piece{{0, 8}, {0, 8}, {8, -1}}, true},
	{"ipv4 overlap", false, 0, []piece{{0, 16}, {8, -1}}, false},
	{"ipv4 duplicate across runs", false, 16, []piece{{0, 8}, {16, 24}, {8, 16}, {0, 16}, {24, -1}}, false},
	{"ipv6 rst in the later fragment", true, 12, []piece{{0, 24}, {24, -1}}, true},
	{"ipv6 tcp header split after 8 bytes", true, 0, []piece{{0, 8}, {8, -1}}, false},
	{"ipv6 overlap", true, 12, []piece{{0, 24}, {16, -1}}, false},
	{"ipv6 duplicate", true, 12, []piece{{0, 24}, {0, 24}, {24, -1}}, true},
}

// TestKernelFragments sends each case's RST from the client's namespace
// with a packet socket, to a server socket of a real connection, at its
// RCV.NXT, and checks that tcptrack's listing of the server's sockets in
// the capture equals ss -tan.
func TestKernelFragments(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("creates network namespaces: needs root (CI runs as root)")
	}
	for _, tool := range []string{"ip", "tcpdump", "ss"} {
		lookTool(t, tool)
	}
	for _, fam := range []netlab.Family{netlab.IPv4, netlab.IPv6} {
		t.Run(map[netlab.Family]string{netlab.IPv4: "ipv4", netlab.IPv6: "ipv6"}[fam], func(t *testing.T) {
			var cases []int
			for i, c := range kernelFragCases {
				if c.v6 == (fam == netlab.IPv6) {
					cases = append(cases, i)
				}
			}
			kernelFragments(t, fam, cases)
		})
	}
}

func kernelFragments(t *testing.T, fam netlab.Family, cases []int) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	lab, err := netlab.New(ctx, netlab.Veth, fam)
	if err != nil {
		t.Fatal(err)
	}
	defer lab.Close()
	pcap := filepath.Join(t.TempDir(), "frag.pcap")
	capture, err := lab.Server.StartCapture("veth0", "", pcap)
	if err != nil {
		t.Fatal(err)
	}
	const port = 8000
	ln, err := lab.Server.Listen(port)
	if err != nil {
		t.Fatal(err)
	}
	clients := make([]*net.TCPConn, len(cases))
	for i := range cases {
		if clients[i], err = lab.Client.Dial(netip.AddrPortFrom(lab.Server.Addr, port)); err != nil {
			t.Fatal(err)
		}
		c, err := ln.AcceptTCP()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	time.Sleep(200 * time.Millisecond)
	// The server's RCV.NXT is what its SYN+ACK acknowledged: the client
	// sends nothing after its ACK.
	rcvNxt := synAckAcks(t, pcap)
	for i, n := range cases {
		c := kernelFragCases[n]
		local := netip.MustParseAddrPort(clients[i].LocalAddr().String())
		seq, ok := rcvNxt[local.Port()]
		if !ok {
			t.Fatalf("%s: no SYN+ACK to port %d in the capture", c.name, local.Port())
		}
		frames := fragmentedRST(t, lab, local, seq, uint32(1000+i), c.data, c.pieces)
		if err := injectFrames(lab.Client.Netns, frames); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	ss, err := lab.SS()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := capture.Stop(); err != nil {
		t.Fatal(err)
	}
	kernel, err := netlab.ParseSS(bytes.NewReader(ss))
	if err != nil {
		t.Fatal(err)
	}
	// The server's sockets only: the client's kernel never knew of the
	// RSTs sent in its name, which tcptrack takes as closing the client.
	server := func(local, peer netip.AddrPort) string {
		if local.Addr() != lab.Server.Addr || local.Port() != port {
			return ""
		}
		return fmt.Sprintf("%v %v %v", tracker.Established, local, peer)
	}
	var want []string
	for _, s := range kernel {
		if s.State == tracker.Established {
			if line := server(s.Local, s.Peer); line != "" {
				want = append(want, line)
			}
		}
	}
	tr := trackFile(t, pcap)
	var got []string
	tr.Sockets(func(s tracker.Socket) {
		if s.State == tracker.Established {
			if line := server(s.Local, s.Peer); line != "" {
				got = append(got, line)
			}
		}
	})
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("tcptrack lists\n\t%s\nthe kernel\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	// What the kernel did, case by case, beside what the table says
	// Linux does.
	for i, n := range cases {
		c := kernelFragCases[n]
		peer := netip.MustParseAddrPort(clients[i].LocalAddr().String())
		alive := slices.Contains(want, server(netip.AddrPortFrom(lab.Server.Addr, port), peer))
		t.Logf("%s: the kernel %s the connection", c.name, map[bool]string{true: "kept", false: "reset"}[alive])
		if alive == c.resets {
			t.Errorf("%s: the kernel reset %v, the table says %v", c.name, !alive, c.resets)
		}
	}
}

// synAckAcks reads the capture so far and returns, per client port, the
// acknowledgment number of the server's SYN+ACK.
func synAckAcks(t *testing.T, pcap string) map[uint16]uint32 {
	src, err := OpenFile(pcap)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	d, acks := NewDecoder(), map[uint16]uint32{}
	var (
		f   Frame
		seg tracker.Segment
	)
	for src.Next(&f) == nil {
		if d.Decode(&f, &seg) == nil && seg.Flags&(tracker.SYN|tracker.ACK) == tracker.SYN|tracker.ACK {
			acks[seg.DstPort] = seg.Ack
		}
	}
	return acks
}

// trackFile tracks a capture to its end.
func trackFile(t *testing.T, pcap string) *tracker.Tracker {
	src, err := OpenFile(pcap)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	d, tr := NewDecoder(), tracker.New(tracker.Config{})
	var (
		f   Frame
		seg tracker.Segment
	)
	for src.Next(&f) == nil {
		if err := d.Decode(&f, &seg); err == nil {
			tr.Track(&seg)
		} else if errors.Is(err, ErrMalformed) && !strings.HasPrefix(err.Error(), "malformed frame: fragment") {
			t.Errorf("frame %d: %v", f.Number, err)
		}
	}
	return tr
}

// fragmentedRST is an RST from client to the lab's server at seq, carrying
// data bytes, cut into Ethernet frames of the given pieces of its TCP
// segment.
func fragmentedRST(t *testing.T, lab *netlab.Lab, client netip.AddrPort, seq, id uint32, data int, pieces []piece) [][]byte {
	tcp := &layers.TCP{SrcPort: layers.TCPPort(client.Port()), DstPort: 8000, Seq: seq, RST: true, Window: 0}
	payload := gopacket.Payload(bytes.Repeat([]byte{'r'}, data))
	var pkt []byte
	var frags [][]byte
	typ := layers.EthernetTypeIPv4
	if client.Addr().Is4() {
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
			SrcIP: client.Addr().AsSlice(), DstIP: lab.Server.Addr.AsSlice()}
		tcp.SetNetworkLayerForChecksum(ip)
		pkt = serialize(t, ip, tcp, payload)
		frags = fragments4(pkt, uint16(id), pieces...)
	} else {
		typ = layers.EthernetTypeIPv6
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
			SrcIP: client.Addr().AsSlice(), DstIP: lab.Server.Addr.AsSlice()}
		tcp.SetNetworkLayerForChecksum(ip)
		pkt = serialize(t, ip, tcp, payload)
		frags = fragments6(pkt, id, pieces...)
	}
	out := make([][]byte, len(frags))
	for i, f := range frags {
		out[i] = ether(t, typ, nil, f)
	}
	return out
}

// injectFrames writes frames as they are on veth0 of namespace ns, through
// a packet socket made inside it: nothing of the kernel's IP output path
// touches them.
func injectFrames(ns string, frames [][]byte) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the thread ends with the goroutine rather
		// than run another in the namespace.
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			errc <- err
			return
		}
		ifi, err := net.InterfaceByName("veth0")
		if err != nil {
			errc <- err
			return
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		if err != nil {
			errc <- err
			return
		}
		defer unix.Close(fd)
		addr := &unix.SockaddrLinklayer{Ifindex: ifi.Index}
		for _, b := range frames {
			if err := unix.Sendto(fd, b, 0, addr); err != nil {
				errc <- fmt.Errorf("send: %w", err)
				return
			}
		}
		errc <- nil
	}()
	return <-errc
}
