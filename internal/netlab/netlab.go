package netlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Errors returned by this package, wrapped with context.
var (
	ErrNotRoot    = errors.New("netlab: needs root")
	ErrCommand    = errors.New("netlab: command failed")
	ErrClosed     = errors.New("netlab: lab is closed")
	ErrScenario   = errors.New("netlab: scenario did not reach its states")
	ErrTopology   = errors.New("netlab: scenario not possible on this topology")
	ErrCapture    = errors.New("netlab: capture failed")
	ErrSSFormat   = errors.New("netlab: malformed ss output")
	ErrNoScenario = errors.New("netlab: no such scenario")
)

// Topology is the shape of a Lab's network.
type Topology uint8

const (
	// Veth is two namespaces, client and server, joined by a veth pair
	// named veth0 on both sides.
	Veth Topology = iota
	// Loopback is one namespace whose lo carries both ends.
	Loopback
)

// Family is the IP version a Lab's sockets use.
type Family uint8

// IP versions.
const (
	IPv4 Family = iota
	IPv6
)

func (f Family) network() string {
	if f == IPv6 {
		return "tcp6"
	}
	return "tcp4"
}

// Fixed link-layer addresses, so that two recordings of a scenario differ
// only in what the kernel chose (ports, sequence numbers, times).
const (
	clientMAC = "02:00:00:00:00:01"
	serverMAC = "02:00:00:00:00:02"
)

// cmdTimeout bounds every external command; none of them should take more
// than a fraction of a second.
const cmdTimeout = 10 * time.Second

// Host is one end of a Lab: a namespace and the address its sockets use.
type Host struct {
	// Role names the host in .ss files: "client", "server", or "host" on
	// a Loopback lab, where client and server are the same Host.
	Role  string
	Netns string     // the namespace's name, as ip netns knows it
	Addr  netip.Addr // the address sockets bind or connect to
	Iface string     // veth0, or lo on a Loopback lab
	MAC   string     // Iface's link-layer address; empty on lo
	lab   *Lab
}

// Lab is one test network. Create it with New and always Close it.
type Lab struct {
	Topology Topology
	Family   Family
	// Client and Server are the two ends; on a Loopback lab they are the
	// same Host.
	Client, Server *Host

	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	hosts   []*Host     // distinct hosts, in creation order
	closers []io.Closer // sockets and listeners, closed by Close
	fds     []int       // raw sockets, closed by Close
	capture *Capture
}

var labSeq atomic.Uint32

// New creates a lab: its namespaces, links and addresses, and an empty
// nftables table in every namespace. ctx bounds the lab's whole life; the
// lab is torn down by Close, not by ctx.
func New(ctx context.Context, topo Topology, fam Family) (_ *Lab, err error) {
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	removeStale()
	ctx, cancel := context.WithCancel(ctx)
	l := &Lab{Topology: topo, Family: fam, ctx: ctx, cancel: cancel}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	prefix := fmt.Sprintf("%s%d-%d-", nsPrefix, os.Getpid(), labSeq.Add(1))
	if topo == Loopback {
		h, err := l.addHost("host", prefix+"host")
		if err != nil {
			return nil, err
		}
		h.Iface = "lo"
		h.Addr = netip.MustParseAddr("127.0.0.1")
		if fam == IPv6 {
			h.Addr = netip.IPv6Loopback()
		}
		l.Client, l.Server = h, h
	} else {
		c, err := l.addHost("client", prefix+"client")
		if err != nil {
			return nil, err
		}
		s, err := l.addHost("server", prefix+"server")
		if err != nil {
			return nil, err
		}
		l.Client, l.Server = c, s
		c.Iface, s.Iface = "veth0", "veth0"
		c.MAC, s.MAC = clientMAC, serverMAC
		c.Addr, s.Addr = netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
		bits := "/24"
		if fam == IPv6 {
			c.Addr, s.Addr = netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2")
			bits = "/64"
		}
		if err := l.run("ip", "link", "add", "veth0", "netns", c.Netns, "address", clientMAC,
			"type", "veth", "peer", "name", "veth0", "netns", s.Netns, "address", serverMAC); err != nil {
			return nil, err
		}
		for _, h := range []*Host{c, s} {
			if fam == IPv4 {
				// No IPv6 at all on an IPv4 lab: no router
				// solicitations or MLD reports in its captures.
				if err := h.run("sysctl", "-qw", "net.ipv6.conf.veth0.disable_ipv6=1"); err != nil {
					return nil, err
				}
			}
			args := []string{"ip", "addr", "add", h.Addr.String() + bits, "dev", "veth0"}
			if fam == IPv6 {
				args = append(args, "nodad")
				// A fresh interface misses neighbour
				// solicitations until it has joined its
				// multicast groups; the first connection would
				// wait a second for the retry, and its RTT
				// sample (and so every RTO after it) would be a
				// second too. Static neighbours, no DAD and no
				// router solicitations avoid that.
				if err := h.run("sysctl", "-qw", "net.ipv6.conf.veth0.accept_dad=0",
					"net.ipv6.conf.veth0.router_solicitations=0"); err != nil {
					return nil, err
				}
			}
			if err := h.run(args...); err != nil {
				return nil, err
			}
			if err := h.run("ip", "link", "set", "veth0", "up"); err != nil {
				return nil, err
			}
		}
		if fam == IPv6 {
			if err := l.setNeighbours(); err != nil {
				return nil, err
			}
		}
	}
	return l, nil
}

