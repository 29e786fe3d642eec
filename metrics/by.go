package metrics

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tcptrack/tcptrack/tracker"
)

// ByKind is what a breakdown groups endpoints by.
type ByKind uint8

// Breakdowns.
const (
	ByNone  ByKind = iota
	ByPort         // the server port of the endpoint's connection
	ByLocal        // the endpoint's own address
	ByPeer         // the address of the endpoint's peer
)

var byNames = [...]string{ByNone: "", ByPort: "port", ByLocal: "local", ByPeer: "peer"}

// By is a breakdown: the CLI's --by port, --by local, --by peer, and the
// prefix forms --by peer/24 (IPv4 peers by /24), --by peer/48 (IPv6 peers
// by /48), --by peer/24/48 (both).
type By struct {
	Kind ByKind
	// Bits4 and Bits6 are the prefix lengths addresses are grouped by:
	// 32 and 128, the whole address, unless the spec says otherwise.
	Bits4, Bits6 int
}

// ErrBy is the error of a breakdown that cannot be parsed.
var ErrBy = errors.New("want port, local, peer, or local or peer with prefix lengths such as peer/24, peer/48 or peer/24/48")

// ParseBy reads a breakdown. A single length applies to IPv4 when it is 32
// or less and to IPv6 otherwise; two are IPv4's then IPv6's.
func ParseBy(s string) (By, error) {
	name, rest, _ := strings.Cut(s, "/")
	b := By{Bits4: 32, Bits6: 128}
	switch name {
	case "port":
		b.Kind = ByPort
		if rest != "" {
			return By{}, fmt.Errorf("%s: a port takes no prefix length: %w", s, ErrBy)
		}
		return b, nil
	case "local":
		b.Kind = ByLocal
	case "peer":
		b.Kind = ByPeer
	default:
		return By{}, fmt.Errorf("%s: %w", s, ErrBy)
	}
	if rest == "" {
		return b, nil
	}
	lens := strings.Split(rest, "/")
	if len(lens) > 2 {
		return By{}, fmt.Errorf("%s: %w", s, ErrBy)
	}
	for i, l := range lens {
		n, err := strconv.Atoi(l)
		switch {
		case err != nil || n < 0 || n > 128:
			return By{}, fmt.Errorf("%s: prefix length %q: %w", s, l, ErrBy)
		case len(lens) == 2 && i == 0 && n > 32:
			return By{}, fmt.Errorf("%s: IPv4 prefix length %d is over 32: %w", s, n, ErrBy)
		case len(lens) == 2 && i == 1 || len(lens) == 1 && n > 32:
			b.Bits6 = n
		default:
			b.Bits4 = n
		}
	}
	return b, nil
}

// String returns b as ParseBy reads it.
func (b By) String() string {
	s := byNames[b.Kind]
	if b.Kind == ByLocal || b.Kind == ByPeer {
		switch {
		case b.Bits4 != 32 && b.Bits6 != 128:
			s += fmt.Sprintf("/%d/%d", b.Bits4, b.Bits6)
		case b.Bits4 != 32:
			s += fmt.Sprintf("/%d", b.Bits4)
		case b.Bits6 != 128:
			s += fmt.Sprintf("/%d", b.Bits6)
		}
	}
	return s
}

// Group is the endpoints of one port or address, by state. LISTEN counts
// inferred listeners, and only when they were asked for.
type Group struct {
	Port   uint16       // ByPort
	Addr   netip.Prefix // ByLocal, ByPeer; a whole address is a prefix of its full length
	States [tracker.NumStates]int
}

// key returns the group's key as the text output writes it.
func (g *Group) key(b By) string {
	if b.Kind == ByPort {
		return strconv.Itoa(int(g.Port))
	}
	if g.Addr.IsSingleIP() {
		return g.Addr.Addr().String()
	}
	return g.Addr.String()
}

