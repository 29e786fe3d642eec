package netlab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"syscall"
	"time"

	"github.com/tcptrack/tcptrack/tracker"
)

// Kind is one way of driving connections into a state. Every kind uses its
// own server port (Port), so that its rules touch only its own connections
// and several kinds can share one capture.
type Kind uint8

// The kinds. Expect documents each one's resulting kernel states.
const (
	Established       Kind = iota // 3-way handshake, no data
	CloseClient                   // 4-way close, client first
	CloseServer                   // 4-way close, server first
	HalfClose                     // client shuts down writing; server keeps sending
	TimeWait                      // quick closes from both sides
	LastAck                       // client's last ACK dropped at the server
	FinWait1                      // client's FIN dropped at the server
	SimultaneousClose             // both FINs held, then crossed: CLOSING
	SynSent                       // SYN dropped at the server
	SynRecv                       // handshake's last ACK dropped at the server
	Reset                         // client aborts with SO_LINGER 0
	Refused                       // nothing listening: RST+ACK
	MidStream                     // opened before the capture, continued during it
	// The answer lost before the capture point: the capture never shows
	// it, and the wire alone must tell what the kernel did.
	SynRecvUnseen  // the client's ACKs stolen at its egress: ESTABLISHED / SYN_RECV
	LastAckUnseen  // the client's last ACK stolen at its egress: TIME_WAIT / LAST_ACK
	FinWait1Unseen // the server's ACK of the client's FIN stolen at its egress: FIN_WAIT1 / CLOSE_WAIT
	FinRetransmit  // server's ACK stolen, its FIN+ACK dropped at the client once: both retransmit
	SynAckLost     // SYN+ACK dropped at the client's input: SYN_SENT / SYN_RECV
	SynAckUnseen   // SYN+ACK stolen at the server's egress: SYN_SENT / SYN_RECV, the server unseen
	FinLostData    // client's FIN dropped at the server; the server sends data: FIN_WAIT1 / ESTABLISHED
	FinUnseenData  // the server's ACK of the FIN stolen; the server sends data: FIN_WAIT2 / CLOSE_WAIT
	// The kernel's timers on states that otherwise never end, shortened by
	// the scenario's sysctls.
	FinTimeout   // orphaned FIN_WAIT2 freed after tcp_fin_timeout
	RetryTimeout // orphaned FIN_WAIT1 given up after tcp_orphan_retries
	// Data of known sizes each way (ClientBytes, ServerBytes), for the
	// kernel's counters.
	Transfer          // ESTABLISHED both
	TransferHalfClose // then the client shuts down writing, the server sends LateBytes: FIN_WAIT2 / CLOSE_WAIT
	TransferLost      // each end's first data segment dropped after the capture point once: ESTABLISHED both
	TransferUnseen    // one data segment each way stolen before the capture point: ESTABLISHED both
	// Kinds in two acts, for scenarios that take a snapshot between them:
	// opened in the first act and ESTABLISHED at its end, changed in the
	// second.
	ClosedLater   // a 4-way close started by the client: client TIME_WAIT
	ResetLater    // the client aborts with SO_LINGER 0: nothing is left
	OrphanedLater // the client close()s; its orphaned FIN_WAIT2 is freed after tcp_fin_timeout: server CLOSE_WAIT
	numKinds
)

// playFunc prepares n connections of a kind to port, and returns the step
// that plays them once the capture runs.
type playFunc func(l *Lab, port uint16, n int) (func() error, error)

// actsFunc is playFunc for a kind in two acts: it returns the step of each.
type actsFunc func(l *Lab, port uint16, n int) (first, second func() error, err error)

var kindInfo = [numKinds]struct {
	name string
	port uint16
	play playFunc
	acts actsFunc // instead of play, for a kind in two acts
}{
	Established:       {"established", 80, playEstablished, nil},
	CloseClient:       {"close-client", 81, playCloseClient, nil},
	CloseServer:       {"close-server", 82, playCloseServer, nil},
	HalfClose:         {"half-close", 83, playHalfClose, nil},
	TimeWait:          {"time-wait", 84, playTimeWait, nil},
	LastAck:           {"last-ack", 85, lastAck(dropAt(server, "tcp dport %d")), nil},
	FinWait1:          {"fin-wait1", 86, finWait1(dropAt(server, "tcp dport %d tcp flags & fin == fin"), false), nil},
	SimultaneousClose: {"closing", 87, playClosing, nil},
	SynSent:           {"syn-sent", 88, playSynSent, nil},
	SynRecv:           {"syn-recv", 89, synRecv(dropAt(server, "tcp dport %d tcp flags & syn == 0")), nil},
	Reset:             {"rst", 90, playReset, nil},
	Refused:           {"refused", 91, playRefused, nil},
	MidStream:         {"midstream", 443, playMidStream, nil},
	SynRecvUnseen:     {"syn-recv-unseen", 92, synRecv(stealAt(client, "tcp dport %d "+bareSegments)), nil},
	LastAckUnseen:     {"last-ack-unseen", 93, lastAck(stealAt(client, "tcp dport %d "+bareSegments)), nil},
	FinWait1Unseen:    {"fin-wait1-unseen", 94, finWait1(stealAt(server, "tcp sport %d "+bareSegments), true), nil},
	FinRetransmit:     {"fin-retransmit", 95, playFinRetransmit, nil},
	SynAckLost:        {"synack-lost", 98, synAckLost(dropAt(client, "tcp sport %d tcp flags & (syn|ack) == syn|ack")), nil},
	SynAckUnseen:      {"synack-unseen", 99, synAckLost(stealAt(server, "tcp sport %d tcp flags & (syn|ack) == syn|ack")), nil},
	FinLostData:       {"fin-lost-data", 110, finThenData(dropAt(server, "tcp dport %d tcp flags & fin == fin"), false), nil},
	FinUnseenData:     {"fin-unseen-data", 111, finThenData(stealAt(server, "tcp sport %d tcp flags & (syn|fin|rst|psh) == 0"), true), nil},
	FinTimeout:        {"fin-timeout", 96, playFinTimeout, nil},
	RetryTimeout:      {"retry-timeout", 97, playRetryTimeout, nil},
	Transfer:          {"transfer", 112, transfer(nil, false), nil},
	TransferHalfClose: {"transfer-half-close", 113, transfer(nil, true), nil},
	TransferLost:      {"transfer-lost", 114, transfer(lossBothWays, false), nil},
	TransferUnseen:    {"transfer-unseen", 115, transfer(unseenBothWays, false), nil},
	ClosedLater:       {"closed-later", 116, nil, later(closeByClient, ackDelay)},
	ResetLater:        {"reset-later", 117, nil, later(resetByClient, ackDelay)},
	OrphanedLater:     {"orphaned-later", 118, nil, later(orphanClient, timerWait)},
}

