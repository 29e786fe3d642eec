package deploy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"
)

const dashboardFile = "deploy/grafana/tcptrack-dashboard.json"

// The dashboard's panels and targets all name the data source through this
// variable, so that an import picks the user's Prometheus.
const datasourceUID = "${datasource}"

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type dashboard struct {
	UID           string `json:"uid"`
	Title         string `json:"title"`
	SchemaVersion int    `json:"schemaVersion"`
	Templating    struct {
		List []templateVar `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type templateVar struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"` // a string, or {"query": ...}
	Datasource *datasourceRef  `json:"datasource"`
}

type panel struct {
	ID          int            `json:"id"`
	Type        string         `json:"type"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Datasource  *datasourceRef `json:"datasource"`
	GridPos     struct {
		X int `json:"x"`
		Y int `json:"y"`
		W int `json:"w"`
		H int `json:"h"`
	} `json:"gridPos"`
	Targets []struct {
		RefID        string         `json:"refId"`
		Expr         string         `json:"expr"`
		LegendFormat string         `json:"legendFormat"`
		Datasource   *datasourceRef `json:"datasource"`
	} `json:"targets"`
	FieldConfig struct {
		Defaults struct {
			Custom struct {
				Stacking struct {
					Mode string `json:"mode"`
				} `json:"stacking"`
			} `json:"custom"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

func loadDashboard(t *testing.T) *dashboard {
	t.Helper()
	var d dashboard
	if err := json.NewDecoder(bytes.NewReader(readFile(t, dashboardFile))).Decode(&d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return &d
}

// queryText returns the PromQL of a query variable.
func (v templateVar) queryText() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var o struct {
		Query string `json:"query"`
	}
	json.Unmarshal(v.Query, &o)
	return o.Query
}

var labelValues = regexp.MustCompile(`^label_values\((.+),\s*(\w+)\)$`)

// queries returns every PromQL expression of the dashboard, Grafana
// variables expanded: panel targets, and the series selectors of the
// label_values() variable queries.
func (d *dashboard) queries() []query {
	var qs []query
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			qs = append(qs, query{fmt.Sprintf("%s panel %q %s", dashboardFile, p.Title, tg.RefID), expandGrafana(tg.Expr)})
		}
	}
	for _, v := range d.Templating.List {
		if m := labelValues.FindStringSubmatch(v.queryText()); m != nil {
			qs = append(qs, query{fmt.Sprintf("%s variable %s", dashboardFile, v.Name), expandGrafana(m[1])})
		}
	}
	return qs
}

func (d *dashboard) variable(name string) *templateVar {
	for i := range d.Templating.List {
		if d.Templating.List[i].Name == name {
			return &d.Templating.List[i]
		}
	}
	return nil
}

// outputLabels returns the labels the result of e can carry: the grouping
// of an aggregation, else the labels of the series it selects.
func outputLabels(ex exported, e parser.Expr) []string {
	switch e := e.(type) {
	case *parser.AggregateExpr:
		if !e.Without {
			return e.Grouping
		}
		return outputLabels(ex, e.Expr)
	case *parser.ParenExpr:
		return outputLabels(ex, e.Expr)
	case *parser.Call:
		var out []string
		for _, a := range e.Args {
			out = append(out, outputLabels(ex, a)...)
		}
		return out
	case *parser.MatrixSelector:
		return outputLabels(ex, e.VectorSelector)
	case *parser.BinaryExpr:
		return append(outputLabels(ex, e.LHS), outputLabels(ex, e.RHS)...)
	case *parser.VectorSelector:
		out := slices.Clone(targetLabels)
		for l := range ex[e.Name] {
			out = append(out, l)
		}
		return out
	}
	return nil
}

var legendLabel = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)

func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" || d.SchemaVersion == 0 {
		t.Errorf("uid %q title %q schemaVersion %d: all are needed for import", d.UID, d.Title, d.SchemaVersion)
	}

	t.Run("variables", func(t *testing.T) {
		ds := d.variable("datasource")
		if ds == nil || ds.Type != "datasource" || ds.queryText() != "prometheus" {
			t.Errorf("want a datasource variable over prometheus, have %+v", ds)
		}
		inst := d.variable("instance")
		if inst == nil || inst.Type != "query" {
			t.Fatalf("want a query variable instance, have %+v", inst)
		}
		if m := labelValues.FindStringSubmatch(inst.queryText()); m == nil || m[2] != "instance" {
			t.Errorf("instance variable query %q, want label_values(..., instance)", inst.queryText())
		}
		if inst.Datasource == nil || inst.Datasource.UID != datasourceUID {
			t.Errorf("instance variable data source %+v, want %s", inst.Datasource, datasourceUID)
		}
	})

	t.Run("panels", func(t *testing.T) {
		ids := map[int]bool{}
		for i, p := range d.Panels {
			if ids[p.ID] {
				t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
			}
			ids[p.ID] = true
			if p.Title == "" || p.Description == "" {
				t.Errorf("panel %d: needs a title and a description", p.ID)
			}
			if p.Datasource == nil || p.Datasource.UID != datasourceUID {
				t.Errorf("panel %q: data source %+v, want %s", p.Title, p.Datasource, datasourceUID)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q: no queries", p.Title)
			}
			for _, tg := range p.Targets {
				if tg.Datasource == nil || tg.Datasource.UID != datasourceUID {
					t.Errorf("panel %q %s: data source %+v, want %s", p.Title, tg.RefID, tg.Datasource, datasourceUID)
				}
				if !strings.Contains(tg.Expr, `instance=~"$instance"`) {
					t.Errorf("panel %q %s: %s ignores the instance variable", p.Title, tg.RefID, tg.Expr)
				}
			}
			g := p.GridPos
			if g.X < 0 || g.W <= 0 || g.H <= 0 || g.X+g.W > 24 {
				t.Errorf("panel %q: gridPos %+v outside the 24-column grid", p.Title, g)
			}
			for _, q := range d.Panels[:i] {
				o := q.GridPos
				if g.X < o.X+o.W && o.X < g.X+g.W && g.Y < o.Y+o.H && o.Y < g.Y+g.H {
					t.Errorf("panels %q and %q overlap", q.Title, p.Title)
				}
			}
		}
	})

	t.Run("states stacked", func(t *testing.T) {
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				if strings.Contains(tg.Expr, "tcptrack_connection_states") && p.FieldConfig.Defaults.Custom.Stacking.Mode == "normal" {
					return
				}
			}
		}
		t.Error("no stacked panel of tcptrack_connection_states")
	})

	t.Run("legends name labels the query returns", func(t *testing.T) {
		ex := gatherExported(t)
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				e, err := parser.NewParser(parser.Options{}).ParseExpr(expandGrafana(tg.Expr))
				if err != nil {
					t.Errorf("panel %q %s: %v", p.Title, tg.RefID, err)
					continue
				}
				have := outputLabels(ex, e)
				for _, m := range legendLabel.FindAllStringSubmatch(tg.LegendFormat, -1) {
					if !slices.Contains(have, m[1]) {
						t.Errorf("panel %q %s: legend {{%s}}, but the query returns only %v", p.Title, tg.RefID, m[1], have)
					}
				}
			}
		}
	})
}
