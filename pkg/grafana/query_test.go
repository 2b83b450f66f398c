package grafana

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"

	"github.com/keywarden/keywarden/internal/testenv"
)

// newSeeded returns a data source over a fresh database holding the fixture.
func newSeeded(t *testing.T) *Datasource { return newSeededB(t) }

func newSeededB(t testing.TB) *Datasource {
	t.Helper()
	ch := testenv.ClickHouse(t)
	seed(t, ch)
	d := New(Settings{ClickHouse: ClickHouseSettings{Addrs: []string{ch.Addr}, Database: ch.Database, Username: ch.Username,
		Password: ch.Password}}, Options{Now: func() time.Time { return now }})
	t.Cleanup(d.Dispose)
	return d
}

func dataQuery(refID string, q map[string]any) backend.DataQuery {
	b, err := json.Marshal(q)
	if err != nil {
		panic(err)
	}
	qt, _ := q["queryType"].(string)
	return backend.DataQuery{
		RefID: refID, QueryType: qt, JSON: b, Interval: time.Hour, MaxDataPoints: 1000,
		TimeRange: backend.TimeRange{From: time.Unix(t0, 0), To: now},
	}
}

func pluginCtx() backend.PluginContext {
	return backend.PluginContext{PluginID: PluginID, DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{UID: "kw-test"}}
}

// TestQueryGolden runs every query type and format against real ClickHouse and compares the
// data frames with testdata/golden/<name>.jsonc (go test -update rewrites them).
func TestQueryGolden(t *testing.T) {
	d := newSeeded(t)
	cases := []struct {
		name  string
		query map[string]any
	}{
		{"keys_active", map[string]any{"queryType": "keys"}},
		{"keys_any_status_chain_a", map[string]any{"queryType": "keys", "status": "any", "chain": "31337"}},
		{"keys_allow_all", map[string]any{"queryType": "keys", "accessControl": "allow_all"}},
		{"keys_no_expiry", map[string]any{"queryType": "keys", "noExpiry": true}},
		{"keys_expiring_72h", map[string]any{"queryType": "keys", "expiringWithin": "72h"}},
		{"keys_unverified", map[string]any{"queryType": "keys", "verified": "false", "status": "any"}},
		{"keys_account_b", map[string]any{"queryType": "keys", "account": "0x0000000000000000000000000000000000000b0b", "status": "any"}},
		{"keys_by_account", map[string]any{"queryType": "keys", "format": "by_account"}},
		{"events_series", map[string]any{"queryType": "events"}},
		{"events_unverified_series", map[string]any{"queryType": "events", "verified": "false"}},
		{"events_table_chain_b", map[string]any{"queryType": "events", "format": "table", "chain": "8453"}},
		{"events_kinds", map[string]any{"queryType": "events", "kinds": []string{"session_key_removed", "plugin_installed"}}},
		{"verdicts_series", map[string]any{"queryType": "verdicts"}},
		{"verdicts_table_high", map[string]any{"queryType": "verdicts", "format": "table", "severity": "high"}},
		{"actions_series", map[string]any{"queryType": "actions"}},
		{"actions_table", map[string]any{"queryType": "actions", "format": "table"}},
		{"actions_table_failed", map[string]any{"queryType": "actions", "format": "table", "outcome": "failed"}},
		{"coverage_table", map[string]any{"queryType": "coverage"}},
		{"coverage_summary", map[string]any{"queryType": "coverage", "format": "summary"}},
		{"decode_failures_table", map[string]any{"queryType": "decode_failures"}},
		{"decode_failures_series", map[string]any{"queryType": "decode_failures", "format": "time_series"}},
		{"indexer_progress", map[string]any{"queryType": "indexer_progress"}},
		{"live_chain_a", map[string]any{"queryType": "live", "chain": "31337"}},
		// A value that looks like SQL is only ever a bound argument: it matches nothing.
		{"policy_injection_is_inert", map[string]any{"queryType": "verdicts", "format": "table", "policy": "x' OR 1=1 --"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{PluginContext: pluginCtx(),
				Queries: []backend.DataQuery{dataQuery("A", c.query)}})
			if err != nil {
				t.Fatal(err)
			}
			dr := resp.Responses["A"]
			if dr.Error != nil {
				t.Fatalf("query error: %v", dr.Error)
			}
			experimental.CheckGoldenJSONResponse(t, "testdata/golden", c.name, &dr, *update)
		})
	}
}

