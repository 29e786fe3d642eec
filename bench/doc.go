// Package bench holds what measures tcptrack as a whole: Go benchmarks per
// stage (read, decode, track) and end to end over traces written by
// internal/gen, tests that cross-check the tracker against the generator's
// expected states, and run.sh, which `make bench` calls to print throughput
// and memory beside tshark and tcptrace on the same traces.
//
// Traces live in bench/.cache (or $TCPTRACK_BENCH_CACHE), made by run.sh
// and never committed. Without them the benchmarks generate smaller traces
// of the same kinds in a temporary directory.
package bench