func (k Kind) String() string { return kindInfo[k].name }

// Port is the server port that connections of this kind use. Ports below
// 1024 make the server's role obvious to a tracker that picks a flow up
// mid-stream.
func (k Kind) Port() uint16 { return kindInfo[k].port }

// Expect returns the kernel states that n connections of this kind leave
// behind, LISTEN aside, as a count per state. It states the scenario's
// intent; Record checks every snapshot against it, so that a recording that
// went wrong fails loudly instead of becoming a wrong expected answer.
func (k Kind) Expect(n int) map[tracker.State]int {
	switch k {
	case Established, Transfer, TransferLost, TransferUnseen:
		return map[tracker.State]int{tracker.Established: 2 * n}
	case TransferHalfClose:
		return map[tracker.State]int{tracker.FinWait2: n, tracker.CloseWait: n}
	case CloseClient, CloseServer:
		return map[tracker.State]int{tracker.TimeWait: n}
	case HalfClose:
		return map[tracker.State]int{tracker.FinWait2: n, tracker.CloseWait: n}
	case TimeWait:
		return map[tracker.State]int{tracker.TimeWait: 2 * n}
	case LastAck:
		return map[tracker.State]int{tracker.TimeWait: n, tracker.LastAck: n}
	case FinWait1:
		return map[tracker.State]int{tracker.FinWait1: n, tracker.Established: n}
	case SimultaneousClose:
		return map[tracker.State]int{tracker.Closing: 2 * n}
	case SynSent:
		return map[tracker.State]int{tracker.SynSent: n}
	case SynRecv:
		return map[tracker.State]int{tracker.Established: n, tracker.SynRecv: n}
	case MidStream:
		est, half := (n+2)/3, (n+1)/3
		return map[tracker.State]int{tracker.Established: 2 * est, tracker.FinWait2: half, tracker.CloseWait: half}
	case SynRecvUnseen:
		return map[tracker.State]int{tracker.Established: n, tracker.SynRecv: n}
	case LastAckUnseen:
		return map[tracker.State]int{tracker.TimeWait: n, tracker.LastAck: n}
	case FinWait1Unseen:
		return map[tracker.State]int{tracker.FinWait1: n, tracker.CloseWait: n}
	case FinRetransmit:
		return map[tracker.State]int{tracker.TimeWait: n}
	case FinLostData:
		return map[tracker.State]int{tracker.FinWait1: n, tracker.Established: n}
	case FinUnseenData:
		return map[tracker.State]int{tracker.FinWait2: n, tracker.CloseWait: n}
	case SynAckLost, SynAckUnseen:
		return map[tracker.State]int{tracker.SynSent: n, tracker.SynRecv: n}
	case FinTimeout, RetryTimeout, OrphanedLater:
		return map[tracker.State]int{tracker.CloseWait: n}
	case ClosedLater:
		return map[tracker.State]int{tracker.TimeWait: n}
	}
	return map[tracker.State]int{} // Reset, Refused, ResetLater: nothing is left
}

// ExpectFirst is Expect at the end of the first act: a kind in two acts is
// ESTABLISHED on both ends then; any other is where Expect says, and stays
// there through the second act.
func (k Kind) ExpectFirst(n int) map[tracker.State]int {
	if kindInfo[k].acts != nil {
		return map[tracker.State]int{tracker.Established: 2 * n}
	}
	return k.Expect(n)
}

// Ambiguity is a wire the capture point cannot decide: the kernel's answer
// depends on where a packet was lost, and the tracker takes one reading
// (tracker/RULES.md, The two ambiguous wires). A kernel socket of the kind,
// in the role and the state named, is expected in the reading instead.
type Ambiguity struct {
	Server      bool          // the server's socket, else the client's
	Kernel      tracker.State // what the kernel says in this kind's recordings
	Reading     tracker.State // what the tracker reads from the same wire; Unknown: nothing
	Unconfirmed bool          // the tracker counts the endpoint apart, unconfirmed
	Why         string
}

// Ambiguity returns the documented ambiguity of the kind's wire, if any.
func (k Kind) Ambiguity() (Ambiguity, bool) {
	switch k {
	case FinWait1:
		return Ambiguity{Server: true, Kernel: tracker.Established, Reading: tracker.CloseWait,
			Why: "a FIN retransmitted and never answered: here it was lost after the capture point; in fin-wait1-unseen the same wire means the peer's ACK was lost before it, and the kernel says CLOSE_WAIT; the tracker takes the FIN as delivered"}, true
	case SynAckUnseen:
		return Ambiguity{Server: true, Kernel: tracker.SynRecv, Reading: tracker.Unknown,
			Why: "a server whose every SYN+ACK was lost before the capture point never shows itself on the wire: the same wire as a SYN to a host that drops it; the tracker reports no server"}, true
	case SynRecvUnseen:
		return Ambiguity{Kernel: tracker.Established, Reading: tracker.Established, Unconfirmed: true,
			Why: "a SYN answered by SYN+ACK whose client never sends again: its ACKs were lost before the capture point, the same wire as a spoofed source that the server answered; the tracker counts the client apart, unconfirmed"}, true
	}
	return Ambiguity{}, false
}

// kindOfPort returns the kind whose server port is port.
func kindOfPort(port uint16) (Kind, bool) {
	for k := range numKinds {
		if kindInfo[k].port == port {
			return k, true
		}
	}
	return 0, false
}

// Reading returns the documented ambiguity that applies to the kernel's
// socket s, found by the kind its server port names, if s is in the state
// the ambiguity names.
func (s Socket) Reading() (Ambiguity, bool) {
	server := true
	k, ok := kindOfPort(s.Local.Port())
	if !ok {
		server = false
		if k, ok = kindOfPort(s.Peer.Port()); !ok {
			return Ambiguity{}, false
		}
	}
	a, ok := k.Ambiguity()
	return a, ok && a.Server == server && a.Kernel == s.State
}

// Part is n connections of one kind.
type Part struct {
	Kind Kind
	N    int
}

