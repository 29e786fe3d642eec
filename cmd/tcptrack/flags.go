package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/tcptrack/tcptrack/decode"
	"github.com/tcptrack/tcptrack/metrics"
	"github.com/tcptrack/tcptrack/tracker"
)

// The command line is parsed by kingpin, as in the Prometheus exporters: GNU
// long options (--max-flows 10, --max-flows=10) and POSIX short options that
// combine and take attached values, as tcpdump users type them (-nr FILE,
// -rFILE, -i eth0 -s 96). Every flag is described once, in flagSpecs order;
// --help and the README's flag tables are both that description, and a test
// holds them equal.

// section groups flags in --help and in the README.
type section int

const (
	sectionGeneral section = iota // the README's "Flags" table
	sectionLive                   // the README's "Live mode" table
	sectionTop                    // the README's "tcptrack top" table
)

var sectionTitles = [...]string{"OPTIONS", "LIVE MODE AND WEB OPTIONS", "TCPTRACK TOP OPTIONS"}

// flagSpec is one flag as the user sees it. Help may use `backticks` as the
// README does; --help prints it without them.
type flagSpec struct {
	section section
	long    string
	short   rune
	arg     string // placeholder of the value; "" for a switch
	help    string
	live    bool // applies to live capture only: refused with -r
	clause  *kingpin.FlagClause
	set     bool // given on the command line
}

// spelling is the flag as --help and the README write it: "-r, --read FILE".
func (f *flagSpec) spelling(backquote func(string) string) string {
	long := "--" + f.long
	if f.arg != "" {
		long += " " + f.arg
	}
	if f.short == 0 {
		return backquote(long)
	}
	return backquote("-"+string(f.short)) + ", " + backquote(long)
}

// cli is the parser and the description of every flag.
type cli struct {
	app   *kingpin.Application
	specs []*flagSpec
}

func (c *cli) flag(s section, long string, short rune, arg, help string) *kingpin.FlagClause {
	f := &flagSpec{section: s, long: long, short: short, arg: arg, help: help, live: s == sectionLive}
	if long == "help" {
		f.clause = c.app.HelpFlag.Help(help) // kingpin's own, which it looks for
	} else {
		f.clause = c.app.Flag(long, help)
	}
	f.clause.IsSetByUser(&f.set)
	if short != 0 {
		f.clause.Short(short)
	}
	if arg != "" {
		f.clause.PlaceHolder(arg)
	}
	c.specs = append(c.specs, f)
	return f.clause
}

// value binds v to the flag, naming the flag in v's errors: kingpin
// reports a value's error as it is.
func value(cl *kingpin.FlagClause, name string, v kingpin.Value) {
	cl.SetValue(namedValue{v, name})
}

type namedValue struct {
	kingpin.Value
	name string
}

func (v namedValue) Set(s string) error {
	if err := v.Value.Set(s); err != nil {
		return fmt.Errorf("%s %w", v.name, err)
	}
	return nil
}

