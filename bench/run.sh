#!/usr/bin/env bash
# bench/run.sh: what `make bench` runs.
#
# Generates the benchmark traces into bench/.cache (once; delete the
# directory to regenerate), builds bin/tcptrack, then runs tcptrack on every
# trace, tcptrace on the full-size ones and tshark on the small ones, each
# RUNS times, and prints the median run of each. Then the Go benchmarks per
# stage. About 5 minutes on an idle 2-core machine once the traces exist
# (generating them takes another 30 s and 2.7 GB of disk).
#
# Environment: RUNS (default 3), CAP (seconds before a run of another tool
# is abandoned, default 300), TCPTRACK_BENCH_CACHE (default bench/.cache),
# SKIP_GO=1 to skip the Go benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ ! -x /usr/bin/time ]]; then
	echo "bench/run.sh: needs GNU time at /usr/bin/time (Debian package time) for peak RSS" >&2
	exit 1
fi

RUNS=${RUNS:-3}
CAP=${CAP:-300}
CACHE=${TCPTRACK_BENCH_CACHE:-bench/.cache}
mkdir -p "$CACHE"
CACHE=$(cd "$CACHE" && pwd)
export TCPTRACK_BENCH_CACHE=$CACHE
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# name|tcptrack-gen flags|which other tools run on it
TRACES=(
	"mix|-mode mix -packets 10000000|tcptrace"
	"synflood|-mode synflood -sources 1000000 -real 1000|tcptrace"
	"longflows|-mode longflows -flows 2000 -packets 10000000|tcptrace"
	"mix-small|-mode mix -packets 1000000|tshark"
	"synflood-small|-mode synflood -sources 200000 -real 200|tshark"
	"longflows-small|-mode longflows -flows 200 -packets 1000000|tshark"
)

go build -o bin/tcptrack ./cmd/tcptrack
go build -o "$CACHE/tcptrack-gen" ./cmd/tcptrack-gen

for t in "${TRACES[@]}"; do
	IFS='|' read -r name flags _ <<<"$t"
	if [[ ! -s $CACHE/$name.pcap || ! -s $CACHE/$name.info ]]; then
		echo "generating $CACHE/$name.pcap ($flags -seed 1)" >&2
		# shellcheck disable=SC2086 # flags are words
		"$CACHE/tcptrack-gen" $flags -seed 1 -o "$CACHE/$name.pcap.tmp" 2>"$CACHE/$name.info.tmp"
		mv "$CACHE/$name.pcap.tmp" "$CACHE/$name.pcap"
		mv "$CACHE/$name.info.tmp" "$CACHE/$name.info"
	fi
done

# run TOOL FILE: one timed run. Prints "wall_seconds cpu_seconds
# peak_rss_kb", or "timeout - -" / "failed - -". CPU is user + system time;
# peak RSS is getrusage's ru_maxrss as GNU time reports it: the process's
# VmHWM.
run() {
	local tool=$1 file=$2 rc=0 t0 t1
	local -a cmd
	case $tool in
	tcptrack) cmd=(bin/tcptrack -r "$file") ;;
	tcptrack/1) cmd=(taskset -c 0 bin/tcptrack -r "$file") ;;
	# The connection facts kept and every connection's record written:
	# what --info, --connections, the view and the exporter's RTT and age
	# metrics cost.
	+facts) cmd=(bin/tcptrack -r "$file" --connections /dev/null) ;;
	tcptrace) cmd=(tcptrace -n "$file") ;;
	tshark) cmd=(tshark -q -z conv,tcp -r "$file") ;;
	esac
	t0=$(date +%s%N)
	/usr/bin/time -f '%U %S %M' -o "$TMP/rss" timeout "$CAP" "${cmd[@]}" >"$TMP/out" 2>"$TMP/err" || rc=$?
	t1=$(date +%s%N)
	if ((rc == 124)); then
		echo "timeout - -"
	elif ((rc != 0)); then
		echo "failed - -"
		sed 's/^/    /' "$TMP/err" | tail -3 >&2
	else
		echo "$(((t1 - t0) / 1000000)) $(tail -1 "$TMP/rss")" | awk '{printf "%.3f %.2f %d\n", $1/1000, $2+$3, $4}'
	fi
}

# median TOOL FILE: RUNS runs, the one with the median CPU time.
median() {
	local i
	for ((i = 0; i < RUNS; i++)); do run "$1" "$2"; done | sort -g -k2 | sed -n "$(((RUNS + 1) / 2))p"
}

have() { command -v "$1" >/dev/null; }