// prefix returns a grouped by b's lengths. IPv4-mapped IPv6 addresses (IPv4
// seen in IPv6 packets) are grouped as IPv4.
func (b By) prefix(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := b.Bits6
	if a.Is4() {
		bits = b.Bits4
	}
	p, _ := a.Prefix(bits)
	return p
}

// GroupBy counts the listing's endpoints by b, sorted by port or address.
// Each endpoint counts under the server port of its connection (ByPort),
// its own address (ByLocal) or its peer's (ByPeer). With all, inferred
// listeners count as LISTEN under their port or address (not ByPeer: a
// listener has no peer).
func GroupBy(l *Listing, b By, all bool) []Group {
	type key struct {
		port uint16
		addr netip.Prefix
	}
	groups := map[key]*Group{}
	add := func(s tracker.Socket) {
		var k key
		switch b.Kind {
		case ByPort:
			k.port = s.Peer.Port()
			if !s.Client {
				k.port = s.Local.Port()
			}
		case ByLocal:
			k.addr = b.prefix(s.Local.Addr())
		case ByPeer:
			k.addr = b.prefix(s.Peer.Addr())
		}
		g := groups[k]
		if g == nil {
			g = &Group{Port: k.port, Addr: k.addr}
			groups[k] = g
		}
		g.States[s.State]++
	}
	for _, s := range l.Sockets {
		add(s)
	}
	if all && b.Kind != ByPeer {
		for _, s := range l.Listeners {
			add(s)
		}
	}
	out := make([]Group, 0, len(groups))
	for _, g := range groups {
		out = append(out, *g)
	}
	slices.SortFunc(out, func(x, y Group) int {
		return cmp.Or(cmp.Compare(x.Port, y.Port), x.Addr.Addr().Compare(y.Addr.Addr()), cmp.Compare(x.Addr.Bits(), y.Addr.Bits()))
	})
	return out
}

// WriteBy writes one "KEY STATE count" line for each state with a
// non-zero count of each group, in the groups' order and the states'
// fixed order (LISTEN last): `80 ESTABLISHED 12`, `192.0.2.0/24 SYN_SENT 3`.
func WriteBy(w io.Writer, groups []Group, b By) error {
	bw := bufio.NewWriter(w)
	for i := range groups {
		g := &groups[i]
		k := g.key(b)
		for st := tracker.State(0); st < tracker.NumStates; st++ {
			if (st.Counted() || st == tracker.Listen) && g.States[st] > 0 {
				fmt.Fprintf(bw, "%s %s %d\n", k, st, g.States[st])
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write counts: %w", err)
	}
	return nil
}

// WriteByJSON writes the breakdown as one JSON object on one line:
// {"time":…,"by":"port","groups":[{"port":80,"states":{"ESTABLISHED":2,…}},…]},
// every state present in every group, zeros included (LISTEN with all).
func WriteByJSON(w io.Writer, at time.Time, groups []Group, b By, all bool) error {
	type jsonGroup struct {
		Port   *uint16        `json:"port,omitempty"`
		Addr   string         `json:"addr,omitempty"`
		States map[string]int `json:"states"`
	}
	out := struct {
		Time   time.Time   `json:"time"`
		By     string      `json:"by"`
		Groups []jsonGroup `json:"groups"`
	}{at.UTC(), b.String(), make([]jsonGroup, 0, len(groups))}
	for i := range groups {
		g := &groups[i]
		j := jsonGroup{States: map[string]int{}}
		if b.Kind == ByPort {
			j.Port = &g.Port
		} else {
			j.Addr = g.key(b)
		}
		for st := tracker.State(0); st < tracker.NumStates; st++ {
			if st.Counted() || st == tracker.Listen && all && b.Kind != ByPeer {
				j.States[st.String()] = g.States[st]
			}
		}
		out.Groups = append(out.Groups, j)
	}
	if err := json.NewEncoder(w).Encode(out); err != nil {
		return fmt.Errorf("write counts: %w", err)
	}
	return nil
}
