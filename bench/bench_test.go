package bench

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/decode"
	"github.com/tcptrack/tcptrack/internal/gen"
	"github.com/tcptrack/tcptrack/tracker"
)

// traces are the benchmark's inputs. run.sh writes full-size ones (mix.pcap,
// synflood.pcap, longflows.pcap) into the cache; these configurations are the
// stand-ins of the same kinds used when the cache has none.
var traces = []struct {
	name string
	cfg  gen.Config
}{
	{"mix", gen.Config{Mode: gen.Mix, Seed: 1, Packets: 1_000_000}},
	{"synflood", gen.Config{Mode: gen.SYNFlood, Seed: 1, Sources: 1_000_000, RealConns: 1000}},
	{"longflows", gen.Config{Mode: gen.LongFlows, Seed: 1, Flows: 2000, Packets: 1_000_000}},
}

var (
	tmpOnce sync.Once
	tmpDir  string
	tmpErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if tmpDir != "" {
		os.RemoveAll(tmpDir)
	}
	os.Exit(code)
}

// tracePath returns the cached trace name, or generates the stand-in once
// per process.
func tracePath(tb testing.TB, name string, cfg gen.Config) string {
	tb.Helper()
	if dir := os.Getenv("TCPTRACK_BENCH_CACHE"); dir != "" {
		p := filepath.Join(dir, name+".pcap")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	tmpOnce.Do(func() { tmpDir, tmpErr = os.MkdirTemp("", "tcptrack-bench") })
	if tmpErr != nil {
		tb.Fatal(tmpErr)
	}
	p := filepath.Join(tmpDir, name+".pcap")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	f, err := os.Create(p)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := gen.Generate(f, cfg); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return p
}

// measure runs pass, which handles one whole trace and returns its packet
// count, and reports per-packet figures beside the per-pass ones. cpu-ns/pkt
// is the process's CPU time (user and system, all threads, so the garbage
// collector's too) per packet: unlike wall time it holds up on a machine
// that other jobs keep busy.
func measure(b *testing.B, pass func() int) {
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := cpuTime(b)
	pkts := 0
	for b.Loop() {
		pkts += pass()
	}
	cpu := cpuTime(b) - cpu0
	runtime.ReadMemStats(&after)
	el := b.Elapsed()
	b.ReportMetric(float64(pkts)/el.Seconds(), "pkts/s")
	b.ReportMetric(float64(el.Nanoseconds())/float64(pkts), "ns/pkt")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(pkts), "cpu-ns/pkt")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(pkts), "allocs/pkt")
}

func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// readAll calls fn for every frame of the file at path.
func readAll(tb testing.TB, path string, fn func(*decode.Frame)) int {
	src, err := decode.OpenFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	var f decode.Frame
	n := 0
	for {
		err := src.Next(&f)
		if err == io.EOF {
			return n
		}
		if err != nil {
			tb.Fatal(err)
		}
		n++
		fn(&f)
	}
}

// preloadLimit bounds what the decode and track benchmarks hold in memory.
const preloadLimit = 2_000_000

// BenchmarkRead: the file reader alone, OpenFile and Next.
func BenchmarkRead(b *testing.B) {
	for _, tr := range traces {
		b.Run(tr.name, func(b *testing.B) {
			path := tracePath(b, tr.name, tr.cfg)
			measure(b, func() int { return readAll(b, path, func(*decode.Frame) {}) })
		})
	}
}

// BenchmarkDecode: Decoder.Decode over frames already in memory.
func BenchmarkDecode(b *testing.B) {
	for _, tr := range traces {
		b.Run(tr.name, func(b *testing.B) {
			path := tracePath(b, tr.name, tr.cfg)
			var frames []decode.Frame
			readAll(b, path, func(f *decode.Frame) {
				if len(frames) < preloadLimit {
					g := *f
					g.Data = bytes.Clone(f.Data)
					frames = append(frames, g)
				}
			})
			d := decode.NewDecoder()
			var seg tracker.Segment
			measure(b, func() int {
				for i := range frames {
					d.Decode(&frames[i], &seg)
				}
				return len(frames)
			})
		})
	}
}

