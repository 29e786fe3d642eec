package main

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tcptrack/tcptrack/decode"
)

// input is the capture file of file mode, opened so that SIGINT or SIGTERM
// can end reading early: the reader looks at stop every few thousand frames,
// and a read that waits on a pipe (tcpdump -w - | tcptrack -r -) is cut
// short by a deadline, which needs the pipe in non-blocking mode so that the
// runtime's poller owns it.
type input struct {
	f        *os.File
	name     string
	pollable bool // f is a pipe or socket under the poller: a deadline ends a read
	stdin    bool
	stop     atomic.Bool
	stopCh   chan struct{}
	sig      os.Signal // valid once stopCh is closed
	done     chan struct{}
	once     sync.Once
	closed   sync.Once
}

// openInput opens path, "-" being standard input.
func openInput(path string) (*input, error) {
	in := &input{name: path, stopCh: make(chan struct{}), done: make(chan struct{})}
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		if st, err := f.Stat(); err != nil {
			f.Close()
			return nil, err
		} else if st.IsDir() {
			f.Close()
			return nil, fmt.Errorf("%s: %w", path, decode.ErrIsDir)
		}
		in.f = f
		return in, nil
	}
	in.name, in.stdin = "stdin", true
	// os.Stdin is left alone: its Fd would put the descriptor back into
	// blocking mode. A second File on descriptor 0 made after setting
	// O_NONBLOCK is pollable.
	var st syscall.Stat_t
	if syscall.Fstat(0, &st) == nil && (st.Mode&syscall.S_IFMT == syscall.S_IFIFO || st.Mode&syscall.S_IFMT == syscall.S_IFSOCK) &&
		syscall.SetNonblock(0, true) == nil {
		in.pollable = true
	}
	in.f = os.NewFile(0, "stdin")
	return in, nil
}

func (in *input) Read(b []byte) (int, error) { return in.f.Read(b) }

// Close closes the file; standard input goes back to blocking mode, as
// whoever shares it expects.
func (in *input) Close() error {
	in.closed.Do(func() {
		if in.stdin {
			if in.pollable {
				syscall.SetNonblock(0, false)
			}
			return // descriptor 0 stays open
		}
		in.f.Close()
	})
	return nil
}

// interrupt asks reading to stop, for sig.
func (in *input) interrupt(sig os.Signal) {
	in.once.Do(func() {
		in.sig = sig
		in.stop.Store(true)
		close(in.stopCh)
		if in.pollable {
			in.f.SetReadDeadline(time.Now())
		}
	})
}

// stopped is closed once interrupt was called.
func (in *input) stopped() <-chan struct{} { return in.stopCh }

// finish tells the signal watcher that reading is over.
func (in *input) finish() {
	select {
	case <-in.done:
	default:
		close(in.done)
	}
}