// newCLI describes every flag and binds it to o.
func newCLI(o *options) *cli {
	// "@file" would otherwise read arguments from a file: a capture named
	// @x.pcap must stay a file name.
	kingpin.EnableFileExpansion = false
	c := &cli{app: kingpin.New("tcptrack", "passive TCP connection state tracker")}
	c.app.Terminate(nil).UsageWriter(io.Discard).ErrorWriter(io.Discard)
	g, l := sectionGeneral, sectionLive

	c.flag(g, "read", 'r', "FILE", "read a capture file: pcap, pcapng, either gzip-compressed (`-` for stdin)").StringVar(&o.file)
	c.flag(g, "interface", 'i', "IFACE", "capture live on an interface (see Live mode)").StringVar(&o.iface)
	c.flag(g, "numeric", 'n', "", "accepted and ignored, for tcpdump habits (`-n`, `-nn`): tcptrack never resolves names").SetValue(noop{})
	c.flag(g, "sockets", 0, "", "instead of the counts, list every live endpoint like `ss -tan`: `State Recv-Q Send-Q Local Address:Port Peer Address:Port`, IPv6 in brackets, sorted by local then peer address").BoolVar(&o.sockets)
	c.flag(g, "all", 'a', "", "also report inferred listeners: a `LISTEN n` line after the counts, and `LISTEN` rows in `--sockets` (like `netstat -a`); and the unconfirmed endpoints as an `UNCONFIRMED n` line").BoolVar(&o.all)
	c.flag(g, "json", 0, "", "print the counts as one JSON object: `{\"time\":…,\"states\":{\"ESTABLISHED\":2,…},\"unconfirmed\":{\"SYN_SENT\":0,…},\"flows\":1}`, every state present, zeros included; with `--sockets`, the listing as one JSON object a line").BoolVar(&o.json)
	c.flag(g, "transitions", 0, "FILE", "write every state change as one JSON object a line (`-` for stdout, before the report), see below; the file is created mode 0600, reopened on SIGHUP").StringVar(&o.transitions)
	c.flag(g, "info", 0, "", "with `--sockets`, print under each socket the facts of its connection, as `ss -i` does (see Connection facts); with `--json`, as fields of each object; live, `/sockets` shows them too").BoolVar(&o.track.Info)
	c.flag(g, "connections", 0, "FILE", "write one JSON object a line for every connection when it ends, with both endpoints' final states, its facts and its Community ID (`-` for stdout, before the report), see below; file mode adds the connections still open at the end; created mode 0600, reopened on SIGHUP").StringVar(&o.connections)
	value(c.flag(g, "connections.seed", 0, "SEED", "the Community ID's seed, 0 to 65535 (default 0, as Zeek, Suricata and Wireshark)"), "--connections.seed", seedValue{&o.connSeed})
	value(c.flag(g, "local", 0, "PREFIXES", "count and list only endpoints whose address is in these comma-separated prefixes; a bare address is one host"), "--local", prefixesValue{&o.track.Local})
	value(c.flag(g, "advance", 0, "DURATION", "file mode: report states this long after the last packet (e.g. `61s`)"), "--advance", durationValue{&o.advance})
	value(c.flag(g, "at", 0, "TIME", "file mode: report states as of this moment of the capture: a time (`2026-11-21T08:52:00.5Z`, RFC 3339, or a Unix time such as `1795251120.5`) or an offset from the first packet (`1.5s`, `+2m`); reading stops at the first packet after it, and a moment past the capture's end is reached as `--advance` does; see States over time"), "--at", atValue{&o.at})
	value(c.flag(g, "every", 0, "DURATION", "file mode: instead of the report, print the counts every DURATION of capture time from the first packet, and at the end: CSV (`time,ESTABLISHED,…,CLOSING`) or, with `--json`, one `--json` object a line; see States over time"), "--every", durationValue{&o.every})
	c.flag(g, "plot", 0, "FILE", "file mode: also draw the per-state counts over the capture's time as an SVG picture (sampled at `--every`, else every millisecond, the interval doubled as often as it takes to keep at most 400 samples); the file is created mode 0600").StringVar(&o.plot)
	c.flag(g, "max-flows", 0, "N", fmt.Sprintf("bound of the flow table (default %d, at most %d: flows are numbered in 32 bits); see Memory", tracker.DefaultMaxFlows, math.MaxInt32)).Default(strconv.Itoa(tracker.DefaultMaxFlows)).IntVar(&o.track.MaxFlows)
	o.track.TimeWait, o.track.HandshakeTimeout = tracker.DefaultTimeWait, tracker.DefaultHandshakeTimeout
	value(c.flag(g, "time-wait", 0, "DURATION", "time in TIME_WAIT, 2×MSL (default 60s, as Linux)"), "--time-wait", durationValue{&o.track.TimeWait})
	value(c.flag(g, "handshake-timeout", 0, "DURATION", "a SYN_SENT or SYN_RECV endpoint, or an unconfirmed one, that has sent nothing for this long is closed (default 75s)"), "--handshake-timeout", durationValue{&o.track.HandshakeTimeout})
	o.track.FinTimeout, o.track.RetryTimeout = tracker.DefaultFinTimeout, tracker.DefaultRetryTimeout
	value(c.flag(g, "fin-timeout", 0, "DURATION", "a FIN_WAIT2 endpoint that has sent nothing for this long is closed, as Linux frees an orphaned FIN_WAIT2 socket after `tcp_fin_timeout` (default 60s)"), "--fin-timeout", durationValue{&o.track.FinTimeout})
	value(c.flag(g, "retry-timeout", 0, "DURATION", "a FIN_WAIT1, CLOSING or LAST_ACK endpoint that has sent nothing for this long is closed: the kernel gave up retransmitting its FIN (default 120s, Linux's longest wait between two retransmissions)"), "--retry-timeout", durationValue{&o.track.RetryTimeout})
	o.track.ListenerTimeout = tracker.DefaultListenerTimeout
	value(c.flag(g, "listener-timeout", 0, "DURATION", "an inferred listener that has answered no SYN for this long is forgotten (default 1h): a passive observer never sees a listening socket close"), "--listener-timeout", durationValue{&o.track.ListenerTimeout})
	c.flag(g, "verify-checksums", 0, "", "verify TCP checksums and skip bad segments (off by default: captures taken on the sending host see checksums before the NIC fills them in)").BoolVar(&o.checksums)
	value(c.flag(g, "decode.vxlan-ports", 0, "PORTS", fmt.Sprintf("comma-separated UDP destination ports whose datagrams are decoded as VXLAN, instead of %d; `''` for none. Linux's vxlan device sends to 8472 unless told `dstport %d`", decode.DefaultVXLANPort, decode.DefaultVXLANPort)), "--decode.vxlan-ports", tunnelPortsValue{&o.vxlanPorts})
	value(c.flag(g, "decode.geneve-ports", 0, "PORTS", fmt.Sprintf("comma-separated UDP destination ports whose datagrams are decoded as Geneve, instead of %d; `''` for none", decode.DefaultGenevePort)), "--decode.geneve-ports", tunnelPortsValue{&o.genevePorts})
	value(c.flag(g, "log.level", 0, "LEVEL", "diagnostics on stderr: debug, info, warn, error (default info)").Default("info"), "--log.level", levelValue{&o.logLevel})
	c.flag(g, "version", 0, "", "version and build information").BoolVar(&o.showVersion)
	c.flag(g, "help", 'h', "", "this manual").BoolVar(&o.showHelp)

	o.live.cfg.Snaplen = decode.DefaultSnaplen
	c.flag(l, "snapshot-length", 's', "SNAPLEN", fmt.Sprintf("bytes kept per frame (default %d: every header, no payload; payload lengths come from the IP header); 0 means %d, below %d is refused", decode.DefaultSnaplen, maxSnaplen, minSnaplen)).IntVar(&o.live.cfg.Snaplen)
	c.flag(l, "no-promiscuous-mode", 'p', "", "do not put the interface into promiscuous mode").BoolVar(&o.live.cfg.NoPromisc)
	c.flag(l, "immediate", 0, "", "deliver each packet at once instead of in kernel batches").BoolVar(&o.live.cfg.Immediate)
	c.flag(l, "buffer-size", 'B', "KiB", "kernel capture buffer (default libpcap's 2 MiB); raise it if `tcptrack_capture_drops_total{where=\"kernel\"}` grows").IntVar(&o.live.cfg.BufferSize)
	value(c.flag(l, "capture-engine", 0, "ENGINE", "`pcap` (default): libpcap, any interface including `any`; `afpacket`: reads the kernel's TPACKET_V3 ring from Go, without libpcap's cgo call and copy per frame (half the CPU per packet, see Benchmarks); named Ethernet, loopback and raw-IP interfaces only. Filters, snaplen, drop counters and VLAN tags are the same with both"), "--capture-engine", engineValue{&o.live.cfg.Engine})
	c.flag(l, "wait-for-interface", 0, "", "if the interface is not there at start, wait for it (as when it goes away later) instead of failing").BoolVar(&o.live.waitIface)
	c.flag(l, "user", 0, "USER", "drop root after opening the capture and binding the web listener, keeping only CAP_NET_RAW; every file read or written later must be open to USER, which is checked at start").StringVar(&o.live.user)
	c.flag(l, "web.listen-address", 0, "ADDR", "where to serve metrics (default `:9717`, unassigned among exporters' default ports); repeat for several; `''` serves nothing").StringsVar(&o.web.ListenAddresses)
	c.flag(l, "web.telemetry-path", 0, "PATH", "metrics path (default `/metrics`)").Default(metrics.DefaultTelemetryPath).StringVar(&o.web.TelemetryPath)
	c.flag(l, "web.config.file", 0, "FILE", "exporter-toolkit web configuration: TLS and basic auth, as for every Prometheus exporter").StringVar(&o.web.ConfigFile)
	o.web.ReadTimeout, o.web.WriteTimeout, o.web.IdleTimeout = metrics.DefaultReadTimeout, metrics.DefaultWriteTimeout, metrics.DefaultIdleTimeout
	value(c.flag(l, "web.read-timeout", 0, "DURATION", "time to read a request and its TLS handshake; a connection that sends nothing is closed after it (default 10s)"), "--web.read-timeout", durationValue{&o.web.ReadTimeout})
	value(c.flag(l, "web.write-timeout", 0, "DURATION", "time to write a response (default 1m)"), "--web.write-timeout", durationValue{&o.web.WriteTimeout})
	value(c.flag(l, "web.idle-timeout", 0, "DURATION", "time a keep-alive connection may wait for its next request (default 2m, longer than the usual scrape intervals)"), "--web.idle-timeout", durationValue{&o.web.IdleTimeout})
	c.flag(l, "web.max-connections", 0, "N", "connections served at once on each address (default 512, as Prometheus' own); more wait in the kernel's accept queue, costing no memory").Default(strconv.Itoa(metrics.DefaultMaxConnections)).IntVar(&o.web.MaxConnections)

	addTopFlags(c, o)

	// Breakdowns by port and address, and the per-port and per-listener
	// metrics, bounded.
	value(c.flag(g, "by", 0, "BREAKDOWN", "instead of the counts, print them by `port` (the server port of each connection, both endpoints counted: `PORT STATE count`), `local` or `peer` address (`ADDR STATE count`); `peer/24` groups IPv4 peers by /24, `peer/48` IPv6 peers by /48, `peer/24/48` both (also for `local`); with `-a`, listeners as `LISTEN`; with `--json`, one object: `{\"time\":…,\"by\":\"port\",\"groups\":[{\"port\":80,\"states\":{…}},…]}`"), "--by", byValue{&o.by})
	o.breakdown.TopPorts, o.breakdown.TopListeners = metrics.DefaultTopPorts, metrics.DefaultTopListeners
	value(c.flag(l, "metrics.ports", 0, "PORTS", "comma-separated server ports always exported in `tcptrack_port_connection_states`, besides the top ones"), "--metrics.ports", portsValue{&o.breakdown.Ports})
	c.flag(l, "metrics.top-ports", 0, "K", fmt.Sprintf("also export the K server ports with the most endpoints (default %d); the rest are `port=\"other\"`; see Metrics for the bound and the hysteresis", metrics.DefaultTopPorts)).IntVar(&o.breakdown.TopPorts)
	c.flag(l, "metrics.no-conn-facts", 0, "", "keep no facts per connection: no `tcptrack_handshake_rtt_seconds` and no oldest-endpoint ages, and 80 bytes a flow of `--max-flows` less (see Memory)").BoolVar(&o.noConnFacts)
	c.flag(l, "metrics.top-listeners", 0, "K", fmt.Sprintf("export the health of the K inferred listeners with the most recent connection attempts (default %d); the rest are `listener=\"other\"`", metrics.DefaultTopListeners)).IntVar(&o.breakdown.TopListeners)

	c.app.Arg("filter", "BPF expression").StringsVar(&o.filterArgs)
	return c
}

