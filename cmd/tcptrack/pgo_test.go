package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"testing"

	"github.com/tcptrack/tcptrack/internal/gen"
)

// pgoTraces are the workload default.pgo is taken from: the three kinds of
// trace bench/ measures, each read runs times by tcptrack -r. The mix is
// the realistic case and takes most of the profile (58%). The flood (25%,
// every packet a new flow) runs more often than its size asks for: at 17%
// the calls that open a flow fell in and out of PGO's hot set from one
// profile to the next, and the flood's gain with them (9 to 13% fewer
// instructions). The long flows (14%) keep steady bulk data in it.
var pgoTraces = []struct {
	name string
	cfg  gen.Config
	runs int
}{
	{"mix", gen.Config{Mode: gen.Mix, Seed: 1, Packets: 3_000_000}, 12},
	{"synflood", gen.Config{Mode: gen.SYNFlood, Seed: 1, Sources: 500_000, RealConns: 500}, 14},
	{"longflows", gen.Config{Mode: gen.LongFlows, Seed: 1, Flows: 2000, Packets: 2_000_000}, 5},
}

// pgoTraceDirEnv, when set, makes BenchmarkPGO write the traces into that
// directory and do nothing else. BenchmarkPGO runs the test binary so in a
// child process, which keeps the generator out of its CPU profile.
const pgoTraceDirEnv = "TCPTRACK_PGO_TRACES"

// BenchmarkPGO is the workload of the profile-guided build: make pgo runs
// it once with -cpuprofile into default.pgo, which go build then uses. It
// goes through run, as the binary does, so that the profile holds the
// binary's own call paths (runFile, reader.run, Tracker.TrackBatch), with
// the reader and the tracker on their own goroutines.
func BenchmarkPGO(b *testing.B) {
	if dir := os.Getenv(pgoTraceDirEnv); dir != "" {
		writePGOTraces(b, dir)
		return
	}
	if testing.Short() {
		b.Skip("generates 640 MB of traces; skipped with -short")
	}
	dir := b.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^BenchmarkPGO$", "-test.benchtime=1x")
	child.Env = append(os.Environ(), pgoTraceDirEnv+"="+dir)
	if out, err := child.CombinedOutput(); err != nil {
		b.Fatalf("generating the traces: %v\n%s", err, out)
	}
	for b.Loop() {
		for _, tr := range pgoTraces {
			path := filepath.Join(dir, tr.name+".pcap")
			// The label (go tool pprof -tags) shows each trace's share.
			pprof.Do(b.Context(), pprof.Labels("trace", tr.name), func(context.Context) {
				for range tr.runs {
					if code := run([]string{"-r", path}, io.Discard, io.Discard); code != exitOK {
						b.Fatalf("tcptrack -r %s: exit status %d", path, code)
					}
				}
			})
		}
	}
}

func writePGOTraces(b *testing.B, dir string) {
	for _, tr := range pgoTraces {
		f, err := os.Create(filepath.Join(dir, tr.name+".pcap"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := gen.Generate(f, tr.cfg); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
