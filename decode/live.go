package decode

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/google/gopacket/pcap"
)

// DefaultSnaplen is the live capture's default snaplen: enough for every
// header, not for payload, since payload lengths come from the IP length
// fields. The largest header stack worth planning for is Linux cooked v2
// (20) + two VLAN tags (8) + IPv6 (40) + hop-by-hop (8) + a segment routing
// header with four segments (72) + destination options (8) + fragment (8) +
// TCP with the full 40 bytes of options (60) = 224 bytes. tcpdump's old 262
// covers that with little room for longer chains; 320 leaves a margin and is
// still a fifth of a full-size Ethernet frame.
const DefaultSnaplen = 320

// DefaultTimeout is how long Next waits on a quiet link before it returns
// ErrTimeout, so that the caller can advance its timers.
const DefaultTimeout = 500 * time.Millisecond

// Errors of live capture.
var (
	// ErrTimeout is returned by Live.Next when no packet arrived within
	// the timeout. It is not a failure: call Next again.
	ErrTimeout = errors.New("no packet within the read timeout")
	// ErrInterfaceGone is wrapped by OpenLive and Live.Next when the
	// interface does not exist (any more). The capture is dead: Close it
	// and open it again once the interface is back.
	ErrInterfaceGone = errors.New("capture interface is gone")
	// ErrEngine is wrapped by ParseEngine for an unknown engine and by
	// OpenAFPacket for an interface that engine cannot capture on.
	ErrEngine = errors.New("capture engine")
)

// Engine names a way of capturing live.
type Engine string

// Engines. Both read the kernel's TPACKET_V3 ring; they differ in who reads
// it. libpcap costs a cgo call per frame, about a third of the live path's
// CPU time as profiled (see bench/live.sh).
const (
	// EnginePcap is libpcap through gopacket/pcap: any interface,
	// including "any", with libpcap's semantics throughout.
	EnginePcap Engine = "pcap"
	// EngineAFPacket reads the ring from Go through gopacket/afpacket:
	// named Ethernet, loopback and raw-IP interfaces only.
	EngineAFPacket Engine = "afpacket"
)

// ParseEngine checks an engine name; the empty name is EnginePcap.
func ParseEngine(s string) (Engine, error) {
	switch e := Engine(s); e {
	case "", EnginePcap:
		return EnginePcap, nil
	case EngineAFPacket:
		return e, nil
	}
	return "", fmt.Errorf("%w %q: want %s or %s", ErrEngine, s, EnginePcap, EngineAFPacket)
}

// Capture is a live capture, whichever engine runs it: a Source whose Next
// returns ErrTimeout on a quiet link and an error wrapping ErrInterfaceGone
// once the interface is deleted, with the kernel's drop counters.
type Capture interface {
	Source
	Stats() (CaptureStats, error)
}

