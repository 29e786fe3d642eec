package metrics

import (
	"net/http"
	"testing"
	"time"
)

// TestBurstRelease checks when the memory of a burst of connections is
// given back: once the open connections have reached high and fallen to
// low, not for fewer, never twice within the interval, and once for all the
// bursts that ended while a release was pending.
func TestBurstRelease(t *testing.T) {
	released := make(chan time.Time, 4)
	b := &burstRelease{high: 4, low: 1, interval: 300 * time.Millisecond, release: func() { released <- time.Now() }}
	open := func(n int) {
		for range n {
			b.connState(nil, http.StateNew)
		}
	}
	closeN := func(n int) {
		for range n {
			b.connState(nil, http.StateClosed)
		}
	}
	none := func(what string) {
		t.Helper()
		select {
		case <-released:
			t.Fatalf("released %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
	one := func(what string) time.Time {
		t.Helper()
		select {
		case at := <-released:
			return at
		case <-time.After(2 * time.Second):
			t.Fatalf("not released %s", what)
			return time.Time{}
		}
	}

	open(3)
	closeN(3)
	none("after 3 connections, under high")

	open(4)
	closeN(2)
	none("with 2 of 4 connections open, over low")
	closeN(1)
	first := one("once 4 open connections fell to 1")
	closeN(1)
	none("on a close with no burst since the last release")

	// Three bursts end within the interval: one release covers them.
	for range 3 {
		open(4)
		closeN(4)
	}
	if second := one("after a second burst"); second.Sub(first) < b.interval {
		t.Errorf("released %v after the last release, within the interval %v", second.Sub(first), b.interval)
	}
	select {
	case <-released:
		t.Fatal("released again for bursts that ended before the last release")
	case <-time.After(3 * b.interval):
	}

	open(1)
	b.connState(nil, http.StateHijacked)
	if n := b.open.Load(); n != 0 {
		t.Errorf("%d connections counted open, want 0: a hijacked connection is gone too", n)
	}
}
