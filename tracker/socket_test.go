package tracker

import "testing"

// TestSocketClient checks that a listed endpoint says whether it is the
// client: the sender of the SYN whichever address sorts first, or, picked
// up mid-stream, the side that is not on the well-known port.
func TestSocketClient(t *testing.T) {
	for _, tc := range []struct {
		name    string
		swap    bool
		evs     []ev
		xClient bool
	}{
		{"X sends the SYN", false, xClient, true},
		{"X sends the SYN, addresses swapped", true, xClient, true},
		{"Y sends the SYN", false, xServer, false},
		{"Y sends the SYN, addresses swapped", true, xServer, false},
		{"picked up, X on port 40000", false, []ev{x(ACK, 1, 1), y(ACK, 1, 1)}, true},
		{"picked up, X on port 80", true, []ev{x(ACK, 1, 1), y(ACK, 1, 1)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.swap, 0)
			w.run(tc.evs)
			n := 0
			w.tr.Sockets(func(s Socket) {
				n++
				if want := (s.Local == w.x) == tc.xClient; s.Client != want {
					t.Errorf("%v: Client %v, want %v", s.Local, s.Client, want)
				}
			})
			if n != 2 {
				t.Fatalf("%d sockets listed, want 2", n)
			}
		})
	}
}
