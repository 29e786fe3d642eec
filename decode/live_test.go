package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/tcptrack/tcptrack/tracker"
	"golang.org/x/sys/unix"
)

// ip runs ip(8) and fails the test on error.
func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// inNetns runs fn on an OS thread that has joined network namespace ns, so
// that the sockets and capture handles fn opens live there, and returns when
// fn does. The thread is never handed back to the scheduler (the goroutine
// exits locked), so no other goroutine runs in the namespace by accident.
func inNetns(ns string, fn func()) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		fd, err := syscall.Open("/var/run/netns/"+ns, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			errc <- err
			return
		}
		defer syscall.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		fn()
		errc <- nil
	}()
	return <-errc
}

// vethLab creates two namespaces joined by a veth pair, named from prefix
// (at most 4 characters) and the process id, with 192.0.2.1/24 on A's end
// and 192.0.2.2/24 on B's: documentation addresses (RFC 5737), reachable
// only inside the test's namespaces. The test's cleanup deletes them.
func vethLab(t *testing.T, prefix string) (nsA, nsB, vethA, vethB string) {
	t.Helper()
	id := os.Getpid() % 100000
	nsA, nsB = fmt.Sprintf("%sA%d", prefix, id), fmt.Sprintf("%sB%d", prefix, id)
	vethA, vethB = fmt.Sprintf("%sa%d", prefix, id), fmt.Sprintf("%sb%d", prefix, id)
	for _, ns := range []string{nsA, nsB} {
		ip(t, "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	}
	ip(t, "link", "add", vethA, "netns", nsA, "type", "veth", "peer", "name", vethB, "netns", nsB)
	ip(t, "-n", nsA, "addr", "add", "192.0.2.1/24", "dev", vethA)
	ip(t, "-n", nsB, "addr", "add", "192.0.2.2/24", "dev", vethB)
	ip(t, "-n", nsA, "link", "set", vethA, "up")
	ip(t, "-n", nsB, "link", "set", vethB, "up")
	return nsA, nsB, vethA, vethB
}

func netip4(s string) netip.Addr { return netip.MustParseAddr(s) }

// sendFrames writes whole Ethernet frames onto iface from a packet socket,
// on a thread inside netns ns.
func sendFrames(ns, iface string, frames ...[]byte) error {
	var sendErr error
	err := inNetns(ns, func() {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			sendErr = err
			return
		}
		// Protocol 0: the socket sends and never receives.
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			sendErr = err
			return
		}
		defer unix.Close(fd)
		for _, f := range frames {
			// The EtherType, in network byte order as the field wants.
			to := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Protocol: binary.NativeEndian.Uint16(f[12:14])}
			if sendErr = unix.Sendto(fd, f, 0, to); sendErr != nil {
				return
			}
		}
	})
	if err != nil {
		return err
	}
	return sendErr
}

// captured is one frame as Next returned it, copied.
type captured struct {
	data                []byte
	captureLen, wireLen int
	link                LinkType
}

