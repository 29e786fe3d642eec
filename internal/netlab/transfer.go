package netlab

import (
	"fmt"
	"strings"
)

// The transfer kinds move known amounts of data each way, so that the
// kernel's byte and retransmission counters (ss -i) have figures to
// compare a capture's with.
const (
	// ClientBytes and ServerBytes are what each end of a transfer writes,
	// in one write each; several segments, none of them short, so that a
	// loss rule can tell data from ACKs by length.
	ClientBytes = 4000
	ServerBytes = 7000
	// LateBytes is what the server of a half-closed transfer writes
	// after reading the client's FIN.
	LateBytes = 1000
)

// dataLength is an nft match for segments carrying data: every transfer
// segment is longer, every ACK (headers and options) shorter.
const dataLength = "meta length > 500"

// transfer plays n connections that each carry ClientBytes from the client,
// then ServerBytes from the server, every byte read by its peer. lose, if
// not nil, sets the loss up once the connections are open (before any
// data); halfClose then has the client shut down writing and the server,
// after reading EOF, send LateBytes more.
func transfer(lose loss, halfClose bool) playFunc {
	return func(l *Lab, port uint16, n int) (func() error, error) {
		if err := l.segmentPerFrame(); err != nil {
			return nil, err
		}
		ln, err := l.Server.Listen(port)
		if err != nil {
			return nil, err
		}
		return func() error {
			ps, err := l.open(ln, port, n)
			if err != nil {
				return err
			}
			if lose != nil {
				if err := lose(l, port); err != nil {
					return err
				}
			}
			for _, p := range ps {
				if err := send(p.c, p.s, strings.Repeat("c", ClientBytes)); err != nil {
					return err
				}
				if err := send(p.s, p.c, strings.Repeat("s", ServerBytes)); err != nil {
					return err
				}
				if !halfClose {
					continue
				}
				if err := p.c.CloseWrite(); err != nil {
					return err
				}
				if err := readEOF(p.s); err != nil {
					return err
				}
				if err := send(p.s, p.c, strings.Repeat("l", LateBytes)); err != nil {
					return err
				}
			}
			return sleep(l.ctx, ackDelay)
		}, nil
	}
}

// segmentPerFrame makes every frame on a veth carry one segment: the
// kernel counts segments (segs_out, retrans), a capture frames, and a TSO
// frame of several segments would be one frame on the wire of a veth.
func (l *Lab) segmentPerFrame() error {
	if l.Topology != Veth {
		return nil
	}
	for _, h := range []*Host{l.Client, l.Server} {
		if err := h.run("ip", "link", "set", h.Iface, "gso_max_segs", "1"); err != nil {
			return err
		}
	}
	return nil
}

// lossBothWays loses each end's first data segment once per connection:
// the client's at the server's input and the server's at the client's,
// after the capture point. Both retransmit, and the capture shows the
// segment twice.
func lossBothWays(l *Lab, port uint16) error {
	for _, r := range []struct {
		h          *Host
		here, peer string
	}{{l.Server, "dport", "sport"}, {l.Client, "sport", "dport"}} {
		set := fmt.Sprintf("lost%d", port)
		if err := r.h.nft(fmt.Sprintf(`add set inet netlab %[1]s { type inet_service; flags dynamic; }
add rule inet netlab input tcp %[2]s %[3]d %[5]s tcp %[4]s @%[1]s accept
add rule inet netlab input tcp %[2]s %[3]d %[5]s add @%[1]s { tcp %[4]s } drop`,
			set, r.here, port, r.peer, dataLength)); err != nil {
			return err
		}
	}
	return nil
}

// unseenBothWays steals one data segment each way at the sender's egress,
// before the capture point, once per connection: the client's last of
// its write (the one with PSH), so that its retransmission is the first
// time the capture sees those bytes, and the server's first (without PSH),
// so that its retransmission comes after the segments that followed it.
func unseenBothWays(l *Lab, port uint16) error {
	for _, r := range []struct {
		h          *Host
		peer, key  string
		flagsMatch string
	}{
		{l.Client, "dport", "sport", "tcp flags & psh == psh"},
		{l.Server, "sport", "dport", "tcp flags & psh == 0"},
	} {
		match := fmt.Sprintf("tcp %s %d %s %s", r.peer, port, dataLength, r.flagsMatch)
		if err := r.h.nft(fmt.Sprintf(`add table netdev netlab_steal
add chain netdev netlab_steal egress { type filter hook egress device %[1]q priority -200; policy accept; }
add set netdev netlab_steal once%[2]d { type inet_service; flags dynamic; }
add rule netdev netlab_steal egress %[3]s tcp %[4]s @once%[2]d accept
add rule netdev netlab_steal egress %[3]s add @once%[2]d { tcp %[4]s } fwd to "sink0"`,
			r.h.Iface, port, match, r.key)); err != nil {
			return err
		}
	}
	return nil
}
