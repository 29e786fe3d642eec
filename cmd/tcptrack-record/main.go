// Command tcptrack-record records the kernel ground truth in pcaps/: for
// every scenario of package netlab it builds network namespaces, drives real
// sockets into the scenario's TCP states while tcpdump captures, and writes
// NAME.pcap beside NAME.ss, the `ss -tan` output of every namespace at the
// moment the capture stopped, and NAME.ssi, `ss -tanio` at the same moment.
//
//	go run ./cmd/tcptrack-record -o pcaps              # every scenario
//	go run ./cmd/tcptrack-record -o pcaps last-ack rst # some
//	go run ./cmd/tcptrack-record -list
//
// It needs root, ip (iproute2), nft (nftables), ss and tcpdump.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tcptrack/tcptrack/internal/netlab"
)

func main() {
	out := flag.String("o", "pcaps", "directory to write NAME.pcap, NAME.ss and NAME.ssi into")
	list := flag.Bool("list", false, "list the scenarios and exit")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: %s [-o DIR] [-list] [SCENARIO...]\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if *list {
		for _, sc := range netlab.Scenarios() {
			fmt.Printf("%-16s %s\n", sc.Name, sc.Doc)
		}
		return
	}
	if err := run(*out, flag.Args()); err != nil {
		slog.Error("recording failed", "err", err)
		os.Exit(1)
	}
}

func run(dir string, names []string) error {
	if os.Geteuid() != 0 {
		return netlab.ErrNotRoot
	}
	var scs []netlab.Scenario
	if len(names) == 0 {
		scs = netlab.Scenarios()
	}
	for _, name := range names {
		sc, err := netlab.Lookup(name)
		if err != nil {
			return err
		}
		scs = append(scs, sc)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	// SIGINT cancels the lab's context, so the deferred clean-up still
	// deletes the namespaces.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var failed []error
	for _, sc := range scs {
		start := time.Now()
		err := netlab.Record(ctx, sc, dir)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			slog.Error("scenario failed", "scenario", sc.Name, "err", err)
			failed = append(failed, err)
			continue
		}
		slog.Info("recorded", "scenario", sc.Name, "took", time.Since(start).Round(time.Millisecond))
	}
	return errors.Join(failed...)
}
