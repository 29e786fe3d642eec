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
	// ClientState and ServerState are Unknown when that endpoint is not
	// listed: closed, not yet confirmed, or outside --local.
	ClientState, ServerState tracker.State
	// ClientSendQ and ServerSendQ are each side's Send-Q as --sockets
	// shows it: sequence space sent and not yet acknowledged.
	ClientSendQ, ServerSendQ uint32
	PickedUp, Gap            bool
	// Seen is the capture time at which the view first listed the
	// connection; Before says it was already there in the view's first
	// listing, so that it is at least that old.
	Seen   time.Time
	Before bool
}

type connKey struct {
	client, server netip.AddrPort
	vlan           uint16
}

func (c *Conn) key() connKey { return connKey{c.Client, c.Server, c.VLAN} }

// conns turns a listing into rows, one per connection: the two endpoints of
// a connection are two sockets of the listing.
func conns(l *metrics.Listing) []Conn {
	if l == nil {
		return nil
	}
	index := make(map[connKey]int, len(l.Sockets))
	out := make([]Conn, 0, len(l.Sockets))
	for _, s := range l.Sockets {
		k := connKey{s.Peer, s.Local, s.VLAN}
		if s.Client {
			k.client, k.server = s.Local, s.Peer
		}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, Conn{Client: k.client, Server: k.server, VLAN: k.vlan})
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

// ages remembers when the view first listed each connection.
type ages struct {
	first bool // no listing seen yet
	seen  map[connKey]time.Time
	// before holds the connections of the first listing: their age is a
	// lower bound.
	before map[connKey]bool
}

func newAges() *ages {
	return &ages{first: true, seen: map[connKey]time.Time{}, before: map[connKey]bool{}}
}

// stamp fills in Seen and Before for rows listed at capture time now, and
// forgets connections no longer listed.
func (a *ages) stamp(rows []Conn, now time.Time) {
	live := make(map[connKey]time.Time, len(rows))
	for i := range rows {
		k := rows[i].key()
		t, ok := a.seen[k]
		if !ok {
			t = now
			if a.first {
				a.before[k] = true
			}
		}
		live[k] = t
		rows[i].Seen, rows[i].Before = t, a.before[k]
	}
	for k := range a.before {
		if _, ok := live[k]; !ok {
			delete(a.before, k)
		}
	}
	a.seen, a.first = live, false
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
	min, max int  // width; max 0 means min
	right    bool // numbers are right-aligned
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

var connColumns = []column[Conn]{
	{title: "CLIENT", min: 15, max: 47,
		text: func(c *Conn, _ time.Time) string { return c.Client.String() },
		cmp:  func(a, b *Conn) int { return addrCmp(a.Client, b.Client) }},
	{title: "SERVER", min: 15, max: 47,
		text: func(c *Conn, _ time.Time) string { return c.Server.String() },
		cmp:  func(a, b *Conn) int { return addrCmp(a.Server, b.Server) }},
	{title: "CLIENT-STATE", min: 12,
		text: func(c *Conn, _ time.Time) string { return stateText(c.ClientState) },
		cmp:  func(a, b *Conn) int { return cmp.Compare(a.ClientState, b.ClientState) }},
	{title: "SERVER-STATE", min: 12,
		text: func(c *Conn, _ time.Time) string { return stateText(c.ServerState) },
		cmp:  func(a, b *Conn) int { return cmp.Compare(a.ServerState, b.ServerState) }},
	{title: "SEEN", min: 7, right: true, drop: 1,
		text: func(c *Conn, now time.Time) string { return age(c.Seen, now, c.Before) },
		cmp:  func(a, b *Conn) int { return b.Seen.Compare(a.Seen) }}, // older is more
	{title: "C-SENDQ", min: 8, right: true, drop: 2,
		text: func(c *Conn, _ time.Time) string { return strconv.FormatUint(uint64(c.ClientSendQ), 10) },
		cmp:  func(a, b *Conn) int { return cmp.Compare(a.ClientSendQ, b.ClientSendQ) }},
	{title: "S-SENDQ", min: 8, right: true, drop: 2,
		text: func(c *Conn, _ time.Time) string { return strconv.FormatUint(uint64(c.ServerSendQ), 10) },
		cmp:  func(a, b *Conn) int { return cmp.Compare(a.ServerSendQ, b.ServerSendQ) }},
	{title: "NOTE", min: 9, drop: 3,
		text: note,
		cmp:  func(a, b *Conn) int { return cmp.Compare(noteRank(a), noteRank(b)) }},
}

func noteRank(c *Conn) int {
	r := int(c.VLAN) << 2
	if c.PickedUp {
		r |= 2
	}
	if c.Gap {
		r |= 1
	}
	return r
}

// note says what the row's states rest on: a connection picked up
// mid-stream, one whose capture lost packets, and its VLAN.
func note(c *Conn, _ time.Time) string {
	s := ""
	if c.PickedUp {
		s += "mid "
	}
	if c.Gap {
		s += "gap "
	}
	if c.VLAN != 0 {
		s += "vlan" + strconv.Itoa(int(c.VLAN))
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
// is stable from one listing to the next.
func sortRows[R any](rows []R, cols []column[R], o order) {
	slices.SortStableFunc(rows, func(a, b R) int {
		c := cols[o.col].cmp(&a, &b)
		if o.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
		for i := range cols {
			if c := cols[i].cmp(&a, &b); c != 0 {
				return c
			}
		}
		return 0
	})
}

// age spells how long ago t was: "45s", "12m", "3h5m", "2d4h"; with atLeast
// a "+" says the connection was already there when the view started.
func age(t, now time.Time, atLeast bool) string {
	if t.IsZero() {
		return ""
	}
	d := max(now.Sub(t), 0)
	var s string
	switch {
	case d < time.Minute:
		s = strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		s = strconv.Itoa(int(d/time.Minute)) + "m" + strconv.Itoa(int(d%time.Minute/time.Second)) + "s"
	case d < 24*time.Hour:
		s = strconv.Itoa(int(d/time.Hour)) + "h" + strconv.Itoa(int(d%time.Hour/time.Minute)) + "m"
	default:
		s = strconv.Itoa(int(d/(24*time.Hour))) + "d" + strconv.Itoa(int(d%(24*time.Hour)/time.Hour)) + "h"
	}
	if atLeast {
		s += "+"
	}
	return s
}
