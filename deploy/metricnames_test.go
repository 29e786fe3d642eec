package deploy

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/tcptrack/tcptrack/decode"
	"github.com/tcptrack/tcptrack/metrics"
	"github.com/tcptrack/tcptrack/tracker"
)

// targetLabels are attached by Prometheus to every series it scrapes, so
// queries may use them although tcptrack does not export them.
var targetLabels = []string{"job", "instance"}

// synthesized are series that Prometheus makes itself for every target.
var synthesized = []string{"up"}

// exported maps each series name of tcptrack's /metrics to its label names
// and, for each, the values seen.
type exported map[string]map[string][]string

// gatherExported builds the collector and registry that tcptrack serves
// on /metrics, publishes a snapshot of a tracker that has seen a handshake
// (so that the transitions family, which lists only pairs that happened,
// is present) with the decoder's reasons (as cmd/tcptrack publishes them),
// and gathers the result. No network: the registry is gathered directly.
func gatherExported(t *testing.T) exported {
	t.Helper()
	// The facts on, as the live exporter keeps them: the handshake RTT
	// histogram and the ages of the oldest endpoints are exported.
	bd := metrics.NewBreakdown(metrics.BreakdownConfig{TopPorts: 1, TopListeners: 1})
	tr := tracker.New(tracker.Config{Info: true, OnHandshake: bd.ObserveHandshake})
	client := netip.MustParseAddrPort("192.0.2.10:40000")
	server := netip.MustParseAddrPort("192.0.2.20:443")
	t0 := time.Unix(1_700_000_000, 0)
	for i, s := range []struct {
		from, to netip.AddrPort
		seq, ack uint32
		flags    tracker.Flags
	}{
		{client, server, 1000, 0, tracker.SYN},
		{server, client, 5000, 1001, tracker.SYN | tracker.ACK},
		{client, server, 1001, 5001, tracker.ACK},
	} {
		tr.Track(&tracker.Segment{
			UnixNano: t0.Add(time.Duration(i) * time.Millisecond).UnixNano(),
			Src:      s.from.Addr(), SrcPort: s.from.Port(), Dst: s.to.Addr(), DstPort: s.to.Port(),
			Seq: s.seq, Ack: s.ack, Flags: s.flags, Window: 65535,
		})
	}
	snap := &metrics.Snapshot{Tracker: tr.Stats(), Packets: 3, CaptureUp: true}
	// The per-port and per-listener series, as the live loop builds them:
	// port 443 and its listener exported, the rest in "other".
	bd.Update(tr, snap)
	ds := decode.NewDecoder().Stats()
	ds.Each(func(reason string, malformed bool, n uint64) {
		if malformed {
			snap.Decode = append(snap.Decode, metrics.ReasonCount{Reason: reason, N: n})
		}
	})
	c := metrics.NewCollector()
	c.Publish(snap)
	mfs, err := metrics.NewRegistry(c).Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := exported{}
	add := func(name string, lps []*dto.LabelPair, extra ...string) {
		if out[name] == nil {
			out[name] = map[string][]string{}
		}
		for _, lp := range lps {
			if !slices.Contains(out[name][lp.GetName()], lp.GetValue()) {
				out[name][lp.GetName()] = append(out[name][lp.GetName()], lp.GetValue())
			}
		}
		for _, l := range extra {
			out[name][l] = append(out[name][l], "")
		}
	}
	for _, mf := range mfs {
		name := mf.GetName()
		for _, m := range mf.GetMetric() {
			switch mf.GetType() {
			case dto.MetricType_SUMMARY:
				add(name, m.GetLabel(), "quantile")
				add(name+"_sum", m.GetLabel())
				add(name+"_count", m.GetLabel())
			case dto.MetricType_HISTOGRAM:
				add(name+"_bucket", m.GetLabel(), "le")
				add(name+"_sum", m.GetLabel())
				add(name+"_count", m.GetLabel())
			default:
				add(name, m.GetLabel())
			}
		}
	}
	if len(out["tcptrack_handshake_rtt_seconds_bucket"]) == 0 {
		t.Fatal("no handshake RTT histogram: the exported set would lack the facts' families")
	}
	if len(out["tcptrack_transitions_total"]) == 0 {
		t.Fatal("no transitions after a handshake: the exported set would lack tcptrack_transitions_total")
	}
	return out
}

// query is one PromQL expression and where it comes from.
type query struct {
	where, expr string
}

// ruleQueries returns the expressions of the rule file, and the names of
// its recording rules.
func ruleQueries(t *testing.T) (qs []query, recorded []string) {
	t.Helper()
	for _, r := range loadRules(t) {
		name := r.Record + r.Alert
		qs = append(qs, query{rulesFile + " " + name, r.Expr})
		if r.Record != "" {
			recorded = append(recorded, r.Record)
		}
	}
	return qs, recorded
}

// grafanaVar matches Grafana's variable syntaxes: $name, ${name},
// ${name:format} and [[name]].
var grafanaVar = regexp.MustCompile(`\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]`)

// expandGrafana replaces Grafana variables so that the expression parses as
// PromQL: intervals by a duration, others by a value.
func expandGrafana(expr string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
		if strings.Contains(v, "__") && strings.Contains(v, "interval") || strings.Contains(v, "__range") {
			return "5m"
		}
		return "x"
	})
}

