package indexer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"gopkg.in/yaml.v3"

	"github.com/keywarden/keywarden/internal/logging"
	"github.com/keywarden/keywarden/pkg/bus"
	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/ingest"
)

// Config is the indexer's configuration file (YAML, strict: unknown keys are errors, and
// every problem is reported at once). URLs and secrets may come from the environment instead
// of the file (see ApplyEnv).
type Config struct {
	Chains     []ChainConfig    `yaml:"chains"`
	ClickHouse ClickHouseConfig `yaml:"clickhouse"`
	NATS       NATSConfig       `yaml:"nats"`
	HTTP       HTTPConfig       `yaml:"http"`
	Log        LogConfig        `yaml:"log"`
	// ShutdownTimeout bounds the drain after SIGTERM (default 12s, under the 15s promise).
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// ChainConfig is one chain to index.
type ChainConfig struct {
	ID   uint64 `yaml:"id"`
	Name string `yaml:"name"`
	// RPCURLs are HTTP(S) JSON-RPC endpoints, tried in order (failover).
	RPCURLs []string `yaml:"rpc_urls"`
	// WSURL, when set, wakes the source on new heads (polling stays the source of truth).
	WSURL string `yaml:"ws_url"`
	// SessionKeyPlugins default to the canonical v1.0.1 and v1.0.0 on the chains the vendor
	// lists; other chains must name them.
	SessionKeyPlugins []string `yaml:"session_key_plugins"`
	// MultiOwnerPlugin defaults to the canonical address; "none" disables owner tracking.
	MultiOwnerPlugin string `yaml:"multi_owner_plugin"`
	// EntryPoint, when set, also indexes UserOperationEvent ("canonical" for v0.6).
	EntryPoint string         `yaml:"entry_point"`
	StartBlock uint64         `yaml:"start_block"`
	Finality   FinalityConfig `yaml:"finality"`
	// ReorgWindow is how deep a reorg can be handled (default 128 blocks).
	ReorgWindow  uint64        `yaml:"reorg_window"`
	PollInterval time.Duration `yaml:"poll_interval"`
	// RangeSize is the initial eth_getLogs span, MaxBlockRange the widest it may grow to
	// (0: 10 × RangeSize). A provider's cap narrows it on its own.
	RangeSize      uint64        `yaml:"range_size"`
	MaxBlockRange  uint64        `yaml:"max_block_range"`
	Concurrency    int           `yaml:"concurrency"`
	RequestTimeout time.Duration `yaml:"request_timeout"`
}

// FinalityConfig is a confirmation depth, or the node's "safe" or "finalized" tag.
type FinalityConfig struct {
	Confirmations uint64 `yaml:"confirmations"`
	Tag           string `yaml:"tag"`
}

// ClickHouseConfig is the native-protocol connection. DSN, when set, replaces the fields.
type ClickHouseConfig struct {
	DSN      string         `yaml:"dsn"`
	Addrs    []string       `yaml:"addrs"`
	Database string         `yaml:"database"`
	Username string         `yaml:"username"`
	Password string         `yaml:"password"`
	TLS      TLSConfig      `yaml:"tls"`
	Timeout  time.Duration  `yaml:"timeout"`
	Settings map[string]int `yaml:"settings"`
}

// TLSConfig enables TLS to ClickHouse.
type TLSConfig struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// NATSConfig is an external server (URL and credentials), or with no URL an embedded
// in-process server with JetStream under Embedded.DataDir (the default).
type NATSConfig struct {
	URL          string            `yaml:"url"`
	CredsFile    string            `yaml:"creds_file"`
	NKeySeedFile string            `yaml:"nkey_seed_file"`
	User         string            `yaml:"user"`
	Password     string            `yaml:"password"`
	Token        string            `yaml:"token"`
	TLS          bus.TLSOptions    `yaml:"tls"`
	Embedded     EmbeddedConfig    `yaml:"embedded"`
	Stream       bus.StreamOptions `yaml:"stream"`
}

// EmbeddedConfig is the in-process NATS server.
type EmbeddedConfig struct {
	DataDir string `yaml:"data_dir"`
	Host    string `yaml:"host"`
	Port    int    `yaml:"port"`
}

// HTTPConfig is where /metrics, /healthz and /readyz are served.
type HTTPConfig struct {
	Listen string `yaml:"listen"`
}

// LogConfig selects the level and the format ("json", "console", or "auto": console on a TTY).
type LogConfig = logging.Config

// DefaultConfig is the configuration before the file is applied.
func DefaultConfig() Config {
	return Config{
		ClickHouse:      ClickHouseConfig{Addrs: []string{"127.0.0.1:9000"}, Database: "keywarden", Username: "default", Timeout: 10 * time.Second},
		NATS:            NATSConfig{Embedded: EmbeddedConfig{DataDir: "data/nats", Host: "127.0.0.1", Port: 4222}},
		HTTP:            HTTPConfig{Listen: "127.0.0.1:9464"},
		Log:             LogConfig{Level: "info", Format: "auto"},
		ShutdownTimeout: 12 * time.Second,
	}
}

// chainDefaults fills what a chain entry left out.
func (c *ChainConfig) defaults() {
	if c.ReorgWindow == 0 {
		c.ReorgWindow = 128
	}
	if c.PollInterval == 0 {
		c.PollInterval = 2 * time.Second
	}
	if c.RangeSize == 0 {
		c.RangeSize = 1000
	}
	if c.Concurrency == 0 {
		c.Concurrency = 4
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.Finality == (FinalityConfig{}) {
		c.Finality.Confirmations = 12
	}
	if len(c.SessionKeyPlugins) == 0 && knownChain(c.ID) {
		c.SessionKeyPlugins = []string{events.SessionKeyPluginV101.Hex(), events.SessionKeyPluginV100.Hex()}
	}
	if c.MultiOwnerPlugin == "" {
		c.MultiOwnerPlugin = events.MultiOwnerPlugin.Hex()
	}
	if c.EntryPoint == "canonical" {
		c.EntryPoint = events.EntryPointV06.Hex()
	}
}

func knownChain(id uint64) bool {
	for _, k := range events.KnownChains {
		if k == id {
			return true
		}
	}
	return false
}

// ParseConfig decodes raw over the defaults, applies getenv (nil: no environment) and
// validates. Every problem, of decoding and of validation, is reported at once.
func ParseConfig(raw []byte, getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var errs []error
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) { // a syntax error: nothing else is meaningful
			return c, fmt.Errorf("decode config: %w", err)
		}
		for _, m := range te.Errors {
			errs = append(errs, errors.New(m))
		}
	}
	if getenv != nil {
		c.ApplyEnv(getenv)
	}
	for i := range c.Chains {
		c.Chains[i].defaults()
	}
	if err := c.Validate(); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	return c, nil
}

