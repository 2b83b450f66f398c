package enforcer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodConfig = `
mode: enforce
policies: policies/default.yaml
signer: env:KEYWARDEN_SIGNER_KEY
chains:
  - id: 1337
    rpc_url: http://127.0.0.1:8545
    bundler_url: http://127.0.0.1:4337
clickhouse: {addrs: ["127.0.0.1:9000"], database: keywarden, password: hunter2}
nats: {url: "nats://user:s3cret@127.0.0.1:4222"}
webhook: {url: "https://hooks.example/keywarden", secret: whsec}
`

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "enforcer.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigGoodAndRedacted(t *testing.T) {
	c, err := LoadConfig(writeConfig(t, goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if c.Consumer.Durable != "keywarden-enforcer" || c.Retry.Attempts != 4 {
		t.Fatalf("defaults not applied: %+v", c)
	}
	red := c.Redacted()
	for _, secret := range []string{"hunter2", "s3cret", "whsec"} {
		if strings.Contains(red, secret) {
			t.Fatalf("redacted config shows %q:\n%s", secret, red)
		}
	}
}

// One bad configuration per error message.
func TestConfigErrors(t *testing.T) {
	cases := map[string]struct{ replace, with, want string }{
		"unknown key":    {"mode: enforce", "mode: enforce\nmdoe: x", "field mdoe not found"},
		"bad mode":       {"mode: enforce", "mode: yolo", `mode "yolo"`},
		"no signer":      {"signer: env:KEYWARDEN_SIGNER_KEY", "", "signer: required"},
		"no chains":      {"chains:\n  - id: 1337\n    rpc_url: http://127.0.0.1:8545\n    bundler_url: http://127.0.0.1:4337", "", "chains: at least one"},
		"bad rpc":        {"rpc_url: http://127.0.0.1:8545", "rpc_url: nope", "chains[0].rpc_url"},
		"bad plugin":     {"bundler_url: http://127.0.0.1:4337", "bundler_url: http://127.0.0.1:4337\n    plugins: [0x12]", "chains[0]: parse address"},
		"webhook secret": {"secret: whsec", "secret: ''", "webhook: a secret is required"},
		"log format":     {"mode: enforce", "mode: enforce\nlog: {format: xml}", `log.format: "xml"`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			body := strings.Replace(goodConfig, c.replace, c.with, 1)
			_, err := LoadConfig(writeConfig(t, body))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v\nwant it to contain %q", err, c.want)
			}
			for _, secret := range []string{"hunter2", "s3cret", "whsec"} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error shows secret %q: %v", secret, err)
				}
			}
		})
	}
}

func TestConfigReportsEveryError(t *testing.T) {
	body := strings.NewReplacer("mode: enforce", "mode: yolo", "rpc_url: http://127.0.0.1:8545", "rpc_url: nope").Replace(goodConfig)
	_, err := LoadConfig(writeConfig(t, body))
	if err == nil || !strings.Contains(err.Error(), "mode") || !strings.Contains(err.Error(), "rpc_url") {
		t.Fatalf("want both errors, got %v", err)
	}
}

func TestConfigEnvOverrides(t *testing.T) {
	c := DefaultConfig()
	c.ApplyEnv(func(k string) string {
		return map[string]string{"KEYWARDEN_NATS_URL": "nats://x:4222", "KEYWARDEN_WEBHOOK_SECRET": "s"}[k]
	})
	if c.NATS.URL != "nats://x:4222" || c.Webhook.Secret != "s" {
		t.Fatalf("%+v", c)
	}
}

func TestExampleConfigIsValid(t *testing.T) {
	t.Setenv("KEYWARDEN_WEBHOOK_SECRET", "example")
	c, err := LoadConfig("../../config/enforcer.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != ModeDryRun || len(c.Chains) != 1 {
		t.Fatalf("%+v", c)
	}
}
