package gen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/tcptrack/tcptrack/decode"
	"github.com/tcptrack/tcptrack/tracker"
)

// small configurations of every mode, quick enough for every test run.
var small = []struct {
	name string
	cfg  Config
}{
	{"mix", Config{Mode: Mix, Packets: 60_000}},
	{"mix-slow", Config{Mode: Mix, Packets: 30_000, ConnRate: 300, Snaplen: 98}},
	{"synflood", Config{Mode: SYNFlood, Sources: 20_000, RealConns: 50}},
	{"synflood-answered", Config{Mode: SYNFlood, Sources: 5000, AnswerPct: 50}},
	{"synflood-repeated", Config{Mode: SYNFlood, Sources: 5000, Packets: 12_000}},
	{"longflows", Config{Mode: LongFlows, Flows: 40, Packets: 40_000}},
}

func generate(t *testing.T, cfg Config) ([]byte, *Result) {
	t.Helper()
	var buf bytes.Buffer
	res, err := Generate(&buf, cfg)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", cfg, err)
	}
	return buf.Bytes(), res
}

func TestDeterministic(t *testing.T) {
	for _, tc := range small {
		t.Run(tc.name, func(t *testing.T) {
			a, _ := generate(t, tc.cfg)
			b, _ := generate(t, tc.cfg)
			if !bytes.Equal(a, b) {
				t.Fatal("the same seed wrote different bytes")
			}
			cfg := tc.cfg
			cfg.Seed++
			c, _ := generate(t, cfg)
			if bytes.Equal(a, c) {
				t.Fatal("another seed wrote the same bytes")
			}
		})
	}
}

func TestBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Mode: 9},
		{Mode: Mix, Packets: -1},
		{Mode: Mix, Snaplen: 20},
		{Mode: SYNFlood, AnswerPct: 101},
		{Mode: SYNFlood, AnswerPct: 1, Sources: 10, Packets: 11},
	} {
		if _, err := Generate(io.Discard, cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("Generate(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
	if _, err := ParseMode("flood"); !errors.Is(err, ErrConfig) {
		t.Errorf("ParseMode(flood) = %v, want ErrConfig", err)
	}
	for _, m := range []Mode{Mix, SYNFlood, LongFlows} {
		if got, err := ParseMode(m.String()); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m.String(), got, err)
		}
	}
}

// half is one direction of a connection as the file shows it.
type half struct {
	isn     uint32
	synSeen bool
	nxt     uint32 // one past the highest sequence number sent
	acked   uint32 // highest ACK received from the peer
	acks    bool
	synOpts int // SYNs seen with MSS, window scale and SACK-permitted
}

type flowKey struct {
	vlan     uint16
	src, dst netip.AddrPort
}

type fileStats struct {
	packets, v6, vlan, flows, v6Flows, vlanFlows int
	syns, synacks, fins, rsts, data              int
	srcs                                         map[netip.AddrPort]bool
}

