package tracker

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// fuzzSegments turns bytes into segments on a handful of 4-tuples, 10 bytes
// a segment: flow and direction, flags, sequence and acknowledgment offsets
// from a per-direction base (so that fuzzed numbers land near real ones),
// payload length and a time step.
func fuzzSegments(data []byte, fn func(*Segment)) {
	addrs := [...]netip.Addr{
		netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"),
		netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("2001:db8::2"),
	}
	now := time.Unix(1700000000, 0)
	for len(data) >= 10 {
		b := data[:10]
		data = data[10:]
		flow, dir := int(b[0]>>1)%6, b[0]&1
		src, dst := addrs[flow%2], addrs[1-flow%2]
		if flow >= 4 {
			src, dst = addrs[2+flow%2], addrs[3-flow%2]
		}
		sp, dp := uint16(40000+flow), uint16(80)
		if dir == 1 {
			src, dst, sp, dp = dst, src, dp, sp
		}
		base := [2]uint32{1000, 0xFFFFF000}
		seg := Segment{
			Src: src, Dst: dst, SrcPort: sp, DstPort: dp,
			Flags:      Flags(b[1]),
			Seq:        base[dir] + uint32(int32(int16(binary.LittleEndian.Uint16(b[2:])))),
			Ack:        base[1-dir] + uint32(int32(int16(binary.LittleEndian.Uint16(b[4:])))),
			PayloadLen: uint32(b[6]) * 8,
			Window:     binary.LittleEndian.Uint16(b[7:]),
		}
		if seg.Flags&SYN != 0 {
			seg.Options = Options{HasWScale: b[9]&1 != 0, WScale: b[9] >> 4}
		}
		now = now.Add(time.Duration(b[9]) * time.Duration(b[9]) * 10 * time.Millisecond)
		seg.UnixNano = now.UnixNano()
		fn(&seg)
	}
}

// FuzzTracker drives the tracker with arbitrary segments and checks the
// invariants: counts add up to the endpoints listed, the table
// stays within its bound, an endpoint leaves CLOSE only through a new SYN
// (or back to LAST_ACK when it retransmits the FIN whose ACK was seen, the
// one proof that the ACK was lost), and the answer is deterministic and the
// same without the shortcut for steady segments (see stepSteady).
func FuzzTracker(f *testing.F) {
	f.Add([]byte{0, byte(SYN), 0, 0, 0, 0, 0, 0, 1, 0, 1, byte(SYN | ACK), 0, 0, 1, 0, 0, 0, 1, 0, 0, byte(ACK), 1, 0, 1, 0, 0, 0, 1, 0})
	f.Add([]byte{2, byte(ACK | PSH), 0, 0, 0, 0, 4, 0, 1, 1, 3, byte(ACK), 0, 0, 32, 0, 0, 0, 1, 1, 2, byte(FIN | ACK), 32, 0, 0, 0, 0, 0, 1, 255})
	f.Add([]byte{8, byte(SYN), 0, 0, 0, 0, 0, 0, 1, 0, 9, byte(RST | ACK), 0, 0, 1, 0, 0, 0, 0, 0, 8, byte(SYN | FIN | RST | PSH | ACK | URG), 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		run := func(exact bool) (Stats, string) {
			var bad, log string
			var cur *Segment
			tr := New(Config{MaxFlows: 4, OnClose: func(c *Conn) {
				// Every record says how its connection ended.
				if c.End == "" || c.Ended.Before(c.Start) {
					bad = fmt.Sprintf("close record without an end: %+v", *c)
				}
			}, OnTransition: func(x *Transition) {
				log += fmt.Sprintln(x.Endpoint, x.From, x.To, x.Reason)
				if x.From != Close || x.To == Unknown {
					return
				}
				switch {
				case x.Cause != nil && x.Cause.Flags&SYN != 0:
				case x.To == LastAck && x.Cause != nil && x.Cause.Flags&FIN != 0 && x.Cause == cur:
				default:
					bad = "an endpoint left CLOSE: " + x.From.String() + ">" + x.To.String() + " reason " + x.Reason
				}
			}})
			tr.noShortcut = exact
			fuzzSegments(data, func(s *Segment) {
				cur = s
				tr.Track(s)
				if st := tr.Stats(); st.Flows > 4 {
					t.Fatalf("%d flows, bound 4", st.Flows)
				}
			})
			if bad != "" {
				t.Fatalf("%s", bad)
			}
			checkCounts(t, tr)
			tr.Advance(tr.Stats().Time.Add(10 * time.Minute))
			checkCounts(t, tr)
			if st := tr.Stats(); st.States[TimeWait]+st.States[SynSent]+st.States[SynRecv] != 0 {
				t.Fatalf("timed states left after every timer ran out: %v", st.States)
			}
			return tr.Stats(), log
		}
		a, la := run(false)
		b, lb := run(false)
		if a != b || la != lb {
			t.Fatalf("two runs differ:\n%+v\n%+v", a, b)
		}
		if c, lc := run(true); c != a || lc != la {
			t.Fatalf("without the shortcut:\n%+v\n%s\nwith it:\n%+v\n%s", c, lc, a, la)
		}
	})
}