// LoadConfig reads the file at path (see ParseConfig) with the process environment.
func LoadConfig(path string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return DefaultConfig(), fmt.Errorf("read config: %w", err)
	}
	c, err := ParseConfig(raw, os.Getenv)
	if err != nil {
		return c, fmt.Errorf("config %s:\n%w", path, err)
	}
	return c, nil
}

// Environment variables that override the file.
const (
	EnvClickHouseDSN      = "KEYWARDEN_CLICKHOUSE_DSN"
	EnvClickHousePassword = "KEYWARDEN_CLICKHOUSE_PASSWORD"
	EnvNATSURL            = "KEYWARDEN_NATS_URL"
	EnvNATSPassword       = "KEYWARDEN_NATS_PASSWORD"
	EnvNATSToken          = "KEYWARDEN_NATS_TOKEN"
	// EnvChainRPCURLs is a format: KEYWARDEN_CHAIN_<id>_RPC_URLS, comma-separated.
	EnvChainRPCURLs = "KEYWARDEN_CHAIN_%d_RPC_URLS"
	EnvChainWSURL   = "KEYWARDEN_CHAIN_%d_WS_URL"
)

// ApplyEnv overrides URLs and secrets from the environment.
func (c *Config) ApplyEnv(getenv func(string) string) {
	set := func(dst *string, name string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	set(&c.ClickHouse.DSN, EnvClickHouseDSN)
	set(&c.ClickHouse.Password, EnvClickHousePassword)
	set(&c.NATS.URL, EnvNATSURL)
	set(&c.NATS.Password, EnvNATSPassword)
	set(&c.NATS.Token, EnvNATSToken)
	for i := range c.Chains {
		ch := &c.Chains[i]
		if v := getenv(fmt.Sprintf(EnvChainRPCURLs, ch.ID)); v != "" {
			ch.RPCURLs = nil
			for _, u := range strings.Split(v, ",") {
				if u = strings.TrimSpace(u); u != "" {
					ch.RPCURLs = append(ch.RPCURLs, u)
				}
			}
		}
		set(&ch.WSURL, fmt.Sprintf(EnvChainWSURL, ch.ID))
	}
}

// Validate reports every error of the configuration, joined.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if len(c.Chains) == 0 {
		add("chains: at least one chain is required")
	}
	seen := map[uint64]bool{}
	for i, ch := range c.Chains {
		p := fmt.Sprintf("chains[%d]", i)
		if ch.ID == 0 {
			add("%s.id: required", p)
		} else if seen[ch.ID] {
			add("%s.id: chain %d listed twice", p, ch.ID)
		}
		seen[ch.ID] = true
		if len(ch.RPCURLs) == 0 {
			add("%s.rpc_urls: at least one http(s) URL is required (or %s)", p, fmt.Sprintf(EnvChainRPCURLs, ch.ID))
		}
		for j, u := range ch.RPCURLs {
			if !validURL(u, "http", "https") {
				add("%s.rpc_urls[%d]: %q is not an http(s) URL", p, j, redactURL(u))
			}
		}
		if ch.WSURL != "" && !validURL(ch.WSURL, "ws", "wss") {
			add("%s.ws_url: %q is not a ws(s) URL", p, redactURL(ch.WSURL))
		}
		if len(ch.SessionKeyPlugins) == 0 {
			add("%s.session_key_plugins: required on chain %d (no canonical deployment is known there)", p, ch.ID)
		}
		for j, a := range ch.SessionKeyPlugins {
			if _, err := events.ParseAddress(a); err != nil {
				add("%s.session_key_plugins[%d]: %v", p, j, err)
			}
		}
		if ch.MultiOwnerPlugin != "none" {
			if _, err := events.ParseAddress(ch.MultiOwnerPlugin); err != nil {
				add("%s.multi_owner_plugin: %v", p, err)
			}
		}
		if ch.EntryPoint != "" {
			if _, err := events.ParseAddress(ch.EntryPoint); err != nil {
				add("%s.entry_point: %v", p, err)
			}
		}
		switch ch.Finality.Tag {
		case "", "safe", "finalized":
		default:
			add("%s.finality.tag: %q, want safe or finalized", p, ch.Finality.Tag)
		}
		if ch.Finality.Tag != "" && ch.Finality.Confirmations != 0 {
			add("%s.finality: set confirmations or tag, not both", p)
		}
		if ch.Finality.Tag == "" && ch.ReorgWindow <= ch.Finality.Confirmations {
			add("%s.reorg_window: %d must exceed finality.confirmations %d", p, ch.ReorgWindow, ch.Finality.Confirmations)
		}
		if ch.PollInterval < 10*time.Millisecond {
			add("%s.poll_interval: %s is below 10ms", p, ch.PollInterval)
		}
		if ch.MaxBlockRange != 0 && ch.MaxBlockRange < ch.RangeSize {
			add("%s.max_block_range: %d is below range_size %d", p, ch.MaxBlockRange, ch.RangeSize)
		}
		if ch.Concurrency < 1 || ch.Concurrency > 64 {
			add("%s.concurrency: %d, want 1 to 64", p, ch.Concurrency)
		}
	}
	if c.ClickHouse.DSN != "" {
		if _, err := clickhouse.ParseDSN(c.ClickHouse.DSN); err != nil {
			add("clickhouse.dsn: does not parse (%s)", redactErr(err, c.ClickHouse.DSN))
		}
	} else {
		if len(c.ClickHouse.Addrs) == 0 {
			add("clickhouse.addrs: at least one host:port is required (or clickhouse.dsn)")
		}
		for j, a := range c.ClickHouse.Addrs {
			if !strings.Contains(a, ":") {
				add("clickhouse.addrs[%d]: %q, want host:port of the native protocol", j, a)
			}
		}
		if c.ClickHouse.Database == "" {
			add("clickhouse.database: required")
		}
	}
	if c.NATS.URL == "" && c.NATS.Embedded.DataDir == "" {
		add("nats: set url, or embedded.data_dir for the in-process server")
	}
	if c.NATS.Embedded.Port < 0 || c.NATS.Embedded.Port > 65535 {
		add("nats.embedded.port: %d out of range", c.NATS.Embedded.Port)
	}
	if err := c.Log.Validate(); err != nil {
		add("%v", err)
	}
	if c.ShutdownTimeout <= 0 || c.ShutdownTimeout > 15*time.Second {
		add("shutdown_timeout: %s, want more than 0 and at most 15s", c.ShutdownTimeout)
	}
	return errors.Join(errs...)
}