// Bounds of -s. Below minSnaplen a TCP header with options does not fit
// behind Ethernet, a VLAN tag and IPv6 (14+4+40+60 would be 118; 96 keeps a
// header with the usual 12 or 20 bytes of options, as tcpdump's old IPv6
// default did).
const (
	minSnaplen = 96
	maxSnaplen = 262144
)

// errHelp ends parsing after --help or --version was printed.
var errHelp = errors.New("help printed")

// parseFlags parses args into options; --help and --version are printed on
// stdout here and reported as errHelp.
func parseFlags(args []string, stdout io.Writer) (*options, error) {
	o := &options{}
	args, o.top.on = takeTop(args)
	c := newCLI(o)
	if _, err := c.app.Parse(joinValues(c, args)); err != nil {
		return nil, c.explain(err)
	}
	switch {
	case o.showHelp:
		c.printHelp(stdout)
		return nil, errHelp
	case o.showVersion:
		fmt.Fprintln(stdout, versionText())
		return nil, errHelp
	}
	if err := c.check(o); err != nil {
		return nil, err
	}
	return o, nil
}

// joinValues joins a flag that takes a value with a following argument
// that kingpin would not take as one: "-" (-r -, --transitions -), which its
// lexer drops, and a negative number (--max-flows -1), which it takes for a
// short flag. The pair becomes --long=VALUE, so that "-" arrives whole and a
// negative value reaches its check and is refused there with a reason. A
// cluster of short flags ending in one that takes a value (-nr -) is split.
func joinValues(c *cli, args []string) []string {
	takesValue := func(f *flagSpec) bool { return f != nil && f.arg != "" }
	odd := func(v string) bool {
		return v == "-" || len(v) > 1 && v[0] == '-' && v[1] >= '0' && v[1] <= '9'
	}
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if i+1 >= len(args) || !odd(args[i+1]) {
			out = append(out, a)
			continue
		}
		switch {
		case strings.HasPrefix(a, "--") && !strings.Contains(a, "="):
			if f := c.byLong(a[2:]); takesValue(f) {
				out = append(out, a+"="+args[i+1])
				i++
				continue
			}
		case len(a) > 1 && a[0] == '-' && a[1] != '-':
			// Short flags before the last must be switches for the last
			// to be the one whose value follows.
			last := c.byShort(rune(a[len(a)-1]))
			if takesValue(last) && !c.attached(a[1:len(a)-1]) {
				if len(a) > 2 {
					out = append(out, a[:len(a)-1])
				}
				out = append(out, "--"+last.long+"="+args[i+1])
				i++
				continue
			}
		}
		out = append(out, a)
	}
	return out
}

