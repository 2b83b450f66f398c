package grafana

import (
	"context"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/nats-io/nats.go"

	"github.com/keywarden/keywarden/pkg/bus"
	"github.com/keywarden/keywarden/pkg/events"
)

// BenchmarkQueryData measures one panel query end to end against real ClickHouse (the small
// fixture: the figure is the per-query overhead, not a scan rate).
func BenchmarkQueryData(b *testing.B) {
	for _, c := range []struct {
		name  string
		query map[string]any
	}{
		{"keys", map[string]any{"queryType": "keys"}},
		{"events_series", map[string]any{"queryType": "events"}},
		{"actions_table", map[string]any{"queryType": "actions", "format": "table"}},
	} {
		b.Run(c.name, func(b *testing.B) {
			d := newSeededB(b)
			req := &backend.QueryDataRequest{PluginContext: pluginCtx(), Queries: []backend.DataQuery{dataQuery("A", c.query)}}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				resp, err := d.QueryData(context.Background(), req)
				if err != nil || resp.Responses["A"].Error != nil {
					b.Fatal(err, resp.Responses["A"].Error)
				}
			}
		})
	}
}

// BenchmarkMessageFrame measures turning one NATS key-state message into a stream frame.
func BenchmarkMessageFrame(b *testing.B) {
	msg, err := bus.StateMsg(keyState(chainA, accountA, key1, events.StatusActive, t0, nil))
	if err != nil {
		b.Fatal(err)
	}
	m := &nats.Msg{Subject: msg.Subject, Data: msg.Data}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if f := messageFrame(m); f.Rows() != 1 {
			b.Fatal("no row")
		}
	}
}
