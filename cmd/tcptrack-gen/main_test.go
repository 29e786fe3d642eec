package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tcptrack/tcptrack/internal/gen"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		args    []string
		summary string // in stderr
	}{
		{"mix", []string{"-mode", "mix", "-packets", "2000", "-seed", "3"}, "expected ESTABLISHED "},
		{"synflood", []string{"-mode", "synflood", "-sources", "500", "-real", "5"}, "expected unconfirmed SYN_SENT 500\n"},
		{"longflows", []string{"-mode", "longflows", "-flows", "4", "-packets", "3000"}, " 4 connections,"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, tc.name+".pcap")
			var stdout, stderr bytes.Buffer
			if err := run(append(tc.args, "-o", out), &stdout, &stderr); err != nil {
				t.Fatalf("run: %v (stderr %q)", err, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.summary) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tc.summary)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			// The file is exactly what the library writes for the same config.
			var want bytes.Buffer
			cfg := gen.Config{Seed: 1, Snaplen: 128, ConnRate: 10000, Sources: 1000000, FloodRate: 1000000, Flows: 2000}
			fs := map[string]*int{"-packets": &cfg.Packets, "-sources": &cfg.Sources, "-real": &cfg.RealConns, "-flows": &cfg.Flows}
			for i := 0; i+1 < len(tc.args); i += 2 {
				switch a, v := tc.args[i], tc.args[i+1]; a {
				case "-mode":
					cfg.Mode, _ = gen.ParseMode(v)
				case "-seed":
					cfg.Seed = uint64(atoi(t, v))
				default:
					*fs[a] = atoi(t, v)
				}
			}
			if _, err := gen.Generate(&want, cfg); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, want.Bytes()) {
				t.Errorf("file differs from gen.Generate(%+v)", cfg)
			}
		})
	}
}

func atoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRunErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want error
	}{
		{[]string{"-mode", "flood"}, gen.ErrConfig},
		{[]string{"-mode", "synflood", "-answer-pct", "120", "-o", os.DevNull}, gen.ErrConfig},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(tc.args, &stdout, &stderr); !errors.Is(err, tc.want) {
			t.Errorf("run(%q) = %v, want %v", tc.args, err, tc.want)
		}
	}
	var stdout, stderr bytes.Buffer
	if err := run([]string{"extra"}, &stdout, &stderr); err == nil {
		t.Error("run accepted a stray argument")
	}
}