// nsPrefix starts the name of every namespace a lab creates; the rest is
// the creating process's pid, a counter and the role.
const nsPrefix = "tt-"

// removeStale deletes namespaces left behind by labs whose process died
// without cleaning up (killed by a timeout, say). Namespaces of live
// processes are left alone.
func removeStale() {
	ents, err := os.ReadDir("/var/run/netns")
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), nsPrefix)
		if !ok {
			continue
		}
		pidText, _, ok := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
			_ = exec.CommandContext(ctx, "ip", "netns", "del", e.Name()).Run()
			cancel()
		}
	}
}

func (l *Lab) addHost(role, name string) (*Host, error) {
	if err := l.run("ip", "netns", "add", name); err != nil {
		return nil, err
	}
	h := &Host{Role: role, Netns: name, lab: l}
	l.mu.Lock()
	l.hosts = append(l.hosts, h)
	l.mu.Unlock()
	if err := h.run("ip", "link", "set", "lo", "up"); err != nil {
		return nil, err
	}
	// Where Freeze sends frames to be discarded: a device that is down
	// frees what it is given. A veth pair, because veth is needed anyway
	// and loading a module such as ifb or dummy would create devices in
	// the initial namespace.
	if err := h.run("ip", "link", "add", "sink0", "type", "veth", "peer", "name", "sink1"); err != nil {
		return nil, err
	}
	// The table every rule of this lab goes into; input runs after the
	// capture point on every interface, so what it drops is still seen.
	if err := h.nft(`table inet netlab {
	chain input { type filter hook input priority 0; policy accept; }
}`); err != nil {
		return nil, err
	}
	return h, nil
}

// Hosts returns the lab's distinct hosts: client and server, or the one
// loopback host.
func (l *Lab) Hosts() []*Host {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Host(nil), l.hosts...)
}

// Close stops the capture if one runs, closes every socket the lab made and
// deletes its namespaces. It is safe to call more than once and returns the
// first error met; it carries on past errors so that nothing is left behind
// that can be removed.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	closers, fds, hosts, capture := l.closers, l.fds, l.hosts, l.capture
	l.closers, l.fds, l.capture = nil, nil, nil
	l.mu.Unlock()

	var first error
	keep := func(err error) {
		if first == nil && err != nil {
			first = err
		}
	}
	if capture != nil {
		_, err := capture.Stop()
		keep(err)
	}
	l.cancel()
	for _, c := range closers {
		_ = c.Close() // a socket the peer reset reports an error; irrelevant here
	}
	for _, fd := range fds {
		_ = unix.Close(fd)
	}
	for _, h := range hosts {
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		keep(runCmd(ctx, nil, "ip", "netns", "del", h.Netns))
		cancel()
	}
	return first
}