// TestBadQueriesFailAlone checks that invalid input fails only its own query, with a
// bad-request status and a message naming the problem.
func TestBadQueriesFailAlone(t *testing.T) {
	d := New(Settings{ClickHouse: ClickHouseSettings{Addrs: []string{"127.0.0.1:1"}}}, Options{Now: func() time.Time { return now }})
	t.Cleanup(d.Dispose)
	cases := []struct {
		query map[string]any
		want  string
	}{
		{map[string]any{"queryType": "sql", "rawSql": "DROP TABLE events"}, "unknown query type"},
		{map[string]any{"queryType": ""}, "unknown query type"},
		{map[string]any{"queryType": "keys", "chain": "1; DROP TABLE events"}, "is not a chain id"},
		{map[string]any{"queryType": "keys", "account": "0x123' OR 1=1"}, "is not an address"},
		{map[string]any{"queryType": "keys", "status": "retracted"}, "status"},
		{map[string]any{"queryType": "keys", "expiringWithin": "-1h"}, "expiringWithin"},
		{map[string]any{"queryType": "events", "kinds": []string{"nope"}}, "is not an event kind"},
		{map[string]any{"queryType": "verdicts", "severity": "urgent"}, "severity"},
		{map[string]any{"queryType": "actions", "outcome": "done"}, "outcome"},
		{map[string]any{"queryType": "coverage", "format": "by_account"}, "format"},
		{map[string]any{"queryType": "keys", "limit": -1}, "limit"},
	}
	var qs []backend.DataQuery
	for i, c := range cases {
		qs = append(qs, dataQuery(string(rune('A'+i)), c.query))
	}
	resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{PluginContext: pluginCtx(), Queries: qs})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		dr := resp.Responses[string(rune('A'+i))]
		if dr.Error == nil || dr.Status != backend.StatusBadRequest || !strings.Contains(dr.Error.Error(), c.want) {
			t.Errorf("query %v: got status %d error %v, want bad request mentioning %q", c.query, dr.Status, dr.Error, c.want)
		}
	}
}

// TestQueryWithServerDown: a query that needs ClickHouse fails with a downstream error while
// the others of the request still answer.
func TestQueryWithServerDown(t *testing.T) {
	d := New(Settings{ClickHouse: ClickHouseSettings{Addrs: []string{"127.0.0.1:1"}}}, Options{DialTimeout: time.Second})
	t.Cleanup(d.Dispose)
	resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{PluginContext: pluginCtx(), Queries: []backend.DataQuery{
		dataQuery("A", map[string]any{"queryType": "keys"}), dataQuery("B", map[string]any{"queryType": "live"})}})
	if err != nil {
		t.Fatal(err)
	}
	if a := resp.Responses["A"]; a.Error == nil || a.ErrorSource != backend.ErrorSourceDownstream {
		t.Errorf("A: got %v (source %q), want a downstream error", a.Error, a.ErrorSource)
	}
	if b := resp.Responses["B"]; b.Error != nil || len(b.Frames) != 1 || b.Frames[0].Meta.Channel != "ds/kw-test/all" {
		t.Errorf("B: got %+v, want the live frame on ds/kw-test/all", b)
	}
}

func TestBucketSeconds(t *testing.T) {
	from := time.Unix(0, 0)
	for _, c := range []struct {
		interval time.Duration
		points   int64
		span     time.Duration
		want     uint64
	}{
		{time.Minute, 1000, time.Hour, 60},
		{time.Second, 10, time.Hour, 360},
		{0, 0, 0, 1},
		{1500 * time.Millisecond, 0, 0, 2},
		{time.Second, 0, 365 * 24 * time.Hour, 6308}, // capped at maxBuckets points
	} {
		got := bucketSeconds(backend.DataQuery{Interval: c.interval, MaxDataPoints: c.points}, from, from.Add(c.span))
		if got != c.want {
			t.Errorf("bucketSeconds(%s, %d, %s) = %d, want %d", c.interval, c.points, c.span, got, c.want)
		}
	}
}
