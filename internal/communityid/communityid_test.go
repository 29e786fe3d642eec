package communityid

import (
	"net/netip"
	"testing"
)

// TestSpecExample is the worked example of the specification's README:
// 128.232.110.120:34855 to 66.35.250.204:80 over TCP, seed 0. Both
// directions give it, and so does an IPv4-mapped address. Wireshark's
// own hashes of the kernel captures are compared in cmd/tcptrack
// (TestConnectionsKernel), over IPv4 and IPv6, with and without a seed.
func TestSpecExample(t *testing.T) {
	const want = "1:LQU9qZlK+B5F3KDmev6m5PMibrg="
	a := netip.MustParseAddrPort("128.232.110.120:34855")
	b := netip.MustParseAddrPort("66.35.250.204:80")
	mapped := netip.AddrPortFrom(netip.AddrFrom16(a.Addr().As16()), a.Port())
	for _, p := range [][2]netip.AddrPort{{a, b}, {b, a}, {mapped, b}} {
		if got := TCP(p[0], p[1], 0); got != want {
			t.Errorf("TCP(%v, %v, 0) = %s, want %s", p[0], p[1], got, want)
		}
	}
	if TCP(a, b, 1) == want {
		t.Error("seed 1 gives the hash of seed 0")
	}
}

// TestPortOrder checks that the ports follow their addresses, and that two
// endpoints of one address are ordered by port: swapping the ports of a
// flow between the same two hosts changes the hash.
func TestPortOrder(t *testing.T) {
	h := netip.MustParseAddr("::1")
	a, b := netip.AddrPortFrom(h, 80), netip.AddrPortFrom(h, 40000)
	if TCP(a, b, 0) != TCP(b, a, 0) {
		t.Error("one host, two ports: the hash depends on the direction")
	}
	x, y := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	if TCP(netip.AddrPortFrom(x, 1), netip.AddrPortFrom(y, 2), 0) == TCP(netip.AddrPortFrom(x, 2), netip.AddrPortFrom(y, 1), 0) {
		t.Error("the ports were hashed apart from their addresses")
	}
}