// check reads a generated file back with gopacket and checks it frame by
// frame against RFC 9293: every ACK acknowledges only what its peer has sent
// (SYN and FIN counting one), never less than it acknowledged before, and
// lengths and timestamps are consistent.
func check(t *testing.T, data []byte, cfg Config) fileStats {
	t.Helper()
	r, err := pcapgo.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		t.Fatalf("link type %v", r.LinkType())
	}
	snap := cfg.Snaplen
	if snap == 0 {
		snap = 128
	}
	if int(r.Snaplen()) != snap {
		t.Fatalf("snaplen %d, want %d", r.Snaplen(), snap)
	}
	var (
		eth   layers.Ethernet
		dot1q layers.Dot1Q
		ip4   layers.IPv4
		ip6   layers.IPv6
		tcp   layers.TCP
		pay   gopacket.Payload
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &dot1q, &ip4, &ip6, &tcp, &pay)
	parser.IgnoreUnsupported = true
	var decoded []gopacket.LayerType
	halves := map[flowKey]*half{}
	st := fileStats{srcs: map[netip.AddrPort]bool{}}
	var last time.Time
	for {
		frame, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("packet %d: %v", st.packets+1, err)
		}
		st.packets++
		n := st.packets
		if ci.Timestamp.Before(last) {
			t.Fatalf("packet %d: time goes back from %v to %v", n, last, ci.Timestamp)
		}
		last = ci.Timestamp
		if ci.CaptureLength != min(ci.Length, snap) {
			t.Fatalf("packet %d: captured %d of %d with snaplen %d", n, ci.CaptureLength, ci.Length, snap)
		}
		// Headers-only frames are truncated on purpose; DecodeFromBytes of
		// the IP layer is lenient, the TCP header is always complete.
		if err := parser.DecodeLayers(frame, &decoded); err != nil {
			var te gopacket.UnsupportedLayerType
			if !errors.As(err, &te) {
				t.Fatalf("packet %d: %v (decoded %v)", n, err, decoded)
			}
		}
		var key flowKey
		l2 := 14
		var ipLen int
		for _, lt := range decoded {
			switch lt {
			case layers.LayerTypeDot1Q:
				key.vlan = dot1q.VLANIdentifier
				l2 += 4
				st.vlan++
			case layers.LayerTypeIPv4:
				a, _ := netip.AddrFromSlice(ip4.SrcIP)
				b, _ := netip.AddrFromSlice(ip4.DstIP)
				key.src, key.dst = netip.AddrPortFrom(a, 0), netip.AddrPortFrom(b, 0)
				ipLen = int(ip4.Length)
			case layers.LayerTypeIPv6:
				a, _ := netip.AddrFromSlice(ip6.SrcIP)
				b, _ := netip.AddrFromSlice(ip6.DstIP)
				key.src, key.dst = netip.AddrPortFrom(a, 0), netip.AddrPortFrom(b, 0)
				ipLen = 40 + int(ip6.Length)
				st.v6++
			}
		}
		if ipLen == 0 || tcp.DstPort == 0 {
			t.Fatalf("packet %d: no IP/TCP (decoded %v)", n, decoded)
		}
		if want := max(l2+ipLen, 60); ci.Length != want {
			t.Fatalf("packet %d: wire length %d, headers say %d", n, ci.Length, want)
		}
		key.src = netip.AddrPortFrom(key.src.Addr(), uint16(tcp.SrcPort))
		key.dst = netip.AddrPortFrom(key.dst.Addr(), uint16(tcp.DstPort))
		for _, a := range []netip.Addr{key.src.Addr(), key.dst.Addr()} {
			if !netip.MustParsePrefix("198.18.0.0/15").Contains(a) && !netip.MustParsePrefix("2001:db8::/32").Contains(a) {
				t.Fatalf("packet %d: address %v outside the test ranges", n, a)
			}
		}
		plen := uint32(int(ip4.Length) - int(ip4.IHL)*4 - len(tcp.Contents))
		if key.src.Addr().Is6() {
			plen = uint32(int(ip6.Length) - len(tcp.Contents))
		}
		me := halves[key]
		if me == nil {
			me = &half{}
			halves[key] = me
			st.flows++
		}
		peer := halves[flowKey{key.vlan, key.dst, key.src}]

		end := tcp.Seq + plen
		switch {
		case tcp.SYN:
			st.syns++
			if tcp.ACK {
				st.synacks++
			} else {
				st.srcs[key.src] = true
				if key.src.Addr().Is6() {
					st.v6Flows++
				}
				if key.vlan != 0 {
					st.vlanFlows++
				}
			}
			if me.synSeen && tcp.Seq != me.isn {
				// Only a flood reuses a 4-tuple, always with a new ISN.
				if cfg.Mode != SYNFlood {
					t.Fatalf("packet %d: %v SYN with a new ISN %d, first was %d", n, key, tcp.Seq, me.isn)
				}
				*me = half{}
			}
			if !me.synSeen {
				me.isn, me.nxt, me.synSeen = tcp.Seq, tcp.Seq, true
			}
			end++
			me.synOpts += synOptions(&tcp)
		case tcp.RST:
			st.rsts++
		default:
			if !me.synSeen {
				t.Fatalf("packet %d: %v sends before its SYN", n, key)
			}
		}
		if tcp.FIN {
			st.fins++
			end++
		}
		if plen > 0 {
			st.data++
		}
		if me.synSeen && !tcp.RST && tracker.Seq(me.nxt).LessThan(tracker.Seq(end)) {
			if tracker.Seq(me.nxt).LessThan(tracker.Seq(tcp.Seq)) {
				t.Fatalf("packet %d: %v leaves a hole: seq %d, sent up to %d", n, key, tcp.Seq, me.nxt)
			}
			me.nxt = end
		}
		if tcp.ACK {
			if peer == nil || !peer.synSeen {
				t.Fatalf("packet %d: %v ACKs %d but its peer sent no SYN", n, key, tcp.Ack)
			}
			if tracker.Seq(peer.nxt).LessThan(tracker.Seq(tcp.Ack)) {
				t.Fatalf("packet %d: %v ACKs %d, the peer sent only up to %d", n, key, tcp.Ack, peer.nxt)
			}
			if !tracker.Seq(peer.isn).LessThan(tracker.Seq(tcp.Ack)) {
				t.Fatalf("packet %d: %v ACKs %d, at or before the peer's ISN %d", n, key, tcp.Ack, peer.isn)
			}
			if me.acks && tracker.Seq(tcp.Ack).LessThan(tracker.Seq(me.acked)) && !tcp.SYN {
				t.Fatalf("packet %d: %v ACK goes back from %d to %d", n, key, me.acked, tcp.Ack)
			}
			me.acked, me.acks = tcp.Ack, true
		}
	}
	if st.packets == 0 {
		t.Fatal("empty file")
	}
	return st
}

