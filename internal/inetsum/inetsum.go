// Package inetsum computes the Internet checksum of IPv4 headers and TCP
// segments (RFC 1071): the one's-complement sum of 16-bit words, for the
// decoder that verifies it and for the tools that write packets.
package inetsum

// Add returns sum plus the big-endian 16-bit words of b, an odd last byte
// padded with zero. The carries are kept in the high bits until Fold: a
// uint64 holds those of any packet.
func Add(sum uint64, b []byte) uint64 {
	for len(b) >= 2 {
		sum += uint64(b[0])<<8 | uint64(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0]) << 8
	}
	return sum
}

// Fold folds the carries of sum into 16 bits: the checksum field is its
// complement, and a datagram that carries a right one sums to 0xffff.
func Fold(sum uint64) uint16 {
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}
