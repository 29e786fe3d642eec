package netlab

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ListenBacklog opens a listening socket on h's address and port with the
// given listen() backlog, and never accepts from it: once backlog+1
// connections have completed, its accept queue is full, and the kernel
// drops the final ACKs (and SYNs) that would add more, counting them as
// TcpExtListenOverflows. The lab closes it.
func (h *Host) ListenBacklog(port uint16, backlog int) error {
	return h.do(func() error {
		domain := unix.AF_INET
		var sa unix.Sockaddr = &unix.SockaddrInet4{Port: int(port), Addr: h.Addr.As4()}
		if h.lab.Family == IPv6 {
			domain = unix.AF_INET6
			sa = &unix.SockaddrInet6{Port: int(port), Addr: h.Addr.As16()}
		}
		fd, err := unix.Socket(domain, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("netlab: socket in %s: %w", h.Netns, err)
		}
		h.lab.mu.Lock()
		h.lab.fds = append(h.lab.fds, fd)
		h.lab.mu.Unlock()
		if err := unix.Bind(fd, sa); err != nil {
			return fmt.Errorf("netlab: bind port %d in %s: %w", port, h.Netns, err)
		}
		if err := unix.Listen(fd, backlog); err != nil {
			return fmt.Errorf("netlab: listen port %d in %s: %w", port, h.Netns, err)
		}
		return nil
	})
}

// StealEgress makes h's interface send the frames that rule (an nft match
// on h's outgoing segments) selects to sink0 at egress, before the capture
// point, until the returned function is called: the segments are lost
// where no capture shows them, and their sender takes them as sent.
func (h *Host) StealEgress(table, rule string) (restore func() error, err error) {
	if err := h.nft(fmt.Sprintf(`add table netdev %s
add chain netdev %s egress { type filter hook egress device %q priority -200; policy accept; }
add rule netdev %s egress %s fwd to "sink0"`, table, table, h.Iface, table, rule)); err != nil {
		return nil, err
	}
	return func() error { return h.nft("delete table netdev " + table) }, nil
}

// Nstat returns the kernel's counters of h's namespace named (e.g.
// "TcpExtListenOverflows"), as `nstat -asz` prints them: absolute values,
// zeros included, without touching nstat's history file.
func (h *Host) Nstat(names ...string) (map[string]uint64, error) {
	out, err := h.output(nil, append([]string{"nstat", "-asz"}, names...)...)
	if err != nil {
		return nil, err
	}
	got := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if n, err := strconv.ParseUint(f[1], 10, 64); err == nil {
			got[f[0]] = n
		}
	}
	for _, n := range names {
		if _, ok := got[n]; !ok {
			return nil, fmt.Errorf("%w: nstat in %s has no %s: %s", ErrCommand, h.Netns, n, out)
		}
	}
	return got, nil
}
