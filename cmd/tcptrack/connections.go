package main

import (
	"cmp"
	"math"
	"strconv"
	"time"

	"github.com/tcptrack/tcptrack/internal/communityid"
	"github.com/tcptrack/tcptrack/tracker"
)

// The --connections file: one JSON object per connection when it ends
// (tracker.Config.OnClose), and in file mode one for each connection still
// open when the capture ends, so that the file accounts for every
// connection. Names are snake_case, times RFC 3339 with nanoseconds,
// durations seconds as floats, as in Zeek's logs; the README lists them.

// appendConn appends the line of c, ended (or still open) at the time
// at, to b. Written by hand rather than by encoding/json: reflection, the
// garbage of a struct and five time values a line made writing a line cost
// more than tracking the connection's every segment. The values need no
// escaping: addresses, state names, base64 and the words of Conn.End.
func appendConn(b []byte, c *tracker.Conn, at time.Time, seed uint16) []byte {
	b = appendStamp(append(b, `{"time":`...), at)
	b = append(b, `,"community_id":"`...)
	b = append(b, communityid.TCP(c.Flow.Src, c.Flow.Dst, seed)...)
	b = appendEndpoint(append(b, `","client":`...), &c.Client)
	b = appendEndpoint(append(b, `,"server":`...), &c.Server)
	if c.Flow.VLAN != 0 {
		b = strconv.AppendUint(append(b, `,"vlan":`...), uint64(c.Flow.VLAN), 10)
	}
	b = append(append(append(b, `,"end":"`...), cmp.Or(c.End, endOpen)...), '"')
	if c.End == "rst" {
		by := "server"
		if c.ResetByClient {
			by = "client"
		}
		b = append(append(append(b, `,"reset_by":"`...), by...), '"')
	}
	b = appendStamp(append(b, `,"start":`...), c.Start)
	b = appendStamp(append(b, `,"last":`...), c.Last)
	b = appendSeconds(append(b, `,"duration":`...), c.Last.Sub(c.Start))
	if c.SynRTT != 0 {
		b = appendSeconds(append(b, `,"rtt_syn":`...), c.SynRTT)
	}
	if c.AckRTT != 0 {
		b = appendSeconds(append(b, `,"rtt_ack":`...), c.AckRTT)
	}
	b = strconv.AppendBool(append(b, `,"picked_up":`...), c.PickedUp)
	return append(b, "}\n"...)
}

func appendEndpoint(b []byte, e *tracker.EndpointInfo) []byte {
	b = e.Addr.AppendTo(append(b, `{"addr":"`...))
	b = append(append(b, `","state":"`...), e.State.String()...)
	b = appendStamp(append(b, `","since":`...), e.Since)
	b = strconv.AppendUint(append(b, `,"bytes":`...), e.Bytes, 10)
	b = strconv.AppendUint(append(b, `,"retrans":`...), uint64(e.Retrans), 10)
	b = strconv.AppendBool(append(b, `,"confirmed":`...), e.Confirmed)
	if e.MSS != 0 {
		b = strconv.AppendUint(append(b, `,"mss":`...), uint64(e.MSS), 10)
	}
	if e.WScale >= 0 {
		b = strconv.AppendInt(append(b, `,"wscale":`...), int64(e.WScale), 10)
	}
	b = strconv.AppendBool(append(b, `,"sack":`...), e.SACK)
	b = strconv.AppendBool(append(b, `,"timestamps":`...), e.Timestamps)
	b = strconv.AppendBool(append(b, `,"ecn":`...), e.ECN)
	b = strconv.AppendBool(append(b, `,"tfo":`...), e.TFO)
	return append(b, '}')
}

// appendStamp appends t quoted, RFC 3339 with nanoseconds, UTC, as
// time.Time's JSON is.
func appendStamp(b []byte, t time.Time) []byte {
	return append(t.UTC().AppendFormat(append(b, '"'), time.RFC3339Nano), '"')
}

// appendSeconds appends d in seconds as encoding/json writes a float64:
// the shortest decimal that reads back the same, in exponent form below a
// microsecond, with no zero padding of the exponent.
func appendSeconds(b []byte, d time.Duration) []byte {
	f := d.Seconds()
	if a := math.Abs(f); a != 0 && a < 1e-6 {
		b = strconv.AppendFloat(b, f, 'e', -1, 64)
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1] // e-07 to e-7
			b = b[:n-1]
		}
		return b
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// endOpen is the End of a connection still open when the capture ended.
const endOpen = "open"

// writeOpen writes a line for every connection the tracker still holds,
// oldest first, when tcptrack stops (a capture file's end, a signal): those
// that have ended with their end, the others with end "open" and the time
// of tr's clock, so that the file accounts for every connection.
func (out *outputs) writeOpen(tr *tracker.Tracker) {
	if out.conns == nil {
		return
	}
	at := tr.Stats().Time
	tr.Conns(func(c *tracker.Conn) {
		when := at
		if c.End != "" {
			when = c.Ended
		}
		out.conns.line(func(b []byte) []byte { return appendConn(b, c, when, out.seed) })
	})
}