// synOptions is 1 when a SYN carries what Linux and Windows always offer:
// MSS, window scale and SACK-permitted.
func synOptions(tcp *layers.TCP) int {
	var have int
	for _, o := range tcp.Options {
		switch o.OptionType {
		case layers.TCPOptionKindMSS, layers.TCPOptionKindWindowScale, layers.TCPOptionKindSACKPermitted:
			have++
		}
	}
	if have == 3 {
		return 1
	}
	return 0
}

func TestProtocol(t *testing.T) {
	for _, tc := range small {
		t.Run(tc.name, func(t *testing.T) {
			data, res := generate(t, tc.cfg)
			st := check(t, data, tc.cfg)
			if st.packets != res.Packets {
				t.Errorf("file has %d packets, Result says %d", st.packets, res.Packets)
			}
			lo := tc.cfg.Packets
			if tc.cfg.Mode == LongFlows {
				lo /= 2
			}
			if tc.cfg.Packets > 0 && (res.Packets < lo || res.Packets > tc.cfg.Packets*11/10) {
				t.Errorf("%d packets, asked for %d", res.Packets, tc.cfg.Packets)
			}
			switch tc.cfg.Mode {
			case Mix:
				conns := st.srcs
				// 10% IPv6 and 5% VLAN, within what chance allows at this size.
				if f := float64(st.v6Flows) / float64(len(conns)); f < 0.08 || f > 0.12 {
					t.Errorf("IPv6 share %.3f of %d connections, want 0.10", f, len(conns))
				}
				if f := float64(st.vlanFlows) / float64(len(conns)); f < 0.035 || f > 0.065 {
					t.Errorf("VLAN share %.3f, want 0.05", f)
				}
				if st.rsts == 0 || st.fins == 0 || st.data == 0 || st.synacks == 0 {
					t.Errorf("missing kinds of segments: %+v", st)
				}
				// Linux retransmits a SYN after 1 s.
				if res.End.Sub(res.Start) > 3*time.Second && st.syns-st.synacks-len(conns) <= 0 {
					t.Errorf("no SYN retransmissions: %d SYNs, %d SYN+ACKs, %d connections", st.syns, st.synacks, len(conns))
				}
			case SYNFlood:
				if want := min(tc.cfg.Sources, max(tc.cfg.Packets, tc.cfg.Sources)) + tc.cfg.RealConns; len(st.srcs) != want {
					t.Errorf("%d distinct sources, want %d", len(st.srcs), want)
				}
			case LongFlows:
				if len(st.srcs) != tc.cfg.Flows {
					t.Errorf("%d flows, want %d", len(st.srcs), tc.cfg.Flows)
				}
			}
		})
	}
}

