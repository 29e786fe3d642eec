// Package netlab builds small test networks out of real Linux kernel sockets,
// so that the kernel can referee tcptrack: sockets are driven into known TCP
// states inside network namespaces that this package creates, the traffic is
// captured with tcpdump, and `ss -tan` is taken in every namespace at the
// moment the capture stops, with `ss -tanio` (the kernel's facts about each
// socket: bytes, retransmissions, options) beside it.
//
// A Lab is one such network: either two namespaces ("client" and "server")
// joined by a veth pair, or a single namespace ("host") whose loopback carries
// both ends. Addresses come from the documentation ranges (192.0.2.0/24,
// 2001:db8::/64) or loopback, and only ever exist inside the namespaces, so
// nothing a Lab does can reach another network.
//
// Sockets are made by this process on a locked OS thread that has joined the
// namespace with setns(2); a socket belongs to the namespace it was created
// in for life, so it can then be used from any goroutine. The thread is never
// handed back to the Go scheduler: it ends with its goroutine.
//
// Packets are dropped with nftables at the receiver's input hook, after the
// capture point, so a capture shows every segment that was sent even when
// the peer never got it. Segments are held (for simultaneous close) in the
// sender's neighbour queue, before the capture point, by making the peer's
// link-layer address unresolvable and then setting it by hand.
//
// Scenarios names the states this package can produce; Record plays one and
// writes NAME.pcap, NAME.ss and NAME.ssi; ParseSS and ParseSSI read the
// snapshots back.
//
// Everything needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN) and the ip, nft, ss
// and tcpdump programs.
package netlab
