package netlab

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Snaplen keeps every header (Ethernet or SLL2, IPv6, TCP with the longest
// options: 20+40+60 = 120 bytes) and a few bytes of payload at most, so the
// committed captures stay small.
const Snaplen = 128

// Capture is a running tcpdump inside one of a lab's namespaces.
type Capture struct {
	cmd    *exec.Cmd
	path   string
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{} // closed when tcpdump has exited
	err    error         // Wait's result, valid after done
}

// StartCapture runs tcpdump on iface ("veth0", "lo" or "any") in h's
// namespace, writing every frame, cut at Snaplen, to path as pcap, one
// packet at a time (-U) and without buffering delay (--immediate-mode).
// linkType is passed to tcpdump -y when not empty (e.g. "LINUX_SLL2"). It
// returns once tcpdump says it is listening. The lab stops it on Close.
func (h *Host) StartCapture(iface, linkType, path string) (*Capture, error) {
	return h.StartCaptureWith(iface, linkType, path)
}

// StartCaptureWith is StartCapture with more tcpdump arguments: "-Q", "in"
// captures only what iface receives, as a tap on one direction of a link
// would.
func (h *Host) StartCaptureWith(iface, linkType, path string, tcpdumpArgs ...string) (*Capture, error) {
	args := []string{"netns", "exec", h.Netns, "tcpdump", "-i", iface, "-w", path, "-U",
		"--immediate-mode", "-s", strconv.Itoa(Snaplen), "-n",
		// Debian's tcpdump otherwise drops to user tcpdump, which may
		// not write where we are told to.
		"-Z", "root"}
	if linkType != "" {
		args = append(args, "-y", linkType)
	}
	args = append(args, tcpdumpArgs...)
	c := &Capture{cmd: exec.Command("ip", args...), path: path, done: make(chan struct{})}
	pipe, err := c.cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCapture, err)
	}
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start tcpdump: %v", ErrCapture, err)
	}
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pipe)
		said := false
		for sc.Scan() {
			c.mu.Lock()
			c.stderr.Write(sc.Bytes())
			c.stderr.WriteByte('\n')
			c.mu.Unlock()
			if !said && strings.Contains(sc.Text(), "listening on") {
				said = true
				close(listening)
			}
		}
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	h.lab.mu.Lock()
	if h.lab.closed || h.lab.capture != nil {
		h.lab.mu.Unlock()
		c.Stop()
		return nil, fmt.Errorf("%w: lab closed or already capturing", ErrCapture)
	}
	h.lab.capture = c
	h.lab.mu.Unlock()
	select {
	case <-listening:
		// tcpdump prints the line after its socket is bound and
		// filtering, so nothing sent from now on is missed.
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("%w: tcpdump exited: %v: %s", ErrCapture, c.err, c.output())
	case <-time.After(cmdTimeout):
		c.Stop()
		return nil, fmt.Errorf("%w: tcpdump did not start listening: %s", ErrCapture, c.output())
	}
}

func (c *Capture) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.TrimSpace(c.stderr.String())
}

var droppedRE = regexp.MustCompile(`(\d+) packets? dropped by kernel`)

// Stop ends the capture: SIGINT, so tcpdump writes out what it holds and
// reports its counts, then SIGKILL if it has not exited within a bound. It
// returns tcpdump's closing report, and an error if tcpdump failed or the
// kernel dropped packets (a capture with holes is no ground truth). Stop is
// safe to call more than once.
func (c *Capture) Stop() (string, error) {
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(os.Interrupt)
	}
	select {
	case <-c.done:
	case <-time.After(cmdTimeout):
		_ = c.cmd.Process.Kill()
		<-c.done
		return c.output(), fmt.Errorf("%w: tcpdump did not stop on SIGINT", ErrCapture)
	}
	out := c.output()
	if c.err != nil {
		// tcpdump catches SIGINT and exits 0; anything else is a failure.
		return out, fmt.Errorf("%w: tcpdump: %v: %s", ErrCapture, c.err, out)
	}
	if m := droppedRE.FindStringSubmatch(out); m != nil && m[1] != "0" {
		return out, fmt.Errorf("%w: %s: %s packets dropped by kernel", ErrCapture, c.path, m[1])
	}
	return out, nil
}
