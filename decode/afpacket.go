package decode

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/gopacket/afpacket"
	"github.com/google/gopacket/pcap"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Ring geometry of the afpacket engine. The default ring is libpcap's
// default buffer, so that the engines compare like for like; -B sizes both.
// A block is what the kernel hands over at once: 128 KiB holds about a
// thousand header-only frames, a quarter of a millisecond at 4 M frames/s,
// and a 2 MiB ring has 16 of them.
const (
	afpacketRing       = 2 << 20
	afpacketBlock      = 128 << 10
	afpacketMinBlocks  = 4
	afpacketBlockRetry = 64 * time.Millisecond // longest a partly filled block waits (tp_retire_blk_tov)
)

// AFPacket is a live capture that reads the kernel's TPACKET_V3 ring from
// Go (gopacket/afpacket), without libpcap's cgo call per frame. It is a
// Capture with the same contract as Live. Filters are compiled by libpcap,
// on a handle opened on the same interface, so they mean what they mean to
// the pcap engine (VLAN tags included); VLAN tags the kernel stripped are
// put back into the frame, as libpcap does.
type AFPacket struct {
	iface string
	link  LinkType
	// mu is held by Next, Stats and Close: Close unmaps the ring, which
	// must not happen under a reader.
	mu   sync.Mutex
	tp   *afpacket.TPacket
	memb int // packet socket holding the interface promiscuous (and asked for its type); -1 once closed
	// since is the moment the filter was in place: frames stamped before
	// it may have passed unfiltered, so Next skips them; zero once a
	// later frame or a timeout shows the ring holds none of them.
	since   time.Time
	promisc bool
	ifDrops uint64 // the interface's drop counters at open
	tagged  []byte // a frame with its VLAN tag put back
	n       uint64
}

// OpenAFPacket starts capturing on the named interface with the afpacket
// engine. It needs root or CAP_NET_RAW, as OpenLive does. The interface
// "any" and link types other than Ethernet, loopback and raw IP give an
// error wrapping ErrEngine: use OpenLive for those.
func OpenAFPacket(iface string, cfg LiveConfig) (*AFPacket, error) {
	cfg = cfg.withDefaults()
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = afpacketRing
	}
	if iface == "any" {
		return nil, fmt.Errorf("%s: %w %s: needs a named interface (the pcap engine captures on any)", iface, ErrEngine, EngineAFPacket)
	}
	if err := interfaceExists(iface); err != nil {
		return nil, err
	}
	a := &AFPacket{iface: iface, memb: -1, promisc: !cfg.NoPromisc, tagged: make([]byte, 0, cfg.Snaplen+4)}
	fail := func(err error) (*AFPacket, error) {
		a.Close()
		if gone := interfaceExists(iface); gone != nil {
			return nil, gone
		}
		return nil, err
	}
	if err := a.openMembership(cfg); err != nil {
		return fail(err)
	}
	prog, err := compileLive(iface, a.link, cfg)
	if err != nil {
		return fail(err)
	}
	retire := min(afpacketBlockRetry, cfg.Timeout)
	if cfg.Immediate {
		retire = time.Millisecond
	}
	block := afpacketBlock
	for block > os.Getpagesize() && cfg.BufferSize/block < afpacketMinBlocks {
		block /= 2
	}
	a.tp, err = afpacket.NewTPacket(
		afpacket.OptInterface(iface),
		afpacket.TPacketVersion3,
		afpacket.OptFrameSize(os.Getpagesize()),
		afpacket.OptBlockSize(block),
		afpacket.OptNumBlocks(max(cfg.BufferSize/block, afpacketMinBlocks)),
		afpacket.OptBlockTimeout(retire),
		afpacket.OptPollTimeout(cfg.Timeout),
	)
	if err != nil {
		return fail(fmt.Errorf("%s: opening capture: %w", iface, err))
	}
	if err := a.tp.SetBPF(prog); err != nil {
		return fail(fmt.Errorf("%s: %w %q: attaching: %v", iface, ErrFilter, cfg.Filter, err))
	}
	a.since = time.Now()
	a.ifDrops = a.interfaceDrops()
	return a, nil
}

