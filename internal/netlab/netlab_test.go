package netlab

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("creates network namespaces: needs root (CI runs as root)")
	}
}

// TestFreeze checks the property Record's stop order rests on: once the lab
// is frozen, the capture gains nothing, and sockets keep their states even
// when a retransmission timer fires meanwhile. A plain drop in the output
// hook fails the second half: the kernel discards a SYN_RECV request socket
// whose SYN+ACK retransmission cannot be sent.
func TestFreeze(t *testing.T) {
	needRoot(t)
	for _, topo := range []struct {
		topo  Topology
		iface string
	}{{Veth, "veth0"}, {Loopback, "lo"}} {
		t.Run(topo.iface, func(t *testing.T) {
			t.Parallel()
			sc := Scenario{Name: "freeze", Topology: topo.topo, Iface: topo.iface, Parts: []Part{{SynRecv, 2}}}
			l, err := sc.NewLab(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { l.Close() })
			path := filepath.Join(t.TempDir(), "freeze.pcap")
			var c *Capture
			err = sc.Play(l, func() (err error) {
				c, err = l.Server.StartCapture(sc.Iface, "", path)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			// Play returns 1.3 s after the SYN+ACKs; the next
			// retransmission is due 3 s after them.
			if _, err := l.Snapshot(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(settle)
			before, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Second)
			ss, err := l.SS()
			if err != nil {
				t.Fatal(err)
			}
			if err := Check(sc, ss); err != nil {
				t.Errorf("after the retransmission timer: %v\n%s", err, ss)
			}
			if _, err := c.Stop(); err != nil {
				t.Fatal(err)
			}
			after, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if after.Size() != before.Size() {
				t.Errorf("capture grew from %d to %d bytes while frozen", before.Size(), after.Size())
			}
		})
	}
}

// TestClose checks that a lab leaves no namespace behind.
func TestClose(t *testing.T) {
	needRoot(t)
	l, err := New(context.Background(), Veth, IPv6)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range l.Hosts() {
		names = append(names, h.Netns)
	}
	if _, err := l.Server.Listen(80); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if bytes.Contains(out, []byte(n)) {
			t.Errorf("namespace %s left behind", n)
		}
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestExpect checks the intent table: only states ss lists, no scenario
// that a tracker reporting nothing would pass, and mixed big enough.
func TestExpect(t *testing.T) {
	for _, sc := range Scenarios() {
		total := 0
		for st, n := range sc.Expect() {
			if !st.Counted() {
				t.Errorf("%s: expects %d in uncounted state %s", sc.Name, n, st)
			}
			total += n
		}
		if total == 0 {
			t.Errorf("%s: expects no socket at all; add a witness connection", sc.Name)
		}
		if strings.HasPrefix(sc.Name, "mixed") && total < 200 {
			t.Errorf("%s: %d sockets, want at least 200", sc.Name, total)
		}
	}
}
