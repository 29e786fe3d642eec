package decode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tcptrack/tcptrack/internal/netlab"
	"github.com/tcptrack/tcptrack/tracker"
)

// kernelTunnels are the tunnels the kernel makes here: the commands that
// create the device t0 in a namespace (LOCAL and REMOTE stand for the
// underlay addresses of the two ends) and the inner addresses of the two
// ends.
var kernelTunnels = []struct {
	name       string
	v6under    bool      // the underlay is IPv6
	link       string    // ip link add t0 ... arguments
	inner      [2]string // inner prefixes of side a (client) and b (server)
	ethernetIn bool      // the tunnel carries Ethernet: give it a fixed MAC
}{
	{"gre", false, "type gre local LOCAL remote REMOTE", [2]string{"192.168.99.1/24", "192.168.99.2/24"}, false},
	{"gre-key", false, "type gre local LOCAL remote REMOTE key 42", [2]string{"192.168.99.1/24", "192.168.99.2/24"}, false},
	{"gretap", false, "type gretap local LOCAL remote REMOTE", [2]string{"192.168.99.1/24", "192.168.99.2/24"}, true},
	{"ipip", false, "type ipip local LOCAL remote REMOTE", [2]string{"192.168.99.1/24", "192.168.99.2/24"}, false},
	{"sit", false, "type sit local LOCAL remote REMOTE", [2]string{"fd00:99::1/64", "fd00:99::2/64"}, false},
	{"ip6tnl-4in6", true, "type ip6tnl mode ipip6 local LOCAL remote REMOTE", [2]string{"192.168.99.1/24", "192.168.99.2/24"}, false},
	{"ip6tnl-6in6", true, "type ip6tnl mode ip6ip6 local LOCAL remote REMOTE", [2]string{"fd00:99::1/64", "fd00:99::2/64"}, false},
	{"ip6gre", true, "type ip6gre local LOCAL remote REMOTE key 7", [2]string{"192.168.99.1/24", "192.168.99.2/24"}, false},
	{"vxlan", false, "type vxlan id 5000 local LOCAL remote REMOTE dstport 4789", [2]string{"192.168.99.1/24", "192.168.99.2/24"}, true},
	{"geneve", false, "type geneve id 77 remote REMOTE", [2]string{"fd00:99::1/64", "fd00:99::2/64"}, true},
	{"erspan2", false, "type erspan seq key 10 local LOCAL remote REMOTE erspan_ver 1 erspan 123", [2]string{"192.168.99.1/24", "192.168.99.2/24"}, true},
}

// The sockets of a tunnel test: the server keeps connection 1 open, closes
// 2 after the client did (client TIME_WAIT) and never closes 3 (client
// FIN_WAIT2, server CLOSE_WAIT). Both sides hold on for a minute, long
// after the snapshot.
const (
	tunnelServer = `import socket,sys,time
s=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)
s.bind((sys.argv[1],8000));s.listen()
print("listening",flush=True)
cs=[s.accept()[0] for _ in range(3)]
cs[1].recv(10);cs[1].close()
time.sleep(60)`
	tunnelClient = `import socket,sys,time
cs=[socket.create_connection((sys.argv[1],8000)) for _ in range(3)]
cs[0].sendall(b"hello")
cs[1].close();cs[2].close()
print("done",flush=True)
time.sleep(60)`
)

// TestKernelTunnels records each tunnel the kernel makes, on its underlay,
// while sockets inside the tunnel reach several states, and holds the
// listing tcptrack makes of the capture to ss -tan in both namespaces.
func TestKernelTunnels(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("creates network namespaces and tunnels: needs root (CI runs as root)")
	}
	for _, tool := range []string{"ip", "tcpdump", "ss", "python3"} {
		lookTool(t, tool)
	}
	for i, tun := range kernelTunnels {
		t.Run(tun.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			pcap := filepath.Join(dir, tun.name+".pcap")
			ss, err := recordTunnel(t, i, tun.v6under, tun.link, tun.inner, tun.ethernetIn, pcap)
			if errors.Is(err, errNoTunnel) {
				t.Skipf("the kernel cannot make it here: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			compareTunnel(t, pcap, ss)
		})
	}
}

var errNoTunnel = errors.New("tunnel device not available")

