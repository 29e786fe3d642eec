package metrics

import (
	"bufio"
	"math"
	"strconv"
	"time"

	"github.com/tcptrack/tcptrack/tracker"
)

// The facts of a socket's connection (tracker.Conn, with Config.Info), as
// ss -i prints them under its socket line: seen from the socket's own end,
// so "sent" is what its local endpoint sent and "mss" what its peer
// announced. Names follow ss's where the meaning is the same; the README's
// "Connection facts" says where they differ.

// sides returns the socket's local endpoint and its peer, from s.Info.
func sides(s *tracker.Socket) (local, peer *tracker.EndpointInfo) {
	if s.Client {
		return &s.Info.Client, &s.Info.Server
	}
	return &s.Info.Server, &s.Info.Client
}

// since returns how long before now t was, never below 0.
func since(now, t time.Time) time.Duration { return max(now.Sub(t), 0) }

// writeFacts writes the indented line of facts under socket s, at now.
func writeFacts(bw *bufio.Writer, s *tracker.Socket, now time.Time) {
	c := s.Info
	local, peer := sides(s)
	bw.WriteString("\t age:")
	bw.WriteString(seconds(since(now, c.Start)))
	bw.WriteString(" state_age:")
	bw.WriteString(seconds(since(now, local.Since)))
	field(bw, "bytes_sent", local.Bytes)
	field(bw, "bytes_received", peer.Bytes)
	field(bw, "retrans", uint64(local.Retrans))
	if c.SynRTT > 0 {
		bw.WriteString(" rtt_syn:" + millis(c.SynRTT))
	}
	if c.AckRTT > 0 {
		bw.WriteString(" rtt_ack:" + millis(c.AckRTT))
	}
	if peer.MSS > 0 {
		field(bw, "mss", uint64(peer.MSS))
	}
	if local.MSS > 0 {
		field(bw, "advmss", uint64(local.MSS))
	}
	// As ss: the options both SYNs offered, which are the ones in force.
	if peer.WScale >= 0 && local.WScale >= 0 {
		bw.WriteString(" wscale:" + strconv.Itoa(int(peer.WScale)) + "," + strconv.Itoa(int(local.WScale)))
	}
	for _, o := range []struct {
		name string
		on   bool
	}{
		{"sack", local.SACK && peer.SACK},
		{"ts", local.Timestamps && peer.Timestamps},
		{"ecn", local.ECN && peer.ECN},
		{"tfo", local.TFO || peer.TFO},
		{"picked_up", c.PickedUp},
	} {
		if o.on {
			bw.WriteString(" " + o.name)
		}
	}
	bw.WriteString(" last:")
	bw.WriteString(seconds(since(now, c.Last)))
	bw.WriteByte('\n')
}

func field(bw *bufio.Writer, name string, v uint64) {
	bw.WriteString(" " + name + ":")
	bw.WriteString(strconv.FormatUint(v, 10))
}

// seconds writes d in seconds to the millisecond: "12.3s".
func seconds(d time.Duration) string {
	return strconv.FormatFloat(math.Round(d.Seconds()*1e3)/1e3, 'f', -1, 64) + "s"
}

// millis writes d in milliseconds to the microsecond, as ss writes RTTs:
// "0.052ms".
func millis(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1e3, 'f', -1, 64) + "ms"
}

// jsonFacts are the facts in a socket's JSON object: times in seconds.
type jsonFacts struct {
	Age           float64 `json:"age"`
	StateAge      float64 `json:"state_age"`
	BytesSent     uint64  `json:"bytes_sent"`
	BytesReceived uint64  `json:"bytes_received"`
	Retrans       uint32  `json:"retrans"`
	RTTSyn        float64 `json:"rtt_syn,omitempty"`
	RTTAck        float64 `json:"rtt_ack,omitempty"`
	MSS           uint16  `json:"mss,omitempty"`
	AdvMSS        uint16  `json:"advmss,omitempty"`
	SndWScale     *int8   `json:"snd_wscale,omitempty"`
	RcvWScale     *int8   `json:"rcv_wscale,omitempty"`
	SACK          bool    `json:"sack"`
	Timestamps    bool    `json:"timestamps"`
	ECN           bool    `json:"ecn"`
	TFO           bool    `json:"tfo"`
	Last          float64 `json:"last"`
}

// jsonFactsOf returns the facts of socket s at now.
func jsonFactsOf(s *tracker.Socket, now time.Time) *jsonFacts {
	c := s.Info
	local, peer := sides(s)
	j := &jsonFacts{
		Age: since(now, c.Start).Seconds(), StateAge: since(now, local.Since).Seconds(),
		BytesSent: local.Bytes, BytesReceived: peer.Bytes, Retrans: local.Retrans,
		RTTSyn: c.SynRTT.Seconds(), RTTAck: c.AckRTT.Seconds(), MSS: peer.MSS, AdvMSS: local.MSS,
		SACK: local.SACK && peer.SACK, Timestamps: local.Timestamps && peer.Timestamps,
		ECN: local.ECN && peer.ECN, TFO: local.TFO || peer.TFO,
		Last: since(now, c.Last).Seconds(),
	}
	if peer.WScale >= 0 && local.WScale >= 0 {
		j.SndWScale, j.RcvWScale = &peer.WScale, &local.WScale
	}
	return j
}
