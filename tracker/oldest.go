package tracker

import "runtime"

// PortRows maps every server port to a row of OldestByServerPort's result,
// so that a caller gets one row per port it reports on its own and one for
// all the rest, without a map lookup per flow.
type PortRows [1 << 16]uint32

// OldestByServerPort lowers oldest[rows[port]][state] to the time, in
// nanoseconds since the Unix epoch, at which each endpoint that Sockets
// lists (confirmed, in a counted state, after the Local filter) entered its
// state, port being its connection's server port; 0 in oldest means none
// yet and is replaced by the first. Every row rows names must be in oldest.
// Only with Config.Info (else it reports false and leaves oldest alone):
// the times are those of EndpointInfo.Since. It reads the table once and
// builds no Conn, as the age of the oldest endpoint is published every
// second (see the README for its cost at a million flows).
func (t *Tracker) OldestByServerPort(rows *PortRows, oldest [][NumStates]int64) bool {
	if t.info == nil {
		return false
	}
	for i := range t.flows.used {
		c := t.flows.at(i)
		if c.class() == classFree {
			continue
		}
		row := &oldest[rows[c.ep[1-c.client()].port]]
		for e := range c.ep {
			ep := &c.ep[e]
			if st := ep.state(); st.Counted() && ep.has(confirmed|local) {
				if s := t.info[i].since[e]; row[st] == 0 || s < row[st] {
					row[st] = s
				}
			}
		}
	}
	runtime.KeepAlive(t) // see mappings
	return true
}
