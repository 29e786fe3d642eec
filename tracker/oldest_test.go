package tracker

import "testing"

// TestOldestByServerPort: the earliest Since per state lands in the row of
// the connection's server port, and equals what Conns reports.
func TestOldestByServerPort(t *testing.T) {
	w, _, _ := infoWorld(t, 0, Config{})
	w.run(xClient)
	w.run([]ev{x(FIN|ACK, 1, 1), y(ACK, 1, 2)}) // X closes: Y is left in CLOSE_WAIT
	c := w.conn()
	if c.Server.State != CloseWait {
		t.Fatalf("server in %v, want CLOSE_WAIT", c.Server.State)
	}
	var rows PortRows
	rows[w.y.Port()] = 1
	oldest := make([][NumStates]int64, 2)
	if !w.tr.OldestByServerPort(&rows, oldest) {
		t.Fatal("OldestByServerPort reported no facts with Config.Info")
	}
	var want [NumStates]int64
	want[c.Client.State] = c.Client.Since.UnixNano()
	want[c.Server.State] = c.Server.Since.UnixNano()
	if oldest[1] != want {
		t.Errorf("row of port %d: %v, want %v", w.y.Port(), oldest[1], want)
	}
	if oldest[0] != ([NumStates]int64{}) {
		t.Errorf("row of the other ports: %v, want none", oldest[0])
	}
	// An earlier time already in the row stays; a later one is lowered.
	oldest[1][CloseWait] = 1
	oldest[1][c.Client.State] = 1 << 62
	w.tr.OldestByServerPort(&rows, oldest)
	if oldest[1][CloseWait] != 1 || oldest[1][c.Client.State] != want[c.Client.State] {
		t.Errorf("row of port %d after a second pass: %v", w.y.Port(), oldest[1])
	}
	if New(Config{}).OldestByServerPort(&rows, oldest) {
		t.Error("OldestByServerPort reported facts without Config.Info")
	}
}