// Scenario is a named recording: a lab shape, where to capture, and the
// connections to make.
type Scenario struct {
	Name     string
	Doc      string // one line: what happens, what is dropped where
	Topology Topology
	Family   Family
	// Iface is the interface captured in the server's namespace: "veth0",
	// "lo" or "any".
	Iface string
	// LinkType is tcpdump's -y argument, empty for the interface's own.
	LinkType string
	Parts    []Part
	// Then are parts played in a second act, after a snapshot taken while
	// the capture runs (see PlayActs): their connections are made only
	// then. A scenario with Then or a kind in two acts has two moments.
	Then []Part
	// Sysctls are set in every namespace of the lab before it plays
	// ("net.ipv4.tcp_fin_timeout=1"): the kernel's timers shortened so
	// that a recording sees them run out.
	Sysctls []string
	// ClientSysctls and ServerSysctls are set in one namespace only
	// ("net.ipv4.tcp_sack=0"): what one end offers in its SYN.
	ClientSysctls, ServerSysctls []string
	// Config is the tracker configuration a capture of the scenario is
	// read with: the timers matching Sysctls. The zero value is the
	// defaults.
	Config tracker.Config
}

// Expect sums the expected states of the scenario's parts at its end.
func (sc Scenario) Expect() map[tracker.State]int {
	sum := map[tracker.State]int{}
	for _, p := range append(sc.Parts[:len(sc.Parts):len(sc.Parts)], sc.Then...) {
		for st, n := range p.Kind.Expect(p.N) {
			sum[st] += n
		}
	}
	return sum
}

// ExpectFirst sums the expected states at the end of the first act of a
// scenario with two moments.
func (sc Scenario) ExpectFirst() map[tracker.State]int {
	sum := map[tracker.State]int{}
	for _, p := range sc.Parts {
		for st, n := range p.Kind.ExpectFirst(p.N) {
			sum[st] += n
		}
	}
	return sum
}

// TwoMoments says the scenario plays in two acts, with a snapshot between.
func (sc Scenario) TwoMoments() bool {
	if len(sc.Then) > 0 {
		return true
	}
	for _, p := range sc.Parts {
		if kindInfo[p.Kind].acts != nil {
			return true
		}
	}
	return false
}

// Scenarios returns every scenario the recorder knows, in a fixed order.
func Scenarios() []Scenario {
	one := func(name, doc string, parts ...Part) Scenario {
		return Scenario{Name: name, Doc: doc, Iface: "veth0", Parts: parts}
	}
	base := []Scenario{
		one("handshake", "one 3-way handshake, no data: ESTABLISHED on both ends (the README demo)",
			Part{Established, 1}),
		one("close-client", "data both ways, then a 4-way close started by the client: client TIME_WAIT",
			Part{CloseClient, 1}),
		one("close-server", "data both ways, then a 4-way close started by the server: server TIME_WAIT",
			Part{CloseServer, 1}),
		one("half-close", "client shuts down writing, server reads EOF and keeps sending: FIN_WAIT2 / CLOSE_WAIT",
			Part{HalfClose, 1}),
		one("time-wait", "two connections, each closed at once by the side that read EOF, one started by each side: TIME_WAIT on both hosts",
			Part{TimeWait, 1}),
		one("last-ack", "client closes, server closes after; the client's last ACK is dropped at the server's input, so the server retransmits its FIN: TIME_WAIT / LAST_ACK",
			Part{LastAck, 1}),
		one("fin-wait1", "client shuts down writing; its FIN is dropped at the server's input and retransmitted: FIN_WAIT1 / ESTABLISHED",
			Part{FinWait1, 1}),
		one("closing", "both ends shut down writing while their FINs are held, then both FINs cross; every later segment is dropped at input: CLOSING on both",
			Part{SimultaneousClose, 1}),
		one("syn-sent", "client connects; the SYN is dropped at the server's input and retransmitted: SYN_SENT",
			Part{SynSent, 1}),
		one("syn-recv", "client connects; the handshake's last ACK is dropped at the server's input, so the server retransmits SYN+ACK: ESTABLISHED / SYN_RECV",
			Part{SynRecv, 1}),
		one("rst", "one connection aborted by the client with SO_LINGER 0 (RST), beside one that stays ESTABLISHED",
			Part{Reset, 1}, Part{Established, 1}),
		one("refused", "connect to a port nobody listens on (RST+ACK), beside one connection that stays ESTABLISHED",
			Part{Refused, 1}, Part{Established, 1}),
		one("midstream", "three connections opened and carrying data before the capture starts; during it, more data, then one half-closes and one is reset by the server",
			Part{MidStream, 3}),
		one("syn-recv-unseen", "client connects; its ACKs are stolen at its own egress, before the capture point, so the server retransmits SYN+ACK: ESTABLISHED / SYN_RECV, the client unconfirmed on the wire",
			Part{SynRecvUnseen, 1}),
		one("last-ack-unseen", "client closes, server closes after; the client's last ACK is stolen at its egress, before the capture point; the server retransmits its FIN: TIME_WAIT / LAST_ACK",
			Part{LastAckUnseen, 1}),
		one("fin-wait1-unseen", "client shuts down writing; the server's ACK of the FIN is stolen at its egress, before the capture point; the client retransmits its FIN: FIN_WAIT1 / CLOSE_WAIT",
			Part{FinWait1Unseen, 1}),
		one("fin-lost-data", "client shuts down writing; its FINs are dropped at the server's input, after the capture point; the server then sends data twice, acknowledging below the FIN: FIN_WAIT1 / ESTABLISHED",
			Part{FinLostData, 1}),
		one("fin-unseen-data", "client shuts down writing; the server's ACK of the FIN is stolen before the capture point; the server then sends data twice, acknowledging the FIN: FIN_WAIT2 / CLOSE_WAIT",
			Part{FinUnseenData, 1}),
		one("synack-lost", "client connects; the SYN+ACK is dropped at the client's input, after the capture point; both retransmit: SYN_SENT / SYN_RECV",
			Part{SynAckLost, 1}),
		one("synack-unseen", "client connects; the SYN+ACK is stolen at the server's egress, before the capture point; the client retransmits its SYN: SYN_SENT / SYN_RECV, the server never on the wire",
			Part{SynAckUnseen, 1}),
		one("fin-retransmit", "client closes; the server's ACK is stolen before the capture point and its FIN+ACK dropped at the client's input once, so both retransmit their FINs: client TIME_WAIT",
			Part{FinRetransmit, 1}),
		one("facts", "data of known sizes both ways on four connections: one stays open, one half-closes after it, one loses each end's first data segment after the capture point, one a data segment each way before it; for the kernel's counters (ss -i)",
			Part{Transfer, 1}, Part{TransferHalfClose, 1}, Part{TransferLost, 1}, Part{TransferUnseen, 1}),
	}
	var all []Scenario
	for _, sc := range base {
		all = append(all, sc)
	}
	for _, sc := range base {
		sc.Doc = "as " + sc.Name + ", over IPv6"
		sc.Name += "-v6"
		sc.Family = IPv6
		all = append(all, sc)
	}
	// Loopback has no neighbour resolution to hold a FIN in, so no
	// simultaneous close there.
	lo := []Part{{Established, 1}, {HalfClose, 1}, {TimeWait, 1}, {LastAck, 1}, {FinWait1, 1},
		{SynSent, 1}, {SynRecv, 1}, {Reset, 1}, {Refused, 1}}
	all = append(all,
		Scenario{Name: "fin-timeout", Iface: "veth0", Parts: []Part{{FinTimeout, 1}},
			Sysctls: []string{"net.ipv4.tcp_fin_timeout=1"},
			Config:  tracker.Config{FinTimeout: time.Second},
			Doc:     "client closes (orphaned FIN_WAIT2), server stays in CLOSE_WAIT; tcp_fin_timeout is 1 s and the snapshot comes 2.5 s later: the client is gone"},
		Scenario{Name: "retry-timeout", Iface: "veth0", Parts: []Part{{RetryTimeout, 1}},
			Sysctls: []string{"net.ipv4.tcp_orphan_retries=1"},
			Config:  tracker.Config{RetryTimeout: time.Second},
			Doc:     "client closes; the server's ACK is stolen before the capture point, so the orphaned client retransmits its FIN once and gives up (tcp_orphan_retries 1); the snapshot comes 3 s later: the client is gone, the server CLOSE_WAIT"},
		Scenario{Name: "facts-ecn", Iface: "veth0", Parts: []Part{{Transfer, 1}, {TransferLost, 1}},
			ClientSysctls: []string{"net.ipv4.tcp_ecn=1"},
			Doc:           "as facts' open and lossy transfers, the client asking for ECN (tcp_ecn 1), the server agreeing (the default, 2)"},
		Scenario{Name: "facts-noopts", Iface: "veth0", Parts: []Part{{Transfer, 1}, {TransferLost, 1}},
			ServerSysctls: []string{"net.ipv4.tcp_sack=0", "net.ipv4.tcp_timestamps=0", "net.ipv4.tcp_window_scaling=0"},
			Doc:           "as facts' open and lossy transfers, the server offering no SACK, timestamps or window scaling: the client's offers are not taken up"},
		Scenario{Name: "loopback", Topology: Loopback, Iface: "lo", Parts: lo,
			Doc: "one namespace, both ends on 127.0.0.1, captured on lo (Ethernet framing): one connection of every kind but closing"},
		Scenario{Name: "loopback-v6", Topology: Loopback, Family: IPv6, Iface: "lo", Parts: lo,
			Doc: "as loopback, on ::1"},
		Scenario{Name: "any-sll", Iface: "any", LinkType: "LINUX_SLL",
			Parts: []Part{{Established, 1}, {HalfClose, 1}, {FinWait1, 1}, {SynRecv, 1}},
			Doc:   "veth, captured with -i any as Linux cooked v1 (SLL)"},
		Scenario{Name: "any-sll2", Iface: "any", LinkType: "LINUX_SLL2", Family: IPv6,
			Parts: []Part{{Established, 1}, {HalfClose, 1}, {FinWait1, 1}, {SynRecv, 1}},
			Doc:   "veth over IPv6, captured with -i any as Linux cooked v2 (SLL2)"},
		Scenario{Name: "moments", Iface: "veth0", Parts: momentsParts(), Then: []Part{{Established, 2}, {CloseClient, 1}},
			Sysctls: []string{"net.ipv4.tcp_fin_timeout=1"},
			Config:  tracker.Config{FinTimeout: time.Second},
			Doc:     "two moments in one capture: connections in five states, a snapshot while the capture runs (NAME.at1.ss); then new connections, and earlier ones closed, reset and orphaned (tcp_fin_timeout 1 s), and the snapshot at the end"},
		Scenario{Name: "mixed", Iface: "veth0", Parts: mixedParts(),
			Doc: "every kind at once, 8 to 20 connections each: 228 sockets in every state"},
		Scenario{Name: "mixed-v6", Iface: "veth0", Family: IPv6, Parts: mixedParts(),
			Doc: "as mixed, over IPv6"},
	)
	return all
}

