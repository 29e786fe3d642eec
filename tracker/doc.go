// Package tracker infers the RFC 793 / RFC 9293 state of both endpoints of
// every TCP connection from the segments a passive observer sees.
//
// It knows TCP and nothing else: it takes Segments (filled in by package
// decode) and reads time only from them, so the same capture always gives the
// same answer. It imports neither gopacket nor Prometheus, and never reads the
// wall clock.
//
// Each flow holds two endpoints. Every segment is fed to one rulebook twice:
// once as a send event for the endpoint that sent it and once as a receive
// event for the endpoint it was sent to. An endpoint's state is derived from
// what it has been seen to send and what it is believed to have received; a
// receipt is believed on first sight and withdrawn only when the receiver's
// own behaviour (it retransmits what the segment answered, or its ACKs stay
// below it) shows it never arrived. RULES.md, beside this file, is the
// rulebook: every transition and evidence rule, and the test and kernel
// recording that pins each.
package tracker
