// Package gen writes synthetic TCP traffic as classic pcap files, for
// benchmarks and for tests that need more traffic than a recorded capture
// holds.
//
// The output depends only on the Config: the same seed always gives the same
// bytes, on every machine and Go version (the generator carries its own
// random number generator). Every connection is protocol-correct by
// construction: ISNs are random, SYN and FIN consume one sequence number,
// every ACK acknowledges exactly what its sender has received, SYNs carry
// MSS, window scale, SACK-permitted and timestamps as Linux or Windows would
// send them, and later segments carry timestamps when both sides offered
// them. Frames are Ethernet (5% of mixed flows 802.1Q-tagged), IPv4 or IPv6
// (10% of mixed flows), captured headers-only at the configured snaplen with
// the true wire length, short frames padded to Ethernet's 60-byte minimum as
// a NIC delivers them. Addresses come from the benchmark range 198.18.0.0/15
// and the documentation range 2001:db8::/32: the files are never replayed
// onto a network that routes them.
//
// Three modes: Mix (realistic short connections, interleaved), SYNFlood
// (distinct spoofed sources against one server, optionally with real
// connections alive throughout) and LongFlows (a few thousand bulk
// transfers).
//
// Because the generator scripts every connection, it also knows what a
// passive observer following tracker/RULES.md must conclude about each
// endpoint once the file ends: Result.Expected. Those are hand expectations
// written from RFC 9293's state diagram into each connection script, not
// kernel ground truth; they are fit for unit tests and cross-checks on
// traffic too large to record, while the kernel captures in pcaps/ remain the
// referee.
package gen
