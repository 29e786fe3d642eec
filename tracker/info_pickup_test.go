package tracker

import "testing"

// TestInfoBytesPickedUp picks a connection up mid-stream, the server
// speaking first: each end's bytes count from its first sequence number
// seen, its own or the peer's acknowledgment of it.
func TestInfoBytesPickedUp(t *testing.T) {
	w, _, _ := infoWorld(t, 0, Config{})
	w.run([]ev{
		{from: 'Y', flags: ACK | PSH, seq: 100, ack: 200, len: 5},
		x(ACK, 200, 105),
		{from: 'X', flags: ACK | PSH, seq: 200, ack: 105, len: 5},
		y(ACK, 105, 205),
	})
	c := w.conn()
	if !c.PickedUp || c.Client.Bytes != 5 || c.Server.Bytes != 5 {
		t.Errorf("picked up %v, bytes client %d server %d; want true, 5 and 5", c.PickedUp, c.Client.Bytes, c.Server.Bytes)
	}
}