// momentsParts are the first act of moments. No half-close: with the
// tracker's --fin-timeout at the kernel's 1 s, a FIN_WAIT2 that is not
// orphaned and stays quiet would be closed by the tracker and not by the
// kernel. The orphaned client, freed by the kernel's timer after the last
// segment, comes last, so that the second snapshot also checks that the
// tracker's clock was run up to it.
func momentsParts() []Part {
	return []Part{{TimeWait, 1}, {SynSent, 1}, {SynRecv, 1}, {LastAck, 1},
		{ClosedLater, 2}, {ResetLater, 2}, {OrphanedLater, 2}}
}

func mixedParts() []Part {
	return []Part{{MidStream, 12}, {Established, 20}, {CloseClient, 12}, {CloseServer, 12},
		{HalfClose, 15}, {TimeWait, 8}, {Reset, 8}, {Refused, 8}, {SimultaneousClose, 10},
		{FinWait1, 12}, {LastAck, 12}, {SynRecv, 12}, {SynSent, 10}}
}

// Lookup returns the scenario with this name.
func Lookup(name string) (Scenario, error) {
	for _, sc := range Scenarios() {
		if sc.Name == name {
			return sc, nil
		}
	}
	return Scenario{}, fmt.Errorf("%w: %q", ErrNoScenario, name)
}

// Play drives the scenario's connections in l. It first makes what must
// exist before the capture (listeners, connections picked up mid-stream),
// then calls started, which should start the capture (tcpdump, or a live
// tcptrack) and return once it is listening, then plays every part in turn.
// When Play returns, every socket is in its final state and stays there
// (retransmissions aside) until the lab is closed; take Snapshot next.
func (sc Scenario) Play(l *Lab, started func() error) error { return sc.PlayActs(l, started, nil) }

