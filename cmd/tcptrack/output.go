package main

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"time"

	"github.com/tcptrack/tcptrack/tracker"
)

// writeSockets prints one line per live endpoint in ss -tan's column order,
// sorted by local then peer address so that the output is stable.
func writeSockets(w io.Writer, tr *tracker.Tracker, all bool) error {
	var socks []tracker.Socket
	tr.Sockets(func(s tracker.Socket) { socks = append(socks, s) })
	if all {
		tr.Listeners(func(a netip.AddrPort, vlan uint16) {
			socks = append(socks, tracker.Socket{State: tracker.Listen, Local: a, VLAN: vlan})
		})
	}
	slices.SortFunc(socks, func(a, b tracker.Socket) int {
		return cmp.Or(a.Local.Compare(b.Local), a.Peer.Compare(b.Peer), cmp.Compare(a.VLAN, b.VLAN))
	})
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "%-12s %6s %6s %-45s %-45s\n", "State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port")
	for _, s := range socks {
		peer := "*:*"
		if s.Peer.IsValid() {
			peer = s.Peer.String()
		}
		fmt.Fprintf(bw, "%-12s %6d %6d %-45s %-45s\n", s.State, s.RecvQ, s.SendQ, s.Local, peer)
	}
	return bw.Flush()
}

// countsJSON is the --json form of the counts: every state, zeros
// included, so that scripts need not know which states exist.
func writeCountsJSON(w io.Writer, s *tracker.Stats, all bool) error {
	states := make(map[string]int)
	for st := tracker.State(0); st < tracker.NumStates; st++ {
		if st.Counted() {
			states[st.String()] = s.States[st]
		}
	}
	if all {
		states[tracker.Listen.String()] = s.Listeners
	}
	unconfirmed := make(map[string]int)
	for st := tracker.State(0); st < tracker.NumStates; st++ {
		if st.Counted() {
			unconfirmed[st.String()] = s.Unconfirmed[st]
		}
	}
	out := struct {
		Time        time.Time      `json:"time"`
		States      map[string]int `json:"states"`
		Unconfirmed map[string]int `json:"unconfirmed"`
		Flows       int            `json:"flows"`
	}{s.Time.UTC(), states, unconfirmed, s.Flows}
	return json.NewEncoder(w).Encode(out)
}

// transitionWriter writes the transitions stream: one JSON object a line.
type transitionWriter struct {
	w   *bufio.Writer
	enc *json.Encoder
	err error
}

func newTransitionWriter(w io.Writer) *transitionWriter {
	bw := bufio.NewWriter(w)
	return &transitionWriter{w: bw, enc: json.NewEncoder(bw)}
}

type jsonSegment struct {
	Src   string `json:"src"`
	Dst   string `json:"dst"`
	Flags string `json:"flags"`
	Seq   uint32 `json:"seq"`
	Ack   uint32 `json:"ack"`
	Len   uint32 `json:"len"`
	Win   uint16 `json:"win"`
}

type jsonTransition struct {
	Time     time.Time    `json:"time"`
	Client   string       `json:"client"`
	Server   string       `json:"server"`
	VLAN     uint16       `json:"vlan,omitempty"`
	Endpoint string       `json:"endpoint"`
	From     string       `json:"from"`
	To       string       `json:"to"`
	Reason   string       `json:"reason,omitempty"`
	Segment  *jsonSegment `json:"segment,omitempty"`
}

func (tw *transitionWriter) write(t *tracker.Transition) {
	if tw.err != nil {
		return
	}
	j := jsonTransition{
		Time: t.Time.UTC(), Client: t.Flow.Src.String(), Server: t.Flow.Dst.String(), VLAN: t.Flow.VLAN,
		Endpoint: t.Endpoint.String(), From: t.From.String(), To: t.To.String(), Reason: t.Reason,
	}
	if c := t.Cause; c != nil {
		j.Segment = &jsonSegment{
			Src: netip.AddrPortFrom(c.Src, c.SrcPort).String(), Dst: netip.AddrPortFrom(c.Dst, c.DstPort).String(),
			Flags: c.Flags.String(), Seq: c.Seq, Ack: c.Ack, Len: c.PayloadLen, Win: c.Window,
		}
	}
	tw.err = tw.enc.Encode(j)
}

// flush writes out what is buffered; a nil writer has nothing to flush.
func (tw *transitionWriter) flush() error {
	if tw == nil {
		return nil
	}
	if tw.err != nil {
		return tw.err
	}
	return tw.w.Flush()
}
