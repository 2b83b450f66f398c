package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/keywarden/keywarden/internal/testenv"
	"github.com/keywarden/keywarden/pkg/grafana"
	"github.com/keywarden/keywarden/pkg/store"
)

const runMainEnv = "KEYWARDEN_TEST_RUN_PLUGIN_MAIN"

// TestMain lets the test binary act as the plugin: the test starts itself with runMainEnv set,
// as Grafana would start gpx_keywarden.
func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		main()
		return
	}
	testenv.Run(m)
}

// TestPluginServesGrafanaProtocol starts the plugin main the way Grafana does (go-plugin
// handshake), then calls CheckHealth and QueryData over gRPC with instance settings pointing at
// real ClickHouse, with the password only in the decrypted secure JSON.
func TestPluginServesGrafanaProtocol(t *testing.T) {
	ch := testenv.ClickHouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := store.Open(ctx, store.Options{Addrs: []string{ch.Addr}, Database: ch.Database, Username: ch.Username, Password: ch.Password})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runMainEnv+"=1", "grafana_plugin_type=datasource", "PLUGIN_PROTOCOL_VERSIONS=2",
		"PLUGIN_UNIX_SOCKET_DIR="+t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("read handshake: %v (stderr: %s)", err, stderr.String())
	}
	// core-version|app-version|network|address|protocol
	parts := strings.Split(strings.TrimSpace(line), "|")
	if len(parts) < 5 || parts[1] != "2" || parts[4] != "grpc" {
		t.Fatalf("handshake %q, want protocol 2 over grpc", line)
	}
	target := parts[3]
	if parts[2] == "unix" {
		target = "unix://" + target
	}
	conn, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	pctx := backend.PluginContext{PluginID: grafana.PluginID, OrgID: 1, DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{
		UID: "kw", Name: "keywarden", Type: grafana.PluginID, Updated: time.Unix(1, 0),
		JSONData:                []byte(fmt.Sprintf(`{"clickhouse": {"addrs": [%q], "database": %q, "username": %q}}`, ch.Addr, ch.Database, ch.Username)),
		DecryptedSecureJSONData: map[string]string{grafana.SecureClickHousePassword: ch.Password},
	}}
	health, err := pluginv2.NewDiagnosticsClient(conn).CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: backend.ToProto().PluginContext(pctx)})
	if err != nil {
		t.Fatalf("CheckHealth over gRPC: %v (stderr: %s)", err, stderr.String())
	}
	if health.Status != pluginv2.CheckHealthResponse_OK || !strings.Contains(health.Message, "ClickHouse") {
		t.Fatalf("CheckHealth = %v %q, want OK", health.Status, health.Message)
	}
	req := &backend.QueryDataRequest{PluginContext: pctx, Queries: []backend.DataQuery{{RefID: "A", QueryType: "keys",
		JSON: []byte(`{"queryType": "keys"}`), TimeRange: backend.TimeRange{From: time.Unix(0, 0), To: time.Unix(3600, 0)}}}}
	pres, err := pluginv2.NewDataClient(conn).QueryData(ctx, backend.ToProto().QueryDataRequest(req))
	if err != nil {
		t.Fatalf("QueryData over gRPC: %v", err)
	}
	res, err := backend.FromProto().QueryDataResponse(pres)
	if err != nil {
		t.Fatal(err)
	}
	a := res.Responses["A"]
	if a.Error != nil || len(a.Frames) != 1 || a.Frames[0].Name != "keys" {
		t.Fatalf("QueryData = %+v, want one (empty) keys frame", a)
	}
}
