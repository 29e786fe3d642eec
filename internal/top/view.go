package top

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gdamore/tcell/v2"

	"github.com/tcptrack/tcptrack/metrics"
	"github.com/tcptrack/tcptrack/tracker"
)

// Config is what the view shows and where it reads it from. Snapshot and
// Listing are required.
type Config struct {
	// Screen is drawn on, initialised by the caller (a test's simulated
	// screen); nil opens the terminal (/dev/tty). Run finalises it.
	Screen tcell.Screen
	// Title names the capture: the interface or the file.
	Title string
	// Snapshot returns the last snapshot the capture loop published. It
	// must not block: it is called a few times a second.
	Snapshot func() *metrics.Snapshot
	// Listing asks the capture loop for the socket listing, answered at
	// its next publish.
	Listing func(ctx context.Context) (*metrics.Listing, error)
	// Refresh is the least time between two listings (default 1 s). The
	// view waits longer on a big table: a second for every 100,000
	// sockets of the last listing, so that listing costs the capture loop
	// at most a small share of its time.
	Refresh time.Duration
	// Replay controls the file being replayed; nil live.
	Replay Replay
	// Serving says where metrics are served ("" when they are not).
	Serving string
	// LastLog returns the last warning or error logged, if any; may be
	// nil.
	LastLog func() string
}

// Replay controls a capture file replayed into the tracker.
type Replay interface {
	Status() ReplayStatus
	SetPaused(bool)
	// Step tracks the next segments segments, or the next d of capture
	// time, and pauses.
	Step(segments int, d time.Duration)
	// SetSpeed sets how many seconds of capture play in a second; 0 reads
	// as fast as it can.
	SetSpeed(float64)
	// ToEnd reads the rest of the file as fast as it can.
	ToEnd()
}

// ReplayStatus is where a replay is.
type ReplayStatus struct {
	Paused, Done bool
	Speed        float64
	Packets      uint64 // frames read
	Err          error  // what ended reading early
}

const (
	snapshotEvery  = 250 * time.Millisecond
	defaultRefresh = time.Second
	socketsPerSec  = 100_000
	maxSpeed       = 1 << 12
)

type mode int

const (
	modeConns mode = iota
	modePorts
)

type view struct {
	cfg  Config
	s    tcell.Screen
	snap *metrics.Snapshot
	// at is the capture time of the listing shown.
	at         time.Time
	listedSegs uint64 // segments tracked when the listing shown was taken
	all        []Conn // the last listing, as rows
	listed     bool   // a listing has arrived
	listErr    error
	conns      []Conn // all, filtered and sorted
	portRows   []PortRow
	rates      *rates
	mode       mode
	orders     [2]order
	filt       *filter
	editing    bool
	edit       string
	editErr    string
	frozen     bool // live: the view holds still; capture goes on
	offset     [2]int
	help       bool
}

// Run shows the view until q is pressed or ctx ends, and restores the
// terminal however it returns, a panic included.
func Run(ctx context.Context, cfg Config) (err error) {
	s := cfg.Screen
	if s == nil {
		if s, err = tcell.NewScreen(); err != nil {
			return fmt.Errorf("the view needs a terminal: %w", err)
		}
		if err := s.Init(); err != nil {
			return fmt.Errorf("the view needs a terminal: %w", err)
		}
	}
	restore := sync.OnceFunc(s.Fini)
	active.Store(&restore)
	defer active.Store(nil)
	defer restore()
	defer func() {
		if r := recover(); r != nil {
			restore()
			panic(r)
		}
	}()
	if cfg.Refresh <= 0 {
		cfg.Refresh = defaultRefresh
	}
	v := &view{cfg: cfg, s: s, rates: newRates(), snap: cfg.Snapshot(),
		orders: [2]order{modeConns: {col: 1}, modePorts: {col: 1, desc: true}}}
	s.HideCursor()

	type result struct {
		l   *metrics.Listing
		err error
	}
	listings := make(chan result, 1)
	asking := false
	var nextAsk time.Time
	ask := func() {
		asking = true
		go func() {
			defer Guard()
			l, err := cfg.Listing(ctx)
			listings <- result{l, err}
		}()
	}
	ask()
	events, stop := make(chan tcell.Event, 16), make(chan struct{})
	defer close(stop)
	go s.ChannelEvents(events, stop)
	tick := time.NewTicker(snapshotEvery)
	defer tick.Stop()
	for {
		v.draw()
		select {
		case <-ctx.Done():
			return nil
		case ev := <-events:
			if quit := v.handle(ev); quit {
				return nil
			}
		case r := <-listings:
			asking = false
			wait := cfg.Refresh
			if r.l != nil {
				wait = max(wait, time.Duration(len(r.l.Sockets))*time.Second/socketsPerSec)
			}
			nextAsk = time.Now().Add(wait)
			if !v.frozen {
				v.take(r.l, r.err)
			}
		case now := <-tick.C:
			if !v.frozen {
				v.snap = cfg.Snapshot()
			}
			if !asking && !v.frozen && (!now.Before(nextAsk) || v.stale()) {
				ask()
			}
		}
	}
}

