package netlab

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/tcptrack/tcptrack/internal/inetsum"
	"github.com/tcptrack/tcptrack/tracker"
)

// ErrCraft is returned for a segment that cannot be built as asked.
var ErrCraft = errors.New("netlab: cannot build segment")

// PhantomMAC is a link-layer address that no interface of a lab has. A
// host told (Neighbour) that an address lives there sends its frames for
// it across the veth, where the capture sees them, and the kernel at the
// other end drops them as addressed to another host: the address behaves
// as a machine on the link that never answers, which is what a spoofer is.
const PhantomMAC = "02:00:00:00:00:09"

// Crafted is a TCP segment made by hand, to be sent by an Injector with
// the IP and Ethernet headers around it. Nothing in it is checked against
// what a real stack would send: that is the point.
type Crafted struct {
	// SrcMAC and DstMAC default to the injecting interface's address
	// and its peer's.
	SrcMAC, DstMAC string
	Src, Dst       netip.AddrPort // both IPv4 or both IPv6
	Seq, Ack       uint32
	Flags          tracker.Flags
	Window         uint16
	// Options are the TCP options, padded with zeros (end of options)
	// to a multiple of 4 bytes; at most 40 bytes.
	Options []byte
	Payload []byte
	// DestOpts puts that many IPv6 destination-options headers between
	// the IPv6 header and TCP, each 8 bytes holding one PadN option.
	// IPv4 segments must leave it 0.
	DestOpts int
}

// Ethernet, IPv4 and IPv6 header sizes, and the IP protocol numbers used.
const (
	ethHeader     = 14
	ipv4Header    = 20
	ipv6Header    = 40
	tcpHeader     = 20
	destOptHeader = 8
	protoTCP      = 6
	protoDestOpts = 60
	etherIPv4     = 0x0800
	etherIPv6     = 0x86DD
)

// Frame returns the Ethernet frame carrying c, with the IPv4 header
// checksum and the TCP checksum filled in. SrcMAC and DstMAC must be set.
func (c *Crafted) Frame() ([]byte, error) {
	src, err := net.ParseMAC(c.SrcMAC)
	if err != nil {
		return nil, fmt.Errorf("%w: source MAC: %v", ErrCraft, err)
	}
	dst, err := net.ParseMAC(c.DstMAC)
	if err != nil {
		return nil, fmt.Errorf("%w: destination MAC: %v", ErrCraft, err)
	}
	v4 := c.Src.Addr().Is4()
	if v4 != c.Dst.Addr().Is4() {
		return nil, fmt.Errorf("%w: %s and %s are not of one family", ErrCraft, c.Src, c.Dst)
	}
	if c.DestOpts < 0 || (v4 && c.DestOpts > 0) {
		return nil, fmt.Errorf("%w: %d destination-options headers on %s", ErrCraft, c.DestOpts, c.Src)
	}
	optLen := (len(c.Options) + 3) &^ 3
	if optLen > 40 {
		return nil, fmt.Errorf("%w: %d bytes of TCP options", ErrCraft, len(c.Options))
	}
	tcpLen := tcpHeader + optLen + len(c.Payload)
	ipLen := ipv4Header
	if !v4 {
		ipLen = ipv6Header + destOptHeader*c.DestOpts
	}
	if ipLen+tcpLen > 0xFFFF {
		return nil, fmt.Errorf("%w: %d bytes", ErrCraft, ipLen+tcpLen)
	}
	f := make([]byte, ethHeader+ipLen+tcpLen)
	copy(f[0:6], dst)
	copy(f[6:12], src)

	ip := f[ethHeader : ethHeader+ipLen]
	if v4 {
		binary.BigEndian.PutUint16(f[12:], etherIPv4)
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(ipLen+tcpLen))
		binary.BigEndian.PutUint16(ip[6:], 0x4000) // DF, as Linux sends TCP
		ip[8] = 64
		ip[9] = protoTCP
		s, d := c.Src.Addr().As4(), c.Dst.Addr().As4()
		copy(ip[12:16], s[:])
		copy(ip[16:20], d[:])
		binary.BigEndian.PutUint16(ip[10:], ^inetsum.Fold(inetsum.Add(0, ip)))
	} else {
		binary.BigEndian.PutUint16(f[12:], etherIPv6)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(ipLen-ipv6Header+tcpLen))
		ip[6] = protoTCP
		if c.DestOpts > 0 {
			ip[6] = protoDestOpts
		}
		ip[7] = 64
		s, d := c.Src.Addr().As16(), c.Dst.Addr().As16()
		copy(ip[8:24], s[:])
		copy(ip[24:40], d[:])
		for i := range c.DestOpts {
			h := ip[ipv6Header+destOptHeader*i:]
			h[0] = protoDestOpts
			if i == c.DestOpts-1 {
				h[0] = protoTCP
			}
			// h[1] = 0: 8 bytes in all. One PadN option fills
			// the 6 bytes after the two header bytes.
			h[2], h[3] = 1, 4
		}
	}

	t := f[ethHeader+ipLen:]
	binary.BigEndian.PutUint16(t[0:], c.Src.Port())
	binary.BigEndian.PutUint16(t[2:], c.Dst.Port())
	binary.BigEndian.PutUint32(t[4:], c.Seq)
	binary.BigEndian.PutUint32(t[8:], c.Ack)
	t[12] = byte((tcpHeader+optLen)/4) << 4
	t[13] = byte(c.Flags)
	binary.BigEndian.PutUint16(t[14:], c.Window)
	copy(t[tcpHeader:], c.Options)
	copy(t[tcpHeader+optLen:], c.Payload)
	binary.BigEndian.PutUint16(t[16:], ^inetsum.Fold(inetsum.Add(pseudoHeader(c.Src.Addr(), c.Dst.Addr(), tcpLen), t)))
	return f, nil
}

