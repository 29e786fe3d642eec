package top

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tcptrack/tcptrack/tracker"
)

// The filter box takes a small language in the manner of tcpdump's:
//
//	port 443              either endpoint on port 443
//	host 192.0.2.1        either endpoint at this address
//	net 10.0.0.0/8        either endpoint in this prefix
//	state time_wait       either endpoint in this state (netstat's, ss's or
//	                      the metric label's spelling, any case)
//	vlan 10
//
// A bare number is a port, a bare address a host, a bare prefix a net, a
// bare state name a state. Terms are joined by "and" (or nothing) and
// "or", "and" binding tighter; "not" or "!" negates the term after it.
// Parentheses are not taken.

// ErrFilter is wrapped by every error of parseFilter.
var ErrFilter = errors.New("bad filter")

// filter is a parsed filter: a disjunction of conjunctions of terms.
type filter struct {
	text string
	any  [][]term
}

type term struct {
	not  bool
	kind string // port, host, net, state, vlan
	port uint16
	net  netip.Prefix
	st   tracker.State
}

func parseFilter(s string) (*filter, error) {
	f := &filter{text: strings.TrimSpace(s)}
	words := strings.Fields(s)
	if len(words) == 0 {
		return nil, nil
	}
	var (
		all []term
		not bool
	)
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrFilter, fmt.Sprintf(format, a...))
	}
	for i := 0; i < len(words); i++ {
		w := strings.ToLower(words[i])
		switch w {
		case "and", "&&":
			if len(all) == 0 || not {
				return nil, bad("%q needs a term before it", words[i])
			}
			continue
		case "or", "||":
			if len(all) == 0 || not {
				return nil, bad("%q needs a term before it", words[i])
			}
			f.any = append(f.any, all)
			all = nil
			continue
		case "not", "!":
			not = !not
			continue
		}
		kind, arg := "", w
		switch w {
		case "port", "host", "net", "state", "vlan":
			if i+1 == len(words) {
				return nil, bad("%s wants a value", w)
			}
			i++
			kind, arg = w, words[i]
		}
		t, err := parseTerm(kind, arg)
		if err != nil {
			return nil, bad("%v", err)
		}
		t.not, not = not, false
		all = append(all, t)
	}
	if not {
		return nil, bad("not wants a term after it")
	}
	if len(all) == 0 {
		return nil, bad("or wants a term after it")
	}
	f.any = append(f.any, all)
	return f, nil
}

// parseTerm reads one term; kind "" guesses it from the value.
func parseTerm(kind, v string) (term, error) {
	switch kind {
	case "port":
		p, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return term{}, fmt.Errorf("port %s: want 0 to 65535", v)
		}
		return term{kind: "port", port: uint16(p)}, nil
	case "vlan":
		n, err := strconv.ParseUint(v, 10, 12)
		if err != nil {
			return term{}, fmt.Errorf("vlan %s: want 0 to 4095", v)
		}
		return term{kind: "vlan", port: uint16(n)}, nil
	case "host":
		a, err := netip.ParseAddr(strings.Trim(v, "[]"))
		if err != nil {
			return term{}, fmt.Errorf("host %s: not an address", v)
		}
		return term{kind: "net", net: netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())}, nil
	case "net":
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return term{}, fmt.Errorf("net %s: not a prefix such as 10.0.0.0/8", v)
		}
		return term{kind: "net", net: p.Masked()}, nil
	case "state":
		st, ok := parseState(v)
		if !ok {
			return term{}, fmt.Errorf("state %s: not a state (established, time_wait, ESTAB, ...)", v)
		}
		return term{kind: "state", st: st}, nil
	}
	if _, err := strconv.ParseUint(v, 10, 16); err == nil {
		return parseTerm("port", v)
	}
	if strings.Contains(v, "/") {
		return parseTerm("net", v)
	}
	if _, err := netip.ParseAddr(strings.Trim(v, "[]")); err == nil {
		return parseTerm("host", v)
	}
	if _, ok := parseState(v); ok {
		return parseTerm("state", v)
	}
	return term{}, fmt.Errorf("%q is no port, address, prefix or state", v)
}

// parseState takes a state in any spelling the tools use, any case.
func parseState(v string) (tracker.State, bool) {
	for _, s := range []string{strings.ToUpper(v), strings.ToLower(v)} {
		if st, ok := tracker.ParseState(s); ok && st.Counted() {
			return st, true
		}
	}
	return tracker.Unknown, false
}

// match reports whether the connection passes the filter; a nil filter
// passes everything.
func (f *filter) match(c *Conn) bool {
	if f == nil {
		return true
	}
	for _, all := range f.any {
		ok := true
		for _, t := range all {
			if t.match(c) == t.not {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (t term) match(c *Conn) bool {
	switch t.kind {
	case "port":
		return c.Client.Port() == t.port || c.Server.Port() == t.port
	case "vlan":
		return c.VLAN == t.port
	case "net":
		return t.net.Contains(c.Client.Addr().Unmap()) || t.net.Contains(c.Server.Addr().Unmap())
	case "state":
		return c.ClientState == t.st || c.ServerState == t.st
	}
	return false
}

// String is the filter as typed.
func (f *filter) String() string {
	if f == nil {
		return ""
	}
	return f.text
}
