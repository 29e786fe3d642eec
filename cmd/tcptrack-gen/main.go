// Command tcptrack-gen writes synthetic TCP traffic as a pcap file, for
// benchmarks and tests; see package internal/gen.
//
//	tcptrack-gen -mode mix -packets 10000000 -seed 1 -o mix.pcap
//	tcptrack-gen -mode synflood -sources 1000000 -real 1000 -o flood.pcap
//	tcptrack-gen -mode longflows -flows 2000 -packets 10000000 -o long.pcap
//
// It prints a summary, and for the mix the endpoint counts per state that a
// tracker following tracker/RULES.md must report, to stderr.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tcptrack/tcptrack/internal/gen"
	"github.com/tcptrack/tcptrack/tracker"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tcptrack-gen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tcptrack-gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		mode      = fs.String("mode", "mix", "traffic: mix, synflood or longflows")
		out       = fs.String("o", "-", "output file; - is stdout")
		cfg       gen.Config
		quiet     = fs.Bool("q", false, "print no summary")
		timeWait  = fs.Duration("time-wait", 60*time.Second, "TIME_WAIT the expected counts assume")
		handshake = fs.Duration("handshake-timeout", 75*time.Second, "handshake timeout the expected counts assume")
	)
	fs.Uint64Var(&cfg.Seed, "seed", 1, "random seed: the same seed writes the same bytes")
	fs.IntVar(&cfg.Packets, "packets", 0, "packets to write (default 1000000; synflood: one SYN per source)")
	fs.IntVar(&cfg.Snaplen, "snaplen", 128, "bytes captured per frame")
	fs.Float64Var(&cfg.ConnRate, "conn-rate", 10000, "mix: new connections per second of capture time")
	fs.IntVar(&cfg.Sources, "sources", 1000000, "synflood: distinct spoofed sources")
	fs.Float64Var(&cfg.FloodRate, "flood-rate", 1000000, "synflood: SYNs per second")
	fs.IntVar(&cfg.AnswerPct, "answer-pct", 0, "synflood: percentage of SYNs the server answers")
	fs.IntVar(&cfg.RealConns, "real", 0, "synflood: real connections alive throughout")
	fs.IntVar(&cfg.Flows, "flows", 2000, "longflows: number of transfers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	m, err := gen.ParseMode(*mode)
	if err != nil {
		return err
	}
	cfg.Mode = m

	w := stdout
	var f *os.File
	if *out != "-" {
		if f, err = os.Create(*out); err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	start := time.Now()
	res, err := gen.Generate(w, cfg)
	if err != nil {
		return err
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return err
		}
	}
	if *quiet {
		return nil
	}
	bw := bufio.NewWriter(stderr)
	fmt.Fprintf(bw, "%s: %d packets, %d wire bytes, %d connections, %d listeners, %v of capture, written in %v\n",
		*out, res.Packets, res.WireBytes, res.Conns, res.Listeners, res.End.Sub(res.Start).Round(time.Millisecond),
		time.Since(start).Round(time.Millisecond))
	timers := tracker.Config{TimeWait: *timeWait, HandshakeTimeout: *handshake}
	exp, unconfirmed := res.Expected(timers), res.Unconfirmed(timers)
	for s := tracker.State(0); s < tracker.NumStates; s++ {
		if exp[s] != 0 {
			fmt.Fprintf(bw, "expected %s %d\n", s, exp[s])
		}
		if unconfirmed[s] != 0 {
			fmt.Fprintf(bw, "expected unconfirmed %s %d\n", s, unconfirmed[s])
		}
	}
	return bw.Flush()
}