// openMembership opens a packet socket that receives nothing (protocol 0),
// learns the interface's link type through it and, unless told not to,
// holds the interface in promiscuous mode for as long as it stays open:
// gopacket/afpacket has no option for either.
func (a *AFPacket) openMembership(cfg LiveConfig) error {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("%s: packet socket: %w", a.iface, err)
	}
	a.memb = fd
	ifr, err := unix.NewIfreq(a.iface)
	if err == nil {
		err = unix.IoctlIfreq(fd, unix.SIOCGIFHWADDR, ifr)
	}
	if err != nil {
		return fmt.Errorf("%s: link type: %w", a.iface, err)
	}
	switch hw := ifr.Uint16(); hw {
	case unix.ARPHRD_ETHER, unix.ARPHRD_LOOPBACK:
		a.link = LinkEthernet
	case unix.ARPHRD_NONE:
		a.link = LinkRaw // tun, WireGuard: the frame is the IP packet
	default:
		return fmt.Errorf("%s: %w %s: ARPHRD link type %d (the pcap engine captures on it)", a.iface, ErrEngine, EngineAFPacket, hw)
	}
	if cfg.NoPromisc {
		return nil
	}
	ifi, err := net.InterfaceByName(a.iface)
	if err != nil {
		return fmt.Errorf("%s: %w: %v", a.iface, ErrInterfaceGone, err)
	}
	mreq := unix.PacketMreq{Ifindex: int32(ifi.Index), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		return fmt.Errorf("%s: promiscuous mode: %w", a.iface, err)
	}
	return nil
}

// compileLive compiles cfg.Filter on a libpcap handle activated on iface,
// so that libpcap generates the code it would run itself (on Linux it
// tests VLAN tags the kernel stripped through BPF extensions, which a dead
// handle cannot know to do). Every accepting return keeps cfg.Snaplen
// bytes: in-kernel, that is the snaplen. No filter compiles to "keep
// cfg.Snaplen bytes of everything".
func compileLive(iface string, link LinkType, cfg LiveConfig) ([]bpf.RawInstruction, error) {
	if cfg.Filter == "" {
		return bpf.Assemble([]bpf.Instruction{bpf.RetConstant{Val: uint32(cfg.Snaplen)}})
	}
	in, err := pcap.NewInactiveHandle(iface)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", iface, err)
	}
	defer in.CleanUp()
	if err := in.SetSnapLen(cfg.Snaplen); err != nil {
		return nil, fmt.Errorf("%s: %w", iface, err)
	}
	h, err := in.Activate()
	if err != nil {
		return nil, fmt.Errorf("%s: compiling the filter: %w", iface, err)
	}
	defer h.Close()
	if got := LinkType(h.LinkType()); got != link {
		return nil, fmt.Errorf("%s: %w %s: libpcap sees link type %v, the ring %v", iface, ErrEngine, EngineAFPacket, got, link)
	}
	ins, err := h.CompileBPFFilter(cfg.Filter)
	if err != nil {
		return nil, fmt.Errorf("%s: %w %q: %v", iface, ErrFilter, cfg.Filter, err)
	}
	raw := make([]bpf.RawInstruction, len(ins))
	for i, in := range ins {
		raw[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
	}
	return raw, nil
}