// recordTunnel builds two namespaces joined by a veth underlay and the
// tunnel over it, captures the underlay while the sockets play, and returns
// ss -tan of both namespaces, taken before the capture stops.
func recordTunnel(t *testing.T, n int, v6under bool, link string, inner [2]string, ethernetIn bool, pcap string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ns := [2]string{fmt.Sprintf("ttun%d-%da", os.Getpid(), n), fmt.Sprintf("ttun%d-%db", os.Getpid(), n)}
	run := func(args ...string) error {
		out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	in := func(i int, args ...string) error {
		return run(append([]string{"ip", "netns", "exec", ns[i]}, args...)...)
	}
	var procs []*exec.Cmd
	t.Cleanup(func() {
		for _, p := range procs {
			p.Process.Kill()
			p.Wait()
		}
		for _, name := range ns {
			exec.Command("ip", "netns", "del", name).Run()
		}
	})
	under := [2]string{"10.99.0.1", "10.99.0.2"}
	bits := "/24"
	if v6under {
		under, bits = [2]string{"fd99::1", "fd99::2"}, "/64"
	}
	for i := range ns {
		if err := run("ip", "netns", "add", ns[i]); err != nil {
			return nil, err
		}
		if err := in(i, "ip", "link", "set", "lo", "up"); err != nil {
			return nil, err
		}
	}
	if err := run("ip", "link", "add", "u0", "netns", ns[0], "type", "veth", "peer", "name", "u0", "netns", ns[1]); err != nil {
		return nil, err
	}
	for i := range ns {
		local, remote := under[i], under[1-i]
		args := strings.Fields(strings.NewReplacer("LOCAL", local, "REMOTE", remote).Replace(link))
		steps := [][]string{
			{"sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"},
			{"ip", "addr", "add", local + bits, "dev", "u0", "nodad"},
			{"ip", "link", "set", "u0", "up"},
		}
		if !v6under {
			steps[1] = steps[1][:len(steps[1])-1]
		}
		for _, s := range steps {
			if err := in(i, s...); err != nil {
				return nil, err
			}
		}
		if err := in(i, append([]string{"ip", "link", "add", "t0"}, args...)...); err != nil {
			return nil, fmt.Errorf("%w: %v", errNoTunnel, err)
		}
		if ethernetIn {
			if err := in(i, "ip", "link", "set", "t0", "address", fmt.Sprintf("02:00:00:00:99:%02x", i+1)); err != nil {
				return nil, err
			}
		}
		addr := []string{"ip", "addr", "add", inner[i], "dev", "t0"}
		if strings.Contains(inner[i], ":") {
			addr = append(addr, "nodad")
		}
		if err := in(i, addr...); err != nil {
			return nil, err
		}
		if err := in(i, "ip", "link", "set", "t0", "up"); err != nil {
			return nil, err
		}
	}
	if ethernetIn { // no neighbour discovery to wait for
		for i := range ns {
			peer, _, _ := strings.Cut(inner[1-i], "/")
			if err := in(i, "ip", "neigh", "replace", peer, "lladdr", fmt.Sprintf("02:00:00:00:99:%02x", 2-i), "dev", "t0", "nud", "permanent"); err != nil {
				return nil, err
			}
		}
	}

	start := func(i int, args ...string) (*exec.Cmd, *bytes.Buffer, io.ReadCloser, error) {
		cmd := exec.Command("ip", append([]string{"netns", "exec", ns[i]}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, nil, nil, err
		}
		if err := cmd.Start(); err != nil {
			return nil, nil, nil, err
		}
		procs = append(procs, cmd)
		return cmd, &stderr, out, nil
	}
	waitFor := func(r io.Reader, word string, stderr *bytes.Buffer) error {
		got := make(chan error, 1)
		go func() {
			b := make([]byte, 64)
			n, err := io.ReadAtLeast(r, b, len(word))
			if err == nil && !strings.Contains(string(b[:n]), word) {
				err = fmt.Errorf("said %q", b[:n])
			}
			got <- err
		}()
		select {
		case err := <-got:
			if err != nil {
				return fmt.Errorf("waiting for %q: %v: %s", word, err, stderr)
			}
			return nil
		case <-time.After(20 * time.Second):
			return fmt.Errorf("no %q: %s", word, stderr)
		}
	}

	dump, dumpErr, _, err := start(0, "tcpdump", "-i", "u0", "-w", pcap, "-U", "--immediate-mode", "-s", "256", "-n", "-Z", "root")
	if err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(dumpErr.String(), "listening on"); {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("tcpdump: %s", dumpErr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	serverAddr, _, _ := strings.Cut(inner[1], "/")
	_, serr, sout, err := start(1, "python3", "-c", tunnelServer, serverAddr)
	if err != nil {
		return nil, err
	}
	if err := waitFor(sout, "listening", serr); err != nil {
		return nil, err
	}
	_, cerr, cout, err := start(0, "python3", "-c", tunnelClient, serverAddr)
	if err != nil {
		return nil, err
	}
	if err := waitFor(cout, "done", cerr); err != nil {
		return nil, err
	}
	time.Sleep(500 * time.Millisecond) // the FINs and their ACKs cross
	var ss bytes.Buffer
	for i, role := range []string{"client", "server"} {
		out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns[i], "ss", "-tan").Output()
		if err != nil {
			return nil, fmt.Errorf("ss: %v", err)
		}
		fmt.Fprintf(&ss, "# netns %s\n%s", role, out)
	}
	time.Sleep(200 * time.Millisecond)
	dump.Process.Signal(os.Interrupt)
	dump.Wait()
	return ss.Bytes(), nil
}

// compareTunnel holds tcptrack's listing of the capture to the kernel's ss,
// LISTEN aside.
func compareTunnel(t *testing.T, pcap string, ss []byte) {
	kernel, err := netlab.ParseSS(bytes.NewReader(ss))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, s := range kernel {
		if s.State.Counted() {
			want = append(want, fmt.Sprintf("%v %v %v", s.State, s.Local, s.Peer))
		}
	}
	src, err := OpenFile(pcap)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	d, tr := NewDecoder(), tracker.New(tracker.Config{})
	var (
		f   Frame
		seg tracker.Segment
	)
	for src.Next(&f) == nil {
		if err := d.Decode(&f, &seg); err == nil {
			tr.Track(&seg)
		} else if !errors.Is(err, ErrNotTCP) {
			t.Errorf("frame %d: %v", f.Number, err)
		}
	}
	var got []string
	tr.Sockets(func(s tracker.Socket) { got = append(got, fmt.Sprintf("%v %v %v", s.State, s.Local, s.Peer)) })
	slices.Sort(want)
	slices.Sort(got)
	if len(want) != 5 {
		t.Errorf("the kernel has %d sockets, the test means 5:\n%s", len(want), ss)
	}
	if !slices.Equal(got, want) {
		t.Errorf("tcptrack lists\n\t%s\nthe kernel\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}
