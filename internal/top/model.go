package top

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/tcptrack/tcptrack/metrics"
	"github.com/tcptrack/tcptrack/tracker"
)

// Conn is one row of the connections table: the endpoints the listing
// shows of one connection, client first.
type Conn struct {
	Client, Server netip.AddrPort
	VLAN           uint16
	Tunnel         uint32 // see tracker.Segment.Tunnel
	// ClientState and ServerState are Unknown when that endpoint is not
	// listed: closed, not yet confirmed, or outside --local.
	ClientState, ServerState tracker.State
	// ClientSendQ and ServerSendQ are each side's Send-Q as --sockets
	// shows it: sequence space sent and not yet acknowledged.
	ClientSendQ, ServerSendQ uint32
	PickedUp, Gap            bool
	// Info says the listing carried the tracker's facts about the
	// connection (tracker.Config.Info): the fields below are zero without.
	Info bool
	// Start is the capture time of its first segment (of the capture's
	// first, when picked up mid-stream), Changed that of the last change of
	// state of either endpoint.
	Start, Changed time.Time
	// ClientBytes and ServerBytes are the payload each side has sent, by
	// its sequence numbers (tracker.EndpointInfo.Bytes).
	ClientBytes, ServerBytes uint64
	// ClientRate and ServerRate are each side's bytes per second (see
	// rates), known when Rated.
	ClientRate, ServerRate float64
	Rated                  bool
	// RTT is the handshake's round trip at the capture point (the SYN to
	// the SYN+ACK, and that to its ACK); 0 unless both halves were seen.
	RTT time.Duration
}

type connKey struct {
	client, server netip.AddrPort
	vlan           uint16
	tunnel         uint32
}

func (c *Conn) key() connKey { return connKey{c.Client, c.Server, c.VLAN, c.Tunnel} }

// conns turns a listing into rows, one per connection: the two endpoints of
// a connection are two sockets of the listing.
func conns(l *metrics.Listing) []Conn {
	if l == nil {
		return nil
	}
	// With the tracker's facts, the sockets of one connection share them
	// and come one after the other: a new Info is a new connection, and
	// no index is needed (it was a third of the view's time at 40,000
	// connections). Without, the index pairs them.
	var index map[connKey]int
	var last *tracker.Conn
	out := make([]Conn, 0, len(l.Sockets))
	for _, s := range l.Sockets {
		k := connKey{s.Peer, s.Local, s.VLAN, s.Tunnel}
		if s.Client {
			k.client, k.server = s.Local, s.Peer
		}
		var i int
		switch {
		case s.Info != nil && s.Info == last:
			i = len(out) - 1
		case s.Info != nil:
			i, last = len(out), s.Info
			out = append(out, Conn{Client: k.client, Server: k.server, VLAN: k.vlan, Tunnel: k.tunnel})
			out[i].setInfo(s.Info)
		default:
			if index == nil {
				index = make(map[connKey]int, len(l.Sockets)/2) // two sockets a connection, mostly
			}
			var ok bool
			if i, ok = index[k]; !ok {
				i = len(out)
				index[k] = i
				out = append(out, Conn{Client: k.client, Server: k.server, VLAN: k.vlan, Tunnel: k.tunnel})
			}
		}
		c := &out[i]
		if s.Client {
			c.ClientState, c.ClientSendQ = s.State, s.SendQ
		} else {
			c.ServerState, c.ServerSendQ = s.State, s.SendQ
		}
		c.PickedUp = c.PickedUp || s.PickedUp
		c.Gap = c.Gap || s.Gap
	}
	return out
}

// setInfo fills in the facts of the connection the tracker kept: both of
// its sockets carry the same.
func (c *Conn) setInfo(in *tracker.Conn) {
	c.Info = true
	c.Start = in.Start
	c.Changed = in.Client.Since
	if in.Server.Since.After(c.Changed) {
		c.Changed = in.Server.Since
	}
	c.ClientBytes, c.ServerBytes = in.Client.Bytes, in.Server.Bytes
	if in.SynRTT > 0 && in.AckRTT > 0 {
		c.RTT = in.SynRTT + in.AckRTT
	}
}

// PortRow is one row of the per-port summary: the connections to one
// server port and the states of their endpoints, both sides counted.
type PortRow struct {
	Port   uint16
	Conns  int
	States [tracker.NumStates]int
}

