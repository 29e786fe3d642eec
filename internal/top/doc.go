// Package top is tcptrack's terminal view: a header with the per-state
// counts of both endpoints and the capture's counters, a table of
// connections (client, server, both states, age, time in state, bytes and
// bytes per second each way, the handshake's RTT, send queues) sortable by
// any column and filtered by a small expression, a per-port summary, and
// replay controls when the capture is a file.
//
// The view never touches the tracker. It reads what the capture loop
// publishes: the last metrics.Snapshot, an atomic load, a few times a
// second, and the socket listing, which it asks for and the capture loop
// answers at its next publish (about once a second live), so that capture
// never waits for the view. Everything the view shows of a connection is
// what tracker.Socket holds, with the facts of tracker.Config.Info, which
// tcptrack top turns on; a rate is the difference of two listings' byte
// counts (rates.go).
//
// The terminal is tcell's. Run restores it however the view ends: q, a
// cancelled context (SIGINT, SIGTERM), or a panic of the view's goroutine or
// of any goroutine that defers Guard.
package top