// OpenCapture opens a live capture on iface with the engine cfg names.
func OpenCapture(iface string, cfg LiveConfig) (Capture, error) {
	e, err := ParseEngine(string(cfg.Engine))
	if err != nil {
		return nil, err
	}
	if e == EngineAFPacket {
		a, err := OpenAFPacket(iface, cfg)
		if err != nil {
			return nil, err
		}
		return a, nil
	}
	l, err := OpenLive(iface, cfg)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// LiveConfig tunes a live capture. The zero value means the defaults, which
// are tcpdump's except for the snaplen.
type LiveConfig struct {
	Snaplen    int           // bytes kept per frame; 0 means DefaultSnaplen
	NoPromisc  bool          // leave the interface out of promiscuous mode (tcpdump -p)
	Immediate  bool          // hand each packet over at once instead of in kernel batches (more CPU, less latency)
	BufferSize int           // kernel capture buffer in bytes; 0 means libpcap's default (2 MiB)
	Filter     string        // tcpdump filter expression, run in the kernel
	Timeout    time.Duration // longest wait in Next; 0 means DefaultTimeout
	Engine     Engine        // OpenCapture's choice; "" means EnginePcap
}

// withDefaults fills in what the zero values mean, but for the buffer size,
// which is each engine's own.
func (cfg LiveConfig) withDefaults() LiveConfig {
	if cfg.Snaplen <= 0 {
		cfg.Snaplen = DefaultSnaplen
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return cfg
}

// CaptureStats are the kernel's counters since the capture was opened, as
// libpcap reads them.
type CaptureStats struct {
	Received       uint64 // packets that passed the filter
	KernelDrops    uint64 // dropped for lack of buffer space in the kernel
	InterfaceDrops uint64 // dropped by the interface or its driver
}

// Live is a capture on a network interface through libpcap. It is a
// Source; Next returns ErrTimeout on a quiet link rather than blocking
// forever.
type Live struct {
	iface  string
	handle *pcap.Handle
	link   LinkType
	n      uint64
}

// OpenLive starts capturing on iface ("any" for all interfaces, as
// tcpdump). It needs root or CAP_NET_RAW; after it returns, privileges can
// be dropped.
func OpenLive(iface string, cfg LiveConfig) (*Live, error) {
	cfg = cfg.withDefaults()
	if err := interfaceExists(iface); err != nil {
		return nil, err
	}
	in, err := pcap.NewInactiveHandle(iface)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", iface, err)
	}
	defer in.CleanUp()
	err = in.SetSnapLen(cfg.Snaplen)
	if err == nil {
		err = in.SetPromisc(!cfg.NoPromisc)
	}
	if err == nil {
		err = in.SetTimeout(cfg.Timeout)
	}
	if err == nil {
		err = in.SetImmediateMode(cfg.Immediate)
	}
	if err == nil && cfg.BufferSize > 0 {
		err = in.SetBufferSize(cfg.BufferSize)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", iface, err)
	}
	h, err := in.Activate()
	if err != nil {
		if gone := interfaceExists(iface); gone != nil {
			return nil, gone
		}
		return nil, fmt.Errorf("%s: opening capture: %w", iface, err)
	}
	if cfg.Filter != "" {
		if err := h.SetBPFFilter(cfg.Filter); err != nil {
			h.Close()
			return nil, fmt.Errorf("%s: %w %q: %v", iface, ErrFilter, cfg.Filter, err)
		}
	}
	return &Live{iface: iface, handle: h, link: LinkType(h.LinkType())}, nil
}

func interfaceExists(iface string) error {
	if iface == "any" {
		return nil
	}
	if _, err := net.InterfaceByName(iface); err != nil {
		return fmt.Errorf("%s: %w: %v", iface, ErrInterfaceGone, err)
	}
	return nil
}

// Next waits for the next frame. It returns ErrTimeout when none came within
// the timeout, an error wrapping ErrInterfaceGone when the interface
// disappeared, and io.EOF after Close. f.Data points into libpcap's buffer
// and is valid until the next call.
func (l *Live) Next(f *Frame) error {
	data, ci, err := l.handle.ZeroCopyReadPacketData()
	switch {
	case err == nil:
	case err == pcap.NextErrorTimeoutExpired:
		return ErrTimeout
	case err == io.EOF:
		return io.EOF
	default:
		if err == pcap.NextErrorReadError {
			err = l.handle.Error() // libpcap's own words
		}
		if interfaceExists(l.iface) != nil {
			return fmt.Errorf("%s: %w: %v", l.iface, ErrInterfaceGone, err)
		}
		return fmt.Errorf("%s: capture: %w", l.iface, err)
	}
	l.n++
	*f = Frame{
		Data:       data,
		UnixNano:   ci.Timestamp.UnixNano(),
		CaptureLen: ci.CaptureLength,
		WireLen:    ci.Length,
		LinkType:   l.link,
		Number:     l.n,
	}
	return nil
}

// Close stops the capture. It may be called from another goroutine to
// unblock Next, which then returns io.EOF.
func (l *Live) Close() error {
	l.handle.Close()
	return nil
}

// Stats returns libpcap's drop counters.
func (l *Live) Stats() (CaptureStats, error) {
	s, err := l.handle.Stats()
	if err != nil {
		return CaptureStats{}, fmt.Errorf("%s: capture stats: %w", l.iface, err)
	}
	return CaptureStats{
		Received:       uint64(s.PacketsReceived),
		KernelDrops:    uint64(s.PacketsDropped),
		InterfaceDrops: uint64(s.PacketsIfDropped),
	}, nil
}