// BenchmarkTrack: a fresh Tracker fed segments already decoded, as in one run
// of tcptrack -r; table growth is part of the cost.
func BenchmarkTrack(b *testing.B) {
	for _, tr := range traces {
		b.Run(tr.name, func(b *testing.B) {
			path := tracePath(b, tr.name, tr.cfg)
			var segs []tracker.Segment
			d := decode.NewDecoder()
			readAll(b, path, func(f *decode.Frame) {
				var seg tracker.Segment
				if len(segs) < preloadLimit && d.Decode(f, &seg) == nil {
					segs = append(segs, seg)
				}
			})
			measure(b, func() int {
				t := tracker.New(tracker.Config{})
				// In batches, as tcptrack -r hands them over.
				for rest := segs; len(rest) > 0; rest = rest[min(len(rest), 1024):] {
					t.TrackBatch(rest[:min(len(rest), 1024)])
				}
				return len(segs)
			})
		})
	}
}

// BenchmarkEndToEnd: file to counts, what tcptrack -r does before printing.
func BenchmarkEndToEnd(b *testing.B) {
	for _, tr := range traces {
		b.Run(tr.name, func(b *testing.B) {
			path := tracePath(b, tr.name, tr.cfg)
			measure(b, func() int {
				n, _, _ := track(b, path, tracker.Config{})
				return n
			})
		})
	}
}

// track runs a file through the decoder and a tracker, returning the
// packet count, the tracker and the decoder's counts.
func track(tb testing.TB, path string, cfg tracker.Config) (int, *tracker.Tracker, decode.Stats) {
	t := tracker.New(cfg)
	d := decode.NewDecoder()
	var seg tracker.Segment
	n := readAll(tb, path, func(f *decode.Frame) {
		if d.Decode(f, &seg) == nil {
			t.Track(&seg)
		}
	})
	return n, t, d.Stats()
}

// TestTrackerMatchesGenerator feeds generated traffic to the decoder and the
// tracker and compares the per-state counts with the generator's
// expectations (hand-written from RFC 9293 into each connection script).
func TestTrackerMatchesGenerator(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  gen.Config
		tcfg tracker.Config
	}{
		{"mix", gen.Config{Mode: gen.Mix, Seed: 7, Packets: 200_000}, tracker.Config{}},
		// 10 s of capture: SYN retransmissions, lost handshake ACKs,
		// long-lived sessions.
		{"mix slow", gen.Config{Mode: gen.Mix, Seed: 8, Packets: 60_000, ConnRate: 300}, tracker.Config{}},
		// Timers shorter than the file: TIME_WAIT and half-open
		// handshakes run out on the capture clock.
		{"mix short timers", gen.Config{Mode: gen.Mix, Seed: 9, Packets: 60_000, ConnRate: 300},
			tracker.Config{TimeWait: 2 * time.Second, HandshakeTimeout: 3 * time.Second}},
		// 84 s of capture: TIME_WAIT runs out under the default 60 s.
		{"mix default timers", gen.Config{Mode: gen.Mix, Seed: 5, Packets: 400_000, ConnRate: 120}, tracker.Config{}},
		{"mix snaplen 98", gen.Config{Mode: gen.Mix, Seed: 10, Packets: 50_000, Snaplen: 98}, tracker.Config{}},
		{"longflows", gen.Config{Mode: gen.LongFlows, Seed: 11, Flows: 100, Packets: 100_000}, tracker.Config{}},
		{"synflood", gen.Config{Mode: gen.SYNFlood, Seed: 12, Sources: 30_000, RealConns: 100}, tracker.Config{}},
		{"synflood answered", gen.Config{Mode: gen.SYNFlood, Seed: 13, Sources: 10_000,
			AnswerPct: 60, RealConns: 20}, tracker.Config{}},
		{"synflood sources repeat", gen.Config{Mode: gen.SYNFlood, Seed: 14, Sources: 10_000,
			Packets: 25_000, RealConns: 20}, tracker.Config{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "trace.pcap")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			res, err := gen.Generate(f, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			n, tk, ds := track(t, path, tc.tcfg)
			if n != res.Packets || ds.Segments != uint64(n) {
				t.Errorf("read %d frames, decoded %d segments, generated %d (skipped %v)", n, ds.Segments, res.Packets, ds.Skipped)
			}
			st := tk.Stats()
			want, wantUnconfirmed := res.Expected(tc.tcfg), res.Unconfirmed(tc.tcfg)
			// The tracker keeps time in whole milliseconds (tracker/clock.go):
			// an endpoint whose timer ends within 1 ms of the last frame may
			// go either way.
			margin := res.Margin(tc.tcfg, time.Millisecond)
			for s := tracker.State(0); s < tracker.NumStates; s++ {
				if d := st.States[s] - want[s]; d < -margin[s] || d > margin[s] {
					t.Errorf("%-12v tracker %7d, generator expects %7d ± %d", s, st.States[s], want[s], margin[s])
				}
				if d := st.Unconfirmed[s] - wantUnconfirmed[s]; d < -margin[s] || d > margin[s] {
					t.Errorf("%-12v tracker %7d unconfirmed, generator expects %7d ± %d", s, st.Unconfirmed[s], wantUnconfirmed[s], margin[s])
				}
			}
			if st.Listeners != res.Listeners {
				t.Errorf("%d listeners, generator saw %d answer SYNs", st.Listeners, res.Listeners)
			}
			if len(res.Real) > 0 {
				established := map[tracker.Flow]int{}
				tk.Sockets(func(s tracker.Socket) {
					if s.State == tracker.Established {
						established[tracker.Flow{VLAN: s.VLAN, Src: s.Local, Dst: s.Peer}]++
						established[tracker.Flow{VLAN: s.VLAN, Src: s.Peer, Dst: s.Local}]++
					}
				})
				for _, fl := range res.Real {
					if established[fl] != 2 {
						t.Errorf("real connection %v: %d of 2 endpoints ESTABLISHED", fl, established[fl]/2)
					}
				}
			}
		})
	}
}