// stale reports whether a replay that stands still (paused, stepped, at
// its end) has tracked segments since the listing shown: then the next one
// is asked for at once, so that a step shows in the table as it does in the
// header.
func (v *view) stale() bool {
	rp := v.cfg.Replay
	if rp == nil || v.snap == nil || v.snap.Tracker.Segments == v.listedSegs {
		return false
	}
	st := rp.Status()
	return st.Paused || st.Done
}

// take shows a new listing.
func (v *view) take(l *metrics.Listing, err error) {
	v.listErr = err
	if err != nil {
		return
	}
	// The snapshot published with the listing gives its capture time.
	v.snap = v.cfg.Snapshot()
	if v.snap != nil {
		v.at, v.listedSegs = v.snap.Tracker.Time, v.snap.Tracker.Segments
	}
	v.all = conns(l)
	v.rates.update(v.all, v.at)
	v.listed = true
	v.refilter()
}

// refilter applies the filter and the sort to the last listing.
func (v *view) refilter() {
	v.conns = v.conns[:0]
	for i := range v.all {
		if v.filt.match(&v.all[i]) {
			v.conns = append(v.conns, v.all[i])
		}
	}
	sortRows(v.conns, connColumns, v.orders[modeConns])
	v.portRows = ports(v.conns)
	sortRows(v.portRows, portColumns, v.orders[modePorts])
}

func (v *view) columns() int {
	if v.mode == modePorts {
		return len(portColumns)
	}
	return len(connColumns)
}

func (v *view) rows() int {
	if v.mode == modePorts {
		return len(v.portRows)
	}
	return len(v.conns)
}

// handle acts on one event; it reports true to quit.
func (v *view) handle(ev tcell.Event) bool {
	switch ev := ev.(type) {
	case *tcell.EventResize:
		v.s.Sync()
	case *tcell.EventInterrupt:
		// A function to run on the view's goroutine, between two draws:
		// how a test reads a simulated screen without racing the view.
		if f, ok := ev.Data().(func()); ok {
			f()
		}
	case *tcell.EventKey:
		if v.editing {
			v.editKey(ev)
			return false
		}
		return v.key(ev)
	}
	return false
}

func (v *view) editKey(ev *tcell.EventKey) {
	switch ev.Key() {
	case tcell.KeyEnter:
		f, err := parseFilter(v.edit)
		if err != nil {
			v.editErr = err.Error()
			return
		}
		v.filt, v.editing, v.editErr = f, false, ""
		v.offset = [2]int{}
		v.refilter()
	case tcell.KeyEsc, tcell.KeyCtrlC:
		v.editing, v.editErr = false, ""
	case tcell.KeyBackspace, tcell.KeyBackspace2:
		if r := []rune(v.edit); len(r) > 0 {
			v.edit = string(r[:len(r)-1])
		}
		v.editErr = ""
	case tcell.KeyCtrlU:
		v.edit, v.editErr = "", ""
	case tcell.KeyRune:
		if len(v.edit) < 200 {
			v.edit += string(ev.Rune())
		}
		v.editErr = ""
	}
}

func (v *view) key(ev *tcell.EventKey) bool {
	if v.help {
		v.help = false
		if ev.Key() != tcell.KeyRune || ev.Rune() != 'q' {
			return false
		}
	}
	_, h := v.s.Size()
	page := max(h-8, 1)
	switch ev.Key() {
	case tcell.KeyCtrlC, tcell.KeyEscape:
		return true
	case tcell.KeyTab, tcell.KeyBacktab:
		v.mode = 1 - v.mode
	case tcell.KeyUp:
		v.scroll(-1)
	case tcell.KeyDown:
		v.scroll(1)
	case tcell.KeyPgUp:
		v.scroll(-page)
	case tcell.KeyPgDn:
		v.scroll(page)
	case tcell.KeyHome:
		v.offset[v.mode] = 0
	case tcell.KeyEnd:
		v.scroll(v.rows())
	case tcell.KeyRune:
		return v.runeKey(ev.Rune())
	}
	return false
}

