package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/common/version"

	"github.com/tcptrack/tcptrack/decode"
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
	filterArgs   []string
	filter       string
	sockets, all bool
	json         bool
	transitions  string
	connections  string // --connections
	connSeed     uint16 // --connections.seed
	advance      time.Duration
	at           moment        // --at
	every        time.Duration // --every
	plot         string        // --plot
	track        tracker.Config
	checksums    bool
	vxlanPorts   []uint16 // nil: the decoder's default
	genevePorts  []uint16
	live         liveOptions
	web          metrics.WebConfig
	by           metrics.By              // --by
	breakdown    metrics.BreakdownConfig // --metrics.*
	noWeb        bool                    // --web.listen-address ''
	noConnFacts  bool                    // --metrics.no-conn-facts
	logLevel     slog.Level
	showVersion  bool
	showHelp     bool
	top          topOptions // tcptrack top
}

// decoder returns a frame decoder set as the flags say.
func (o *options) decoder() *decode.Decoder {
	d := decode.NewDecoder()
	d.VerifyChecksums, d.VXLANPorts, d.GenevePorts = o.checksums, o.vxlanPorts, o.genevePorts
	return d
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stdout)
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "tcptrack: %v; see --help\n", err)
		return exitUsage
	}
	logOut := stderr
	var sink *logSink
	if opts.top.on {
		sink = &logSink{} // the view owns the terminal
		logOut = sink
	}
	logger := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: opts.logLevel}))
	if opts.iface != "" {
		return runLive(opts, stdout, stderr, logger, sink)
	}
	if opts.top.on {
		return runTopFile(opts, stdout, stderr, logger, sink)
	}
	return runFile(opts, stdout, stderr, logger)
}

// versionText is --version, as every Prometheus exporter prints it. Builds
// without the Makefile's link flags say what they lack rather than print
// empty fields.
func versionText() string {
	for _, v := range []*string{&version.Version, &version.Revision, &version.Branch, &version.BuildUser, &version.BuildDate} {
		if *v == "" {
			*v = "unknown"
		}
	}
	return version.Print("tcptrack")
}

const helpHead = `NAME
    tcptrack - passive TCP connection state tracker

SYNOPSIS
    tcptrack -r FILE [options] [BPF expression]
    tcptrack -i IFACE [options] [BPF expression]
    tcptrack top -r FILE | -i IFACE [options] [BPF expression]

DESCRIPTION
    tcptrack reads TCP segments from a capture file (pcap or pcapng, optionally
    gzip-compressed; "-" is standard input) or from a live interface, infers the
    RFC 793 state of both endpoints of every connection, and prints how many
    endpoints are in each state, one "STATE count" line per state, as
        netstat -n | awk '/^tcp/ {++S[$NF]} END {for (a in S) print a, S[a]}'
    prints on a host. It never sends a packet. A trailing BPF expression, as in
    tcpdump, selects the frames to read. Short options combine as in tcpdump
    (-nr FILE, -rFILE); long ones take their value after a space or "=".

    In live mode (-i) it serves Prometheus metrics and runs until SIGINT or
    SIGTERM, then prints the report. SIGUSR1, or GET /counts and /sockets on
    the web listener, prints it while it runs. SIGHUP reopens --transitions
    and --connections. In file mode SIGINT or SIGTERM stops reading and
    reports what was read.

    tcptrack top shows the same live in the terminal: the counts, and the
    connections with both endpoints' states, sorted and filtered at will,
    or a file replayed at capture speed or step by step; ? lists its keys.

    This is not Debian's tcptrack package (an ncurses monitor of the same
    name); see README.md.

EXIT STATUS
    0 success; 1 the capture could not be read to its end (everything read
    before the error is reported first) or failed live; 2 bad usage.
`

// printHelp prints the manual: the head, then every flag as the README's
// tables describe it.
func (c *cli) printHelp(w io.Writer) {
	bw := bufio.NewWriter(w)
	bw.WriteString(helpHead)
	plain := func(s string) string { return strings.ReplaceAll(s, "`", "") }
	for s, title := range sectionTitles {
		fmt.Fprintf(bw, "\n%s\n", title)
		for _, f := range c.specs {
			if f.section != section(s) {
				continue
			}
			fmt.Fprintf(bw, "    %s\n", f.spelling(func(s string) string { return s }))
			for _, l := range wrap(plain(f.help), 70) {
				fmt.Fprintf(bw, "        %s\n", l)
			}
		}
	}
	bw.Flush()
}

// wrap breaks s into lines of at most width bytes at spaces.
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}