// attached reports whether a cluster of short flags holds one that takes a
// value, which then takes the rest of the cluster as it.
func (c *cli) attached(cluster string) bool {
	for _, r := range cluster {
		if f := c.byShort(r); f == nil || f.arg != "" {
			return true
		}
	}
	return false
}

func (c *cli) byLong(name string) *flagSpec {
	for _, f := range c.specs {
		if f.long == name {
			return f
		}
	}
	return nil
}

func (c *cli) byShort(r rune) *flagSpec {
	for _, f := range c.specs {
		if f.short == r {
			return f
		}
	}
	return nil
}

// explain turns kingpin's errors into the command's wording.
func (c *cli) explain(err error) error {
	msg := err.Error()
	if strings.HasPrefix(msg, "unknown short flag '-") {
		return fmt.Errorf("%s (short flags combine as in tcpdump: -nr FILE)", msg)
	}
	return err
}

// check refuses values that make no sense and flags that do not apply to
// the mode.
func (c *cli) check(o *options) error {
	for _, a := range o.filterArgs {
		if a != "" { // an empty argument, as a DaemonSet passes for "no filter", is no filter
			o.filter = strings.TrimSpace(o.filter + " " + a)
		}
	}
	switch {
	case o.file == "" && o.iface == "":
		return errors.New("give a capture file with -r FILE or an interface with -i IFACE")
	case o.file != "" && o.iface != "":
		return errors.New("-r and -i exclude each other: read a file or capture live")
	}
	if o.file != "" {
		for _, f := range c.specs {
			if f.live && f.set {
				return fmt.Errorf("%s applies to live capture (-i) only", f.spelling(func(s string) string { return s }))
			}
		}
	} else {
		for _, name := range []string{"advance", "at", "every", "plot"} {
			if c.byLong(name).set {
				return fmt.Errorf("--%s applies to files (-r) only: live, the timers run on the clock", name)
			}
		}
	}
	switch {
	case o.track.MaxFlows < 1 || o.track.MaxFlows > math.MaxInt32:
		return fmt.Errorf("--max-flows %d: want 1 to %d", o.track.MaxFlows, math.MaxInt32)
	case o.track.TimeWait <= 0:
		return fmt.Errorf("--time-wait %v: want a positive duration, e.g. 60s", o.track.TimeWait)
	case o.track.HandshakeTimeout <= 0:
		return fmt.Errorf("--handshake-timeout %v: want a positive duration, e.g. 75s", o.track.HandshakeTimeout)
	case o.track.FinTimeout <= 0:
		return fmt.Errorf("--fin-timeout %v: want a positive duration, e.g. 60s", o.track.FinTimeout)
	case o.track.RetryTimeout <= 0:
		return fmt.Errorf("--retry-timeout %v: want a positive duration, e.g. 120s", o.track.RetryTimeout)
	case o.track.ListenerTimeout <= 0:
		return fmt.Errorf("--listener-timeout %v: want a positive duration, e.g. 1h", o.track.ListenerTimeout)
	case o.advance < 0:
		return fmt.Errorf("--advance %v: want a duration of 0 or more, e.g. 61s", o.advance)
	case o.live.cfg.Snaplen != 0 && (o.live.cfg.Snaplen < minSnaplen || o.live.cfg.Snaplen > maxSnaplen):
		return fmt.Errorf("-s %d: want %d to %d bytes (0 for %d): shorter frames lose their TCP header", o.live.cfg.Snaplen, minSnaplen, maxSnaplen, maxSnaplen)
	case o.live.cfg.BufferSize < 0 || o.live.cfg.BufferSize > math.MaxInt32/1024:
		return fmt.Errorf("-B %d: want a size in KiB, 0 for libpcap's default", o.live.cfg.BufferSize)
	case o.web.ReadTimeout <= 0, o.web.WriteTimeout <= 0, o.web.IdleTimeout <= 0:
		return errors.New("--web.read-timeout, --web.write-timeout and --web.idle-timeout: want positive durations, e.g. 10s")
	case o.web.MaxConnections < 1:
		return fmt.Errorf("--web.max-connections %d: want 1 or more", o.web.MaxConnections)
	case o.track.Info && !o.sockets && o.file != "":
		return errors.New("--info prints under the lines of --sockets: give --sockets too")
	case c.byLong("connections.seed").set && o.connections == "":
		return errors.New("--connections.seed applies to --connections")
	case o.at.set && c.byLong("advance").set:
		return errors.New("--at and --advance exclude each other: --at past the capture's end advances the clock to it")
	case c.byLong("every").set && o.every < time.Millisecond:
		return fmt.Errorf("--every %v: want 1ms or more: the tracker's timers count whole milliseconds", o.every)
	case o.every > 0 && (o.sockets || o.by.Kind != metrics.ByNone):
		return errors.New("--every prints the counts over time: --sockets and --by are for the one report")
	case o.plot == "-":
		return errors.New("--plot -: give a file name: stdout carries the report")
	case o.by.Kind != metrics.ByNone && o.sockets:
		return errors.New("--by and --sockets exclude each other: counts by port or address, or the listing")
	case o.breakdown.TopPorts < 0 || o.breakdown.TopPorts > maxTop:
		return fmt.Errorf("--metrics.top-ports %d: want 0 to %d", o.breakdown.TopPorts, maxTop)
	case o.breakdown.TopListeners < 0 || o.breakdown.TopListeners > maxTop:
		return fmt.Errorf("--metrics.top-listeners %d: want 0 to %d", o.breakdown.TopListeners, maxTop)
	}
	if err := c.checkTop(o); err != nil {
		return err
	}
	if o.live.cfg.Snaplen == 0 {
		o.live.cfg.Snaplen = maxSnaplen
	}
	switch addrs := o.web.ListenAddresses; {
	case len(addrs) == 1 && addrs[0] == "":
		o.noWeb = true
	case len(addrs) > 1 && contains(addrs, ""):
		return errors.New("--web.listen-address '': give it alone to serve nothing, or give addresses")
	}
	return nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// maxTop bounds --metrics.top-ports and --metrics.top-listeners: each
// takes 9 or 8 series.
const maxTop = 1000

// byValue is --by.
type byValue struct{ b *metrics.By }

func (v byValue) Set(s string) error {
	b, err := metrics.ParseBy(s)
	if err != nil {
		return err
	}
	*v.b = b
	return nil
}

func (v byValue) String() string { return v.b.String() }

// portsValue is --metrics.ports.
type portsValue struct{ p *[]uint16 }

func (v portsValue) Set(s string) error {
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.ParseUint(f, 10, 16)
		if err != nil {
			return fmt.Errorf("%s: want ports 0 to 65535, comma-separated", s)
		}
		*v.p = append(*v.p, uint16(n))
	}
	return nil
}

