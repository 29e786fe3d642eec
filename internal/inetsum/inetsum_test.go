package inetsum

import "testing"

// TestRFC1071Example: the worked example of RFC 1071, section 3, and an
// odd length.
func TestRFC1071Example(t *testing.T) {
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if got := Fold(Add(0, b)); got != 0xddf2 {
		t.Errorf("sum %#04x, want 0xddf2", got)
	}
	if got := Fold(Add(0, []byte{0xab})); got != 0xab00 {
		t.Errorf("odd byte: %#04x, want 0xab00", got)
	}
}
