// Package dashboards_test checks the provisioned Grafana dashboards of this directory: they
// parse, every panel and query uses the keywarden data source or Prometheus, every keywarden
// query is one the backend accepts, and every Prometheus query names a metric keywarden exports.
package dashboards_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/keywarden/keywarden/pkg/grafana"
)

const (
	keywardenUID = "keywarden"
	prometheusID = "prometheus"
)

type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID         int               `json:"id"`
	Type       string            `json:"type"`
	Title      string            `json:"title"`
	Datasource *dsRef            `json:"datasource"`
	Targets    []json.RawMessage `json:"targets"`
	Panels     []panel           `json:"panels"`
}

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
}

func load(t *testing.T) map[string]dashboard {
	t.Helper()
	files, err := filepath.Glob("*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	out := map[string]dashboard{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d dashboard
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[f] = d
	}
	return out
}

func flatten(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flatten(p.Panels)...)
	}
	return out
}

func TestDashboardsArePresent(t *testing.T) {
	titles := map[string]bool{}
	uids := map[string]string{}
	for f, d := range load(t) {
		if d.UID == "" || d.Title == "" {
			t.Errorf("%s: uid and title are required", f)
		}
		if other, dup := uids[d.UID]; dup {
			t.Errorf("%s and %s share uid %q", f, other, d.UID)
		}
		uids[d.UID] = f
		titles[d.Title] = true
	}
	for _, want := range []string{"Session keys", "Enforcer"} {
		if !titles[want] {
			t.Errorf("no dashboard titled %q", want)
		}
	}
}

// interpolate replaces dashboard variables the way Grafana does for an empty textbox ("all").
func interpolate(raw []byte, vars []string) []byte {
	s := string(raw)
	for _, v := range vars {
		s = strings.ReplaceAll(s, "${"+v+"}", "")
		s = strings.ReplaceAll(s, "$"+v, "")
	}
	return []byte(s)
}

func TestEveryPanelUsesKnownDatasourceAndQuery(t *testing.T) {
	metrics, err := os.ReadFile(filepath.Join("..", "pkg", "enforcer", "metrics.go"))
	if err != nil {
		t.Fatal(err)
	}
	metricName := regexp.MustCompile(`keywarden_[a-z0-9_]+`)
	for f, d := range load(t) {
		var vars []string
		for _, v := range d.Templating.List {
			vars = append(vars, v.Name)
		}
		ids := map[int]bool{}
		for _, p := range flatten(d.Panels) {
			where := f + ": panel " + p.Title
			if ids[p.ID] {
				t.Errorf("%s: duplicate panel id %d", where, p.ID)
			}
			ids[p.ID] = true
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil {
				t.Errorf("%s: no datasource", where)
				continue
			}
			checkRef(t, where, *p.Datasource)
			if len(p.Targets) == 0 {
				t.Errorf("%s: no query", where)
			}
			for i, raw := range p.Targets {
				var tgt struct {
					RefID      string `json:"refId"`
					Datasource *dsRef `json:"datasource"`
					QueryType  string `json:"queryType"`
					Expr       string `json:"expr"`
				}
				if err := json.Unmarshal(raw, &tgt); err != nil {
					t.Errorf("%s: target %d: %v", where, i, err)
					continue
				}
				ds := *p.Datasource
				if tgt.Datasource != nil {
					checkRef(t, where, *tgt.Datasource)
					ds = *tgt.Datasource
				}
				if tgt.RefID == "" {
					t.Errorf("%s: target %d has no refId", where, i)
				}
				switch ds.UID {
				case keywardenUID:
					if err := grafana.CheckQuery(interpolate(raw, vars)); err != nil {
						t.Errorf("%s: target %s: the backend refuses it: %v", where, tgt.RefID, err)
					}
				case prometheusID:
					if tgt.Expr == "" {
						t.Errorf("%s: target %s: empty PromQL", where, tgt.RefID)
					}
					for _, m := range metricName.FindAllString(tgt.Expr, -1) {
						base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m, "_bucket"), "_sum"), "_count")
						if !strings.Contains(string(metrics), `"`+base+`"`) {
							t.Errorf("%s: target %s: metric %s is not registered in pkg/enforcer/metrics.go", where, tgt.RefID, m)
						}
					}
				}
			}
		}
	}
}

func checkRef(t *testing.T, where string, r dsRef) {
	t.Helper()
	switch {
	case r.UID == keywardenUID && r.Type == grafana.PluginID:
	case r.UID == prometheusID && r.Type == "prometheus":
	default:
		t.Errorf("%s: datasource %+v is neither keywarden (%s) nor prometheus", where, r, grafana.PluginID)
	}
}

// TestQueryTypesAreAllUsed keeps the dashboards and the backend in step: every query type the
// backend offers appears in some dashboard.
func TestQueryTypesAreAllUsed(t *testing.T) {
	used := map[string]bool{}
	for _, d := range load(t) {
		for _, p := range flatten(d.Panels) {
			for _, raw := range p.Targets {
				var tgt struct {
					QueryType string `json:"queryType"`
				}
				_ = json.Unmarshal(raw, &tgt)
				used[tgt.QueryType] = true
			}
		}
	}
	for _, qt := range grafana.QueryTypes {
		if !used[qt] {
			t.Errorf("query type %q is used by no dashboard", qt)
		}
	}
}
