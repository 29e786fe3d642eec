package tracker

import (
	"net/netip"
	"time"
)

// Config tunes a Tracker. The zero value means the documented defaults.
type Config struct {
	// MaxFlows bounds the flow table. When it is full, closed flows are
	// evicted first, then half-open ones (handshakes, and picked-up flows
	// not yet proven), then the least recently active.
	// Default 1<<20, at most 1<<31-1 (flows are numbered in 32 bits).
	// Memory is taken as flows come, whatever the bound.
	MaxFlows int
	// TimeWait is how long an endpoint stays in TIME_WAIT: 2×MSL, 60 s on
	// Linux. Default 60 s.
	TimeWait time.Duration
	// HandshakeTimeout closes an endpoint that has stayed in SYN_SENT or
	// SYN_RECV this long. Default 75 s.
	HandshakeTimeout time.Duration
	// FinTimeout closes an endpoint in FIN_WAIT2 that has sent nothing for
	// this long: Linux frees an orphaned FIN_WAIT2 socket after
	// net.ipv4.tcp_fin_timeout, 60 s. Default 60 s.
	FinTimeout time.Duration
	// RetryTimeout closes an endpoint in FIN_WAIT1, CLOSING or LAST_ACK
	// that has sent nothing for this long: the kernel has given up
	// retransmitting its FIN. Linux waits at most TCP_RTO_MAX, 120 s,
	// between two retransmissions. Default 120 s.
	RetryTimeout time.Duration
	// ListenerTimeout forgets an inferred listener that has answered no
	// SYN for this long: a passive observer never sees a listening socket
	// close. Default 1 h.
	ListenerTimeout time.Duration
	// Local, when not empty, restricts the counts and the listing to
	// endpoints whose address lies in one of these prefixes: the view of
	// netstat on those hosts.
	Local []netip.Prefix
	// OnTransition, when set, is called for every state change of every
	// endpoint, in capture order, but for an endpoint that never showed
	// itself going to CLOSE. The Transition is only valid during the
	// call.
	OnTransition func(*Transition)
	// Info keeps, for every connection, the facts that ss -i shows: ages,
	// bytes each way, retransmissions, the handshake's RTT and the options
	// of its SYNs (see Conn), 80 bytes a flow more. Conns and
	// Socket.Info report them. OnClose and OnHandshake imply it.
	Info bool
	// OnClose, when set, is called once for every connection, when the
	// tracker lets go of it: its flow leaves the table (the timers that
	// follow its end, or eviction) or a new connection takes its 4-tuple.
	// The record is final then: an end the wire later took back (a FIN
	// resent after the ACK that ended it) is not reported as one. Conn.End
	// says how it ended. A connection that never had an endpoint in a
	// counted state (a lone segment, never proven) is not reported. The
	// Conn is only valid during the call.
	OnClose func(*Conn)
	// OnHandshake, when set, is called when the client's ACK of the
	// server's SYN+ACK is seen, with Conn.SynRTT (0 if the SYN was not
	// seen) and Conn.AckRTT filled in. The Conn is only valid during the
	// call.
	OnHandshake func(*Conn)
}

// EvictReason says why a flow was dropped from a full table.
type EvictReason uint8

// Eviction reasons, in the order the table tries them.
const (
	EvictClosed   EvictReason = iota // both endpoints closed or never shown
	EvictHalfOpen                    // a handshake that had not completed, or a picked-up flow not yet proven
	EvictIdle                        // the least recently active of the rest (CLOCK's approximation)
	// EvictListener is an inferred listener forgotten to make room for
	// another: their number is bounded too.
	EvictListener
	NumEvictReasons
)

var evictNames = [NumEvictReasons]string{"closed", "half_open", "idle", "listener"}

// String returns the reason as a metric label value.
func (r EvictReason) String() string { return evictNames[r] }

// Stats is a snapshot of the tracker: plain values, safe to keep and to hand
// to another goroutine.
type Stats struct {
	Time time.Time // the capture clock: timestamp of the last segment or Advance
	// States counts endpoints per state, after the Local filter; only
	// states for which State.Counted is true are non-zero.
	States [NumStates]int
	// Unconfirmed counts, per state, endpoints that have not shown they
	// are a real stack (a SYN sent once, a SYN answered by a SYN+ACK that
	// its sender never acknowledged): spoofed sources of a SYN flood, or
	// clients whose only answer was lost before the capture point. They
	// are never part of States.
	Unconfirmed [NumStates]int
	// Listeners counts inferred listening sockets (an endpoint that
	// answered a SYN with a SYN+ACK), after the Local filter. They are
	// never part of States.
	Listeners int
	Flows     int // flows in the table
	MaxFlows  int // the table's bound
	Segments  uint64
	// Transitions counts state changes by [from][to].
	Transitions [NumStates][NumStates]uint64
	// IgnoredRST counts RSTs that could close nothing: outside the
	// receiver's window, or to a SYN_SENT endpoint without acking its SYN.
	IgnoredRST uint64
	// ChallengedRST counts RSTs inside the receiver's window but not at
	// its next expected sequence number: Linux answers them with a
	// challenge ACK and keeps the connection (RFC 5961).
	ChallengedRST uint64
	// Ignored counts segments the rulebook set aside without a change of
	// state: a sequence or acknowledgment number far outside the window, a
	// segment without ACK past SYN_SENT, an RST on no known flow, a SYN on
	// a live connection (held until the peer's answer tells whether it
	// opened a new one), and a SYN+ACK that answers no SYN known.
	Ignored   uint64
	Evictions [NumEvictReasons]uint64
}

// Flow names a connection by its 4-tuple, VLAN and tunnel (see
// Segment.Tunnel). Src and SrcPort are the client's when the client is
// known.
type Flow struct {
	VLAN     uint16
	Tunnel   uint32
	Src, Dst netip.AddrPort
}

// Transition is one state change of one endpoint.
type Transition struct {
	Time     time.Time
	Flow     Flow
	Endpoint netip.AddrPort // the endpoint whose state changed
	From, To State
	// Cause is the segment that caused the change; nil when a timer did.
	Cause *Segment
	// Reason is empty for a transition the segment Cause made by the
	// rulebook, else a short word: "timer" (a timer ran out), "pickup" (a
	// connection whose handshake was not seen), "reused" (a new SYN ended
	// the old connection), "forgotten" (the flow left the table; To is
	// Unknown), or "withdrawn" (a correction, not an RFC transition: the
	// endpoint's own behaviour showed that a receipt believed before never
	// arrived; see RULES.md).
	Reason string
}

// Socket is one live endpoint as ss -tan would list it.
type Socket struct {
	State       State
	Local, Peer netip.AddrPort
	VLAN        uint16
	Tunnel      uint32 // see Segment.Tunnel
	// SendQ is the bytes this endpoint sent that the wire has not yet
	// shown acknowledged (FIN and SYN not counted).
	SendQ uint32
	// RecvQ is the bytes sent to this endpoint that it has not yet
	// acknowledged: data in flight towards it. A passive observer cannot
	// see what the application has read, so this is not the kernel's
	// Recv-Q.
	RecvQ    uint32
	PickedUp bool // the handshake was not seen
	// Client says this endpoint is the connection's client: it sent the
	// SYN, or, for a connection picked up mid-stream, its port is the
	// less likely one to be a server's.
	Client bool
	// Gap means the peer acknowledged bytes the capture never showed: the
	// capture lost packets of this flow, so its state may lag the truth.
	Gap bool
	// Info holds the connection's facts when Config.Info is set, else nil;
	// both endpoints of a connection share it, and Sockets lists them one
	// after the other.
	Info *Conn
}
