package tracker

import (
	"net/netip"
	"unsafe"
)

// wordsInPlace is wordsPortable read straight from a's memory: netip.Addr begins
// with exactly these two words (its uint128 field holds the address
// IPv4-mapped, whatever the family). The portable way, As16, returns the
// bytes through memory, where the CPU cannot forward two 8-byte stores to
// one 16-byte load, and that stall, twice per segment, showed in the
// tracker's time (BenchmarkWords).
//
// The layout is netip's own, outside the Go 1 promise: a release may
// change it and still compile. addrInPlace checks it when the package
// starts, and keyOf reads portably if the check fails.
func wordsInPlace(a *netip.Addr) (hi, lo uint64) {
	w := (*[2]uint64)(unsafe.Pointer(a))
	return w[0], w[1]
}

// addrInPlace says wordsInPlace reads netip.Addr as As16 does.
var addrInPlace = inPlaceAgrees()

// inPlaceAgrees checks wordsInPlace against wordsPortable on addresses of
// every form netip makes: IPv4, IPv6, IPv4-mapped IPv6, zoned IPv6, and
// the zero Addr.
func inPlaceAgrees() bool {
	if unsafe.Sizeof(netip.Addr{}) < 16 {
		return false // the read would leave the value
	}
	for _, a := range []netip.Addr{
		{},
		netip.AddrFrom4([4]byte{192, 0, 2, 1}),
		netip.AddrFrom4([4]byte{255, 254, 253, 252}),
		netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}),
		netip.AddrFrom16([16]byte{0xff, 0xfe, 0xfd, 0xfc, 0xfb, 0xfa, 0xf9, 0xf8, 0xf7, 0xf6, 0xf5, 0xf4, 0xf3, 0xf2, 0xf1, 0xf0}),
		netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 198, 13: 51, 14: 100, 15: 7}),
		netip.AddrFrom16([16]byte{0: 0xfe, 1: 0x80, 15: 1}).WithZone("eth0"),
	} {
		hi, lo := wordsInPlace(&a)
		phi, plo := wordsPortable(&a)
		if hi != phi || lo != plo {
			return false
		}
	}
	return true
}
