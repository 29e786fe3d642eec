package main

import (
	"cmp"
	"slices"
	"time"

	"github.com/tcptrack/tcptrack/internal/communityid"
	"github.com/tcptrack/tcptrack/tracker"
)

// The --connections file: one JSON object per connection when it ends
// (tracker.Config.OnClose), and in file mode one for each connection still
// open when the capture ends, so that the file accounts for every
// connection. Names are snake_case, times RFC 3339 with nanoseconds,
// durations seconds as floats, as in Zeek's logs; the README lists them.

type jsonConn struct {
	Time        time.Time    `json:"time"`
	CommunityID string       `json:"community_id"`
	Client      jsonEndpoint `json:"client"`
	Server      jsonEndpoint `json:"server"`
	VLAN        uint16       `json:"vlan,omitempty"`
	End         string       `json:"end"`
	ResetBy     string       `json:"reset_by,omitempty"`
	Start       time.Time    `json:"start"`
	Last        time.Time    `json:"last"`
	Duration    float64      `json:"duration"`
	RTTSyn      float64      `json:"rtt_syn,omitempty"`
	RTTAck      float64      `json:"rtt_ack,omitempty"`
	PickedUp    bool         `json:"picked_up"`
}

type jsonEndpoint struct {
	Addr       string    `json:"addr"`
	State      string    `json:"state"`
	Since      time.Time `json:"since"`
	Bytes      uint64    `json:"bytes"`
	Retrans    uint32    `json:"retrans"`
	Confirmed  bool      `json:"confirmed"`
	MSS        uint16    `json:"mss,omitempty"`
	WScale     *int8     `json:"wscale,omitempty"`
	SACK       bool      `json:"sack"`
	Timestamps bool      `json:"timestamps"`
	ECN        bool      `json:"ecn"`
	TFO        bool      `json:"tfo"`
}

// endOpen is the End of a connection still open when the capture ended.
const endOpen = "open"

// connJSON is the line of c, written at the time at.
func connJSON(c *tracker.Conn, at time.Time, seed uint16) *jsonConn {
	j := &jsonConn{
		Time:        at.UTC(),
		CommunityID: communityid.TCP(c.Flow.Src, c.Flow.Dst, seed),
		Client:      endpointJSON(&c.Client),
		Server:      endpointJSON(&c.Server),
		VLAN:        c.Flow.VLAN,
		End:         cmp.Or(c.End, endOpen),
		Start:       c.Start.UTC(),
		Last:        c.Last.UTC(),
		Duration:    c.Last.Sub(c.Start).Seconds(),
		RTTSyn:      c.SynRTT.Seconds(),
		RTTAck:      c.AckRTT.Seconds(),
		PickedUp:    c.PickedUp,
	}
	if c.End == "rst" {
		j.ResetBy = "server"
		if c.ResetByClient {
			j.ResetBy = "client"
		}
	}
	return j
}

func endpointJSON(e *tracker.EndpointInfo) jsonEndpoint {
	j := jsonEndpoint{
		Addr: e.Addr.String(), State: e.State.String(), Since: e.Since.UTC(), Bytes: e.Bytes,
		Retrans: e.Retrans, Confirmed: e.Confirmed, MSS: e.MSS,
		SACK: e.SACK, Timestamps: e.Timestamps, ECN: e.ECN, TFO: e.TFO,
	}
	if w := e.WScale; w >= 0 {
		j.WScale = &w // a copy: e may be reused before j is written
	}
	return j
}

// writeOpen writes a line for every connection the tracker still holds,
// oldest first, when tcptrack stops (a capture file's end, a signal): those
// that have ended with their end, the others with end "open" and the time
// of tr's clock, so that the file accounts for every connection.
func (out *outputs) writeOpen(tr *tracker.Tracker) {
	if out.conns == nil {
		return
	}
	at := tr.Stats().Time
	var open []*jsonConn
	tr.Conns(func(c *tracker.Conn) {
		when := at
		if c.End != "" {
			when = c.Ended
		}
		open = append(open, connJSON(c, when, out.seed))
	})
	slices.SortFunc(open, func(a, b *jsonConn) int {
		return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Client.Addr, b.Client.Addr), cmp.Compare(a.Server.Addr, b.Server.Addr))
	})
	for _, j := range open {
		out.conns.encode(j)
	}
}
