package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/prometheus/common/version"

	"github.com/tcptrack/tcptrack/metrics"
	"github.com/tcptrack/tcptrack/tracker"
)

// Exit statuses.
const (
	exitOK      = 0
	exitCapture = 1 // the capture could not be read to its end, or the interface failed
	exitUsage   = 2 // bad flags or filter
)

// options are the command line, parsed.
type options struct {
	file, iface  string
	filter       string
	sockets, all bool
	json         bool
	transitions  string
	local        []netip.Prefix
	advance      time.Duration
	track        tracker.Config
	checksums    bool
	live         liveOptions
	web          metrics.WebConfig
	logLevel     slog.Level
	showVersion  bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "tcptrack: %v\nRun tcptrack --help for usage.\n", err)
		return exitUsage
	}
	if opts.showVersion {
		fmt.Fprintln(stdout, version.Print("tcptrack"))
		return exitOK
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: opts.logLevel}))
	if opts.iface != "" {
		return runLive(opts, stdout, stderr, logger)
	}
	return runFile(opts, stdout, stderr, logger)
}

const usageText = `NAME
    tcptrack - passive TCP connection state tracker

SYNOPSIS
    tcptrack -r FILE [options] [BPF expression]
    tcptrack -i INTERFACE [options] [BPF expression]

DESCRIPTION
    tcptrack reads TCP segments from a capture file (pcap or pcapng, optionally
    gzip-compressed; "-" is standard input) or from a live interface, infers the
    RFC 793 state of both endpoints of every connection, and prints how many
    endpoints are in each state, one "STATE count" line per state, as
        netstat -n | awk '/^tcp/ {++S[$NF]} END {for (a in S) print a, S[a]}'
    prints on a host. It never sends a packet. A trailing BPF expression, as in
    tcpdump, selects the frames to read.

    In live mode (-i) it serves Prometheus metrics and runs until SIGINT or
    SIGTERM, then prints the counts. SIGUSR1, or GET /counts on the web
    listener, prints them while it runs.

EXIT STATUS
    0 success; 1 the capture could not be read to its end (everything read
    before the error is reported first); 2 bad usage.

OPTIONS
`

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("tcptrack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.file, "r", "", "read packets from `FILE` (pcap, pcapng, .gz; - for stdin)")
	fs.StringVar(&o.iface, "i", "", "capture live on `INTERFACE` (needs root or CAP_NET_RAW)")
	fs.BoolVar(&o.sockets, "sockets", false, "list every live endpoint like ss -tan (State Recv-Q Send-Q Local Peer) instead of the counts")
	fs.BoolVar(&o.all, "a", false, "also report inferred listeners, as a LISTEN line (like netstat -a)")
	fs.BoolVar(&o.all, "all", false, "same as -a")
	fs.BoolVar(&o.json, "json", false, "print the counts as one JSON object instead of STATE count lines")
	fs.StringVar(&o.transitions, "transitions", "", "write every state change as a JSON line to `FILE` (- for stdout)")
	local := fs.String("local", "", "count only endpoints whose address is in these comma-separated `PREFIXES` (e.g. 192.0.2.10/32,2001:db8::/64)")
	fs.DurationVar(&o.advance, "advance", 0, "file mode: report states this `DURATION` after the last packet, so timers can run out (e.g. 61s ends TIME_WAIT)")
	fs.IntVar(&o.track.MaxFlows, "max-flows", tracker.DefaultMaxFlows, "bound of the flow table; when full, closed, then half-open, then idlest flows are evicted")
	fs.DurationVar(&o.track.TimeWait, "time-wait", tracker.DefaultTimeWait, "how long an endpoint stays in TIME_WAIT (2×MSL)")
	fs.DurationVar(&o.track.HandshakeTimeout, "handshake-timeout", tracker.DefaultHandshakeTimeout, "close SYN_SENT and SYN_RECV endpoints, and unconfirmed ones, silent for this long")
	fs.DurationVar(&o.track.FinTimeout, "fin-timeout", tracker.DefaultFinTimeout, "close FIN_WAIT2 endpoints silent for this long (Linux's tcp_fin_timeout)")
	fs.DurationVar(&o.track.RetryTimeout, "retry-timeout", tracker.DefaultRetryTimeout, "close FIN_WAIT1, CLOSING and LAST_ACK endpoints silent for this long: the kernel gave up retransmitting")
	fs.BoolVar(&o.checksums, "verify-checksums", false, "drop and count segments with a bad TCP checksum (off: offloading makes them common on the sending host)")
	o.live.register(fs)
	registerWebFlags(fs, &o.web)
	level := fs.String("log.level", "info", "log `LEVEL` on stderr: debug, info, warn, error")
	fs.BoolVar(&o.showVersion, "version", false, "print version and build information")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if o.showVersion {
		return o, nil
	}
	o.filter = strings.Join(fs.Args(), " ")
	switch {
	case o.file == "" && o.iface == "":
		return nil, errors.New("give a capture file with -r FILE or an interface with -i INTERFACE")
	case o.file != "" && o.iface != "":
		return nil, errors.New("-r and -i exclude each other")
	}
	if err := o.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return nil, fmt.Errorf("--log.level: %w", err)
	}
	prefixes, err := parsePrefixes(*local)
	if err != nil {
		return nil, fmt.Errorf("--local: %w", err)
	}
	o.track.Local = prefixes
	return o, nil
}

// parsePrefixes reads a comma-separated list of prefixes; a bare address
// means that one host.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// registerWebFlags adds the exporter flags: the web listener's addresses,
// paths, configuration file and the bounds on its connections.
func registerWebFlags(fs *flag.FlagSet, cfg *metrics.WebConfig) {
	fs.Func("web.listen-address", "address to serve metrics on; repeat the flag to listen on several (default "+metrics.DefaultListenAddress+")", func(s string) error {
		cfg.ListenAddresses = append(cfg.ListenAddresses, s)
		return nil
	})
	fs.StringVar(&cfg.TelemetryPath, "web.telemetry-path", metrics.DefaultTelemetryPath, "path under which to expose metrics")
	fs.StringVar(&cfg.ConfigFile, "web.config.file", "", "path to an exporter-toolkit web configuration file enabling TLS and basic auth")
	fs.DurationVar(&cfg.ReadTimeout, "web.read-timeout", metrics.DefaultReadTimeout, "time to read a request, headers and body, and the TLS handshake; a connection that sends nothing is closed after it")
	fs.DurationVar(&cfg.WriteTimeout, "web.write-timeout", metrics.DefaultWriteTimeout, "time to write a response")
	fs.DurationVar(&cfg.IdleTimeout, "web.idle-timeout", metrics.DefaultIdleTimeout, "time a keep-alive connection may wait for its next request")
	fs.IntVar(&cfg.MaxConnections, "web.max-connections", metrics.DefaultMaxConnections, "connections served at once on each address; more wait in the kernel's accept queue")
}