// ports sums rows by server port.
func ports(rows []Conn) []PortRow {
	index := map[uint16]int{}
	var out []PortRow
	for i := range rows {
		c := &rows[i]
		p := c.Server.Port()
		j, ok := index[p]
		if !ok {
			j = len(out)
			index[p] = j
			out = append(out, PortRow{Port: p})
		}
		r := &out[j]
		r.Conns++
		r.States[c.ClientState]++
		r.States[c.ServerState]++
	}
	return out
}

// column is one column of a table: its title, its width bounds, how a
// row shows in it and how two rows compare in it.
type column[R any] struct {
	title    string
	min, max int // width; max 0 means min
	// want is the width up to which a flexible column's values are kept
	// whole before a column that may give way is shown (0: min).
	want  int
	right bool // numbers are right-aligned
	// drop is the order in which columns give way on a narrow terminal:
	// 0 never, the highest first, columns of one value together.
	drop int
	text func(r *R, now time.Time) string
	cmp  func(a, b *R) int
}

// stateText is a state as the table shows it: "-" for an endpoint not
// listed.
func stateText(s tracker.State) string {
	if s == tracker.Unknown {
		return "-"
	}
	return s.String()
}

func addrCmp(a, b netip.AddrPort) int { return a.Compare(b) }

// ipv4Port is the longest IPv4 address and port, 255.255.255.255:65535.
const ipv4Port = 21

// connColumns are the table's columns, the ones that fit 80 columns first.
// Those that need the tracker's facts show nothing for a row without them.
var connColumns = []column[Conn]{
	{title: "CLIENT", min: 15, max: 47, want: ipv4Port,
		text: func(c *Conn, _ time.Time) string { return c.Client.String() },
		cmp:  func(a, b *Conn) int { return addrCmp(a.Client, b.Client) }},
	{title: "SERVER", min: 15, max: 47, want: ipv4Port,
		text: func(c *Conn, _ time.Time) string { return c.Server.String() },
		cmp:  func(a, b *Conn) int { return addrCmp(a.Server, b.Server) }},
	{title: "C-STATE", min: 11,
		text: func(c *Conn, _ time.Time) string { return stateText(c.ClientState) },
		cmp:  func(a, b *Conn) int { return cmp.Compare(a.ClientState, b.ClientState) }},
	{title: "S-STATE", min: 11,
		text: func(c *Conn, _ time.Time) string { return stateText(c.ServerState) },
		cmp:  func(a, b *Conn) int { return cmp.Compare(a.ServerState, b.ServerState) }},
	{title: "AGE", min: 6, right: true, drop: 1,
		text: func(c *Conn, now time.Time) string { return since(c, c.Start, now, c.PickedUp) },
		cmp:  func(a, b *Conn) int { return b.Start.Compare(a.Start) }}, // older is more
	{title: "IN-STATE", min: 8, right: true, drop: 6,
		text: func(c *Conn, now time.Time) string { return since(c, c.Changed, now, false) },
		cmp:  func(a, b *Conn) int { return b.Changed.Compare(a.Changed) }},
	{title: "C>S", min: 5, right: true, drop: 2,
		text: func(c *Conn, _ time.Time) string { return rate(c, c.ClientRate) },
		cmp:  func(a, b *Conn) int { return cmp.Compare(rateKey(a, a.ClientRate), rateKey(b, b.ClientRate)) }},
	{title: "S>C", min: 5, right: true, drop: 2,
		text: func(c *Conn, _ time.Time) string { return rate(c, c.ServerRate) },
		cmp:  func(a, b *Conn) int { return cmp.Compare(rateKey(a, a.ServerRate), rateKey(b, b.ServerRate)) }},
	{title: "RTT", min: 5, right: true, drop: 3,
		text: func(c *Conn, _ time.Time) string { return rttText(c) },
		cmp:  func(a, b *Conn) int { return cmp.Compare(a.RTT, b.RTT) }},
	{title: "C-BYTES", min: 7, right: true, drop: 4,
		text: func(c *Conn, _ time.Time) string { return bytesText(c, c.ClientBytes) },
		cmp:  func(a, b *Conn) int { return cmp.Compare(a.ClientBytes, b.ClientBytes) }},
	{title: "S-BYTES", min: 7, right: true, drop: 4,
		text: func(c *Conn, _ time.Time) string { return bytesText(c, c.ServerBytes) },
		cmp:  func(a, b *Conn) int { return cmp.Compare(a.ServerBytes, b.ServerBytes) }},
	{title: "C-SENDQ", min: 7, right: true, drop: 7,
		text: func(c *Conn, _ time.Time) string { return strconv.FormatUint(uint64(c.ClientSendQ), 10) },
		cmp:  func(a, b *Conn) int { return cmp.Compare(a.ClientSendQ, b.ClientSendQ) }},
	{title: "S-SENDQ", min: 7, right: true, drop: 7,
		text: func(c *Conn, _ time.Time) string { return strconv.FormatUint(uint64(c.ServerSendQ), 10) },
		cmp:  func(a, b *Conn) int { return cmp.Compare(a.ServerSendQ, b.ServerSendQ) }},
	{title: "NOTE", min: 9, drop: 5,
		text: note,
		cmp:  func(a, b *Conn) int { return cmp.Compare(noteRank(a), noteRank(b)) }},
}

