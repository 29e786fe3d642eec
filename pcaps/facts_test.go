package pcaps_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/tcptrack/tcptrack/internal/netlab"
	"github.com/tcptrack/tcptrack/tracker"
)

// TestKernelFacts holds the facts tcptrack keeps about each connection
// (Config.Info) to the kernel's own, ss -tanio beside every capture that
// has one (NAME.ssi), and to tshark's analysis of the same capture: see
// compareFacts.
func TestKernelFacts(t *testing.T) {
	paths, err := filepath.Glob("*.ssi")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no .ssi snapshots in pcaps/")
	}
	for _, p := range paths {
		name := strings.TrimSuffix(p, ".ssi")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc, err := netlab.Lookup(name)
			if err != nil {
				t.Fatal(err)
			}
			compareFacts(t, sc, name+".pcap", p)
		})
	}
}

// compareFacts runs the capture through a tracker that keeps facts, up to
// the snapshot's time, and compares every kernel socket that ss gives facts
// for (not a listener, a SYN_RECV request socket or TIME_WAIT) with the
// tracker's Socket.Info of the same endpoint (own) and its peer, by these
// relations (tracker/RULES.md, Connection facts):
//
//   - options: the kernel shows the negotiated set, so ts, sack and ecn
//     are each "both SYNs offered it", and wscale:SND,RCV is the peer's
//     offered shift and its own; only with both SYNs seen, and not in
//     SYN_SENT, where nothing is negotiated yet;
//   - MSS: advmss is the MSS its SYN announced, less the timestamp
//     option's 12 bytes when negotiated; mss is the smaller of the two
//     announced, less the same (on loopback also held to half the peer's
//     largest window, which is smaller);
//   - bytes: bytes_sent less bytes_retrans is own Bytes; bytes_acked plus
//     Send-Q (what is unacknowledged, SYN and FIN counting one) is own
//     Bytes, plus one for the SYN of the end that connected, plus one for
//     its FIN once sent; bytes_received is the peer's Bytes plus one for
//     its FIN once received. For a connection picked up mid-stream, the
//     tracker's counts start at the capture: they may only be smaller;
//   - retransmissions: retrans:OUT/TOTAL's TOTAL is own Retrans, or more
//     by at most the segments the socket sent that the capture never
//     showed (segs_out less the frames captured from it): lost before the
//     capture point, or sent after the snapshot's freeze;
//
// and, with tshark installed, checks the handshake's RTT (initial_rtt =
// SynRTT + AckRTT, within a microsecond, the tracker's unit) and that own
// Retrans counts the frames tshark marks from that endpoint (see
// sharkDir.retrans). It logs a table of every figure compared.
func compareFacts(t *testing.T, sc netlab.Scenario, pcapPath, ssiPath string) {
	t.Helper()
	raw, err := os.ReadFile(ssiPath)
	if err != nil {
		t.Fatal(err)
	}
	kernel, err := netlab.ParseSSI(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("%s: %v", ssiPath, err)
	}
	cfg := sc.Config
	cfg.Info = true
	// What each endpoint sent, as the kernel's segs_out counts it: a
	// passive opener's SYN+ACK is its request socket's, not its own.
	frames := map[[2]netip.AddrPort]uint64{}
	tr := trackEach(t, pcapPath, cfg, func(seg *tracker.Segment) {
		if seg.Flags&(tracker.SYN|tracker.ACK) != tracker.SYN|tracker.ACK {
			frames[[2]netip.AddrPort{netip.AddrPortFrom(seg.Src, seg.SrcPort), netip.AddrPortFrom(seg.Dst, seg.DstPort)}]++
		}
	})
	if at, ok := netlab.SnapshotTime(bytes.NewReader(raw)); ok {
		tr.Advance(at)
	}
	conns := map[[2]netip.AddrPort]*tracker.Conn{}
	keep := func(s tracker.Socket) { conns[[2]netip.AddrPort{s.Local, s.Peer}] = s.Info }
	tr.Sockets(keep)
	tr.Unconfirmed(keep)
	shark := tsharkFacts(t, pcapPath)

	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 1, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "socket\tpeer\tstate\tts,sack,ecn k/t\twscale k/t\tmss,advmss k/t\tsent-retr k/t\tacked+sendq k/t\trcvd k/t\tretrans k/t/tshark\tunseen\tirtt tshark/t µs\t")
	for _, k := range kernel {
		if !k.Has || !k.State.Counted() {
			continue
		}
		if a, ok := k.Reading(); ok && !a.Reading.Counted() {
			t.Logf("%s: %s %s: the tracker reads nothing there (%s)", pcapPath, k.Local, k.State, a.Why)
			continue
		}
		c := conns[[2]netip.AddrPort{k.Local, k.Peer}]
		if c == nil {
			t.Errorf("%s: kernel socket %s %s %s: no such socket in the tracker", pcapPath, k.Local, k.Peer, k.State)
			continue
		}
		own, peer := c.Client, c.Server
		active := true // the end that connected: its SYN counts in bytes_acked
		if own.Addr != k.Local {
			own, peer, active = peer, own, false
		}
		fail := func(format string, args ...any) {
			t.Errorf("%s: %s %s %s: "+format, append([]any{pcapPath, k.Local, k.Peer, k.State}, args...)...)
		}
		row := []string{k.Local.String(), k.Peer.String(), k.State.String()}

		// Options, from the SYNs.
		opts := func(ts, sack, ecn bool) string { return fmt.Sprintf("%s,%s,%s", yn(ts), yn(sack), yn(ecn)) }
		ts := own.Timestamps && peer.Timestamps
		negotiated := opts(ts, own.SACK && peer.SACK, own.ECN && peer.ECN)
		ws := [2]int{-1, -1}
		if own.WScale >= 0 && peer.WScale >= 0 {
			ws = [2]int{int(peer.WScale), int(own.WScale)}
		}
		optLen := uint32(0)
		if ts {
			optLen = 12
		}
		wantMSS, wantAdv := uint32(min(own.MSS, peer.MSS))-optLen, uint32(own.MSS)-optLen
		row = append(row, opts(k.TS, k.SACK, k.ECN)+"/"+negotiated,
			fmt.Sprintf("%d,%d/%d,%d", k.WScale[0], k.WScale[1], ws[0], ws[1]),
			fmt.Sprintf("%d,%d/%d,%d", k.MSS, k.AdvMSS, wantMSS, wantAdv))
		if !c.PickedUp && own.MSS != 0 && peer.MSS != 0 && k.State != tracker.SynSent {
			if got := opts(k.TS, k.SACK, k.ECN); got != negotiated {
				fail("options ts,sack,ecn %s, tracker's SYNs negotiate %s", got, negotiated)
			}
			if k.WScale != ws {
				fail("wscale %d,%d, tracker's SYNs offered %d (peer) and %d (own)", k.WScale[0], k.WScale[1], peer.WScale, own.WScale)
			}
			// The sending MSS is also held to half the largest window
			// the peer offered (tcp_bound_to_half_wnd): less than the
			// MSS only on loopback (64 KiB windows, 64 KiB MSS).
			loMSS := sc.Topology == netlab.Loopback && k.MSS < wantMSS
			if k.AdvMSS != wantAdv || k.MSS != wantMSS && !loMSS {
				fail("mss %d advmss %d, tracker's SYNs announced %d (own) and %d (peer): want mss %d advmss %d",
					k.MSS, k.AdvMSS, own.MSS, peer.MSS, wantMSS, wantAdv)
			}
		}

		// Bytes, from the sequence numbers.
		finSent, finRcvd := sentFin(k.State), receivedFin(k.State)
		sent, acked := k.BytesSent-k.BytesRetrans, k.BytesAcked+uint64(k.SendQ)
		wantAcked := own.Bytes + b2u(active) + b2u(finSent)
		wantRcvd := peer.Bytes + b2u(finRcvd)
		row = append(row, fmt.Sprintf("%d/%d", sent, own.Bytes), fmt.Sprintf("%d/%d", acked, wantAcked),
			fmt.Sprintf("%d/%d", k.BytesReceived, wantRcvd))
		if c.PickedUp {
			if own.Bytes > sent || wantRcvd > k.BytesReceived {
				fail("picked up: tracker's Bytes %d and peer's %d + FIN %d exceed the kernel's bytes sent %d and received %d",
					own.Bytes, peer.Bytes, b2u(finRcvd), sent, k.BytesReceived)
			}
		} else {
			if sent != own.Bytes {
				fail("bytes_sent %d - bytes_retrans %d = %d, tracker's Bytes %d", k.BytesSent, k.BytesRetrans, sent, own.Bytes)
			}
			if acked != wantAcked {
				fail("bytes_acked %d + Send-Q %d = %d, tracker's Bytes %d + SYN %d + FIN %d = %d",
					k.BytesAcked, k.SendQ, acked, own.Bytes, b2u(active), b2u(finSent), wantAcked)
			}
			if k.BytesReceived != wantRcvd {
				fail("bytes_received %d, tracker's peer Bytes %d + FIN %d = %d", k.BytesReceived, peer.Bytes, b2u(finRcvd), wantRcvd)
			}
		}

		// Retransmissions. A segment the socket sent that the capture
		// never showed may have been one the kernel counts and a
		// passive observer cannot.
		dir := shark.dir[[2]netip.AddrPort{k.Local, k.Peer}]
		unseen := k.SegsOut - min(k.SegsOut, frames[[2]netip.AddrPort{k.Local, k.Peer}])
		row = append(row, fmt.Sprintf("%d/%d/%d", k.RetransTotal, own.Retrans, dir.retrans()), strconv.FormatUint(unseen, 10))
		if k.RetransTotal < own.Retrans || uint64(k.RetransTotal-own.Retrans) > unseen {
			fail("retrans total %d, tracker's Retrans %d, %d segments it sent not captured", k.RetransTotal, own.Retrans, unseen)
		}

		// The handshake's RTT. tshark's initial_rtt runs from the SYN
		// to the ACK of the SYN+ACK, and is 0 until that ACK is seen.
		hs := c.SynRTT + c.AckRTT
		irtt := shark.irtt[connKey(k.Local, k.Peer)]
		row = append(row, fmt.Sprintf("%s/%s", micros(irtt, irtt > 0), micros(hs, hs > 0)))
		if shark.ran {
			if got := dir.retrans(); got != own.Retrans {
				fail("tshark marks %d frames from it (%s), tracker's Retrans %d", got, dir, own.Retrans)
			}
			if d := irtt - hs; irtt > 0 && (d < -time.Microsecond || d > time.Microsecond) || irtt == 0 && c.AckRTT != 0 {
				fail("tshark's initial_rtt %v, tracker's SynRTT %v + AckRTT %v = %v", irtt, c.SynRTT, c.AckRTT, hs)
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
	t.Logf("%s: kernel (k), tracker (t) and tshark, socket by socket:\n%s", pcapPath, table.String())
}

// sentFin and receivedFin say whether a kernel socket in state st has sent
// its FIN, or received its peer's: the one each adds to bytes_acked (with
// Send-Q) and to bytes_received.
func sentFin(st tracker.State) bool {
	switch st {
	case tracker.FinWait1, tracker.FinWait2, tracker.Closing, tracker.LastAck, tracker.TimeWait:
		return true
	}
	return false
}

func receivedFin(st tracker.State) bool {
	switch st {
	case tracker.CloseWait, tracker.LastAck, tracker.Closing, tracker.TimeWait:
		return true
	}
	return false
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func yn(b bool) string {
	if b {
		return "y"
	}
	return "n"
}

func micros(d time.Duration, ok bool) string {
	if !ok {
		return "-"
	}
	return strconv.FormatInt(d.Microseconds(), 10)
}

// sharkDir counts the frames tshark's TCP analysis marks, from one endpoint
// to its peer; either counts those marked retransmission or out-of-order.
type sharkDir struct{ retransmission, fast, spurious, outOfOrder, keepAlive, either uint32 }

// retrans is what the tracker's Retrans counts of tshark's marks: the
// frames marked retransmission or out-of-order, every frame with sequence
// space sent before. tshark marks a fast or a spurious retransmission as a
// retransmission too (its dissector adds both marks; none occurs in these
// captures). A frame below the highest sequence seen that comes within
// the initial RTT of it, as a retransmission on a fast link does, it marks
// out-of-order instead: it cannot tell one from a reordered frame, nor can
// a capture point, and the tracker counts both. A keep-alive probe is in
// neither.
func (d sharkDir) retrans() uint32 { return d.either }

func (d sharkDir) String() string {
	return fmt.Sprintf("retransmission %d (fast %d, spurious %d), out-of-order %d, keep-alive %d",
		d.retransmission, d.fast, d.spurious, d.outOfOrder, d.keepAlive)
}

// sharkFacts is tshark's analysis of a capture: marks per direction (from,
// to) and each connection's initial RTT (by connKey).
type sharkFacts struct {
	ran  bool
	dir  map[[2]netip.AddrPort]sharkDir
	irtt map[[2]netip.AddrPort]time.Duration
}

// connKey names a connection by its two endpoints in either order.
func connKey(a, b netip.AddrPort) [2]netip.AddrPort {
	if b.Addr().Less(a.Addr()) || b.Addr() == a.Addr() && b.Port() < a.Port() {
		a, b = b, a
	}
	return [2]netip.AddrPort{a, b}
}

// tsharkFacts runs tshark's TCP analysis on the capture; without tshark it
// returns nothing and the comparisons with it are left out.
func tsharkFacts(t *testing.T, path string) sharkFacts {
	t.Helper()
	f := sharkFacts{dir: map[[2]netip.AddrPort]sharkDir{}, irtt: map[[2]netip.AddrPort]time.Duration{}}
	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Logf("tshark not installed (make deps installs it): its figures are left out: %v", err)
		return f
	}
	fields := []string{"ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport", "tcp.analysis.initial_rtt",
		"tcp.analysis.retransmission", "tcp.analysis.fast_retransmission", "tcp.analysis.spurious_retransmission",
		"tcp.analysis.out_of_order", "tcp.analysis.keep_alive"}
	args := []string{"-n", "-r", path, "-Y", "tcp", "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"}
	for _, fl := range fields {
		args = append(args, "-e", fl)
	}
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("tshark %s: %v", path, err)
	}
	f.ran = true
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		v := strings.Split(sc.Text(), "\t")
		if len(v) != len(fields) {
			t.Fatalf("tshark line %q: %d fields, want %d", sc.Text(), len(v), len(fields))
		}
		src, err1 := endpoint(v[0]+v[1], v[2])
		dst, err2 := endpoint(v[3]+v[4], v[5])
		if err1 != nil || err2 != nil {
			t.Fatalf("tshark line %q: %v %v", sc.Text(), err1, err2)
		}
		if v[6] != "" {
			s, err := strconv.ParseFloat(v[6], 64)
			if err != nil {
				t.Fatalf("tshark initial_rtt %q: %v", v[6], err)
			}
			f.irtt[connKey(src, dst)] = time.Duration(s*1e9 + 0.5)
		}
		d := f.dir[[2]netip.AddrPort{src, dst}]
		for i, n := range []*uint32{&d.retransmission, &d.fast, &d.spurious, &d.outOfOrder, &d.keepAlive} {
			if v[7+i] != "" {
				*n++
			}
		}
		if v[7] != "" || v[10] != "" {
			d.either++
		}
		f.dir[[2]netip.AddrPort{src, dst}] = d
	}
	return f
}

func endpoint(addr, port string) (netip.AddrPort, error) {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	p, err := strconv.ParseUint(port, 10, 16)
	return netip.AddrPortFrom(a.Unmap(), uint16(p)), err
}