func (v *view) runeKey(r rune) bool {
	o := &v.orders[v.mode]
	rp := v.cfg.Replay
	switch {
	case r == 'q' || r == 'Q':
		return true
	case r == '?' || r == 'h':
		v.help = true
	case r == '/' || r == 'f':
		v.editing, v.edit, v.editErr = true, v.filt.String(), ""
	case r == 'v' || r == 'P':
		v.mode = 1 - v.mode
	case r >= '1' && r <= '9' && int(r-'1') < v.columns():
		if c := int(r - '1'); c == o.col {
			o.desc = !o.desc
		} else {
			*o = order{col: c}
		}
		v.refilter()
	case r == 's' || r == '>':
		*o = order{col: (o.col + 1) % v.columns()}
		v.refilter()
	case r == 'S' || r == '<':
		*o = order{col: (o.col + v.columns() - 1) % v.columns()}
		v.refilter()
	case r == 'r':
		o.desc = !o.desc
		v.refilter()
	case r == ' ' || r == 'p':
		if rp != nil {
			rp.SetPaused(!rp.Status().Paused)
		} else {
			v.frozen = !v.frozen
		}
	case r == 'j':
		v.scroll(1)
	case r == 'k':
		v.scroll(-1)
	case r == 'g':
		v.offset[v.mode] = 0
	case r == 'G':
		v.scroll(v.rows())
	case rp == nil:
	case r == '.':
		rp.Step(1, 0)
	case r == 'n':
		rp.Step(0, time.Second)
	case r == '+' || r == '=':
		sp := rp.Status().Speed
		if sp > 0 {
			rp.SetSpeed(min(sp*2, maxSpeed))
		}
	case r == '-':
		sp := rp.Status().Speed
		if sp == 0 {
			sp = maxSpeed * 2
		}
		rp.SetSpeed(max(sp/2, 1.0/maxSpeed))
	case r == 'e':
		rp.ToEnd()
	}
	return false
}

func (v *view) scroll(n int) {
	o := &v.offset[v.mode]
	*o = max(0, min(*o+n, v.rows()-1))
}

// Styles.
var (
	plain    = tcell.StyleDefault
	bold     = plain.Bold(true)
	dim      = plain.Dim(true)
	heading  = plain.Reverse(true)
	flagged  = plain.Reverse(true).Bold(true)
	warnings = plain.Foreground(tcell.ColorRed).Bold(true)
)

// put writes s at x, y, clipped to width w, and returns the column after
// it.
func (v *view) put(x, y, w int, s string, st tcell.Style) int {
	end := x + w
	for _, r := range s {
		if x >= end {
			break
		}
		v.s.SetContent(x, y, r, nil, st)
		x++
	}
	return x
}

func (v *view) draw() {
	s := v.s
	s.Clear()
	w, h := s.Size()
	if w < 20 || h < 6 {
		v.put(0, 0, w, "tcptrack top: the terminal is too small", plain)
		s.Show()
		return
	}
	y := v.drawHeader(w)
	if v.help {
		v.drawHelp(y, w, h)
	} else {
		v.drawTable(y, w, h-1)
	}
	v.drawFooter(w, h)
	s.Show()
}

// line writes items left to right on line y, each followed by two spaces,
// wrapping to the next line when an item would not fit; it returns the line
// after the last.
func (v *view) line(y, w int, items []item) int {
	x := 0
	for _, it := range items {
		if x > 0 && x+len(it.text) > w {
			y, x = y+1, 0
		}
		x = v.put(x, y, w-x, it.text, it.st) + 2
	}
	return y + 1
}

type item struct {
	text string
	st   tcell.Style
}