// TestCaptureEngines runs both engines through the same trial on a veth
// pair in namespaces the test creates. The ground truth is what the test
// itself put on the wire: frames it writes from the peer (a VLAN-tagged
// one, whose tag the kernel strips before any capture sees it, and one
// longer than the snaplen) must come back byte for byte, cut at the
// snaplen, and a UDP frame the filter excludes must not; a real handshake
// must be seen; the interface must be promiscuous while the capture is
// open; Next allocates nothing per untagged frame; and deleting the
// interface ends the capture with ErrInterfaceGone.
func TestCaptureEngines(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root to create network namespaces and open a capture")
	}
	const snaplen = 128
	udp := ether(t, layers.EthernetTypeIPv4, nil, udpPacket(t))
	tagged := ether(t, layers.EthernetTypeIPv4, []uint16{42}, ipv4Packet(t))
	long := ether(t, layers.EthernetTypeIPv4, nil, ipv4PacketPayload(t, bytes.Repeat([]byte{'x'}, 300)))
	// More than AllocsPerRun reads (runs+1), so that none of its reads waits.
	const spares = 120
	for _, engine := range []Engine{EnginePcap, EngineAFPacket} {
		t.Run(string(engine), func(t *testing.T) {
			nsA, nsB, vethA, vethB := vethLab(t, "tte"+string(engine[0]))
			type result struct {
				frames []captured
				segs   []tracker.Segment
				stats  CaptureStats
				allocs float64
				err    error // the error that ended the capture
			}
			opened := make(chan error, 1)
			seen := make(chan struct{})
			spared := make(chan struct{})
			measured := make(chan struct{})
			done := make(chan result, 1)
			// capture runs on a thread inside nsA from opening the handle
			// to the last Next, so that its interface checks look in nsA.
			capture := func() {
				if err := interfaceExists("lo-not-there"); !errors.Is(err, ErrInterfaceGone) {
					opened <- fmt.Errorf("missing interface: got %v, want ErrInterfaceGone", err)
					return
				}
				c, err := OpenCapture(vethA, LiveConfig{Engine: engine, Filter: "tcp port 443", Snaplen: snaplen, Immediate: true, Timeout: 100 * time.Millisecond})
				if err != nil {
					opened <- err
					return
				}
				defer c.Close()
				var (
					res  result
					f    Frame
					seg  tracker.Segment
					d    = NewDecoder()
					tick = time.Now()
				)
				if err := c.Next(&f); err != ErrTimeout || time.Since(tick) > 5*time.Second {
					opened <- fmt.Errorf("idle link: Next returned %v after %v, want ErrTimeout after about 100ms", err, time.Since(tick))
					return
				}
				opened <- nil
				// Bounded: 30 s of reads at most.
				for time.Since(tick) < 30*time.Second {
					err := c.Next(&f)
					if errors.Is(err, ErrTimeout) {
						continue
					}
					if err != nil {
						res.err = err
						break
					}
					if len(res.frames) < 5 {
						res.frames = append(res.frames, captured{bytes.Clone(f.Data), f.CaptureLen, f.WireLen, f.LinkType})
						if d.Decode(&f, &seg) == nil {
							res.segs = append(res.segs, seg)
						}
						if len(res.frames) == 5 {
							if res.stats, res.err = c.Stats(); res.err != nil {
								break
							}
							close(seen)
							<-spared
							res.allocs = testing.AllocsPerRun(spares-20, func() { c.Next(&f) })
							close(measured)
						}
					}
				}
				done <- res
			}
			go func() {
				if err := inNetns(nsA, capture); err != nil {
					opened <- err
				}
			}()
			if err := <-opened; err != nil {
				t.Fatal(err)
			}
			// A packet socket's membership counts in "promiscuity"; the
			// PROMISC flag is only for ip link set promisc on.
			if out, _ := exec.Command("ip", "-d", "-n", nsA, "link", "show", vethA).Output(); !strings.Contains(string(out), "promiscuity 1 ") {
				t.Errorf("%s not promiscuous while captured:\n%s", vethA, out)
			}
			if err := sendFrames(nsB, vethB, udp, tagged, long); err != nil {
				t.Fatalf("writing frames from %s: %v", nsB, err)
			}
			handshake(t, nsA, nsB, 443)

			var res result
			select {
			case <-seen:
			case res = <-done:
				t.Fatalf("capture ended after %d frames: %v", len(res.frames), res.err)
			case <-time.After(20 * time.Second):
				t.Fatal("frames not captured within 20 s")
			}
			spare := make([][]byte, spares)
			for i := range spare {
				spare[i] = long
			}
			if err := sendFrames(nsB, vethB, spare...); err != nil {
				t.Fatalf("writing frames from %s: %v", nsB, err)
			}
			close(spared)
			select {
			case <-measured:
			case <-time.After(20 * time.Second):
				t.Fatal("reading the spare frames took over 20 s")
			}
			ip(t, "-n", nsA, "link", "del", vethA)
			select {
			case res = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("Next did not fail within 20 s of the interface's deletion")
			}
			if !errors.Is(res.err, ErrInterfaceGone) {
				t.Errorf("after deleting %s: Next error %v, want ErrInterfaceGone", vethA, res.err)
			}

			// The two written frames, in either order relative to the
			// handshake: the kernel queues received frames but taps sent
			// ones at once.
			want := map[string]captured{
				"tagged": {tagged, len(tagged), len(tagged), LinkEthernet},
				"long":   {long[:snaplen], snaplen, len(long), LinkEthernet},
			}
			for _, fr := range res.frames {
				for name, w := range want {
					if bytes.Equal(fr.data, w.data) {
						if fr.captureLen != w.captureLen || fr.wireLen != w.wireLen || fr.link != w.link {
							t.Errorf("%s frame: capture length %d, wire length %d, link %v; want %d, %d, %v", name, fr.captureLen, fr.wireLen, fr.link, w.captureLen, w.wireLen, w.link)
						}
						delete(want, name)
					}
				}
			}
			for name, w := range want {
				t.Errorf("%s frame not captured as written (want % x)\ncaptured:\n%s", name, w.data, dump(res.frames))
			}
			if len(res.segs) < 5 {
				t.Fatalf("decoded %d TCP segments of port 443, want 5 (2 written, 3 of the handshake):\n%s", len(res.segs), dump(res.frames))
			}
			var hs []tracker.Segment
			for _, s := range res.segs {
				if s.Src == netip4("192.0.2.2") || s.Dst == netip4("192.0.2.2") {
					hs = append(hs, s)
				}
			}
			if len(hs) != 3 || hs[0].Flags != tracker.SYN || hs[1].Flags != tracker.SYN|tracker.ACK || hs[1].Ack != hs[0].Seq+1 || hs[2].Flags != tracker.ACK {
				t.Errorf("handshake segments %+v, want SYN, SYN+ACK acking it, ACK", hs)
			} else if syn := hs[0]; syn.Src != netip4("192.0.2.1") || syn.DstPort != 443 || syn.Options.MSS != 1460 {
				t.Errorf("SYN %+v, want one from 192.0.2.1 to port 443 with MSS 1460 (MTU 1500)", syn)
			}
			if res.stats.Received < 5 || res.stats.KernelDrops != 0 {
				t.Errorf("stats %+v, want at least the 5 frames received and none dropped", res.stats)
			}
			if res.allocs != 0 {
				t.Errorf("Next allocated %v times per untagged frame, want 0", res.allocs)
			}
		})
	}
}

