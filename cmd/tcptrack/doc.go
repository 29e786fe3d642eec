// Command tcptrack reads TCP traffic from a capture file or a live
// interface, infers the RFC 793 state of both endpoints of every connection,
// and prints how many endpoints are in each state, as
//
//	netstat -n | awk '/^tcp/ {++S[$NF]} END {for (a in S) print a, S[a]}'
//
// does on a host. In live mode it also serves the counts to Prometheus. See
// README.md for every flag and output.
package main