func (v *view) drawHeader(w int) int {
	snap := v.snap
	if snap == nil {
		snap = &metrics.Snapshot{}
	}
	st := &snap.Tracker
	top := []item{{"tcptrack top", bold}, {v.cfg.Title, plain}}
	rp := v.cfg.Replay
	if !st.Time.IsZero() {
		layout := "15:04:05" // live, the date is today's
		if rp != nil {
			layout = "2006-01-02 15:04:05"
		}
		top = append(top, item{st.Time.Local().Format(layout), plain})
	}
	if rp != nil {
		rs := rp.Status()
		top = append(top, item{"packets " + strconv.FormatUint(rs.Packets, 10), plain})
		switch {
		case rs.Err != nil:
			top = append(top, item{"READ ERROR", warnings})
		case rs.Done:
			top = append(top, item{"END OF FILE", flagged})
		case rs.Paused:
			top = append(top, item{"PAUSED", flagged})
		case rs.Speed == 0:
			top = append(top, item{"full speed", plain})
		default:
			top = append(top, item{"speed " + speed(rs.Speed), plain})
		}
	} else {
		up := item{"capture up", plain}
		if !snap.CaptureUp {
			up = item{"CAPTURE DOWN", warnings}
		}
		drops := item{fmt.Sprintf("drops kernel %d iface %d", snap.KernelDrops, snap.IfaceDrops), plain}
		if snap.KernelDrops+snap.IfaceDrops > 0 {
			drops.st = warnings
		}
		top = append(top, up, item{"packets " + strconv.FormatUint(snap.Packets, 10), plain}, drops)
		if v.frozen {
			top = append(top, item{"PAUSED", flagged})
		}
	}
	y := v.line(0, w, top)

	// The one-liner's answer: every state, both endpoints.
	var counts []item
	for s := tracker.State(0); s < tracker.NumStates; s++ {
		if !s.Counted() {
			continue
		}
		it := item{fmt.Sprintf("%s %d", s, st.States[s]), bold}
		if st.States[s] == 0 {
			it.st = dim
		}
		counts = append(counts, it)
	}
	y = v.line(y, w, counts)

	unconfirmed := 0
	for _, n := range st.Unconfirmed {
		unconfirmed += n
	}
	var skipped uint64
	for _, d := range snap.Decode {
		skipped += d.N
	}
	more := []item{
		{fmt.Sprintf("flows %d/%d", st.Flows, st.MaxFlows), plain},
		{fmt.Sprintf("unconfirmed %d", unconfirmed), plain},
		{fmt.Sprintf("listeners %d", st.Listeners), plain},
	}
	if skipped > 0 {
		more = append(more, item{fmt.Sprintf("malformed %d", skipped), warnings})
	}
	if ev := evictions(st); ev > 0 {
		more = append(more, item{fmt.Sprintf("evicted %d", ev), warnings})
	}
	if v.cfg.Serving != "" {
		more = append(more, item{"metrics " + v.cfg.Serving, plain})
	}
	y = v.line(y, w, more)
	if v.cfg.LastLog != nil {
		if l := v.cfg.LastLog(); l != "" {
			v.put(0, y, w, l, warnings)
			y++
		}
	}
	return y
}

func evictions(st *tracker.Stats) uint64 {
	var n uint64
	for _, e := range st.Evictions {
		n += e
	}
	return n
}

func speed(x float64) string {
	if x >= 1 {
		return strconv.FormatFloat(x, 'f', -1, 64) + "x"
	}
	return "1/" + strconv.FormatFloat(1/x, 'f', -1, 64) + "x"
}

// layout picks the columns that fit in w and their widths: columns give way
// in their drop order, and the flexible ones (addresses) share what is left
// up to the width their values need.
func layout[R any](cols []column[R], rows []R, now time.Time, w int) (keep []int, widths []int) {
	need := make([]int, len(cols))
	for i, c := range cols {
		need[i] = max(c.min, len(c.title)+1)
		if c.max > c.min {
			n := 0
			for j := range rows {
				n = max(n, len(c.text(&rows[j], now)))
			}
			need[i] = max(need[i], min(n, c.max))
		}
	}
	drop := 0
	for _, c := range cols {
		drop = max(drop, c.drop)
	}
	for {
		keep, widths = keep[:0], widths[:0]
		total := 0
		for i, c := range cols {
			if c.drop > drop {
				continue
			}
			keep = append(keep, i)
			// A flexible column claims up to its want before another
			// column is kept: an address whole rather than a rate.
			widths = append(widths, max(c.min, len(c.title)+1, min(need[i], c.want)))
			total += widths[len(widths)-1] + 1
		}
		if total-1 > w && drop == 0 {
			// Not even the columns that never give way fit: at their
			// least, cut.
			total = 0
			for k, i := range keep {
				widths[k] = max(cols[i].min, len(cols[i].title)+1)
				total += widths[k] + 1
			}
		}
		if total-1 <= w || drop == 0 {
			extra := w - (total - 1)
			// Share what is left among the flexible columns, a column at a
			// time, until each has what it needs.
			for extra > 0 {
				gave := false
				for k, i := range keep {
					if extra > 0 && widths[k] < need[i] {
						widths[k]++
						extra--
						gave = true
					}
				}
				if !gave {
					break
				}
			}
			return keep, widths
		}
		drop--
	}
}

