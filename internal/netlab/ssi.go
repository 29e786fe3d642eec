package netlab

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// SocketInfo is one socket of `ss -tanio` output: the socket line and the
// kernel's facts about it (struct tcp_info) on the indented line below.
// Has is false for a socket ss gives no facts for: a SYN_RECV request
// socket, a TIME_WAIT socket.
type SocketInfo struct {
	Socket
	Has bool
	// The options negotiated: both SYNs offered them (ecn: the SYN asked
	// and the SYN+ACK agreed).
	TS, SACK, ECN bool
	// ECNSeen: a segment arrived with an ECT or CE codepoint.
	ECNSeen bool
	// WScale holds the shifts the socket sends and receives with
	// (wscale:snd,rcv): the peer's offer and its own; -1, -1 without
	// window scaling.
	WScale [2]int
	// MSS is the sending MSS now (options included), AdvMSS the MSS it
	// announced less the options it expects, RcvMSS its estimate of the
	// peer's.
	MSS, AdvMSS, RcvMSS uint32
	// Bytes as the kernel counts them (tcp_info): sent includes
	// retransmissions; acked is how far SND.UNA moved (the active opener's
	// SYN and an acknowledged FIN count one each); received how far
	// RCV.NXT moved (a received FIN counts one).
	BytesSent, BytesAcked, BytesReceived, BytesRetrans uint64
	// RetransOut is retrans:OUT/TOTAL's first figure, segments
	// retransmitted and not yet acknowledged; RetransTotal its second,
	// every segment retransmitted over the connection's life.
	RetransOut, RetransTotal uint32
	SegsOut, DataSegsOut     uint64
	RTT                      float64 // smoothed, milliseconds
}

// ParseSSI reads the .ssi format that Record writes: blocks of raw `ss
// -tanio` output, each preceded by a line "# netns NAME"; the facts of a
// socket are the indented line that follows its own.
func ParseSSI(r io.Reader) ([]SocketInfo, error) {
	var (
		out   []SocketInfo
		netns string
		line  int
	)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line++
		raw := sc.Text()
		text := strings.TrimSpace(raw)
		if name, ok := strings.CutPrefix(text, "# netns "); ok {
			netns = strings.TrimSpace(name)
			continue
		}
		if text != "" && (raw[0] == '\t' || raw[0] == ' ') {
			if len(out) == 0 || out[len(out)-1].Has {
				return nil, fmt.Errorf("%w: line %d: facts without a socket", ErrSSFormat, line)
			}
			if err := out[len(out)-1].parseFacts(text); err != nil {
				return nil, fmt.Errorf("%w: line %d: %v", ErrSSFormat, line, err)
			}
			continue
		}
		s, ok, err := parseSocket(text, netns, line)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, SocketInfo{Socket: s, WScale: [2]int{-1, -1}})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("netlab: reading ss output: %w", err)
	}
	return out, nil
}

// parseFacts reads ss's facts line: bare words for the options and
// key:value pairs, of which it keeps those SocketInfo names; the rest
// (the congestion control's, rates given as "send 123bps") is skipped.
func (s *SocketInfo) parseFacts(text string) error {
	s.Has = true
	for _, w := range strings.Fields(text) {
		switch w {
		case "ts":
			s.TS = true
		case "sack":
			s.SACK = true
		case "ecn":
			s.ECN = true
		case "ecnseen":
			s.ECNSeen = true
		}
		k, v, ok := strings.Cut(w, ":")
		if !ok {
			continue
		}
		var err error
		switch k {
		case "wscale":
			a, b, ok := strings.Cut(v, ",")
			if !ok {
				return fmt.Errorf("wscale %q", v)
			}
			if s.WScale[0], err = strconv.Atoi(a); err == nil {
				s.WScale[1], err = strconv.Atoi(b)
			}
		case "mss":
			err = parseU32(v, &s.MSS)
		case "advmss":
			err = parseU32(v, &s.AdvMSS)
		case "rcvmss":
			err = parseU32(v, &s.RcvMSS)
		case "bytes_sent":
			s.BytesSent, err = strconv.ParseUint(v, 10, 64)
		case "bytes_acked":
			s.BytesAcked, err = strconv.ParseUint(v, 10, 64)
		case "bytes_received":
			s.BytesReceived, err = strconv.ParseUint(v, 10, 64)
		case "bytes_retrans":
			s.BytesRetrans, err = strconv.ParseUint(v, 10, 64)
		case "segs_out":
			s.SegsOut, err = strconv.ParseUint(v, 10, 64)
		case "data_segs_out":
			s.DataSegsOut, err = strconv.ParseUint(v, 10, 64)
		case "retrans":
			a, b, ok := strings.Cut(v, "/")
			if !ok {
				return fmt.Errorf("retrans %q", v)
			}
			if err = parseU32(a, &s.RetransOut); err == nil {
				err = parseU32(b, &s.RetransTotal)
			}
		case "rtt":
			a, _, _ := strings.Cut(v, "/")
			s.RTT, err = strconv.ParseFloat(a, 64)
		}
		if err != nil {
			return fmt.Errorf("%s: %v", k, err)
		}
	}
	return nil
}

func parseU32(v string, p *uint32) error {
	n, err := strconv.ParseUint(v, 10, 32)
	*p = uint32(n)
	return err
}
