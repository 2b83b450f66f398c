package grafana

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"

	"github.com/keywarden/keywarden/internal/testenv"
)

const (
	chSecret   = "ch-pass-S3CRET-0f9d2c"
	natsSecret = "nats-pass-S3CRET-7b1e44"
	tokSecret  = "nats-token-S3CRET-a5a5"
)

// authNATS starts an embedded NATS server that requires a user and password the tests do not
// give it, so every connection attempt fails with an authorization error.
func authNATS(t *testing.T) string {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true,
		Username: "keywarden", Password: "the-right-one"})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		t.Fatal("nats server not ready")
	}
	t.Cleanup(srv.Shutdown)
	return srv.ClientURL()
}

func instanceSettings(jsonData string, secure map[string]string) backend.DataSourceInstanceSettings {
	return backend.DataSourceInstanceSettings{UID: "kw", JSONData: json.RawMessage(jsonData), DecryptedSecureJSONData: secure}
}

// TestSecretsNeverLeak configures wrong ClickHouse and NATS passwords (so that both servers
// refuse them) and checks that neither they nor the token appear in any log line, health
// message, query error, stream error, or printed form of the settings.
func TestSecretsNeverLeak(t *testing.T) {
	ch := testenv.ClickHouse(t)
	natsURL := authNATS(t)
	var logs bytes.Buffer
	factory := NewInstanceFactory(Options{Logger: zerolog.New(&logs).Level(zerolog.DebugLevel), DialTimeout: 5 * time.Second})
	inst, err := factory(context.Background(), instanceSettings(
		fmt.Sprintf(`{"clickhouse": {"addrs": [%q], "database": %q, "username": "default"}, "nats": {"url": %q, "user": "keywarden"}}`,
			ch.Addr, ch.Database, natsURL),
		map[string]string{SecureClickHousePassword: chSecret, SecureNATSPassword: natsSecret, SecureNATSToken: tokSecret}))
	if err != nil {
		t.Fatal(err)
	}
	d := inst.(*Datasource)
	t.Cleanup(d.Dispose)
	if d.settings.ClickHouse.Password != chSecret || d.settings.NATS.Password != natsSecret || d.settings.NATS.Token != tokSecret {
		t.Fatal("secrets were not taken from the secure JSON")
	}

	var seen []string
	health, err := d.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if health.Status != backend.HealthStatusError {
		t.Fatalf("health = %v %q, want an error (both servers refuse the credentials)", health.Status, health.Message)
	}
	if !strings.Contains(health.Message, "ClickHouse") || !strings.Contains(health.Message, "NATS") {
		t.Errorf("health message %q should name both failures", health.Message)
	}
	seen = append(seen, health.Message)
	resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{PluginContext: pluginCtx(), Queries: []backend.DataQuery{
		dataQuery("A", map[string]any{"queryType": "keys"})}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Responses["A"].Error == nil {
		t.Fatal("query with a wrong password succeeded")
	}
	seen = append(seen, resp.Responses["A"].Error.Error())
	streamErr := d.RunStream(context.Background(), &backend.RunStreamRequest{Path: "all"}, backend.NewStreamSender(&packets{got: make(chan struct{}, 1)}))
	if streamErr == nil {
		t.Fatal("stream with a wrong password started")
	}
	seen = append(seen, streamErr.Error())
	js, _ := json.Marshal(d.settings)
	seen = append(seen, fmt.Sprintf("%v|%+v|%#v|%s|%q", d.settings, d.settings, d.settings, d.settings, d.settings), string(js), logs.String())
	for _, s := range seen {
		for _, secret := range []string{chSecret, natsSecret, tokSecret} {
			if strings.Contains(s, secret) {
				t.Errorf("secret %q leaked into: %s", secret, s)
			}
		}
	}
	if !strings.Contains(logs.String(), "health check failed") || !strings.Contains(logs.String(), "NATS") {
		t.Errorf("the failures should be logged (without secrets); logs: %s", logs.String())
	}
}

// TestSecretsOnlyFromSecureJSON: a password in the plain jsonData is refused, not used.
func TestSecretsOnlyFromSecureJSON(t *testing.T) {
	for _, js := range []string{
		`{"clickhouse": {"addrs": ["127.0.0.1:9000"], "password": "plain"}}`,
		`{"clickhouse": {"addrs": ["127.0.0.1:9000"]}, "nats": {"url": "nats://u:plain@127.0.0.1:4222"}}`,
		`{"clickhouse": {"addrs": ["u:plain@127.0.0.1:9000"]}}`,
	} {
		_, err := LoadSettings(instanceSettings(js, nil))
		if !errors.Is(err, ErrInvalidSettings) {
			t.Errorf("LoadSettings(%s) = %v, want ErrInvalidSettings", js, err)
		} else if strings.Contains(err.Error(), "plain") {
			t.Errorf("LoadSettings(%s) error shows the secret: %v", js, err)
		}
	}
	s, err := LoadSettings(instanceSettings(`{"clickhouse": {"addrs": ["127.0.0.1:9000"]}}`, map[string]string{SecureClickHousePassword: "p"}))
	if err != nil || s.ClickHouse.Password != "p" || s.ClickHouse.Database != "default" || s.ClickHouse.Username != "default" {
		t.Errorf("LoadSettings = %+v, %v", s, err)
	}
	if _, err := LoadSettings(instanceSettings(`{}`, nil)); err == nil || !strings.Contains(err.Error(), "clickhouse.addrs") {
		t.Errorf("LoadSettings without addrs = %v, want an error naming clickhouse.addrs", err)
	}
}

// TestCheckHealthOK pings real ClickHouse and NATS.
func TestCheckHealthOK(t *testing.T) {
	ch := testenv.ClickHouse(t)
	ns := testenv.NATS(t)
	d := New(Settings{ClickHouse: ClickHouseSettings{Addrs: []string{ch.Addr}, Database: ch.Database, Username: ch.Username, Password: ch.Password},
		NATS: NATSSettings{URL: ns.URL}}, Options{})
	t.Cleanup(d.Dispose)
	res, err := d.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if err != nil || res.Status != backend.HealthStatusError || !strings.Contains(res.Message, "lacks tables events, key_state") {
		t.Fatalf("CheckHealth on an empty database = %+v, %v; want an error naming the missing tables", res, err)
	}
	seed(t, ch)
	res, err = d.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if err != nil || res.Status != backend.HealthStatusOk {
		t.Fatalf("CheckHealth = %+v, %v; want OK", res, err)
	}
	ns.Shutdown()
	d.Dispose() // a new instance, as Grafana would make after a settings change
	d2 := New(d.settings, Options{DialTimeout: time.Second})
	t.Cleanup(d2.Dispose)
	res, err = d2.CheckHealth(context.Background(), &backend.CheckHealthRequest{})
	if err != nil || res.Status != backend.HealthStatusError || !strings.Contains(res.Message, "NATS") {
		t.Fatalf("CheckHealth with NATS down = %+v, %v; want an error naming NATS", res, err)
	}
}
