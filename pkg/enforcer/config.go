package enforcer

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/keywarden/keywarden/internal/logging"
	"github.com/keywarden/keywarden/pkg/bus"
	"github.com/keywarden/keywarden/pkg/events"
)

// Config is the enforcer's configuration file (YAML, strict: unknown keys are errors).
// Secrets come from the environment or files, never from the file itself when avoidable:
// KEYWARDEN_CLICKHOUSE_PASSWORD, KEYWARDEN_NATS_PASSWORD, KEYWARDEN_NATS_TOKEN,
// KEYWARDEN_WEBHOOK_SECRET override the corresponding fields; KEYWARDEN_NATS_URL the URL.
type Config struct {
	Mode     Mode   `yaml:"mode"`
	Policies string `yaml:"policies"`
	Instance string `yaml:"instance"`
	// Signer names where the owner key comes from: env:NAME, file:PATH or keystore:PATH.
	Signer       string           `yaml:"signer"`
	SignerPwFile string           `yaml:"signer_password_file"`
	SignerPwEnv  string           `yaml:"signer_password_env"`
	Chains       []ChainConfig    `yaml:"chains"`
	ClickHouse   ClickHouseConfig `yaml:"clickhouse"`
	NATS         NATSConfig       `yaml:"nats"`
	Consumer     ConsumerConfig   `yaml:"consumer"`
	Webhook      WebhookConfig    `yaml:"webhook"`
	Approval     ApprovalConfig   `yaml:"approval"`
	Rotation     RotationConfig   `yaml:"rotation"`
	Retry        RetryConfig      `yaml:"retry"`
	HTTP         HTTPConfig       `yaml:"http"`
	Log          LogConfig        `yaml:"log"`
}

// ChainConfig is one chain the enforcer acts on.
type ChainConfig struct {
	ID         uint64 `yaml:"id"`
	RPCURL     string `yaml:"rpc_url"`
	BundlerURL string `yaml:"bundler_url"`
	// Plugins are the Session Key Plugin addresses (default: v1.0.1 and v1.0.0).
	Plugins    []string `yaml:"plugins"`
	MultiOwner string   `yaml:"multi_owner"`
	EntryPoint string   `yaml:"entry_point"`
}

// ClickHouseConfig is the native-protocol connection for audit rows and the expiry watch.
type ClickHouseConfig struct {
	Addrs    []string `yaml:"addrs"`
	Database string   `yaml:"database"`
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
	TLS      bool     `yaml:"tls"`
}

// NATSConfig is an external server (URL and credentials) or, with no URL, an embedded one.
type NATSConfig struct {
	bus.Options `yaml:",inline"`
	// EmbeddedDir is the data directory of the embedded server (used when URL is empty).
	EmbeddedDir string `yaml:"embedded_dir"`
}

// ConsumerConfig tunes the durable JetStream consumer shared by every enforcer.
type ConsumerConfig struct {
	Durable    string        `yaml:"durable"`
	AckWait    time.Duration `yaml:"ack_wait"`
	MaxDeliver int           `yaml:"max_deliver"`
}

// WebhookConfig posts notifications; the HMAC secret comes from KEYWARDEN_WEBHOOK_SECRET.
type WebhookConfig struct {
	URL    string `yaml:"url"`
	Secret string `yaml:"secret"`
}

// ApprovalConfig applies in approval mode.
type ApprovalConfig struct {
	TTL time.Duration `yaml:"ttl"`
}

// RotationConfig bounds the wait for a key's agent.
type RotationConfig struct {
	AgentTimeout time.Duration `yaml:"agent_timeout"`
}

// RetryConfig bounds failed submissions.
type RetryConfig struct {
	Attempts       int           `yaml:"attempts"`
	Backoff        time.Duration `yaml:"backoff"`
	ReceiptTimeout time.Duration `yaml:"receipt_timeout"`
}

// HTTPConfig is the address of /metrics, /healthz, /readyz and /actions/{id}/approve|deny.
type HTTPConfig struct {
	Listen string `yaml:"listen"`
}

// LogConfig selects the log level and format (json, console, or auto: console on a TTY).
type LogConfig = logging.Config