// TestScripts plays each connection script alone and checks the final state
// of both endpoints against the walk through RFC 9293's state diagram
// (tracker/RULES.md) for the flags it sent, written out by hand here.
func TestScripts(t *testing.T) {
	E, C := tracker.Established, tracker.Close
	for _, tc := range []struct {
		name   string
		script func(c *conn, t int64)
		flags  string // tcpdump's flag letters, > from the client, < from the server
		more   bool   // data and ACKs follow the segments in flags
		cl, sv tracker.State
	}{
		// SYN_SENT -SYN+ACK-> ESTABLISHED; LISTEN -SYN, sends SYN+ACK-> SYN_RECV -ACK-> ESTABLISHED.
		{"handshake", func(c *conn, t int64) { c.handshake(t, false) }, ">S <S. >.", false, E, E},
		// FIN_WAIT1 -ACK of FIN-> FIN_WAIT2 -FIN-> TIME_WAIT; CLOSE_WAIT -sends FIN-> LAST_ACK -ACK-> CLOSED.
		{"client close", func(c *conn, t int64) { c.closeFrom(t, client, false) }, ">F. <. <F. >.", false, tracker.TimeWait, C},
		// FIN_WAIT1 -FIN with ACK of its FIN-> TIME_WAIT.
		{"client close 3-way", func(c *conn, t int64) { c.closeFrom(t, client, true) }, ">F. <F. >.", false, tracker.TimeWait, C},
		{"server close", func(c *conn, t int64) { c.closeFrom(t, server, false) }, "<F. >. >F. <.", false, C, tracker.TimeWait},
		{"server close 3-way", func(c *conn, t int64) { c.closeFrom(t, server, true) }, "<F. >F. <.", false, C, tracker.TimeWait},
		// The server ACKs the FIN and goes on sending: FIN_WAIT2 and CLOSE_WAIT.
		{"half close", func(c *conn, t int64) { c.halfClose(t) }, ">F. <.", true, tracker.FinWait2, tracker.CloseWait},
		// SYN_SENT -RST+ACK acking its SYN-> CLOSED; no listener showed itself.
		{"refused", func(c *conn, t int64) { c.refused(t) }, ">S <R.", false, C, tracker.Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &generator{cfg: Config{Mode: Mix}}
			c := g.newConn(kindMix)
			g.mixAddrs(c)
			if tc.name != "handshake" && tc.name != "refused" {
				c.handshake(1, false)
				c.steps = c.steps[:0]
				c.st = states(E, E)
			}
			tc.script(c, c.t+1)
			var got []byte
			var data int
			for _, s := range c.steps {
				if len(got) >= len(tc.flags) {
					if s.plen > 0 {
						data++
					}
					continue
				}
				if len(got) > 0 {
					got = append(got, ' ')
				}
				got = append(got, "><"[s.dir])
				got = append(got, s.flags.String()...)
			}
			if string(got) != tc.flags || (data > 0) != tc.more {
				t.Errorf("segments %q and %d with data, want %q, more %v", got, data, tc.flags, tc.more)
			}
			last := c.steps[len(c.steps)-1].st
			if last != states(tc.cl, tc.sv) {
				t.Errorf("final states %v/%v, want %v/%v", last[client], last[server], tc.cl, tc.sv)
			}
		})
	}
}

