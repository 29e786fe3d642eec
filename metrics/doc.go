// Package metrics owns how tcptrack is seen from outside while it runs: the
// Prometheus collector, the netstat-style counts, and the web listener that
// serves both.
//
// The capture goroutine owns the tracker and is the only one to touch it. It
// copies what it has into a Snapshot (tracker.Stats, decoder counters,
// capture counters) and hands it to Collector.Publish, an atomic pointer
// store; a scrape loads the last Snapshot and turns it into const metrics, the
// way node_exporter's collectors do. So capture never waits for a scrape and a
// scrape never waits for capture; a scrape sees the Snapshot as of the last
// Publish, so publish on the idle tick as well as after traffic.
//
// The metrics carry no per-connection labels: the label values are the states
// (those of node_exporter's node_tcp_connection_states, so dashboards carry
// over), state pairs, and a few fixed reasons, a few hundred series at most
// whatever the traffic. Names:
//
//	tcptrack_connection_states{state}    gauge
//	tcptrack_flows, tcptrack_flows_max   gauge
//	tcptrack_packets_total               counter
//	tcptrack_segments_total              counter
//	tcptrack_transitions_total{from,to}  counter, pairs that have happened
//	tcptrack_rst_ignored_total           counter
//	tcptrack_segments_ignored_total      counter
//	tcptrack_decode_errors_total{reason} counter
//	tcptrack_evictions_total{reason}     counter
//	tcptrack_capture_drops_total{where}  counter, where = kernel | interface
//	tcptrack_capture_up                  gauge
//	tcptrack_handshake_rtt_seconds{port} histogram, with tracker.Config.Info
//	tcptrack_oldest_endpoint_age_seconds{state}          gauge, idem
//	tcptrack_port_oldest_endpoint_age_seconds{port,state} gauge, idem
//	tcptrack_build_info{version,revision,branch,goversion,goos,goarch,tags}
//
// Build information comes from github.com/prometheus/common/version, as in
// every Prometheus exporter; set it at link time with
//
//	-X github.com/prometheus/common/version.Version=...
//	-X github.com/prometheus/common/version.Revision=...
//	-X github.com/prometheus/common/version.Branch=...
//	-X github.com/prometheus/common/version.BuildUser=...
//	-X github.com/prometheus/common/version.BuildDate=...
//
// Listen binds the web listener and Serve runs it through
// github.com/prometheus/exporter-toolkit, so --web.config.file gives TLS and
// basic auth exactly as in other exporters; binding apart lets the command
// bind as root and serve after dropping privileges. It serves the metrics at
// --web.telemetry-path, the counts at /counts (the lines the CLI prints;
// ?all=1 adds LISTEN), the socket listing at /sockets when WebConfig.Sockets
// gives one, both as JSON with ?format=json or Accept: application/json, and
// a landing page at /. Every connection has read, write and idle timeouts,
// and a cap on connections (netutil.LimitListener) keeps the rest in the
// kernel's accept queue, so that idle clients cannot starve the scrapes;
// once a burst of connections is over, the memory they took is given back
// to the system.
package metrics