// PlayActs is Play for a scenario with two moments: after the first act
// (Parts, and the first step of kinds in two acts) it calls midway, which
// takes the first snapshot, then plays the second: the parts of Then, and
// then the second step of each kind in two acts, in the order of Parts.
// Every step of the first act ends with a wait for the last ACKs (or
// retransmissions) to go by, so midway finds the lab quiet. A nil midway
// plays both acts straight through.
func (sc Scenario) PlayActs(l *Lab, started, midway func() error) error {
	if l.Topology != sc.Topology || l.Family != sc.Family {
		return fmt.Errorf("%w: %s needs topology %d family %d", ErrTopology, sc.Name, sc.Topology, sc.Family)
	}
	if l.Topology != Veth && len(sc.ClientSysctls)+len(sc.ServerSysctls) > 0 {
		return fmt.Errorf("%w: %s sets one end's sysctls, which needs two namespaces", ErrTopology, sc.Name)
	}
	for _, h := range l.Hosts() {
		kvs := append([]string(nil), sc.Sysctls...)
		if h == l.Client {
			kvs = append(kvs, sc.ClientSysctls...)
		} else {
			kvs = append(kvs, sc.ServerSysctls...)
		}
		for _, kv := range kvs {
			if err := h.run("sysctl", "-qw", kv); err != nil {
				return err
			}
		}
	}
	type step struct {
		kind Kind
		run  func() error
	}
	var first, then, second []step
	for _, p := range sc.Parts {
		info := kindInfo[p.Kind]
		if info.acts == nil {
			run, err := info.play(l, p.Kind.Port(), p.N)
			if err != nil {
				return fmt.Errorf("%s: prepare %s: %w", sc.Name, p.Kind, err)
			}
			first = append(first, step{p.Kind, run})
			continue
		}
		a, b, err := info.acts(l, p.Kind.Port(), p.N)
		if err != nil {
			return fmt.Errorf("%s: prepare %s: %w", sc.Name, p.Kind, err)
		}
		first, second = append(first, step{p.Kind, a}), append(second, step{p.Kind, b})
	}
	for _, p := range sc.Then {
		if kindInfo[p.Kind].acts != nil {
			return fmt.Errorf("netlab: %s: %s plays in two acts: put it in Parts", sc.Name, p.Kind)
		}
		run, err := kindInfo[p.Kind].play(l, p.Kind.Port(), p.N)
		if err != nil {
			return fmt.Errorf("%s: prepare %s: %w", sc.Name, p.Kind, err)
		}
		then = append(then, step{p.Kind, run})
	}
	if err := started(); err != nil {
		return err
	}
	for i, steps := range [][]step{first, append(then, second...)} {
		if i == 1 && midway != nil {
			if err := midway(); err != nil {
				return err
			}
		}
		for _, st := range steps {
			if err := st.run(); err != nil {
				return fmt.Errorf("%s: %s: %w", sc.Name, st.kind, err)
			}
		}
	}
	return nil
}

// NewLab makes a lab of the shape the scenario needs.
func (sc Scenario) NewLab(ctx context.Context) (*Lab, error) { return New(ctx, sc.Topology, sc.Family) }

// ioTimeout bounds every read and write of a scenario.
const ioTimeout = 5 * time.Second

// Delays. Linux's minimum RTO is 200 ms and the first retransmission of a
// SYN or SYN+ACK comes after 1 s; the waits let at least one (two for FINs)
// retransmission reach the capture before the snapshot, as evidence for the
// tracker that the dropped segment never arrived.
const (
	ackDelay   = 200 * time.Millisecond  // > delayed-ACK timer (40 ms max on Linux at these RTTs)
	finRetrans = 800 * time.Millisecond  // FIN at +200 ms and +600 ms
	synRetrans = 1300 * time.Millisecond // SYN / SYN+ACK at +1 s
	holdSettle = 50 * time.Millisecond   // FINs queued before release
)

type pair struct{ c, s *net.TCPConn }

// server returns the address connections of a part go to.
func (l *Lab) server(port uint16) netip.AddrPort { return netip.AddrPortFrom(l.Server.Addr, port) }

// open makes n connections to ln and accepts them.
func (l *Lab) open(ln *net.TCPListener, port uint16, n int) ([]pair, error) {
	ps := make([]pair, 0, n)
	for range n {
		c, err := l.Client.Dial(l.server(port))
		if err != nil {
			return nil, err
		}
		if err := ln.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
			return nil, err
		}
		s, err := ln.AcceptTCP()
		if err != nil {
			return nil, fmt.Errorf("netlab: accept: %w", err)
		}
		if err := l.keep(s); err != nil {
			return nil, err
		}
		ps = append(ps, pair{c, s})
	}
	return ps, nil
}

// listenOpen listens on port and opens n connections to it.
func (l *Lab) listenOpen(port uint16, n int) ([]pair, error) {
	ln, err := l.Server.Listen(port)
	if err != nil {
		return nil, err
	}
	return l.open(ln, port, n)
}

// withConnections listens on port at once and returns the step that, when
// the scenario plays, opens n connections, exchanges a message on each so
// that both ends have data behind them, and hands them to then.
func withConnections(l *Lab, port uint16, n int, then func([]pair) error) (func() error, error) {
	ln, err := l.Server.Listen(port)
	if err != nil {
		return nil, err
	}
	return func() error {
		ps, err := l.open(ln, port, n)
		if err != nil {
			return err
		}
		if err := exchange(ps); err != nil {
			return err
		}
		return then(ps)
	}, nil
}

// send writes msg on from and reads it all on to, so no Recv-Q is left.
func send(from, to *net.TCPConn, msg string) error {
	deadline := time.Now().Add(ioTimeout)
	if err := from.SetWriteDeadline(deadline); err != nil {
		return err
	}
	if _, err := io.WriteString(from, msg); err != nil {
		return fmt.Errorf("netlab: write: %w", err)
	}
	if err := to.SetReadDeadline(deadline); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(to, buf); err != nil {
		return fmt.Errorf("netlab: read: %w", err)
	}
	return nil
}

// exchange sends a few bytes each way.
func exchange(ps []pair) error {
	for _, p := range ps {
		if err := send(p.c, p.s, "ping\n"); err != nil {
			return err
		}
		if err := send(p.s, p.c, "pong\n"); err != nil {
			return err
		}
	}
	return nil
}

// readEOF reads c until the peer's FIN.
func readEOF(c *net.TCPConn) error {
	if err := c.SetReadDeadline(time.Now().Add(ioTimeout)); err != nil {
		return err
	}
	var buf [64]byte
	for range 100 {
		_, err := c.Read(buf[:])
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("netlab: waiting for EOF: %w", err)
		}
	}
	return errors.New("netlab: waiting for EOF: peer kept sending")
}