// since is how long before now t was, for a row with the tracker's facts.
func since(c *Conn, t, now time.Time, atLeast bool) string {
	if !c.Info {
		return ""
	}
	return age(now.Sub(t), atLeast)
}

func rate(c *Conn, x float64) string {
	if !c.Rated {
		return "-"
	}
	return quantity(x, 100_000) // five characters
}

// rateKey sorts rows without a rate below those with one.
func rateKey(c *Conn, x float64) float64 {
	if !c.Rated {
		return -1
	}
	return x
}

func rttText(c *Conn) string {
	if c.RTT == 0 {
		return "-"
	}
	return rtt(c.RTT)
}

func bytesText(c *Conn, n uint64) string {
	if !c.Info {
		return ""
	}
	return quantity(float64(n), 10_000_000) // seven characters
}

func noteRank(c *Conn) int {
	r := int(c.Tunnel)<<14 | int(c.VLAN)<<2
	if c.PickedUp {
		r |= 2
	}
	if c.Gap {
		r |= 1
	}
	return r
}

// note says what the row's states rest on: a connection picked up
// mid-stream, one whose capture lost packets, its VLAN and its tunnel.
func note(c *Conn, _ time.Time) string {
	s := ""
	if c.PickedUp {
		s += "mid "
	}
	if c.Gap {
		s += "gap "
	}
	if c.VLAN != 0 {
		s += "vlan" + strconv.Itoa(int(c.VLAN)) + " "
	}
	if c.Tunnel != 0 {
		s += "tun" + strconv.FormatUint(uint64(c.Tunnel), 10)
	}
	return s
}

// portStates are the states the per-port summary has a column for, with
// the short titles that fit 80 columns.
var portStates = []struct {
	s     tracker.State
	title string
}{
	{tracker.Established, "ESTAB"}, {tracker.SynSent, "SYN-S"}, {tracker.SynRecv, "SYN-R"},
	{tracker.FinWait1, "FW1"}, {tracker.FinWait2, "FW2"}, {tracker.TimeWait, "TWAIT"},
	{tracker.CloseWait, "CWAIT"}, {tracker.LastAck, "L-ACK"}, {tracker.Closing, "CLSNG"},
}

var portColumns = func() []column[PortRow] {
	cols := []column[PortRow]{
		{title: "PORT", min: 6, right: true,
			text: func(r *PortRow, _ time.Time) string { return strconv.Itoa(int(r.Port)) },
			cmp:  func(a, b *PortRow) int { return cmp.Compare(a.Port, b.Port) }},
		{title: "CONNS", min: 6, right: true,
			text: func(r *PortRow, _ time.Time) string { return strconv.Itoa(r.Conns) },
			cmp:  func(a, b *PortRow) int { return cmp.Compare(a.Conns, b.Conns) }},
	}
	for _, ps := range portStates {
		st := ps.s
		cols = append(cols, column[PortRow]{title: ps.title, min: 6, right: true,
			text: func(r *PortRow, _ time.Time) string { return strconv.Itoa(r.States[st]) },
			cmp:  func(a, b *PortRow) int { return cmp.Compare(a.States[st], b.States[st]) }})
	}
	return cols
}()

// order is a sort: a column and a direction.
type order struct {
	col  int
	desc bool
}

// sortRows sorts rows by o, then by every column in turn so that the order
// is the same from one listing to the next. It sorts indices, not rows: a
// row is large, and a listing may hold a hundred thousand.
func sortRows[R any](rows []R, cols []column[R], o order) {
	idx := make([]int32, len(rows))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(i, j int32) int {
		a, b := &rows[i], &rows[j]
		c := cols[o.col].cmp(a, b)
		if o.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		for k := range cols {
			if c := cols[k].cmp(a, b); c != 0 {
				return c
			}
		}
		return cmp.Compare(i, j)
	})
	sorted := make([]R, len(rows))
	for k, i := range idx {
		sorted[k] = rows[i]
	}
	copy(rows, sorted)
}
