package tracker

import (
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"testing"
)

// addrForms returns random addresses of every form netip makes: IPv6,
// IPv4, IPv4-mapped IPv6 and zoned IPv6.
func addrForms(r *rand.Rand) []netip.Addr {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return []netip.Addr{netip.AddrFrom16(b), netip.AddrFrom4([4]byte(b[12:])),
		netip.AddrFrom16([16]byte(append(make([]byte, 10), 0xff, 0xff, b[0], b[1], b[2], b[3]))),
		netip.AddrFrom16(b).WithZone("eth0")}
}

// TestWords checks both ways of reading an address, in place and by As16,
// against As16 for random addresses of every form.
func TestWords(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		for _, a := range addrForms(r) {
			hi, lo := wordsPortable(&a)
			if as16(hi, lo) != a.As16() {
				t.Fatalf("%v: wordsPortable %#x %#x, As16 % x", a, hi, lo, a.As16())
			}
			if !addrInPlace {
				continue
			}
			if ihi, ilo := wordsInPlace(&a); ihi != hi || ilo != lo {
				t.Fatalf("%v: wordsInPlace %#x %#x, wordsPortable %#x %#x", a, ihi, ilo, hi, lo)
			}
		}
	}
}

// TestAddrInPlace fails when the start-up check turned the in-place read
// off: netip.Addr's layout changed in this Go release, and every segment
// now takes the slower portable read. wordsInPlace needs updating (or
// removing).
func TestAddrInPlace(t *testing.T) {
	if !addrInPlace {
		t.Errorf("netip.Addr no longer begins with its address as two big-endian words (Go %s): the tracker reads addresses by As16", runtime.Version())
	}
}

// portable makes words read by As16 for the rest of the test, as it would
// if the start-up check failed.
func portable(t *testing.T) {
	was := addrInPlace
	addrInPlace = false
	t.Cleanup(func() { addrInPlace = was })
}

// TestKeyOfPortable is TestKeyOf on the portable read.
func TestKeyOfPortable(t *testing.T) {
	portable(t)
	TestKeyOf(t)
}

// TestPortableAgrees runs the same random segments through a tracker
// reading addresses in place and one reading them by As16: their counts and
// sockets must be the same.
func TestPortableAgrees(t *testing.T) {
	run := func() (Stats, []Socket) {
		r := rand.New(rand.NewPCG(3, 4))
		data := make([]byte, 200_000)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		tr := New(Config{MaxFlows: 4})
		fuzzSegments(data, tr.Track)
		var socks []Socket
		tr.Sockets(func(s Socket) { socks = append(socks, s) })
		slices.SortFunc(socks, func(a, b Socket) int { return a.Local.Compare(b.Local)*2 + a.Peer.Compare(b.Peer) })
		return tr.Stats(), socks
	}
	inPlace, inPlaceSocks := run()
	portable(t)
	byAs16, byAs16Socks := run()
	if inPlace != byAs16 || !slices.Equal(inPlaceSocks, byAs16Socks) {
		t.Fatalf("in place:\n%+v\n%v\nby As16:\n%+v\n%v", inPlace, inPlaceSocks, byAs16, byAs16Socks)
	}
	if inPlace.Segments == 0 || inPlace.Transitions == ([NumStates][NumStates]uint64{}) {
		t.Fatalf("nothing happened: %+v", inPlace)
	}
}
