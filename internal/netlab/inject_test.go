package netlab

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/tcptrack/tcptrack/tracker"
)

// TestCraftedFrame holds the hand-made frames to gopacket's: decoded, every
// field is what was asked, and the checksums are the ones gopacket computes
// for the same headers.
func TestCraftedFrame(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name string
		c    Crafted
	}{
		{"IPv4 SYN with options", Crafted{Src: ap("192.0.2.9:0"), Dst: ap("192.0.2.2:80"), Seq: 0xFFFFFFFF,
			Flags: tracker.SYN, Window: 64240, Options: []byte{2, 4, 5, 0xb4, 4, 2, 1, 3, 3, 7}}},
		{"IPv4 RST, odd payload", Crafted{Src: ap("192.0.2.1:40000"), Dst: ap("192.0.2.2:80"), Seq: 12345,
			Ack: 678, Flags: tracker.RST | tracker.ACK, Payload: []byte("abc")}},
		{"IPv6 ACK", Crafted{Src: ap("[2001:db8::9]:0"), Dst: ap("[2001:db8::2]:443"), Seq: 1, Ack: 2,
			Flags: tracker.ACK, Window: 502}},
		{"IPv6 SYN, ten destination options", Crafted{Src: ap("[2001:db8::9]:1234"), Dst: ap("[2001:db8::2]:80"),
			Seq: 7, Flags: tracker.SYN, Window: 1000, DestOpts: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.c
			c.SrcMAC, c.DstMAC = PhantomMAC, serverMAC
			f, err := c.Frame()
			if err != nil {
				t.Fatal(err)
			}
			p := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
			if el := p.ErrorLayer(); el != nil {
				t.Fatalf("gopacket: %v", el.Error())
			}
			tcp, _ := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
			if tcp == nil {
				t.Fatalf("no TCP layer in %v", p)
			}
			if uint16(tcp.SrcPort) != c.Src.Port() || uint16(tcp.DstPort) != c.Dst.Port() ||
				tcp.Seq != c.Seq || tcp.Ack != c.Ack || tcp.Window != c.Window ||
				!bytes.Equal(tcp.Payload, c.Payload) || tcp.Contents[13] != byte(c.Flags) {
				t.Errorf("TCP header decodes as %v, want %+v", tcp, c)
			}
			var netLayer gopacket.NetworkLayer
			if c.Src.Addr().Is4() {
				ip := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
				netLayer = ip
				if ip.SrcIP.String() != c.Src.Addr().String() || ip.DstIP.String() != c.Dst.Addr().String() ||
					int(ip.Length) != len(f)-ethHeader {
					t.Errorf("IPv4 header decodes as %v", ip)
				}
				want := *ip
				buf := gopacket.NewSerializeBuffer()
				if err := want.SerializeTo(buf, gopacket.SerializeOptions{ComputeChecksums: true}); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(buf.Bytes(), ip.Contents) {
					t.Errorf("IPv4 header\n got % x\nwant % x", ip.Contents, buf.Bytes())
				}
			} else {
				ip := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
				netLayer = ip
				if ip.SrcIP.String() != c.Src.Addr().String() || ip.DstIP.String() != c.Dst.Addr().String() {
					t.Errorf("IPv6 header decodes as %v", ip)
				}
				n := 0
				for _, l := range p.Layers() {
					if l.LayerType() == layers.LayerTypeIPv6Destination {
						n++
					}
				}
				if n != c.DestOpts {
					t.Errorf("%d destination-options headers decoded, want %d", n, c.DestOpts)
				}
			}
			// gopacket's checksum of the same segment.
			again := *tcp
			if err := again.SetNetworkLayerForChecksum(netLayer); err != nil {
				t.Fatal(err)
			}
			buf := gopacket.NewSerializeBuffer()
			if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true},
				&again, gopacket.Payload(tcp.Payload)); err != nil {
				t.Fatal(err)
			}
			if again.Checksum != tcp.Checksum {
				t.Errorf("TCP checksum %#04x, gopacket computes %#04x", tcp.Checksum, again.Checksum)
			}
		})
	}
}

func TestCraftedFrameErrors(t *testing.T) {
	ap := netip.MustParseAddrPort
	for _, c := range []Crafted{
		{SrcMAC: PhantomMAC, DstMAC: serverMAC, Src: ap("192.0.2.9:1"), Dst: ap("[2001:db8::2]:80")},
		{SrcMAC: PhantomMAC, DstMAC: serverMAC, Src: ap("192.0.2.9:1"), Dst: ap("192.0.2.2:80"), DestOpts: 1},
		{SrcMAC: PhantomMAC, DstMAC: serverMAC, Src: ap("192.0.2.9:1"), Dst: ap("192.0.2.2:80"), Options: make([]byte, 41)},
		{SrcMAC: "x", DstMAC: serverMAC, Src: ap("192.0.2.9:1"), Dst: ap("192.0.2.2:80")},
	} {
		if _, err := c.Frame(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}

// TestInjectorSYN has the kernel referee the injector: a SYN from a phantom
// address (port 0 over IPv4; ten destination-options headers over IPv6)
// makes the server's listener answer, which ss shows as a SYN-RECV request
// socket for the phantom peer.
func TestInjectorSYN(t *testing.T) {
	needRoot(t)
	for _, fam := range []Family{IPv4, IPv6} {
		t.Run(map[Family]string{IPv4: "IPv4", IPv6: "IPv6"}[fam], func(t *testing.T) {
			t.Parallel()
			l, err := New(context.Background(), Veth, fam)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			phantom := netip.MustParseAddr("192.0.2.9")
			c := Crafted{Seq: 1000, Flags: tracker.SYN, Window: 1000, Options: []byte{2, 4, 5, 0xb4},
				SrcMAC: PhantomMAC}
			if fam == IPv6 {
				phantom = netip.MustParseAddr("2001:db8::9")
				c.DestOpts = 10
			}
			c.Src, c.Dst = netip.AddrPortFrom(phantom, 0), l.server(80)
			if _, err := l.Server.Listen(80); err != nil {
				t.Fatal(err)
			}
			if err := l.Server.Neighbour(phantom, PhantomMAC); err != nil {
				t.Fatal(err)
			}
			inj, err := l.Client.Injector()
			if err != nil {
				t.Fatal(err)
			}
			if err := inj.Send(c); err != nil {
				t.Fatal(err)
			}
			want := "SYN-RECV"
			var ss []byte
			for range 50 {
				if ss, err = l.SS(); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(ss), want) {
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
			t.Errorf("no %s from %s after the injected SYN:\n%s", want, c.Src, ss)
		})
	}
}