func validURL(s string, schemes ...string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	for _, sc := range schemes {
		if u.Scheme == sc {
			return true
		}
	}
	return false
}

const redacted = "REDACTED"

// redactURL keeps scheme and host: API keys live in user info, paths and queries.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return redacted
	}
	out := u.Scheme + "://" + u.Host
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		out += "/" + redacted
	}
	return out
}

func redactErr(err error, secret string) string {
	msg := err.Error()
	if secret != "" {
		msg = strings.ReplaceAll(msg, secret, redacted)
	}
	return msg
}

// Redacted returns a copy safe to print: passwords, tokens and URL credentials replaced.
func (c Config) Redacted() Config {
	r := c
	r.Chains = append([]ChainConfig(nil), c.Chains...)
	for i := range r.Chains {
		ch := &r.Chains[i]
		urls := make([]string, len(ch.RPCURLs))
		for j, u := range ch.RPCURLs {
			urls[j] = redactURL(u)
		}
		ch.RPCURLs = urls
		if ch.WSURL != "" {
			ch.WSURL = redactURL(ch.WSURL)
		}
	}
	if r.ClickHouse.DSN != "" {
		r.ClickHouse.DSN = redactURL(r.ClickHouse.DSN)
	}
	if r.ClickHouse.Password != "" {
		r.ClickHouse.Password = redacted
	}
	if r.NATS.URL != "" {
		r.NATS.URL = bus.RedactURL(r.NATS.URL)
	}
	if r.NATS.Password != "" {
		r.NATS.Password = redacted
	}
	if r.NATS.Token != "" {
		r.NATS.Token = redacted
	}
	return r
}

