package tracker

// State is the RFC 793 state of one endpoint. The zero value, Unknown, is an
// endpoint that has not shown itself yet: netstat would not list it.
type State uint8

// Endpoint states, in the fixed order in which counts are printed.
const (
	Unknown State = iota
	Established
	SynSent
	SynRecv
	FinWait1
	FinWait2
	TimeWait
	CloseWait
	LastAck
	Closing
	Close
	Listen
	NumStates
)

// names is the one table of spellings: netstat's, and node_exporter's label
// values for node_tcp_connection_states.
var names = [NumStates]struct{ netstat, label string }{
	Unknown:     {"UNKNOWN", "unknown"},
	Established: {"ESTABLISHED", "established"},
	SynSent:     {"SYN_SENT", "syn_sent"},
	SynRecv:     {"SYN_RECV", "syn_recv"},
	FinWait1:    {"FIN_WAIT1", "fin_wait1"},
	FinWait2:    {"FIN_WAIT2", "fin_wait2"},
	TimeWait:    {"TIME_WAIT", "time_wait"},
	CloseWait:   {"CLOSE_WAIT", "close_wait"},
	LastAck:     {"LAST_ACK", "last_ack"},
	Closing:     {"CLOSING", "closing"},
	Close:       {"CLOSE", "close"},
	Listen:      {"LISTEN", "listen"},
}

// String returns the netstat spelling, e.g. "FIN_WAIT1".
func (s State) String() string {
	if s >= NumStates {
		return "INVALID"
	}
	return names[s].netstat
}

// Label returns the lowercase name that node_exporter uses as the value of
// the state label, e.g. "fin_wait1".
func (s State) Label() string {
	if s >= NumStates {
		return "invalid"
	}
	return names[s].label
}

// Counted reports whether netstat lists an endpoint in this state among its
// connections: every state but Unknown, Close and Listen.
func (s State) Counted() bool { return s > Unknown && s < Close }

// ParseState accepts the netstat spelling or ss's (ESTAB, SYN-SENT,
// FIN-WAIT-1, ...) and returns the State.
func ParseState(name string) (State, bool) {
	switch name {
	case "ESTAB":
		return Established, true
	case "SYN-SENT":
		return SynSent, true
	case "SYN-RECV":
		return SynRecv, true
	case "FIN-WAIT-1":
		return FinWait1, true
	case "FIN-WAIT-2":
		return FinWait2, true
	case "TIME-WAIT":
		return TimeWait, true
	case "CLOSE-WAIT":
		return CloseWait, true
	case "LAST-ACK":
		return LastAck, true
	case "UNCONN":
		return Close, true
	}
	for s := State(0); s < NumStates; s++ {
		if names[s].netstat == name || names[s].label == name {
			return s, true
		}
	}
	return Unknown, false
}
