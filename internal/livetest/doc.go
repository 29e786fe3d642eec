// Package livetest runs the tcptrack binary in live mode inside network
// namespaces, against real kernel sockets, and holds it to what the kernel
// says: the per-state counts it serves on /metrics and prints at exit must
// equal `ss -tan` in the namespaces, and the exporter must survive its
// capture interface being deleted and re-created.
//
// It holds tests only. They need root (namespaces, veth links, nftables,
// packet capture) and skip otherwise; CI runs them as root. They build
// tcptrack from this module themselves, so they test the code beside them
// rather than whatever bin/tcptrack was last built from.
package livetest
