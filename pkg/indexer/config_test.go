package indexer

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keywarden/keywarden/pkg/events"
)

func TestConfigGood(t *testing.T) {
	raw, err := os.ReadFile("testdata/config/good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{EnvNATSURL: "nats://user:natspw@127.0.0.1:4333", EnvClickHousePassword: "frombenv",
		"KEYWARDEN_CHAIN_1337_RPC_URLS": "http://127.0.0.1:1111, http://127.0.0.1:2222"}
	c, err := ParseConfig(raw, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("good config: %v", err)
	}
	main, dev := c.Chains[0], c.Chains[1]
	if got := main.Plugins(); len(got) != 2 || got[0] != events.SessionKeyPluginV101 || got[1] != events.SessionKeyPluginV100 {
		t.Errorf("mainnet plugins default %v, want v1.0.1 and v1.0.0", got)
	}
	if main.Finality.Tag != "finalized" || main.PollInterval != 3*time.Second || main.ReorgWindow != 256 {
		t.Errorf("mainnet chain %+v", main)
	}
	if dev.EntryPoint != events.EntryPointV06.Hex() || dev.MultiOwnerPlugin != "none" || len(dev.RPCURLs) != 2 || dev.RPCURLs[1] != "http://127.0.0.1:2222" {
		t.Errorf("dev chain %+v", dev)
	}
	if o := dev.SourceOptions(); o.Filter.MultiOwner != ([20]byte{}) || o.Window != 16 || o.MaxRangeSize != 10000 {
		t.Errorf("dev source options %+v", o)
	}
	if c.ClickHouse.Password != "frombenv" || c.NATS.URL != "nats://user:natspw@127.0.0.1:4333" {
		t.Errorf("environment not applied: %+v", c)
	}
	out := c.Redacted().YAML()
	for _, secret := range []string{"frombenv", "natspw", "APIKEY", "hunter2"} {
		if strings.Contains(out, secret) {
			t.Errorf("redacted config shows %q:\n%s", secret, out)
		}
	}
	if c.ClickHouse.Password != "frombenv" {
		t.Errorf("Redacted changed the original")
	}
}

func TestConfigEmptyFileIsNotValid(t *testing.T) {
	if _, err := ParseConfig(nil, nil); err == nil || !strings.Contains(err.Error(), "chains: at least one chain") {
		t.Fatalf("empty config: %v", err)
	}
}

// Each fixture under testdata/config/bad names the message it must produce on its first line.
func TestConfigBad(t *testing.T) {
	files, _ := filepath.Glob("testdata/config/bad/*.yaml")
	if len(files) < 20 {
		t.Fatalf("only %d bad fixtures", len(files))
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _ := bufio.NewReader(bytes.NewReader(raw)).ReadString('\n')
			want := strings.TrimSpace(strings.TrimPrefix(first, "# want:"))
			_, err = ParseConfig(raw, nil)
			if err == nil {
				t.Fatalf("no error, want %q", want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error:\n%v\nwant it to contain %q", err, want)
			}
			if strings.Contains(err.Error(), "secretpw") {
				t.Errorf("error shows a password: %v", err)
			}
		})
	}
}

// Every problem is reported at once, decoding and validation alike.
func TestConfigReportsEveryError(t *testing.T) {
	raw := []byte("chains:\n  - id: 0\n    rpc_urls: [ftp://x]\n    colour: blue\nlog: {level: loud}\n")
	_, err := ParseConfig(raw, nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"field colour not found", "chains[0].id: required", "chains[0].rpc_urls[0]", "log.level"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}