// YAML renders the configuration (call Redacted first to print it).
func (c Config) YAML() string {
	b, err := yaml.Marshal(c)
	if err != nil {
		return "# cannot render: " + err.Error()
	}
	return string(b)
}

// SourceOptions turns a chain entry into the log source's options (Client, Sink and the
// others that need I/O are left to the caller).
func (ch ChainConfig) SourceOptions() ingest.Options {
	f := ingest.Filter{}
	for _, a := range ch.SessionKeyPlugins {
		f.Plugins = append(f.Plugins, events.HexToAddress(a).Common())
	}
	if ch.MultiOwnerPlugin != "none" {
		f.MultiOwner = events.HexToAddress(ch.MultiOwnerPlugin).Common()
	}
	if ch.EntryPoint != "" {
		f.EntryPoint = events.HexToAddress(ch.EntryPoint).Common()
	}
	maxRange := ch.MaxBlockRange
	if maxRange == 0 {
		maxRange = 10 * ch.RangeSize
	}
	return ingest.Options{
		ChainID: ch.ID, Filter: f, StartBlock: ch.StartBlock,
		Finality: ingest.Finality{Confirmations: ch.Finality.Confirmations, Tag: ch.Finality.Tag},
		Window:   ch.ReorgWindow, RangeSize: ch.RangeSize, MaxRangeSize: maxRange,
		Concurrency: ch.Concurrency, PollInterval: ch.PollInterval,
	}
}

// Plugins are the chain's Session Key Plugins as addresses.
func (ch ChainConfig) Plugins() []events.Address {
	out := make([]events.Address, 0, len(ch.SessionKeyPlugins))
	for _, a := range ch.SessionKeyPlugins {
		out = append(out, events.HexToAddress(a))
	}
	return out
}

// Label names the chain in logs.
func (ch ChainConfig) Label() string {
	if ch.Name != "" {
		return ch.Name
	}
	return strconv.FormatUint(ch.ID, 10)
}