echo "tcptrack benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(go env GOVERSION), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other jobs share the cores: trust cpu figures over wall)"
echo "median of $RUNS runs per tool and trace, by CPU time; wall = whole process from exec to exit, stdout to a file;"
echo "cpu = user + system seconds; packets/s and ns/pkt are per CPU second (wall-clock packets/s in brackets);"
echo "peak RSS = GNU time's maximum resident set (VmHWM); flows = connections in the trace (the most the table holds;"
echo "exact for synflood, whose flows never time out within it); bytes/flow = peak RSS / flows."
echo "tcptrace (-n) runs on the full traces, tshark (-q -z conv,tcp) only on the *-small ones (it reads ~0.1 M packets/s);"
echo "tcptrack runs on all, so each ratio (tool CPU / tcptrack CPU, tcptrack RSS / tool RSS) compares the same file."
echo "tcptrack reads and decodes on one core while it tracks on the other; tcptrack/1 is the same run held to one core"
echo "(taskset -c 0), where the two stages take turns: its wall-clock packets/s is the one-core figure."
echo "+facts is the two-core run keeping every connection's facts and writing its record (--connections /dev/null)."
echo "Runs over ${CAP}s are abandoned."
echo
printf '%-16s %9s %8s  %-9s %7s %7s %10s %11s %7s %8s %9s  %s\n' trace packets flows tool wall_s cpu_s packets/s "(wall)" ns/pkt RSS_MB bytes/flow "tcptrack vs tool: speed, memory"
for t in "${TRACES[@]}"; do
	IFS='|' read -r name _ others <<<"$t"
	file=$CACHE/$name.pcap
	pkts=$(sed -n 's/.*: \([0-9]*\) packets,.*/\1/p' "$CACHE/$name.info")
	flows=$(sed -n 's/.* \([0-9]*\) connections,.*/\1/p' "$CACHE/$name.info")
	# Read the trace once untimed, so that every tool reads it from the page
	# cache: this machine's cache does not keep all the traces between runs,
	# and a run that reads from disk spent two thirds of its time in the kernel.
	cat "$file" >/dev/null
	read -r tw tc trss <<<"$(median tcptrack "$file")"
	label=$name
	for tool in tcptrack tcptrack/1 +facts $others; do
		if [[ $tool == tcptrack ]]; then
			w=$tw c=$tc rss=$trss
		elif [[ $tool != tcptrack/1 && $tool != +facts ]] && ! have "$tool"; then
			printf '%-16s %10s %9s  %-9s %s\n' "" "" "" "$tool" "not installed"
			continue
		else
			read -r w c rss <<<"$(median "$tool" "$file")"
		fi
		if [[ $rss == - ]]; then
			printf '%-16s %10s %9s  %-9s %8s\n' "$label" "" "" "$tool" "$w"
			label=""
			continue
		fi
		# CPU times below the 10 ms resolution of GNU time count as 5 ms.
		awk -v n="$label" -v p="$pkts" -v f="$flows" -v tool="$tool" -v w="$w" -v c="$c" -v rss="$rss" -v tc="$tc" -v trss="$trss" 'BEGIN {
			c = c > 0 ? c : 0.005; tc = tc > 0 ? tc : 0.005
			ratio = ""
			if (tool == "+facts")
				ratio = sprintf("facts: %+.0f%% CPU, %+.0f bytes/flow", 100 * (c / tc - 1), (rss - trss) * 1024 / f)
			else if (tool != "tcptrack" && trss != "-")
				ratio = sprintf("%.1fx faster, %.2fx the memory", c / tc, trss / rss)
			pp = n == "" ? "" : p; ff = n == "" ? "" : f
			printf "%-16s %9s %8s  %-9s %7.2f %7.2f %10.0f %11s %7.0f %8.1f %9.0f  %s\n", n, pp, ff, tool, w, c, p / c, sprintf("(%.0f)", p / w), c * 1e9 / p, rss / 1024, rss * 1024 / f, ratio
		}'
		label=""
	done
done

if [[ ${SKIP_GO:-} == 1 ]]; then
	exit 0
fi
echo
echo "Go benchmarks (bench/bench_test.go) on the full-size traces, one pass each: allocs/pkt counts every allocation of the"
echo "pass (runtime.MemStats.Mallocs), table growth included. Decode and Track hold at most 2,000,000 frames in memory."
go test ./bench -run '^$' -bench '^Benchmark(Read|Decode|Track|EndToEnd)$/^(mix|synflood|longflows)$' -benchtime 1x -count 1 |
	awk '/^Benchmark/ {
		line = sprintf("%-36s", $1)
		for (i = 2; i < NF; i++) if ($(i+1) ~ /^(pkts\/s|ns\/pkt|cpu-ns\/pkt|allocs\/pkt)$/) line = line sprintf(" %12s %s", $i, $(i+1))
		print line
	}'