// DefaultConfig is the configuration before the file is applied.
func DefaultConfig() Config {
	return Config{
		Mode:       ModeEnforce,
		Policies:   "policies/default.yaml",
		Consumer:   ConsumerConfig{Durable: "keywarden-enforcer", AckWait: 2 * time.Minute, MaxDeliver: 8},
		Approval:   ApprovalConfig{TTL: 24 * time.Hour},
		Rotation:   RotationConfig{AgentTimeout: 10 * time.Second},
		Retry:      RetryConfig{Attempts: 4, Backoff: time.Second, ReceiptTimeout: time.Minute},
		HTTP:       HTTPConfig{Listen: "127.0.0.1:9101"},
		Log:        LogConfig{Level: "info"},
		NATS:       NATSConfig{EmbeddedDir: "data/nats"},
		ClickHouse: ClickHouseConfig{Addrs: []string{"127.0.0.1:9000"}, Database: "keywarden", Username: "default"},
	}
}

// LoadConfig reads path over the defaults, applies the environment and validates. Every
// problem is reported at once.
func LoadConfig(path string) (Config, error) {
	c, err := ReadConfig(path)
	if err != nil {
		return c, err
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// ReadConfig reads path over the defaults and applies the environment, without validating
// (so that flags can override fields before Validate reports every problem at once).
func ReadConfig(path string) (Config, error) {
	c := DefaultConfig()
	raw, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("read config: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("decode config %s: %w", path, err)
	}
	c.ApplyEnv(os.Getenv)
	return c, nil
}

// ApplyEnv overrides URLs and secrets from the environment.
func (c *Config) ApplyEnv(getenv func(string) string) {
	set := func(dst *string, name string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	set(&c.ClickHouse.Password, "KEYWARDEN_CLICKHOUSE_PASSWORD")
	set(&c.NATS.URL, "KEYWARDEN_NATS_URL")
	set(&c.NATS.Password, "KEYWARDEN_NATS_PASSWORD")
	set(&c.NATS.Token, "KEYWARDEN_NATS_TOKEN")
	set(&c.Webhook.Secret, "KEYWARDEN_WEBHOOK_SECRET")
}

// Validate reports every error of the configuration, joined.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !c.Mode.Valid() {
		add("mode %q: want enforce, dry_run or approval", c.Mode)
	}
	if c.Policies == "" {
		add("policies: a policy file is required")
	}
	if c.Signer == "" {
		add("signer: required (env:NAME, file:PATH or keystore:PATH)")
	}
	if len(c.Chains) == 0 {
		add("chains: at least one chain is required")
	}
	seen := map[uint64]bool{}
	for i, ch := range c.Chains {
		if ch.ID == 0 {
			add("chains[%d].id: required", i)
		}
		if seen[ch.ID] {
			add("chains[%d].id: chain %d listed twice", i, ch.ID)
		}
		seen[ch.ID] = true
		for name, u := range map[string]string{"rpc_url": ch.RPCURL, "bundler_url": ch.BundlerURL} {
			if _, err := url.ParseRequestURI(u); err != nil || u == "" {
				add("chains[%d].%s: want an http(s) URL", i, name)
			}
		}
		for _, a := range append(append([]string{}, ch.Plugins...), nonEmpty(ch.MultiOwner, ch.EntryPoint)...) {
			if _, err := events.ParseAddress(a); err != nil {
				add("chains[%d]: %v", i, err)
			}
		}
	}
	if len(c.ClickHouse.Addrs) == 0 {
		add("clickhouse.addrs: at least one host:port is required")
	}
	if c.NATS.URL == "" && c.NATS.EmbeddedDir == "" {
		add("nats: set url, or embedded_dir for an in-process server")
	}
	if c.Webhook.URL != "" && c.Webhook.Secret == "" {
		add("webhook: a secret is required to sign notifications (KEYWARDEN_WEBHOOK_SECRET)")
	}
	if c.Consumer.Durable == "" {
		add("consumer.durable: required")
	}
	if c.Retry.Attempts < 1 {
		add("retry.attempts: at least 1")
	}
	if err := c.Log.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func nonEmpty(ss ...string) []string {
	var out []string
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Redacted returns the configuration as YAML with every secret replaced.
func (c Config) Redacted() string {
	r := c
	if r.ClickHouse.Password != "" {
		r.ClickHouse.Password = "[redacted]"
	}
	if r.NATS.Password != "" {
		r.NATS.Password = "[redacted]"
	}
	if r.NATS.Token != "" {
		r.NATS.Token = "[redacted]"
	}
	if r.Webhook.Secret != "" {
		r.Webhook.Secret = "[redacted]"
	}
	r.NATS.URL = bus.RedactURL(r.NATS.URL)
	out, _ := yaml.Marshal(r)
	return string(out)
}