// pseudoHeader returns the ones'-complement sum of the TCP pseudo-header
// (RFC 9293 3.1, RFC 8200 8.1): addresses, protocol and TCP length.
func pseudoHeader(src, dst netip.Addr, tcpLen int) uint64 {
	var s uint64
	if src.Is4() {
		a, b := src.As4(), dst.As4()
		s = inetsum.Add(inetsum.Add(0, a[:]), b[:])
	} else {
		a, b := src.As16(), dst.As16()
		s = inetsum.Add(inetsum.Add(0, a[:]), b[:])
	}
	return s + protoTCP + uint64(tcpLen)
}

// Injector sends crafted frames out of a host's interface, as if another
// stack shared the link. It is an AF_PACKET socket bound to the interface
// that receives nothing: a frame it sends leaves by the device's transmit
// path, so a capture on either end of the veth sees it, and the peer's
// kernel receives it like any frame, through its input hooks. The host's
// own kernel never sees what it sends.
type Injector struct {
	h       *Host
	fd      int
	ifindex int
}

// Injector opens an injector on h's interface. The lab closes it.
func (h *Host) Injector() (*Injector, error) {
	inj := &Injector{h: h, fd: -1}
	err := h.do(func() error {
		ifi, err := net.InterfaceByName(h.Iface)
		if err != nil {
			return err
		}
		// Protocol 0: the socket is bound for sending and gets no
		// copy of any frame.
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		h.lab.mu.Lock()
		h.lab.fds = append(h.lab.fds, fd)
		h.lab.mu.Unlock()
		inj.fd, inj.ifindex = fd, ifi.Index
		return unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index})
	})
	if err != nil {
		return nil, fmt.Errorf("netlab: injector on %s in %s: %w", h.Iface, h.Netns, err)
	}
	return inj, nil
}

// Send builds c's frame, with the interface's MAC and its peer's where c
// leaves them empty, and sends it.
func (inj *Injector) Send(c Crafted) error {
	if c.SrcMAC == "" {
		c.SrcMAC = inj.h.MAC
	}
	if c.DstMAC == "" {
		c.DstMAC = inj.h.lab.peer(inj.h).MAC
	}
	f, err := c.Frame()
	if err != nil {
		return err
	}
	proto := uint16(etherIPv4)
	if c.Src.Addr().Is6() {
		proto = etherIPv6
	}
	sa := &unix.SockaddrLinklayer{Ifindex: inj.ifindex, Protocol: htons(proto), Halen: 6}
	copy(sa.Addr[:], f[0:6])
	if err := unix.Sendto(inj.fd, f, 0, sa); err != nil {
		return fmt.Errorf("netlab: inject %s > %s %s: %w", c.Src, c.Dst, c.Flags, err)
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Neighbour gives h a permanent neighbour entry: frames for addr go to mac
// without resolution. With PhantomMAC it makes addr a host that receives
// nothing.
func (h *Host) Neighbour(addr netip.Addr, mac string) error {
	return h.run("ip", "neigh", "replace", addr.String(), "lladdr", mac, "dev", h.Iface, "nud", "permanent")
}

// DialFrom connects from h's address and the given port to addr, with
// SO_REUSEADDR so that a port just left by a closed socket can be taken
// again at once, and waits for the handshake until ctx ends. When ctx ends
// first, the socket is closed in SYN_SENT: Linux sends nothing for that.
func (h *Host) DialFrom(ctx context.Context, port uint16, addr netip.AddrPort) (*net.TCPConn, error) {
	var c net.Conn
	err := h.do(func() (err error) {
		d := net.Dialer{
			LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(h.Addr, port)),
			Control: func(_, _ string, rc syscall.RawConn) error {
				var serr error
				if err := rc.Control(func(fd uintptr) {
					serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
				}); err != nil {
					return err
				}
				return serr
			},
		}
		c, err = d.DialContext(ctx, h.lab.Family.network(), addr.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netlab: dial %s from port %d in %s: %w", addr, port, h.Netns, err)
	}
	if err := h.lab.keep(c); err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// AddNftables applies an nftables script in h's namespace, in one
// transaction; the lab's table is "inet netlab", with the input chain
// "input".
func (h *Host) AddNftables(script string) error { return h.nft(script) }