// TestTracesDecodeCleanly: every frame the generator writes is a TCP segment
// the decoder accepts, in every mode: a benchmark that skipped frames would
// measure less work than it claims.
func TestTracesDecodeCleanly(t *testing.T) {
	for _, tr := range traces {
		t.Run(tr.name, func(t *testing.T) {
			cfg := tr.cfg
			cfg.Packets = min(cfg.Packets, 50_000)
			cfg.Sources = 20_000
			var buf bytes.Buffer
			res, err := gen.Generate(&buf, cfg)
			if err != nil {
				t.Fatal(err)
			}
			src, err := decode.NewReader(tr.name, io.NopCloser(&buf))
			if err != nil {
				t.Fatal(err)
			}
			d := decode.NewDecoder()
			var f decode.Frame
			var seg tracker.Segment
			for {
				err := src.Next(&f)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := d.Decode(&f, &seg); err != nil {
					t.Fatalf("frame %d: %v", f.Number, err)
				}
			}
			if got := d.Stats().Segments; got != uint64(res.Packets) {
				t.Errorf("%d segments, %d packets", got, res.Packets)
			}
		})
	}
}

// TestSteadyStateAllocs: once the flow table is full and evicting, reading,
// decoding and tracking a packet allocate nothing, counted exactly over
// tens of thousands of packets (testing.AllocsPerRun would round an average
// below one down to zero). The flood is the case that matters: a table that
// allocated while a flood churns through it would hand the attacker the
// garbage collector.
func TestSteadyStateAllocs(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  gen.Config
	}{
		{"synflood", gen.Config{Mode: gen.SYNFlood, Seed: 21, Sources: 60_000, RealConns: 100}},
		// Not yet longflows: evicted transfers picked up again allocate
		// (Tracker.prove); nor the mix, whose new listeners grow a map.
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			res, err := gen.Generate(&buf, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			src, err := decode.NewReader(tc.name, io.NopCloser(&buf))
			if err != nil {
				t.Fatal(err)
			}
			// A table smaller than the flows in the trace, so that it
			// fills early and then evicts.
			tk := tracker.New(tracker.Config{MaxFlows: res.Conns / 4})
			d := decode.NewDecoder()
			var f decode.Frame
			var seg tracker.Segment
			step := func() bool {
				if err := src.Next(&f); err != nil {
					return false
				}
				if d.Decode(&f, &seg) == nil {
					tk.Track(&seg)
				}
				return true
			}
			warm := res.Packets / 2
			for range warm {
				step()
			}
			if st := tk.Stats(); st.Flows != res.Conns/4 {
				t.Fatalf("table holds %d flows after warming, want it full at %d", st.Flows, res.Conns/4)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			n := 0
			for step() {
				n++
			}
			runtime.ReadMemStats(&after)
			if n < res.Packets/3 {
				t.Fatalf("measured only %d packets", n)
			}
			if a := after.Mallocs - before.Mallocs; a != 0 {
				t.Errorf("%d allocations over %d packets in steady state", a, n)
			}
		})
	}
}