// keep registers a socket or listener for Close.
func (l *Lab) keep(c io.Closer) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		c.Close()
		return ErrClosed
	}
	l.closers = append(l.closers, c)
	return nil
}

// run runs a command in the initial namespace (only ip netns and ip link
// add, which name the namespaces they touch).
func (l *Lab) run(args ...string) error {
	ctx, cancel := context.WithTimeout(l.ctx, cmdTimeout)
	defer cancel()
	return runCmd(ctx, nil, args...)
}

// run runs a command inside h's namespace.
func (h *Host) run(args ...string) error {
	_, err := h.output(nil, args...)
	return err
}

// output runs a command inside h's namespace and returns its stdout.
func (h *Host) output(stdin []byte, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(h.lab.ctx, cmdTimeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.Netns}, args...)...)
	cmd.Stdout = &out
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w: %s in %s: %v: %s", ErrCommand, strings.Join(args, " "), h.Netns, err, strings.TrimSpace(stderr.String()))
	}
	return out.Bytes(), nil
}

func runCmd(ctx context.Context, stdin []byte, args ...string) error {
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%w: %s: %v: %s", ErrCommand, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// nft applies an nftables script atomically inside h's namespace.
func (h *Host) nft(script string) error {
	_, err := h.output([]byte(script+"\n"), "nft", "-f", "-")
	return err
}

// AddRules appends rules (nft rule expressions, e.g. "tcp dport 80 drop")
// to the input hook of h's namespace, in one transaction.
func (h *Host) AddRules(rules ...string) error {
	var b strings.Builder
	for _, r := range rules {
		fmt.Fprintf(&b, "add rule inet netlab input %s\n", r)
	}
	return h.nft(b.String())
}

// do runs fn on a fresh OS thread inside h's namespace. Sockets that fn
// creates belong to that namespace for life.
func (h *Host) do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: when this goroutine returns, the runtime
		// ends the thread rather than let another goroutine run in
		// the wrong namespace.
		runtime.LockOSThread()
		f, err := os.Open("/var/run/netns/" + h.Netns)
		if err != nil {
			errc <- fmt.Errorf("netlab: open namespace: %w", err)
			return
		}
		err = unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
		f.Close()
		if err != nil {
			errc <- fmt.Errorf("netlab: setns %s: %w", h.Netns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// Listen opens a listening socket on h's address and port.
func (h *Host) Listen(port uint16) (*net.TCPListener, error) {
	var ln net.Listener
	err := h.do(func() (err error) {
		var lc net.ListenConfig
		ln, err = lc.Listen(h.lab.ctx, h.lab.Family.network(), netip.AddrPortFrom(h.Addr, port).String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netlab: listen in %s: %w", h.Netns, err)
	}
	if err := h.lab.keep(ln); err != nil {
		return nil, err
	}
	return ln.(*net.TCPListener), nil
}

// Dial connects from h to addr and waits for the handshake to complete.
func (h *Host) Dial(addr netip.AddrPort) (*net.TCPConn, error) {
	var c net.Conn
	err := h.do(func() (err error) {
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err = d.DialContext(h.lab.ctx, h.lab.Family.network(), addr.String())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netlab: dial %s from %s: %w", addr, h.Netns, err)
	}
	if err := h.lab.keep(c); err != nil {
		return nil, err
	}
	return c.(*net.TCPConn), nil
}

// Connect starts a connection from h to addr and returns at once, without
// waiting for an answer: the socket stays in SYN_SENT until one comes. The
// lab closes it.
func (h *Host) Connect(addr netip.AddrPort) error {
	return h.do(func() error {
		var sa unix.Sockaddr
		domain := unix.AF_INET
		if a := addr.Addr(); a.Is4() {
			sa = &unix.SockaddrInet4{Port: int(addr.Port()), Addr: a.As4()}
		} else {
			domain = unix.AF_INET6
			sa = &unix.SockaddrInet6{Port: int(addr.Port()), Addr: a.As16()}
		}
		fd, err := unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("netlab: socket in %s: %w", h.Netns, err)
		}
		h.lab.mu.Lock()
		h.lab.fds = append(h.lab.fds, fd)
		h.lab.mu.Unlock()
		if err := unix.Connect(fd, sa); err != nil && !errors.Is(err, unix.EINPROGRESS) {
			return fmt.Errorf("netlab: connect %s from %s: %w", addr, h.Netns, err)
		}
		return nil
	})
}

// Freeze stops every frame from leaving any of the lab's interfaces, before
// any capture point: from then on nothing a capture sees can change, and
// nothing can change a socket's state but its own timers. Take ss after
// Freeze and the capture and ss agree by construction.
//
// Frames are not dropped but stolen: an nftables egress hook forwards them
// to sink0, a device that is kept down and discards them. A plain drop
// would report an error to the sender, and the kernel discards a SYN_RECV
// request socket whose SYN+ACK retransmission fails to send, so a drop can
// change what ss shows; a stolen frame counts as sent.
func (l *Lab) Freeze() error {
	for _, h := range l.Hosts() {
		if err := h.nft(fmt.Sprintf(`table netdev netlab_freeze {
	chain egress { type filter hook egress device %q priority -300; policy accept; fwd to "sink0"; }
}`, h.Iface)); err != nil {
			return err
		}
	}
	return nil
}

// settle is how long a segment may still be on its way through a veth or
// lo and a receiving socket after it was sent: both are synchronous
// software paths, so a few milliseconds would do; the margin is for loaded
// CI machines.
const settle = 100 * time.Millisecond

// SS returns `ss -tan` of every host of the lab, each block preceded by a
// line "# netns ROLE". Call it after Freeze for a stable answer.
func (l *Lab) SS() ([]byte, error) { return l.ss("-tan") }

// ss returns ss run with args in every host of the lab, each block
// preceded by a line "# netns ROLE".
func (l *Lab) ss(args ...string) ([]byte, error) {
	var b bytes.Buffer
	for _, h := range l.Hosts() {
		out, err := h.output(nil, append([]string{"ss"}, args...)...)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "# netns %s\n", h.Role)
		b.Write(out)
	}
	return b.Bytes(), nil
}

// Snapshot freezes the lab, lets what is in flight arrive, and returns SS.
func (l *Lab) Snapshot() ([]byte, error) {
	ss, _, err := l.SnapshotInfo()
	return ss, err
}

// SnapshotInfo is Snapshot that also returns `ss -tanio` of every host,
// the kernel's facts about each socket (bytes, retransmissions, options;
// -o for the options, which ss prints only then), taken right after: the
// lab is frozen, so both describe the same moment. Both start with the
// "# time" line.
func (l *Lab) SnapshotInfo() (ss, ssi []byte, err error) {
	if err := l.Freeze(); err != nil {
		return nil, nil, err
	}
	return l.glance(true)
}

// Glance lets what is in flight arrive and returns SS, with the moment on
// its first line, without freezing the lab: the capture goes on. It is a
// snapshot of the capture at that moment only if nothing is sent from
// settle before it until ss has run, as between two acts of PlayActs, whose
// steps end with a wait for the last ACKs; a timer's retransmission may
// cross it, which changes no state.
func (l *Lab) Glance() ([]byte, error) {
	ss, _, err := l.glance(false)
	return ss, err
}

// glance is Glance, with `ss -tanio` too if info is set.
func (l *Lab) glance(info bool) (ss, ssi []byte, err error) {
	if err := sleep(l.ctx, settle); err != nil {
		return nil, nil, err
	}
	at := time.Now()
	if ss, err = l.SS(); err != nil {
		return nil, nil, err
	}
	// The moment of the snapshot, on the clock the capture's timestamps
	// come from, so that a reader can run the tracker's timers up to it.
	stamp := []byte(fmt.Sprintf("# time %s\n", at.UTC().Format(time.RFC3339Nano)))
	if info {
		if ssi, err = l.ss("-tanio"); err != nil {
			return nil, nil, err
		}
		ssi = append(stamp[:len(stamp):len(stamp)], ssi...)
	}
	return append(stamp[:len(stamp):len(stamp)], ss...), ssi, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
