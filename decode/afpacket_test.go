package decode

import (
	"errors"
	"testing"
)

func TestParseEngine(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Engine
		err  error
	}{
		{"", EnginePcap, nil},
		{"pcap", EnginePcap, nil},
		{"afpacket", EngineAFPacket, nil},
		{"AFPACKET", "", ErrEngine},
		{"pf_ring", "", ErrEngine},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseEngine(tc.in)
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Errorf("ParseEngine(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

// The afpacket engine binds to one interface; "any" is libpcap's.
func TestAFPacketAny(t *testing.T) {
	if _, err := OpenCapture("any", LiveConfig{Engine: EngineAFPacket}); !errors.Is(err, ErrEngine) {
		t.Errorf("afpacket on any: %v, want ErrEngine", err)
	}
}