func (v portsValue) String() string { return fmt.Sprint(*v.p) }

// tunnelPortsValue is --decode.vxlan-ports and --decode.geneve-ports. Once
// given, the ports replace the default, even none of them: nil is what
// tells the decoder to use the default.
type tunnelPortsValue struct{ p *[]uint16 }

func (v tunnelPortsValue) Set(s string) error {
	if *v.p == nil {
		*v.p = []uint16{}
	}
	return portsValue(v).Set(s)
}

func (v tunnelPortsValue) String() string { return fmt.Sprint(*v.p) }

// seedValue is --connections.seed.
type seedValue struct{ s *uint16 }

func (v seedValue) Set(s string) error {
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return fmt.Errorf("%s: want 0 to 65535", s)
	}
	*v.s = uint16(n)
	return nil
}

func (v seedValue) String() string { return strconv.Itoa(int(*v.s)) }

// atValue is --at.
type atValue struct{ a *moment }

func (v atValue) Set(s string) error {
	m, err := parseMoment(s)
	if err != nil {
		return fmt.Errorf("%s: %w", s, err)
	}
	*v.a = m
	return nil
}

func (v atValue) String() string { return v.a.String() }

// noop is a switch that may be repeated and means nothing: -n, -nn.
type noop struct{}

func (noop) Set(string) error   { return nil }
func (noop) String() string     { return "" }
func (noop) IsBoolFlag() bool   { return true }
func (noop) IsCumulative() bool { return true }

