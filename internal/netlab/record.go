package netlab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tcptrack/tcptrack/tracker"
)

// Record plays sc in a fresh lab while tcpdump captures in the server's
// namespace, then writes dir/NAME.pcap, dir/NAME.ss, the `ss -tan`
// snapshot of every namespace taken when the capture stopped, and
// dir/NAME.ssi, `ss -tanio` taken at the same moment (see SnapshotInfo);
// for a scenario with two moments, also dir/NAME.at1.ss, taken between its
// acts while the capture ran (Lab.Glance).
//
// The stop is ordered so that the two agree exactly: Freeze first (no frame
// leaves any of the lab's interfaces from then on, and a frozen frame never
// reaches a capture point), a pause for what was already in flight to
// arrive, ss, another pause for tcpdump to drain its ring, then tcpdump is
// stopped. Nothing can be captured after ss, and nothing captured before it
// can still be unprocessed by the kernel.
//
// The snapshot is then checked against sc.Expect; on a difference the files
// are still written, for inspection, and an error wrapping ErrScenario is
// returned.
func Record(ctx context.Context, sc Scenario, dir string) (err error) {
	dir, err = filepath.Abs(dir)
	if err != nil {
		return err
	}
	l, err := sc.NewLab(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := l.Close(); err == nil {
			err = cerr
		}
	}()
	pcapPath := filepath.Join(dir, sc.Name+".pcap")
	var (
		capture *Capture
		first   []byte
		midway  func() error
	)
	if sc.TwoMoments() {
		midway = func() (err error) {
			first, err = l.Glance()
			return err
		}
	}
	err = sc.PlayActs(l, func() (err error) {
		capture, err = l.Server.StartCapture(sc.Iface, sc.LinkType, pcapPath)
		return err
	}, midway)
	if err != nil {
		return err
	}
	ss, ssi, err := l.SnapshotInfo()
	if err != nil {
		return err
	}
	if err := sleep(ctx, settle); err != nil {
		return err
	}
	if _, err := capture.Stop(); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, sc.Name+".ss"), ss, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, sc.Name+".ssi"), ssi, 0o644); err != nil {
		return err
	}
	if first != nil {
		if err := os.WriteFile(filepath.Join(dir, sc.Name+FirstMoment), first, 0o644); err != nil {
			return err
		}
		if err := check(sc.Name+" (first moment)", sc.ExpectFirst(), first); err != nil {
			return err
		}
	}
	return Check(sc, ss)
}

// FirstMoment ends the name of the snapshot a scenario with two moments
// takes between its acts, beside NAME.ss, the one at its end.
const FirstMoment = ".at1.ss"

// Check compares an ss snapshot with the scenario's intended states, LISTEN
// aside, and returns an error wrapping ErrScenario that lists every
// difference.
func Check(sc Scenario, ss []byte) error { return check(sc.Name, sc.Expect(), ss) }

func check(name string, want map[tracker.State]int, ss []byte) error {
	socks, err := ParseSS(bytes.NewReader(ss))
	if err != nil {
		return err
	}
	got := map[tracker.State]int{}
	for _, s := range socks {
		if s.State.Counted() {
			got[s.State]++
		}
	}
	var diffs []string
	for st := tracker.State(0); st < tracker.NumStates; st++ {
		if got[st] != want[st] {
			diffs = append(diffs, fmt.Sprintf("%s: kernel has %d, scenario wants %d", st, got[st], want[st]))
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%w: %s: %s", ErrScenario, name, strings.Join(diffs, "; "))
	}
	return nil
}
