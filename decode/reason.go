package decode

import "errors"

// Reason says why Decode produced no segment from a frame.
type Reason uint8

// Reasons, in the order of the checks. The first six are frames that are
// fine but carry no TCP header tcptrack can use; the rest are malformed.
// The reasons of IP fragments count every fragment once, by its
// datagram's fate, when that is known (see Stats.Held).
const (
	ReasonUnsupportedLink   Reason = iota // a link type the decoder does not read
	ReasonNotIP                           // not IPv4 or IPv6 (ARP, LLDP, 802.3 LLC, ...)
	ReasonNotTCP                          // IP, but not TCP (UDP, ICMP, ESP, no next header, ...)
	ReasonFragment                        // an IP fragment of a datagram that was reassembled: its segment came with the fragment that completed it
	ReasonFragmentDuplicate               // an IP fragment whose bytes all came before: dropped, its datagram kept, as Linux does
	ReasonUnsupportedEncap                // an encapsulation the decoder does not read (a GRE or Geneve payload type, an MPLS payload that is not IP or Ethernet, ERSPAN of bare IP)
	ReasonZeroLength                      // a frame with no bytes
	ReasonTruncated                       // the capture ends inside the link, IP or fixed TCP header (snaplen too short)
	ReasonIPVersion                       // the IP version nibble disagrees with the link layer
	ReasonIPv4HeaderLength                // IPv4 IHL under 5
	ReasonIPLength                        // IP length beyond the frame on the wire, or too short for its own headers and a TCP header
	ReasonIPv6ExtHeaders                  // IPv6 extension headers that run past the payload or repeat hop-by-hop
	ReasonTCPDataOffset                   // TCP data offset under 5, or past the segment's end
	ReasonTCPOptions                      // a TCP option shorter than 2 bytes or running past the header
	ReasonChecksum                        // bad TCP checksum (counted only with Decoder.VerifyChecksums)
	ReasonTunnelDepth                     // more than 8 IP headers nested in one frame
	ReasonGREHeader                       // GRE with the routing field, or of a version other than 0 and PPTP's 1
	ReasonERSPANHeader                    // ERSPAN header of the wrong version for its type
	ReasonPPPoEHeader                     // PPPoE session header of the wrong version or type, or longer than the frame
	ReasonUDPLength                       // a tunnel's UDP length shorter than its header or longer than its IP datagram
	ReasonVXLANHeader                     // VXLAN header without the valid-VNI flag
	ReasonGeneveHeader                    // Geneve header of another version, or options longer than the datagram
	ReasonFragmentTimeout                 // an IP fragment of a datagram not complete 30 s after its first fragment came
	ReasonFragmentEvicted                 // an IP fragment of a datagram dropped to make room: 1,024 in progress, or 64 pieces apart
	ReasonFragmentOverlap                 // an IP fragment of a datagram dropped because two of its fragments overlap (Linux drops it too)
	ReasonFragmentLength                  // an IP fragment of a length Linux refuses, alone or with its datagram (see reassembly.go)
	NumReasons
)

// reasonNames are metric label values: lowercase, underscores, stable.
var reasonNames = [NumReasons]string{
	"unsupported_link",
	"not_ip",
	"not_tcp",
	"fragment",
	"fragment_duplicate",
	"unsupported_encapsulation",
	"zero_length",
	"truncated",
	"ip_version",
	"ipv4_header_length",
	"ip_length",
	"ipv6_ext_headers",
	"tcp_data_offset",
	"tcp_options",
	"checksum",
	"tunnel_depth",
	"gre_header",
	"erspan_header",
	"pppoe_header",
	"udp_length",
	"vxlan_header",
	"geneve_header",
	"fragment_timeout",
	"fragment_evicted",
	"fragment_overlap",
	"fragment_length",
}

// String returns the reason as a metric label value.
func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Malformed reports whether frames skipped for this reason were broken, as
// opposed to well-formed frames that are not TCP or cannot be decoded alone.
func (r Reason) Malformed() bool { return r >= ReasonZeroLength }

// Lost reports whether frames skipped for this reason may have carried TCP
// that the tracker did not see: everything but frames that are plainly not
// IP or not TCP, and fragments whose bytes reached the tracker with another
// fragment of their datagram. A run should say so when any were skipped.
func (r Reason) Lost() bool {
	return r != ReasonNotIP && r != ReasonNotTCP && r != ReasonFragment && r != ReasonFragmentDuplicate
}

// Sentinel errors of Decode. Every error Decode returns is a *ReasonError
// that matches one of them with errors.Is.
var (
	ErrNotTCP    = errors.New("not a TCP segment")
	ErrMalformed = errors.New("malformed frame")
)

// ReasonError is the error Decode returns for a frame it skipped. The values
// are allocated once, so returning one costs nothing.
type ReasonError struct{ Reason Reason }

func (e *ReasonError) Error() string {
	if e.Reason.Malformed() {
		return "malformed frame: " + e.Reason.String()
	}
	return "not a TCP segment: " + e.Reason.String()
}

// Is makes errors.Is(err, ErrMalformed) or errors.Is(err, ErrNotTCP) true
// according to the reason.
func (e *ReasonError) Is(target error) bool {
	if e.Reason.Malformed() {
		return target == ErrMalformed
	}
	return target == ErrNotTCP
}

var reasonErrors = func() (errs [NumReasons]*ReasonError) {
	for r := range errs {
		errs[r] = &ReasonError{Reason: Reason(r)}
	}
	return errs
}()

// Stats counts what a Decoder has seen. It is a plain value: copy it freely.
// Every frame is counted once: Frames is Segments plus the Skipped counts
// plus Held.
type Stats struct {
	Frames   uint64             // frames handed to Decode
	Segments uint64             // TCP segments decoded
	Skipped  [NumReasons]uint64 // frames skipped, by reason
	// Held is the IP fragments held now, in datagrams not yet complete:
	// each moves to a reason of Skipped when its datagram completes, times
	// out or is dropped.
	Held uint64
	// Reassembled counts the datagrams reassembled from fragments.
	Reassembled uint64
}

// Lost returns how many frames were skipped for reasons that may have hidden
// TCP segments (see Reason.Lost). The fragments still Held are not among
// them: at the end of a capture, add them, as their datagrams never
// completed.
func (s *Stats) Lost() uint64 {
	var n uint64
	for r, c := range s.Skipped {
		if Reason(r).Lost() {
			n += c
		}
	}
	return n
}

// Each calls fn for every reason, in order, with its label value and count,
// zero counts included so that exported series exist from the start.
func (s *Stats) Each(fn func(reason string, malformed bool, n uint64)) {
	for r, n := range s.Skipped {
		fn(Reason(r).String(), Reason(r).Malformed(), n)
	}
}
