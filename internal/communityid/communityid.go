// Package communityid computes the Community ID flow hash, version 1, of a
// TCP connection: the identifier Zeek, Suricata, Wireshark and Elastic give
// a flow, so that records of one tool join those of another on one string.
// The specification is at https://github.com/corelight/community-id-spec.
//
// It is written here rather than imported: the algorithm is a SHA-1 over
// 40 bytes, and no Go implementation of it is kept up among the modules
// this project may use.
package communityid

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"net/netip"
)

// protoTCP is the IP protocol number the hash covers.
const protoTCP = 6

// TCP returns the version 1 Community ID of the TCP connection between a
// and b, either way round, with seed (0 unless every tool that joins is
// configured with another): "1:" and the base64 of the SHA-1 of the seed,
// both addresses, the protocol, a zero byte and both ports, the endpoint
// with the lower address (then the lower port) first. IPv4-mapped IPv6
// addresses count as the IPv4 address they map, as the tools that join
// see them on the wire.
func TCP(a, b netip.AddrPort, seed uint16) string {
	if less(b, a) {
		a, b = b, a
	}
	aa, ba := a.Addr().Unmap(), b.Addr().Unmap()
	buf := make([]byte, 0, 2+16+16+2+4)
	buf = binary.BigEndian.AppendUint16(buf, seed)
	buf = append(buf, aa.AsSlice()...)
	buf = append(buf, ba.AsSlice()...)
	buf = append(buf, protoTCP, 0)
	buf = binary.BigEndian.AppendUint16(buf, a.Port())
	buf = binary.BigEndian.AppendUint16(buf, b.Port())
	sum := sha1.Sum(buf)
	return "1:" + base64.StdEncoding.EncodeToString(sum[:])
}

// less orders endpoints as the specification does: by address, byte by
// byte, then by port.
func less(a, b netip.AddrPort) bool {
	if c := a.Addr().Unmap().Compare(b.Addr().Unmap()); c != 0 {
		return c < 0
	}
	return a.Port() < b.Port()
}