// TestFloodExpected checks the flood's counts against its definition: every
// source leaves one endpoint in SYN_SENT, every answered one a SYN_RECV on
// the server, and the real connections are ESTABLISHED at both ends.
func TestFloodExpected(t *testing.T) {
	for _, tc := range []struct {
		name                 string
		cfg                  Config
		synSent, synRecv, es int
		listeners            int
	}{
		{"silent", Config{Mode: SYNFlood, Sources: 3000, RealConns: 7}, 3000, 0, 14, 1},
		// The SYN+ACK is taken as delivered: the source is ESTABLISHED,
		// but as it never acknowledges the server's ISN, unconfirmed.
		{"answered", Config{Mode: SYNFlood, Sources: 3000, AnswerPct: 100}, 0, 3000, 3000, 1},
		{"repeated sources", Config{Mode: SYNFlood, Sources: 1000, Packets: 2500}, 1000, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, res := generate(t, tc.cfg)
			got, unconfirmed := res.Expected(tracker.Config{}), res.Unconfirmed(tracker.Config{})
			real := 2 * tc.cfg.RealConns
			// The flood, answered or not, is all unconfirmed: only the
			// real connections are counted.
			if got[tracker.SynSent] != 0 || got[tracker.SynRecv] != 0 || got[tracker.Established] != real {
				t.Errorf("expected %v, want SYN_SENT 0 SYN_RECV 0 ESTABLISHED %d", got, real)
			}
			if unconfirmed[tracker.SynSent] != tc.synSent || unconfirmed[tracker.SynRecv] != tc.synRecv || unconfirmed[tracker.Established] != tc.es-real {
				t.Errorf("unconfirmed %v, want SYN_SENT %d SYN_RECV %d ESTABLISHED %d", unconfirmed, tc.synSent, tc.synRecv, tc.es-real)
			}
			if res.Listeners != tc.listeners {
				t.Errorf("%d listeners, want %d", res.Listeners, tc.listeners)
			}
			if len(res.Real) != tc.cfg.RealConns {
				t.Errorf("%d real flows listed, want %d", len(res.Real), tc.cfg.RealConns)
			}
		})
	}
}

// TestExpectedTimers: with timers shorter than the file, endpoints whose
// timer ran out before the end are no longer counted.
func TestExpectedTimers(t *testing.T) {
	_, res := generate(t, Config{Mode: Mix, Packets: 50_000})
	// Every endpoint, confirmed or not: a short mix's half-open clients
	// have often sent one SYN only.
	all := func(cfg tracker.Config) [tracker.NumStates]int {
		e, u := res.Expected(cfg), res.Unconfirmed(cfg)
		for s := range e {
			e[s] += u[s]
		}
		return e
	}
	long := all(tracker.Config{})
	if long[tracker.TimeWait] == 0 || long[tracker.SynSent] == 0 || long[tracker.Established] == 0 {
		t.Fatalf("a mix without TIME_WAIT, SYN_SENT or ESTABLISHED: %v", long)
	}
	short := all(tracker.Config{TimeWait: time.Microsecond, HandshakeTimeout: time.Microsecond})
	if short[tracker.TimeWait] >= long[tracker.TimeWait] || short[tracker.SynSent] >= long[tracker.SynSent] {
		t.Errorf("short timers %v, default %v", short, long)
	}
	// A confirmed ESTABLISHED endpoint has no timer; an unconfirmed one
	// lives as long as a handshake.
	shortConfirmed := res.Expected(tracker.Config{TimeWait: time.Microsecond, HandshakeTimeout: time.Microsecond})
	if longConfirmed := res.Expected(tracker.Config{}); shortConfirmed[tracker.Established] != longConfirmed[tracker.Established] {
		t.Errorf("ESTABLISHED has no timer: %d vs %d", shortConfirmed[tracker.Established], longConfirmed[tracker.Established])
	}
	if long[tracker.Close] != 0 || long[tracker.Unknown] != 0 || long[tracker.Listen] != 0 {
		t.Errorf("uncounted states counted: %v", long)
	}
	// Margin: the endpoints whose timer ends near the last frame are the
	// ones that move between Expected with slightly different timers.
	_, res = generate(t, Config{Mode: Mix, Packets: 40_000, ConnRate: 300})
	for _, tc := range []struct{ tw, hs time.Duration }{
		{2 * time.Second, 2 * time.Second},
		{3 * time.Second, 2500 * time.Millisecond},
	} {
		const tick = 5 * time.Millisecond
		a := res.Expected(tracker.Config{TimeWait: tc.tw - tick, HandshakeTimeout: tc.hs - tick})
		b := res.Expected(tracker.Config{TimeWait: tc.tw + tick, HandshakeTimeout: tc.hs + tick})
		m := res.Margin(tracker.Config{TimeWait: tc.tw, HandshakeTimeout: tc.hs}, tick)
		for _, s := range []tracker.State{tracker.TimeWait, tracker.SynSent, tracker.SynRecv} {
			if moved := b[s] - a[s]; moved > m[s] {
				t.Errorf("%v with timers %v/%v: %d endpoints change sides within %v, margin %d", s, tc.tw, tc.hs, moved, tick, m[s])
			}
		}
		if m[tracker.TimeWait] == 0 {
			t.Errorf("timers %v/%v: no TIME_WAIT near the end, nothing tested", tc.tw, tc.hs)
		}
	}
}