func playEstablished(l *Lab, port uint16, n int) (func() error, error) {
	ln, err := l.Server.Listen(port)
	if err != nil {
		return nil, err
	}
	return func() error {
		_, err := l.open(ln, port, n)
		if err != nil {
			return err
		}
		return sleep(l.ctx, ackDelay)
	}, nil
}

// closeFirst closes a then, after the delayed ACK of a's FIN has gone out
// on its own, b: a 4-way close. quick closes b as soon as it reads EOF, so
// its FIN usually carries the ACK (a 3-segment close).
func (l *Lab) closeFirst(a, b *net.TCPConn, quick bool) error {
	if err := a.Close(); err != nil {
		return err
	}
	if err := readEOF(b); err != nil {
		return err
	}
	if !quick {
		if err := sleep(l.ctx, ackDelay); err != nil {
			return err
		}
	}
	return b.Close()
}

func playCloseClient(l *Lab, port uint16, n int) (func() error, error) {
	return playClose(l, port, n, true)
}

func playCloseServer(l *Lab, port uint16, n int) (func() error, error) {
	return playClose(l, port, n, false)
}

func playClose(l *Lab, port uint16, n int, clientFirst bool) (func() error, error) {
	return withConnections(l, port, n, func(ps []pair) error {
		for _, p := range ps {
			a, b := p.c, p.s
			if !clientFirst {
				a, b = b, a
			}
			if err := l.closeFirst(a, b, false); err != nil {
				return err
			}
		}
		return sleep(l.ctx, ackDelay)
	})
}

func playTimeWait(l *Lab, port uint16, n int) (func() error, error) {
	return withConnections(l, port, 2*n, func(ps []pair) error {
		for i, p := range ps {
			a, b := p.c, p.s
			if i%2 == 1 {
				a, b = b, a
			}
			if err := l.closeFirst(a, b, true); err != nil {
				return err
			}
		}
		return sleep(l.ctx, ackDelay)
	})
}

func playHalfClose(l *Lab, port uint16, n int) (func() error, error) {
	return withConnections(l, port, n, func(ps []pair) error {
		for _, p := range ps {
			if err := p.c.CloseWrite(); err != nil {
				return err
			}
			if err := readEOF(p.s); err != nil {
				return err
			}
			// Data towards the half-closed end: still allowed.
			if err := send(p.s, p.c, "late\n"); err != nil {
				return err
			}
		}
		return sleep(l.ctx, ackDelay)
	})
}

// playClosing makes a simultaneous close that stays in CLOSING on both
// ends. Each end must receive the other's FIN before any ACK of its own, so
// both FINs must be sent before either arrives: they are held in the
// senders' neighbour queues (the peer's link-layer address is deleted and
// resolution is blocked at output, before the capture point), then
// released by setting the address by hand, which flushes the queue. At each
// end's input, the first FIN of each connection is let through and every
// later segment of it is dropped: the ACKs of the FINs, and the
// retransmitted FINs, which by then acknowledge the other FIN and would
// complete the close.
func playClosing(l *Lab, port uint16, n int) (func() error, error) {
	if l.Topology != Veth {
		return nil, fmt.Errorf("%w: closing needs a veth", ErrTopology)
	}
	return withConnections(l, port, n, func(ps []pair) error {
		if err := sleep(l.ctx, ackDelay); err != nil {
			return err
		}
		// At the server, the client port is the connection's key; at
		// the client, it is too, as the destination.
		for _, r := range []struct {
			h          *Host
			here, peer string
		}{{l.Server, "dport", "sport"}, {l.Client, "sport", "dport"}} {
			set := fmt.Sprintf("fin%d", port)
			err := r.h.nft(fmt.Sprintf(`add set inet netlab %[1]s { type inet_service; flags dynamic; }
add rule inet netlab input tcp %[2]s %[3]d tcp %[4]s @%[1]s drop
add rule inet netlab input tcp %[2]s %[3]d tcp flags & fin == fin add @%[1]s { tcp %[4]s } accept
add rule inet netlab input tcp %[2]s %[3]d drop`, set, r.here, port, r.peer))
			if err != nil {
				return err
			}
		}
		if err := l.hold(); err != nil {
			return err
		}
		for _, p := range ps {
			if err := p.c.CloseWrite(); err != nil {
				return err
			}
			if err := p.s.CloseWrite(); err != nil {
				return err
			}
		}
		if err := sleep(l.ctx, holdSettle); err != nil {
			return err
		}
		if err := l.release(); err != nil {
			return err
		}
		// Read the EOFs, so that Recv-Q does not count the FINs.
		for _, p := range ps {
			if err := readEOF(p.c); err != nil {
				return err
			}
			if err := readEOF(p.s); err != nil {
				return err
			}
		}
		return sleep(l.ctx, finRetrans)
	})
}

// hold makes each veth end queue what it sends to the other: the peer's
// neighbour entry is deleted and the resolution that would recreate it is
// dropped at output. The kernel queues up to unres_qlen_bytes (about
// 200 KB) per neighbour for up to three resolution attempts (3 s); release
// well before.
func (l *Lab) hold() error {
	for _, h := range []*Host{l.Client, l.Server} {
		peer := l.peer(h)
		block := "table arp netlab_hold {\n\tchain output { type filter hook output priority 0; policy drop; }\n}"
		if l.Family == IPv6 {
			block = "table ip6 netlab_hold {\n\tchain output { type filter hook output priority 0; policy accept; icmpv6 type nd-neighbor-solicit drop; }\n}"
		}
		if err := h.nft(block); err != nil {
			return err
		}
		if err := h.run("ip", "neigh", "del", peer.Addr.String(), "dev", h.Iface); err != nil {
			return err
		}
	}
	return nil
}

// release sends what hold queued, in order: it sets each end's neighbour
// entry for the other by hand, which flushes the queue, and lifts the block.
func (l *Lab) release() error {
	if err := l.setNeighbours(); err != nil {
		return err
	}
	fam := "arp"
	if l.Family == IPv6 {
		fam = "ip6"
	}
	for _, h := range []*Host{l.Client, l.Server} {
		if err := h.nft("delete table " + fam + " netlab_hold"); err != nil {
			return err
		}
	}
	return nil
}

// setNeighbours gives each veth end a permanent neighbour entry for the
// other.
func (l *Lab) setNeighbours() error {
	for _, h := range []*Host{l.Client, l.Server} {
		peer := l.peer(h)
		if err := h.run("ip", "neigh", "replace", peer.Addr.String(), "lladdr", peer.MAC,
			"dev", h.Iface, "nud", "permanent"); err != nil {
			return err
		}
	}
	return nil
}

