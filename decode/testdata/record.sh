#!/bin/sh
# Records the real-kernel captures the decode tests compare with tshark:
#   any-sll2.pcap   tcpdump -i any (Linux cooked v2), IPv4 and IPv6 on loopback
#   veth.pcapng     an Ethernet veth carrying IPv4 and IPv6 (pcapng)
#   mixed-links.pcapng  pcaps/handshake.pcap (Ethernet) and any-sll2.pcap in one file
# Everything happens inside network namespaces this script creates and
# deletes; run as root. Needs tcpdump, editcap (tshark), python3, iproute2.
set -eu
cd "$(dirname "$0")"
A=ttrecA$$ B=ttrecB$$
cleanup() { ip netns del $A 2>/dev/null || true; ip netns del $B 2>/dev/null || true; }
trap cleanup EXIT
ip netns add $A
ip netns add $B
ip -n $A link set lo up
ip -n $B link set lo up
ip link add va netns $A type veth peer name vb netns $B
ip -n $A link set va up
ip -n $B link set vb up
# Documentation addresses, reachable only between the two namespaces.
ip -n $A addr add 192.0.2.1/24 dev va
ip -n $B addr add 192.0.2.2/24 dev vb
ip -n $A addr add 2001:db8::1/64 dev va nodad
ip -n $B addr add 2001:db8::2/64 dev vb nodad

# talk HOST PORT FAMILY: one connection each way of a short exchange, closed
# by the client.
serve='import socket,sys
s=socket.socket(int(sys.argv[3]),socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind((sys.argv[1],int(sys.argv[2])));s.listen()
for _ in range(2):
    c,_=s.accept();c.sendall(c.recv(100)*3);c.close()'
talk='import socket,sys,time
for _ in range(2):
    c=socket.create_connection((sys.argv[1],int(sys.argv[2])));c.sendall(b"hello tcptrack");c.recv(100);c.close();time.sleep(0.05)'

capture() { # NS IFACE FILE then the traffic
	ip netns exec "$1" tcpdump -q -i "$2" -w "$3" tcp 2>/dev/null &
	tcpdump=$!
	sleep 1
}
finish() { sleep 1; kill $tcpdump; wait $tcpdump 2>/dev/null || true; }

capture $A any any-sll2.pcap
ip netns exec $A python3 -c "$serve" 127.0.0.1 8001 2 & sleep 0.3
ip netns exec $A python3 -c "$talk" 127.0.0.1 8001
ip netns exec $A python3 -c "$serve" ::1 8002 10 & sleep 0.3
ip netns exec $A python3 -c "$talk" ::1 8002
wait $!
finish

capture $A va veth.pcap
ip netns exec $B python3 -c "$serve" 192.0.2.2 8003 2 & sleep 0.3
ip netns exec $A python3 -c "$talk" 192.0.2.2 8003
ip netns exec $B python3 -c "$serve" 2001:db8::2 8004 10 & sleep 0.3
ip netns exec $A python3 -c "$talk" 2001:db8::2 8004
wait $!
finish
editcap -F pcapng veth.pcap veth.pcapng && rm veth.pcap
editcap -s 80 veth.pcapng snap80.pcap
# Two link types in one file, for a filter that applies to one only.
mergecap -F pcapng -w mixed-links.pcapng ../../pcaps/handshake.pcap any-sll2.pcap