func drawTable[R any](v *view, cols []column[R], rows []R, o order, offset, y, w, bottom int) {
	now := v.at
	vis := rows[min(offset, len(rows)):min(len(rows), offset+max(bottom-y-1, 0))]
	keep, widths := layout(cols, vis, now, w)
	x := 0
	for k, i := range keep {
		title := cols[i].title
		if i == o.col {
			if o.desc {
				title += "v"
			} else {
				title += "^"
			}
		}
		x = cell(v, x, y, widths[k], title, cols[i].right, heading)
		if k < len(keep)-1 {
			v.put(x, y, 1, " ", heading)
			x++
		}
	}
	for x < w {
		x = v.put(x, y, 1, " ", heading)
	}
	y++
	for j := range vis {
		x = 0
		for k, i := range keep {
			x = cell(v, x, y, widths[k], cols[i].text(&vis[j], now), cols[i].right, plain) + 1
		}
		y++
	}
}

// cell writes s in a cell of width n, cutting it with "~" at the front when
// it does not fit (the end of an address, its port, is what tells rows
// apart).
func cell(v *view, x, y, n int, s string, right bool, st tcell.Style) int {
	if len(s) > n {
		s = "~" + s[len(s)-n+1:]
	}
	pad := strings.Repeat(" ", n-len(s))
	if right {
		s = pad + s
	} else {
		s += pad
	}
	return v.put(x, y, n, s, st)
}

func (v *view) drawTable(y, w, bottom int) {
	// A status line: what is shown of what, and why.
	var status []item
	switch {
	case v.listErr != nil:
		status = append(status, item{"listing: " + v.listErr.Error(), warnings})
	case !v.listed:
		status = append(status, item{"waiting for the first listing", dim})
	}
	if v.mode == modePorts {
		status = append(status, item{fmt.Sprintf("%d server ports of %d connections", len(v.portRows), len(v.conns)), plain})
	} else {
		status = append(status, item{fmt.Sprintf("%d of %d connections", len(v.conns), len(v.all)), plain})
	}
	if v.filt != nil {
		status = append(status, item{"filter: " + v.filt.String(), bold})
	}
	y = v.line(y, w, status)
	if v.mode == modePorts {
		drawTable(v, portColumns, v.portRows, v.orders[modePorts], v.offset[modePorts], y, w, bottom)
	} else {
		drawTable(v, connColumns, v.conns, v.orders[modeConns], v.offset[modeConns], y, w, bottom)
	}
}

func (v *view) drawFooter(w, h int) {
	y := h - 1
	if v.editing {
		x := v.put(0, y, w, "filter: ", bold)
		x = v.put(x, y, w-x, v.edit, plain)
		v.s.ShowCursor(x, y)
		if v.editErr != "" {
			v.put(x+2, y, w-x-2, v.editErr, warnings)
		}
		return
	}
	v.s.HideCursor()
	keys := "q quit  space pause  / filter  1-9 sort  r reverse  tab ports  ? help"
	if v.mode == modePorts {
		keys = "q quit  space pause  / filter  1-9 sort  r reverse  tab connections  ? help"
	}
	if v.cfg.Replay != nil {
		keys = "q quit  space pause  . step  n +1s  +/- speed  e end  / filter  tab  ? help"
	}
	v.put(0, y, w, keys, dim)
}

var helpText = []string{
	"Keys",
	"  q, Esc, Ctrl-C   quit",
	"  space, p         pause: live, the view holds still (capture and /metrics go on);",
	"                   a file, the replay stops",
	"  / or f           filter, e.g.  port 443   state time_wait   net 10.0.0.0/8",
	"                   host 192.0.2.1 and not port 22   established or syn_recv",
	"                   Enter applies, Esc cancels, an empty filter shows everything",
	"  1-9              sort by that column; again reverses   s/S, >/<  next/previous",
	"  r                reverse the sort",
	"  tab, v           connections / per-port summary",
	"  arrows, PgUp/PgDn, Home/End, j/k   scroll",
	"File replay",
	"  .                one segment on, and pause    n   one second of capture on",
	"  + / -            twice / half as fast         e   read to the end at once",
	"Columns (on the capture clock; the wider the terminal, the more of them)",
	"  AGE       since the connection's first segment (+: picked up mid-stream)",
	"  IN-STATE  since either endpoint last changed state",
	"  C>S, S>C  bytes/s each way over the last refresh (new: over its life)",
	"  RTT       the handshake's round trip: SYN to SYN+ACK to its ACK",
	"  *-BYTES   payload each side has sent, retransmissions once",
	"  *-SENDQ   each side's Send-Q as --sockets shows it",
	"  NOTE      mid: picked up mid-stream; gap: the capture lost packets of it;",
	"            its VLAN and tunnel",
	"  k, M, G: thousands, millions, billions",
	"",
	"Any key returns.",
}

func (v *view) drawHelp(y, w, h int) {
	for _, l := range helpText {
		if y >= h-1 {
			break
		}
		v.put(0, y, w, l, plain)
		y++
	}
}
