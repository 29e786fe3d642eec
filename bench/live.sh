#!/usr/bin/env bash
# bench/live.sh: what `make bench-live` runs. Needs root.
#
# How many packets per second the live path takes without kernel drops.
# Creates two network namespaces joined by a veth pair, runs bin/tcptrack -i
# on the receiving end (metrics on the namespace's loopback), and replays a
# generated trace with tcpreplay into the other end at each rate of RATES,
# with a fresh tcptrack per run. For each run it prints what tcpreplay sent,
# what tcptrack counted (tcptrack_packets_total), the kernel's drops as
# tcptrack exports them (tcptrack_capture_drops_total), the receiving veth's
# own rx_dropped, tcptrack's CPU time, and whether the counts it printed on
# SIGTERM equal the generator's expected counts. Then the drain test: the
# capacity of the reading side alone, with the sender out of the way.
# Nothing leaves the namespaces, which are deleted on exit.
#
# The trace is mix-small (1M packets, tcptrack-gen -mode mix -packets
# 1000000 -seed 1) generated at full length (-snaplen 65535): the same
# packets as bench/.cache/mix-small.pcap, whose 128-byte frames tcpreplay
# would send cut short, so that half of them would arrive shorter than
# their IP length says and be counted as malformed, not tracked.
#
# With VIEWS="plain top", each run is made twice in a row on the same
# traffic, first with the plain exporter and then with the terminal view
# (tcptrack top -i, in a detached 80x24 tmux session, which turns on the
# tracker's per-connection facts and lists the connections every second):
# rows "ENGINE+top" beside "ENGINE", so that what the view costs the capture
# path is read off runs of the same minute. The view prints no report on
# SIGTERM, so its "expected" column is "-".
#
# Environment: VIEWS (default "plain"; "plain top" adds the view's rows, which
# needs tmux), ENGINES (default "pcap afpacket"), RATES (packets/s, or
# topspeed; default "100000 200000 300000 topspeed"), BUFFERS (tcptrack -B
# values in KiB, "default" for its own 2 MiB; default "default 65536"),
# DRAINS (drain runs per engine, median kept; default 3, 0 to skip),
# TRACE (a pcap to replay instead; its expected counts are then unknown),
# TCPTRACK_BENCH_CACHE (default bench/.cache). About 4 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
	echo "bench/live.sh: $*" >&2
	exit 1
}
((EUID == 0)) || die "needs root: it creates network namespaces and captures live"
for t in ip tcpreplay curl; do
	command -v "$t" >/dev/null || die "needs $t"
done

VIEWS=${VIEWS:-plain}
for v in $VIEWS; do
	[[ $v == plain || $v == top ]] || die "VIEWS: want plain and/or top, not $v"
	[[ $v == plain ]] || command -v tmux >/dev/null || die "needs tmux for VIEWS=top"
done
ENGINES=${ENGINES:-pcap afpacket}
RATES=${RATES:-100000 200000 300000 topspeed}
BUFFERS=${BUFFERS:-default 65536}
DRAINS=${DRAINS:-3}
CACHE=${TCPTRACK_BENCH_CACHE:-bench/.cache}
mkdir -p "$CACHE"

go build -o bin/tcptrack ./cmd/tcptrack
if [[ -n ${TRACE:-} ]]; then
	INFO=/dev/null
else
	TRACE=$CACHE/mix-small-full.pcap
	INFO=$CACHE/mix-small-full.info
	if [[ ! -s $TRACE || ! -s $INFO ]]; then
		echo "generating $TRACE" >&2
		go run ./cmd/tcptrack-gen -mode mix -packets 1000000 -seed 1 -snaplen 65535 -o "$TRACE.tmp" 2>"$INFO.tmp"
		mv "$TRACE.tmp" "$TRACE"
		mv "$INFO.tmp" "$INFO"
	fi
fi
# The report on SIGTERM prints the counted states; the generator's
# unconfirmed endpoints are no line of it.
EXPECTED=$(sed -n 's/^expected //p' "$INFO" | grep -v '^unconfirmed ' | sort)