func (l *Lab) peer(h *Host) *Host {
	if h == l.Client {
		return l.Server
	}
	return l.Client
}

func playSynSent(l *Lab, port uint16, n int) (func() error, error) {
	return func() error {
		if err := l.Server.AddRules(fmt.Sprintf("tcp dport %d tcp flags & syn == syn drop", port)); err != nil {
			return err
		}
		for range n {
			if err := l.Client.Connect(l.server(port)); err != nil {
				return err
			}
		}
		return sleep(l.ctx, synRetrans)
	}, nil
}

func playReset(l *Lab, port uint16, n int) (func() error, error) {
	return withConnections(l, port, n, func(ps []pair) error {
		for _, p := range ps {
			if err := p.c.SetLinger(0); err != nil {
				return err
			}
			if err := p.c.Close(); err != nil {
				return err
			}
			if err := expectReset(p.s); err != nil {
				return err
			}
		}
		return sleep(l.ctx, ackDelay)
	})
}

// expectReset reads c until the peer's RST.
func expectReset(c *net.TCPConn) error {
	if err := c.SetReadDeadline(time.Now().Add(ioTimeout)); err != nil {
		return err
	}
	var buf [64]byte
	if _, err := c.Read(buf[:]); !errors.Is(err, syscall.ECONNRESET) {
		return fmt.Errorf("netlab: want connection reset, got %v", err)
	}
	return nil
}

func playRefused(l *Lab, port uint16, n int) (func() error, error) {
	return func() error {
		for range n {
			_, err := l.Client.Dial(l.server(port))
			if !errors.Is(err, syscall.ECONNREFUSED) {
				return fmt.Errorf("netlab: want connection refused, got %v", err)
			}
		}
		return sleep(l.ctx, ackDelay)
	}, nil
}

// playMidStream opens its connections before the capture. During it, every
// connection carries data again; then every third (from the second) is
// half-closed by the client and every third (from the third) reset by the
// server.
func playMidStream(l *Lab, port uint16, n int) (func() error, error) {
	ps, err := l.listenOpen(port, n)
	if err != nil {
		return nil, err
	}
	if err := exchange(ps); err != nil {
		return nil, err
	}
	// Let the last ACKs out before the capture starts.
	if err := sleep(l.ctx, ackDelay); err != nil {
		return nil, err
	}
	return func() error {
		// Server speaks first: the capture's first segment of each
		// flow comes from the well-known port.
		for _, p := range ps {
			if err := send(p.s, p.c, "more\n"); err != nil {
				return err
			}
			if err := send(p.c, p.s, "sure\n"); err != nil {
				return err
			}
		}
		for i, p := range ps {
			switch i % 3 {
			case 1:
				if err := p.c.CloseWrite(); err != nil {
					return err
				}
				if err := readEOF(p.s); err != nil {
					return err
				}
			case 2:
				if err := p.s.SetLinger(0); err != nil {
					return err
				}
				if err := p.s.Close(); err != nil {
					return err
				}
				if err := expectReset(p.c); err != nil {
					return err
				}
			}
		}
		return sleep(l.ctx, ackDelay)
	}, nil
}

// steal makes h's interface forward the frames that rule (an nft match on
// h's outgoing TCP segments) selects to sink0 at egress: lost before the
// capture point, and without an error to the sender, as on a real path.
func (h *Host) steal(rule string) error {
	return h.nft(fmt.Sprintf(`add table netdev netlab_steal
add chain netdev netlab_steal egress { type filter hook egress device %q priority -200; policy accept; }
add rule netdev netlab_steal egress %s fwd to "sink0"`, h.Iface, rule))
}

// bareSegments matches segments without SYN, FIN or RST: ACKs, and data,
// which these scenarios do not send once the rule is in place.
const bareSegments = "tcp flags & (syn|fin|rst) == 0"

// playFinRetransmit closes from the client. The server's ACK of the FIN is
// stolen before the capture point, and its FIN+ACK, sent as soon as it
// reads EOF, is dropped at the client's input the first time (an nftables
// set of the client ports whose server FIN went by): the client
// retransmits its FIN, acknowledging below the server's FIN, and the
// server retransmits its FIN+ACK, which completes the close.
func playFinRetransmit(l *Lab, port uint16, n int) (func() error, error) {
	return withConnections(l, port, n, func(ps []pair) error {
		if err := sleep(l.ctx, ackDelay); err != nil {
			return err
		}
		if err := l.Server.steal(fmt.Sprintf("tcp sport %d %s", port, bareSegments)); err != nil {
			return err
		}
		set := fmt.Sprintf("fin%d", port)
		if err := l.Client.nft(fmt.Sprintf(`add set inet netlab %[1]s { type inet_service; flags dynamic; }
add rule inet netlab input tcp sport %[2]d tcp flags & fin == fin tcp dport @%[1]s accept
add rule inet netlab input tcp sport %[2]d tcp flags & fin == fin add @%[1]s { tcp dport } drop`, set, port)); err != nil {
			return err
		}
		for _, p := range ps {
			if err := p.c.Close(); err != nil {
				return err
			}
			if err := readEOF(p.s); err != nil {
				return err
			}
			if err := p.s.Close(); err != nil {
				return err
			}
		}
		return sleep(l.ctx, 2*finRetrans)
	})
}

// timerWait is how long the timer scenarios wait after the close for the
// kernel's shortened timers to run out.
const timerWait = 2500 * time.Millisecond

func playFinTimeout(l *Lab, port uint16, n int) (func() error, error) {
	return withConnections(l, port, n, func(ps []pair) error {
		for _, p := range ps {
			// close, not shutdown: only an orphaned FIN_WAIT2 is timed.
			if err := p.c.Close(); err != nil {
				return err
			}
			if err := readEOF(p.s); err != nil {
				return err
			}
		}
		return sleep(l.ctx, timerWait)
	})
}

func playRetryTimeout(l *Lab, port uint16, n int) (func() error, error) {
	return withConnections(l, port, n, func(ps []pair) error {
		if err := sleep(l.ctx, ackDelay); err != nil {
			return err
		}
		if err := l.Server.steal(fmt.Sprintf("tcp sport %d %s", port, bareSegments)); err != nil {
			return err
		}
		for _, p := range ps {
			if err := p.c.Close(); err != nil {
				return err
			}
			if err := readEOF(p.s); err != nil {
				return err
			}
		}
		return sleep(l.ctx, timerWait+500*time.Millisecond)
	})
}

