package metrics

import (
	"net"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// The burst that burstRelease answers: burstHigh connections open at once,
// then burstLow or fewer; and at most one release per burstInterval.
//
// Measured with the default cap: a flood of idle connections holds 512 at
// once, and their buffers and goroutine stacks raise the Go runtime's next
// collection goal; the runtime keeps freed pages up to that goal, so
// without a release tcptrack stays about 12 MiB bigger for minutes after
// the clients are gone (scrapes allocate slowly towards the goal). A
// release is one collection of a heap of a few MiB, the flow table being
// outside it; the interval bounds what a client that opens and closes
// bursts on purpose can make tcptrack spend on them.
const (
	burstHigh     = 64
	burstLow      = 8
	burstInterval = 10 * time.Second
)

// burstRelease counts the web listener's open connections through
// http.Server.ConnState, shared by every address, and once a burst of
// them is over gives the memory they took back to the system, so that the
// resident memory comes back to where it was.
type burstRelease struct {
	high, low int64
	interval  time.Duration
	release   func()

	open  atomic.Int64
	armed atomic.Bool // open reached high since the last release was scheduled
	mu    sync.Mutex
	// pending: a release is scheduled, and it covers every burst that ends
	// before it runs (a queue draining in waves ends many), so that there
	// is never more than one timer. next is the earliest time of the next.
	pending bool
	next    time.Time
}

func newBurstRelease() *burstRelease {
	return &burstRelease{high: burstHigh, low: burstLow, interval: burstInterval, release: debug.FreeOSMemory}
}

// connState is an http.Server.ConnState hook.
func (b *burstRelease) connState(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		if b.open.Add(1) >= b.high {
			b.armed.Store(true)
		}
	case http.StateClosed, http.StateHijacked:
		if b.open.Add(-1) <= b.low && b.armed.CompareAndSwap(true, false) {
			b.schedule()
		}
	}
}

// schedule runs release now, or once interval has passed since the last,
// unless one is pending already.
func (b *burstRelease) schedule() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending {
		return
	}
	b.pending = true
	time.AfterFunc(time.Until(b.next), func() {
		b.mu.Lock()
		// Before the release, so that a burst ending while it runs gets one
		// of its own.
		b.pending, b.next = false, time.Now().Add(b.interval)
		b.mu.Unlock()
		b.release()
	})
}