func dump(frames []captured) string {
	var b strings.Builder
	for _, f := range frames {
		fmt.Fprintf(&b, "  caplen %d wirelen %d: % x\n", f.captureLen, f.wireLen, f.data)
	}
	return b.String()
}

// handshake connects from nsA to a listener on 192.0.2.2:port in nsB.
func handshake(t *testing.T, nsA, nsB string, port int) {
	t.Helper()
	addr := fmt.Sprintf("192.0.2.2:%d", port)
	var (
		ln        net.Listener
		listenErr error
	)
	if err := inNetns(nsB, func() { ln, listenErr = net.Listen("tcp4", addr) }); err != nil || listenErr != nil {
		t.Fatalf("listen in %s: %v %v", nsB, err, listenErr)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	var dialErr error
	if err := inNetns(nsA, func() {
		var c net.Conn
		if c, dialErr = net.DialTimeout("tcp4", addr, 5*time.Second); dialErr == nil {
			c.Close()
		}
	}); err != nil || dialErr != nil {
		t.Fatalf("dial from %s: %v %v", nsA, err, dialErr)
	}
}

// udpPacket is an IPv4 datagram of UDP to port 443, which "tcp port 443"
// excludes.
func udpPacket(t testing.TB) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: v4src, DstIP: v4dst}
	u := &layers.UDP{SrcPort: 40000, DstPort: 443}
	u.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, u, gopacket.Payload(testPayload))
}

// ipv4PacketPayload is ipv4Packet with another payload.
func ipv4PacketPayload(t testing.TB, payload []byte) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: v4src, DstIP: v4dst}
	tcp := testTCP()
	tcp.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, tcp, gopacket.Payload(payload))
}