// Next waits for the next frame, with Live.Next's contract: ErrTimeout on
// a quiet link, ErrInterfaceGone once the interface is deleted, io.EOF
// after Close. f.Data points into the ring (or, for a frame whose VLAN tag
// is put back, into a buffer of the AFPacket) and is valid until the next
// call. gopacket allocates once per VLAN-tagged frame, for the tag's
// ancillary data; other frames allocate nothing.
func (a *AFPacket) Next(f *Frame) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tp == nil {
		return io.EOF
	}
	for {
		data, ci, err := a.tp.ZeroCopyReadPacketData()
		switch {
		case err == nil:
		case errors.Is(err, afpacket.ErrTimeout):
			// A quiet poll outlasts the block retire timeout, so the
			// ring is empty: nothing from before the filter is left.
			a.since = time.Time{}
			return ErrTimeout
		default:
			if interfaceExists(a.iface) != nil {
				return fmt.Errorf("%s: %w: %v", a.iface, ErrInterfaceGone, err)
			}
			return fmt.Errorf("%s: capture: %w", a.iface, err)
		}
		if ci.Timestamp.Before(a.since) {
			continue
		}
		a.since = time.Time{}
		wire := ci.Length
		for _, anc := range ci.AncillaryData {
			if v, ok := anc.(afpacket.AncillaryVLAN); ok && a.link == LinkEthernet && len(data) >= 12 {
				data = a.retag(data, v.VLAN)
				wire += 4
			}
		}
		a.n++
		*f = Frame{
			Data:       data,
			UnixNano:   ci.Timestamp.UnixNano(),
			CaptureLen: len(data),
			WireLen:    wire,
			LinkType:   a.link,
			Number:     a.n,
		}
		return nil
	}
}

// retag puts back the 802.1Q tag the kernel moved out of the frame. The
// kernel strips an 802.1ad outer tag as well, and gopacket keeps neither
// its TPID nor the priority bits: the tag comes back as 802.1Q with the
// VLAN ID alone, which is all the Decoder reads.
func (a *AFPacket) retag(data []byte, vid int) []byte {
	t := append(a.tagged[:0], data[:12]...)
	t = append(t, 0x81, 0x00, byte(vid>>8)&0x0f, byte(vid))
	t = append(t, data[12:]...)
	a.tagged = t
	return t
}

// Close stops the capture and leaves promiscuous mode. Called from another
// goroutine, it waits for a running Next to return (within the timeout),
// after which Next returns io.EOF.
func (a *AFPacket) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tp != nil {
		a.tp.Close()
		a.tp = nil
	}
	if a.memb >= 0 {
		unix.Close(a.memb)
		a.memb = -1
	}
	return nil
}

// Stats returns the kernel's counters, read as libpcap reads them:
// Received counts frames that passed the filter including those dropped
// for want of ring space (KernelDrops), and InterfaceDrops are the
// interface's missed and FIFO errors since open, in promiscuous mode only.
func (a *AFPacket) Stats() (CaptureStats, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tp == nil {
		return CaptureStats{}, fmt.Errorf("%s: capture stats: %w", a.iface, net.ErrClosed)
	}
	_, s, err := a.tp.SocketStats()
	if err != nil {
		return CaptureStats{}, fmt.Errorf("%s: capture stats: %w", a.iface, err)
	}
	ifDrops := a.interfaceDrops()
	return CaptureStats{
		Received:       uint64(s.Packets()),
		KernelDrops:    uint64(s.Drops()),
		InterfaceDrops: ifDrops - min(ifDrops, a.ifDrops), // the counters restart if the interface is re-created
	}, nil
}

// interfaceDrops is what libpcap counts as the interface's drops: its
// receive missed and FIFO errors from sysfs, read only in promiscuous
// mode. An unreadable counter reads 0, as libpcap's does (sysfs shows the
// namespace it was mounted in, which need not be the capture's).
func (a *AFPacket) interfaceDrops() uint64 {
	if !a.promisc {
		return 0
	}
	var n uint64
	for _, c := range []string{"rx_missed_errors", "rx_fifo_errors"} {
		b, err := os.ReadFile("/sys/class/net/" + a.iface + "/statistics/" + c)
		if err != nil {
			continue
		}
		v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
		if err == nil {
			n += v
		}
	}
	return n
}