// A loss makes the lab lose, from the moment it is called, the segments of
// the connections to port that its rule selects: dropAt after the capture
// point, stealAt before it. The kinds that differ only in where the answer
// is lost are one play function called with either.
type loss func(l *Lab, port uint16) error

// The hosts a loss can act on.
const (
	client = iota
	server
)

func (l *Lab) host(role int) *Host {
	if role == client {
		return l.Client
	}
	return l.Server
}

// dropAt drops the segments that rule (an nft match with a %d for the
// port) selects at the input of host role: they are captured, and lost.
func dropAt(role int, rule string) loss {
	return func(l *Lab, port uint16) error {
		return l.host(role).AddRules(fmt.Sprintf(rule, port) + " drop")
	}
}

// stealAt steals the segments that rule selects at the egress of host
// role: lost before the capture point (see steal).
func stealAt(role int, rule string) loss {
	return func(l *Lab, port uint16) error {
		return l.host(role).steal(fmt.Sprintf(rule, port))
	}
}

// lastAck: the client closes and the server reads EOF; then lose, from
// now on, what the client sends (nothing but ACKs of the server's FIN), and
// the server shuts down: it retransmits its FIN.
func lastAck(lose loss) playFunc {
	return func(l *Lab, port uint16, n int) (func() error, error) {
		return withConnections(l, port, n, func(ps []pair) error {
			for _, p := range ps {
				if err := p.c.Close(); err != nil {
					return err
				}
				if err := readEOF(p.s); err != nil {
					return err
				}
			}
			// Let the ACKs of the client FINs out before the loss.
			if err := sleep(l.ctx, ackDelay); err != nil {
				return err
			}
			if err := lose(l, port); err != nil {
				return err
			}
			for _, p := range ps {
				// shutdown, not close: the server socket stays
				// attached, so it is not subject to the orphan retry
				// limits and stays in LAST_ACK for minutes.
				if err := p.s.CloseWrite(); err != nil {
					return err
				}
			}
			return sleep(l.ctx, finRetrans)
		})
	}
}

// finWait1: lose, then the client shuts down writing and retransmits its
// FIN. delivered says the loss lets the FIN reach the server, which then
// reads EOF.
func finWait1(lose loss, delivered bool) playFunc {
	return func(l *Lab, port uint16, n int) (func() error, error) {
		return withConnections(l, port, n, func(ps []pair) error {
			if err := closeWriteAfter(l, port, ps, lose, delivered); err != nil {
				return err
			}
			return sleep(l.ctx, finRetrans)
		})
	}
}

// closeWriteAfter waits for the last ACKs, applies lose, then shuts the
// clients of ps down for writing; delivered says the loss lets their FINs
// reach the servers, which then read EOF.
func closeWriteAfter(l *Lab, port uint16, ps []pair, lose loss, delivered bool) error {
	if err := sleep(l.ctx, ackDelay); err != nil {
		return err
	}
	if err := lose(l, port); err != nil {
		return err
	}
	for _, p := range ps {
		if err := p.c.CloseWrite(); err != nil {
			return err
		}
		if delivered {
			if err := readEOF(p.s); err != nil {
				return err
			}
		}
	}
	return nil
}

// synRecv: a listener never accepted from; lose, then the client connects
// and the server retransmits its SYN+ACK.
func synRecv(lose loss) playFunc {
	return func(l *Lab, port uint16, n int) (func() error, error) {
		if _, err := l.Server.Listen(port); err != nil {
			return nil, err
		}
		return func() error {
			if err := lose(l, port); err != nil {
				return err
			}
			for range n {
				if _, err := l.Client.Dial(l.server(port)); err != nil {
					return err
				}
			}
			return sleep(l.ctx, synRetrans)
		}, nil
	}
}

// synAckLost: a listener; lose (its SYN+ACKs), then n non-blocking
// connects that never complete.
func synAckLost(lose loss) playFunc {
	return func(l *Lab, port uint16, n int) (func() error, error) {
		if _, err := l.Server.Listen(port); err != nil {
			return nil, err
		}
		return func() error {
			if err := lose(l, port); err != nil {
				return err
			}
			for range n {
				if err := l.Client.Connect(l.server(port)); err != nil {
					return err
				}
			}
			return sleep(l.ctx, synRetrans)
		}, nil
	}
}

// finThenData: lose (the rule of the unseen kind takes bare ACKs only: the
// data that follows carries PSH), the client shuts down writing and retransmits its
// FIN, then the server sends data twice, which the client reads: the
// server's acknowledgment numbers then say whether the FIN reached it.
// delivered says the loss lets the FIN reach the server, which then reads
// EOF.
func finThenData(lose loss, delivered bool) playFunc {
	return func(l *Lab, port uint16, n int) (func() error, error) {
		return withConnections(l, port, n, func(ps []pair) error {
			if err := closeWriteAfter(l, port, ps, lose, delivered); err != nil {
				return err
			}
			// Let a FIN retransmission out first.
			if err := sleep(l.ctx, finRetrans/2); err != nil {
				return err
			}
			for _, p := range ps {
				for _, msg := range []string{"late\n", "later\n"} {
					if err := send(p.s, p.c, msg); err != nil {
						return err
					}
				}
			}
			return sleep(l.ctx, ackDelay)
		})
	}
}

// later returns the acts of a kind in two acts: in the first, n
// connections are opened and carry a message each way; in the second, end
// is done to each, then the scenario waits wait.
func later(end func(l *Lab, p pair) error, wait time.Duration) actsFunc {
	return func(l *Lab, port uint16, n int) (func() error, func() error, error) {
		var ps []pair
		first, err := withConnections(l, port, n, func(opened []pair) error {
			ps = opened
			return sleep(l.ctx, ackDelay)
		})
		if err != nil {
			return nil, nil, err
		}
		return first, func() error {
			for _, p := range ps {
				if err := end(l, p); err != nil {
					return err
				}
			}
			return sleep(l.ctx, wait)
		}, nil
	}
}

func closeByClient(l *Lab, p pair) error { return l.closeFirst(p.c, p.s, false) }

func resetByClient(_ *Lab, p pair) error {
	if err := p.c.SetLinger(0); err != nil {
		return err
	}
	if err := p.c.Close(); err != nil {
		return err
	}
	return expectReset(p.s)
}

// orphanClient close()s the client, not shutdown: only an orphaned
// FIN_WAIT2 is timed; the server reads EOF and stays in CLOSE_WAIT.
func orphanClient(_ *Lab, p pair) error {
	if err := p.c.Close(); err != nil {
		return err
	}
	return readEOF(p.s)
}