// checkQuery parses q and reports every series it selects that tcptrack
// does not export, every label it matches on that the series does not
// carry, and every label value it names that tcptrack never exports.
func checkQuery(t *testing.T, ex exported, recorded []string, q query) {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(q.expr)
	if err != nil {
		t.Errorf("%s: %v", q.where, err)
		return
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			for _, msg := range checkSelector(ex, recorded, n) {
				t.Errorf("%s: %s", q.where, msg)
			}
		case *parser.AggregateExpr:
			for _, msg := range checkGrouping(ex, recorded, n) {
				t.Errorf("%s: %s", q.where, msg)
			}
		}
		return nil
	})
}

var plainAlternation = regexp.MustCompile(`^\w+(\|\w+)*$`)

func checkSelector(ex exported, recorded []string, vs *parser.VectorSelector) []string {
	switch {
	case vs.Name == "":
		return []string{fmt.Sprintf("selector %s has no metric name", vs)}
	case slices.Contains(recorded, vs.Name):
		return nil
	case slices.Contains(synthesized, vs.Name):
		return nil
	}
	lbls, ok := ex[vs.Name]
	if !ok {
		return []string{fmt.Sprintf("%s is not in tcptrack's /metrics", vs.Name)}
	}
	var errs []string
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName || slices.Contains(targetLabels, m.Name) {
			continue
		}
		values, ok := lbls[m.Name]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s has no label %s", vs.Name, m.Name))
			continue
		}
		var want []string
		switch m.Type {
		case labels.MatchEqual, labels.MatchNotEqual:
			want = []string{m.Value}
		case labels.MatchRegexp, labels.MatchNotRegexp:
			// An alternation of plain values: each must exist. Any other
			// regexp must match one value at least.
			if plainAlternation.MatchString(m.Value) {
				want = strings.Split(m.Value, "|")
			} else if m.Type == labels.MatchRegexp && !slices.ContainsFunc(values, m.Matches) {
				errs = append(errs, fmt.Sprintf("%s: %s matches none of %v", vs.Name, m, values))
			}
		}
		for _, w := range want {
			if !slices.Contains(values, w) {
				errs = append(errs, fmt.Sprintf("%s{%s}: tcptrack exports no %s=%q (values %v)", vs.Name, m, m.Name, w, values))
			}
		}
	}
	return errs
}

// checkGrouping reports by() labels that none of the aggregated series
// carries.
func checkGrouping(ex exported, recorded []string, ae *parser.AggregateExpr) []string {
	if ae.Without {
		return nil
	}
	have := slices.Clone(targetLabels)
	derived := false
	parser.Inspect(ae.Expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			if slices.Contains(recorded, vs.Name) {
				derived = true
			}
			for l := range ex[vs.Name] {
				have = append(have, l)
			}
		}
		return nil
	})
	if derived {
		return nil
	}
	var errs []string
	for _, g := range ae.Grouping {
		if !slices.Contains(have, g) {
			errs = append(errs, fmt.Sprintf("%s by (%s): no aggregated series has label %s", ae.Op, strings.Join(ae.Grouping, ", "), g))
		}
	}
	return errs
}

// TestMetricNamesExist checks every metric name, label and label value the
// rules and the dashboard use against tcptrack's real /metrics output.
func TestMetricNamesExist(t *testing.T) {
	ex := gatherExported(t)
	rq, recorded := ruleQueries(t)
	t.Run("rules", func(t *testing.T) {
		for _, q := range rq {
			checkQuery(t, ex, recorded, q)
		}
	})
	t.Run("dashboard", func(t *testing.T) {
		d := loadDashboard(t)
		qs := d.queries()
		if len(qs) == 0 {
			t.Fatal("the dashboard has no queries")
		}
		for _, q := range qs {
			checkQuery(t, ex, nil, q)
		}
		// Every tcptrack metric is on the dashboard somewhere.
		shown := map[string]bool{}
		for _, q := range qs {
			if e, err := parser.NewParser(parser.Options{}).ParseExpr(q.expr); err == nil {
				parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
					if vs, ok := n.(*parser.VectorSelector); ok {
						shown[vs.Name] = true
					}
					return nil
				})
			}
		}
		for name := range ex {
			if strings.HasPrefix(name, "tcptrack_") && !shown[name] {
				t.Errorf("%s is exported but not on the dashboard", name)
			}
		}
	})
	t.Run("the check catches mistakes", func(t *testing.T) {
		for _, c := range []struct{ expr, want string }{
			{`tcptrack_connection_state{state="close_wait"}`, "not in tcptrack's /metrics"},
			{`tcptrack_connection_states{state="CLOSE_WAIT"}`, `no state="CLOSE_WAIT"`},
			{`tcptrack_evictions_total{reason=~"idle|halfopen"}`, `no reason="halfopen"`},
			{`tcptrack_flows{state="x"}`, "has no label state"},
			{`sum by (where) (tcptrack_flows)`, "no aggregated series has label where"},
		} {
			e, err := parser.NewParser(parser.Options{}).ParseExpr(c.expr)
			if err != nil {
				t.Fatal(err)
			}
			var msgs []string
			parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
				switch n := n.(type) {
				case *parser.VectorSelector:
					msgs = append(msgs, checkSelector(ex, nil, n)...)
				case *parser.AggregateExpr:
					msgs = append(msgs, checkGrouping(ex, nil, n)...)
				}
				return nil
			})
			if !slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, c.want) }) {
				t.Errorf("%s: got %q, want a complaint containing %q", c.expr, msgs, c.want)
			}
		}
	})
}