// durationValue is a duration flag whose error says what is wanted.
type durationValue struct{ d *time.Duration }

func (v durationValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			return fmt.Errorf("%s: a duration needs a unit, e.g. %ss", s, s)
		}
		return fmt.Errorf("%s: want a duration such as 61s, 1m30s or 500ms", s)
	}
	*v.d = d
	return nil
}

func (v durationValue) String() string { return v.d.String() }

// prefixesValue is --local.
type prefixesValue struct{ p *[]netip.Prefix }

func (v prefixesValue) Set(s string) error {
	p, err := parsePrefixes(s)
	if err != nil {
		return fmt.Errorf("%s: %w", s, err)
	}
	*v.p = append(*v.p, p...)
	return nil
}

func (v prefixesValue) String() string { return fmt.Sprint(*v.p) }

// levelValue is --log.level.
type levelValue struct{ l *slog.Level }

func (v levelValue) Set(s string) error {
	if err := v.l.UnmarshalText([]byte(s)); err != nil {
		return fmt.Errorf("%s: want debug, info, warn or error", s)
	}
	return nil
}

func (v levelValue) String() string { return v.l.String() }

// engineValue is --capture-engine.
type engineValue struct{ e *decode.Engine }

func (v engineValue) Set(s string) error {
	e, err := decode.ParseEngine(s)
	if err != nil {
		return err
	}
	*v.e = e
	return nil
}

func (v engineValue) String() string { return fmt.Sprint(*v.e) }

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