// TestSizesFinish generates every mode at packet counts near its number of
// connections, where long transfers get a share of a few segments or none,
// and checks that each finishes within a bound with a valid file. LongFlows
// with fewer than 1.5 packets per flow used to panic: a transfer drawn zero
// bytes scripted nothing, and the generator indexed its empty script. The
// bound turns a generator that stops making progress into a failure naming
// the configuration instead of a test binary killed by -timeout.
func TestSizesFinish(t *testing.T) {
	var cfgs []Config
	for _, flows := range []int{1, 3, 100, 1000} {
		for _, packets := range []int{1, 5, 150, 1400, 4000} {
			cfgs = append(cfgs, Config{Mode: LongFlows, Flows: flows, Packets: packets, Seed: uint64(flows + packets)})
		}
	}
	cfgs = append(cfgs,
		Config{Mode: Mix, Packets: 1},
		Config{Mode: Mix, Packets: 100, ConnRate: 1},
		Config{Mode: Mix, Packets: 100, ConnRate: 1e9},
		Config{Mode: SYNFlood, Sources: 1},
		Config{Mode: SYNFlood, Sources: 1, RealConns: 1, Packets: 50},
		Config{Mode: SYNFlood, Sources: 100, RealConns: 1000, Packets: 10},
	)
	for _, cfg := range cfgs {
		t.Run(fmt.Sprintf("%v-%d-flows-%d-sources-%d-packets", cfg.Mode, cfg.Flows, cfg.Sources, cfg.Packets), func(t *testing.T) {
			type result struct {
				data []byte
				res  *Result
				err  error
			}
			done := make(chan result, 1)
			go func() {
				var buf bytes.Buffer
				res, err := Generate(&buf, cfg)
				done <- result{buf.Bytes(), res, err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("Generate(%+v) still running after 20 s", cfg)
			}
			if r.err != nil {
				t.Fatal(r.err)
			}
			st := check(t, r.data, cfg)
			if st.packets != r.res.Packets || r.res.Packets == 0 {
				t.Errorf("file has %d packets, Result says %d", st.packets, r.res.Packets)
			}
			// A few held connections may run past the count (Result.End).
			if cfg.Packets > 0 && r.res.Packets > cfg.Packets+cfg.Packets/10+10 {
				t.Errorf("%d packets, asked for %d", r.res.Packets, cfg.Packets)
			}
		})
	}
}

// TestChecksums generates every mode whole (no snaplen cut) and has the
// decoder verify every TCP checksum: the generator's checksum code and the
// decoder's are written apart, so that each checks the other.
func TestChecksums(t *testing.T) {
	for _, s := range small {
		t.Run(s.name, func(t *testing.T) {
			cfg := s.cfg
			cfg.Snaplen = 65535
			data, _ := generate(t, cfg)
			src, err := decode.NewReader(s.name, io.NopCloser(bytes.NewReader(data)))
			if err != nil {
				t.Fatal(err)
			}
			d := decode.NewDecoder()
			d.VerifyChecksums = true
			var (
				f      decode.Frame
				seg    tracker.Segment
				frames uint64
			)
			for {
				if err := src.Next(&f); err == io.EOF {
					break
				} else if err != nil {
					t.Fatal(err)
				}
				frames++
				if err := d.Decode(&f, &seg); err != nil {
					t.Fatalf("frame %d: %v", frames, err)
				}
			}
			if st := d.Stats(); st.Segments != frames || frames == 0 {
				t.Fatalf("%d frames, %d segments decoded with checksums verified", frames, st.Segments)
			}
		})
	}
}