TX=ttlive-tx-$$ RX=ttlive-rx-$$
TXIF=ttltx RXIF=ttlrx
WEB=127.0.0.1:9717
TMP=$(mktemp -d)
PID=
cleanup() {
	if [[ -n $PID ]]; then
		kill -CONT "$PID" 2>/dev/null || true
		kill "$PID" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	[[ ! -S $TMP/tmux.sock ]] || tmux -S "$TMP/tmux.sock" kill-server 2>/dev/null || true
	ip netns del "$TX" 2>/dev/null || true
	ip netns del "$RX" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

ip netns add "$TX"
ip netns add "$RX"
for ns in "$TX" "$RX"; do
	# No IPv6 on the link, so the kernel sends no neighbour discovery into
	# the capture: tcptrack must count exactly what tcpreplay sent.
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
done
ip link add "$TXIF" netns "$TX" type veth peer name "$RXIF" netns "$RX"
# Room for any frame of the trace, so none is refused for its size.
ip -n "$TX" link set "$TXIF" mtu 9000 up
ip -n "$RX" link set "$RXIF" mtu 9000 up

# metric NAME: one sample of tcptrack's /metrics (labels included in NAME).
scrape() { ip netns exec "$RX" curl -sf --max-time 2 "http://$WEB/metrics" || true; }
metric() { scrape | awk -v m="$1" '$1 == m { printf "%.0f\n", $2; found = 1 } END { if (!found) print -1 }'; }
# cpuns PID: nanoseconds on a CPU, user and system, all threads so far.
cpuns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
rxdropped() { ip netns exec "$RX" cat "/sys/class/net/$RXIF/statistics/rx_dropped"; }

# start VIEW ENGINE [flags]: runs tcptrack (VIEW top: tcptrack top, in a
# detached tmux session) in the receiving namespace and waits (at most 10 s)
# until its capture is up.
start() {
	local view=$1 engine=$2 i
	shift 2
	local cmd=(ip netns exec "$RX" bin/tcptrack -i "$RXIF" --capture-engine "$engine" --web.listen-address "$WEB"
		--log.level warn "$@")
	rm -f "$TMP/out" "$TMP/pid"
	if [[ $view == top ]]; then
		# A child of the pane's shell, not the pane's process: tmux resumes
		# the pane's own process when it stops, which would end the drain
		# test's SIGSTOP. ip becomes tcptrack, so $! is tcptrack's pid.
		tmux -S "$TMP/tmux.sock" -f /dev/null new-session -d -x 80 -y 24 \
			"TERM=xterm-256color ${cmd[*]:0:5} top ${cmd[*]:5} 2>$TMP/err & echo \$! >$TMP/pid; wait"
		for ((i = 0; i < 100; i++)); do
			[[ -s $TMP/pid ]] && break
			sleep 0.1
		done
		PID=$(cat "$TMP/pid")
	else
		"${cmd[@]}" >"$TMP/out" 2>"$TMP/err" &
		PID=$! # ip netns exec execs tcptrack in place
	fi
	for ((i = 0; i < 100; i++)); do
		[[ $(metric tcptrack_capture_up 2>/dev/null) == 1 ]] && return 0
		sleep 0.1
	done
	cat "$TMP/err" >&2
	die "tcptrack ($engine) did not come up in 10 s"
}

stop() {
	local i
	kill "$PID"
	wait "$PID" 2>/dev/null || true
	# The view is tmux's child, not ours: wait for it to be gone.
	for ((i = 0; i < 100; i++)); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.1
	done
	PID=
}

# settle WANT: waits until tcptrack has counted WANT packets, or its count
# stayed the same over 1.5 s (it publishes every second); at most 15 s.
settle() {
	local want=$1 last=-1 same=0 n i
	for ((i = 0; i < 30; i++)); do
		n=$(metric tcptrack_packets_total)
		((n >= want)) && return 0
		if ((n == last)); then
			((++same < 3)) || return 0
		else
			same=0 last=$n
		fi
		sleep 0.5
	done
}

# replay RATE: tcpreplay into the sending end; prints "sent pps failed".
replay() {
	local speed=(--topspeed)
	[[ $1 == topspeed ]] || speed=(--pps="$1")
	ip netns exec "$TX" tcpreplay --preload-pcap "${speed[@]}" -i "$TXIF" "$TRACE" >"$TMP/replay" 2>&1 ||
		{ cat "$TMP/replay" >&2; die "tcpreplay failed"; }
	awk '/^Actual:/ { sent = $2 } /^Rated:/ { for (i = 1; i < NF; i++) if ($(i+1) ~ /^pps/) pps = $i }
		/Failed packets:/ { failed = $3 } END { printf "%d %.0f %d\n", sent, pps, failed }' "$TMP/replay"
}

echo "tcptrack live benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, kernel $(uname -r)"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other jobs share the cores)"
echo "trace $TRACE: $(sed -n 's/.*: \([0-9]*\) packets, \([0-9]*\) wire bytes.*/\1 packets, \2 bytes/p' "$INFO")"
echo "tcpreplay --preload-pcap into a veth pair between two namespaces; tcptrack -i on the far end, default snaplen;"
echo "buffer: tcptrack -B (KiB), default 2048."
echo "sent/pps: tcpreplay's; counted: tcptrack_packets_total; kdrops: tcptrack_capture_drops_total{where=\"kernel\"};"
echo "ifdrops: {where=\"interface\"}; veth_drop: the receiving veth's rx_dropped; cpu_s: tcptrack's user+system time"
echo "during the run; expected: the counts printed on SIGTERM equal the generator's."
echo
printf '%-12s %7s %9s %8s %9s %9s %7s %7s %9s %6s %7s  %s\n' engine buffer rate sent sent_pps counted kdrops ifdrops veth_drop cpu_s ns/pkt expected
# run VIEW ENGINE BUFFER RATE: one replay into a fresh tcptrack; prints a
# row and returns 0 if no packet was lost.
run() {
	local view=$1 engine=$2 buf=$3 rate=$4 flags=() r sent pps failed counted kd id c0 c1 v0 v1 ok name=$2
	[[ $buf == default ]] || flags=(-B "$buf")
	[[ $view == plain ]] || name=$engine+$view
	start "$view" "$engine" "${flags[@]}"
	c0=$(cpuns "$PID")
	v0=$(rxdropped)
	r=$(replay "$rate") || exit 1
	read -r sent pps failed <<<"$r"
	settle "$sent"
	counted=$(metric tcptrack_packets_total)
	kd=$(metric 'tcptrack_capture_drops_total{where="kernel"}')
	id=$(metric 'tcptrack_capture_drops_total{where="interface"}')
	c1=$(cpuns "$PID")
	v1=$(rxdropped)
	stop
	ok=-
	if [[ -n $EXPECTED && $view == plain ]]; then
		ok=no
		[[ $(sort "$TMP/out") == "$EXPECTED" ]] && ok=yes
	fi
	((failed == 0)) || ok="$ok ($failed failed to send)"
	awk -v e="$name" -v b="$buf" -v r="$rate" -v s="$sent" -v p="$pps" -v n="$counted" -v kd="$kd" -v id="$id" \
		-v vd="$((v1 - v0))" -v c="$((c1 - c0))" -v ok="$ok" 'BEGIN {
		printf "%-12s %7s %9s %8d %9d %9d %7d %7d %9d %6.2f %7.0f  %s\n", e, b, r, s, p, n, kd, id, vd, c / 1e9, c / (n > 0 ? n : 1), ok
	}'
	LAST_PPS=$pps
	((kd == 0 && counted == sent))
}

# For each engine, buffer and view: the highest rate tcpreplay achieved in a
# run without loss, and the runs with loss.
declare -A best lossy
for engine in $ENGINES; do
	for buf in $BUFFERS; do
		for rate in $RATES; do
			for view in $VIEWS; do
				k=$engine/$buf/$view
				: "${best[$k]:=0}" "${lossy[$k]:=}"
				if run "$view" "$engine" "$buf" "$rate"; then
					((LAST_PPS > ${best[$k]})) && best[$k]=$LAST_PPS
				else
					lossy[$k]+=" $LAST_PPS"
				fi
			done
		done
	done
done
echo
for engine in $ENGINES; do
	for buf in $BUFFERS; do
		for view in $VIEWS; do
			k=$engine/$buf/$view
			name=$engine
			[[ $view == plain ]] || name=$engine+$view
			echo "$name, buffer $buf: highest rate with zero kernel drops and every packet counted: ${best[$k]} packets/s;" \
				"runs with loss at:${lossy[$k]:- none}"
		done
	done
done

((DRAINS > 0)) || exit 0
echo
echo "Drain: tcptrack stopped (SIGSTOP) with a 1 GiB ring (-B 1048576), the trace replayed at top speed into the ring,"
echo "then SIGCONT: the CPU time it takes to read, decode and track every frame is the reading side's own capacity,"
echo "with no sender on the cores (the settling wait's idle polls included). Median of $DRAINS runs by CPU time."
echo "With VIEWS=\"plain top\", the two alternate run by run."
printf '%-12s %8s %9s %7s %6s %7s %12s\n' engine sent counted kdrops cpu_s ns/pkt packets/s
declare -A drains
for engine in $ENGINES; do
	for ((i = 0; i < DRAINS; i++)); do
		for view in $VIEWS; do
			start "$view" "$engine" -B 1048576
			kill -STOP "$PID"
			r=$(replay topspeed) || exit 1
			read -r sent _ _ <<<"$r"
			c0=$(cpuns "$PID")
			kill -CONT "$PID"
			settle "$sent"
			c1=$(cpuns "$PID")
			counted=$(metric tcptrack_packets_total)
			kd=$(metric 'tcptrack_capture_drops_total{where="kernel"}')
			stop
			drains[$view]+="$sent $counted $kd $((c1 - c0))"$'\n'
		done
	done
	for view in $VIEWS; do
		name=$engine
		[[ $view == plain ]] || name=$engine+$view
		printf '%s' "${drains[$view]}" | sort -n -k4 | sed -n "$(((DRAINS + 1) / 2))p" | awk -v e="$name" '{
			printf "%-12s %8d %9d %7d %6.3f %7.0f %12.0f\n", e, $1, $2, $3, $4 / 1e9, $4 / $2, $2 * 1e9 / $4
		}'
		drains[$view]=
	done
done
