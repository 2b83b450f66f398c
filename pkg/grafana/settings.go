package grafana

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/keywarden/keywarden/pkg/bus"
)

// Keys of the instance's secure JSON (set in provisioning as secureJsonData).
const (
	SecureClickHousePassword = "clickhousePassword"
	SecureNATSPassword       = "natsPassword"
	SecureNATSToken          = "natsToken"
	// SecureNATSCreds is the content of a NATS .creds file (user JWT and nkey seed).
	SecureNATSCreds = "natsCreds"
)

const redacted = "[REDACTED]"

// ClickHouseSettings locate keywarden's tables.
type ClickHouseSettings struct {
	// Addrs are host:port of the native protocol. Required.
	Addrs    []string `json:"addrs"`
	Database string   `json:"database"` // default "default"
	Username string   `json:"username"` // default "default"
	TLS      bool     `json:"tls"`
	// Password comes only from secure JSON.
	Password string `json:"-"`
}

// NATSSettings locate the NATS server of the live streams. An empty URL turns streams off.
type NATSSettings struct {
	URL  string `json:"url"`
	User string `json:"user"`
	TLS  bool   `json:"tls"`
	// Password, Token and Creds come only from secure JSON.
	Password string `json:"-"`
	Token    string `json:"-"`
	Creds    string `json:"-"`
}

// Settings are one data source instance's configuration. Its String, Format and MarshalJSON
// never show a secret.
type Settings struct {
	ClickHouse ClickHouseSettings `json:"clickhouse"`
	NATS       NATSSettings       `json:"nats"`
}

// ErrInvalidSettings is wrapped by every settings validation error.
var ErrInvalidSettings = errors.New("invalid data source settings")

// LoadSettings reads the instance JSON (jsonData) and takes secrets only from the decrypted
// secure JSON. Every problem is reported at once.
func LoadSettings(s backend.DataSourceInstanceSettings) (Settings, error) {
	var out Settings
	if len(s.JSONData) > 0 && string(s.JSONData) != "null" {
		dec := json.NewDecoder(strings.NewReader(string(s.JSONData)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out); err != nil {
			return Settings{}, fmt.Errorf("%w: read jsonData: %v", ErrInvalidSettings, err)
		}
	}
	sec := s.DecryptedSecureJSONData
	out.ClickHouse.Password = sec[SecureClickHousePassword]
	out.NATS.Password = sec[SecureNATSPassword]
	out.NATS.Token = sec[SecureNATSToken]
	out.NATS.Creds = sec[SecureNATSCreds]
	if out.ClickHouse.Database == "" {
		out.ClickHouse.Database = "default"
	}
	if out.ClickHouse.Username == "" {
		out.ClickHouse.Username = "default"
	}
	if err := out.Validate(); err != nil {
		return Settings{}, err
	}
	return out, nil
}

// Validate reports every problem of s at once.
func (s Settings) Validate() error {
	var errs []error
	if len(s.ClickHouse.Addrs) == 0 {
		errs = append(errs, errors.New("clickhouse.addrs: at least one host:port is required"))
	}
	for i, a := range s.ClickHouse.Addrs {
		if strings.TrimSpace(a) == "" || strings.Contains(a, "@") || strings.Contains(a, "/") {
			errs = append(errs, fmt.Errorf("clickhouse.addrs[%d]: want host:port", i))
		}
	}
	if s.NATS.URL != "" {
		for _, raw := range strings.Split(s.NATS.URL, ",") {
			u, err := url.Parse(strings.TrimSpace(raw))
			if err != nil || u.Host == "" {
				errs = append(errs, fmt.Errorf("nats.url: %q is not a URL", bus.RedactURL(raw)))
				continue
			}
			if u.User != nil {
				errs = append(errs, fmt.Errorf("nats.url: %q carries credentials; put them in secureJsonData (%s, %s or %s)",
					bus.RedactURL(raw), SecureNATSPassword, SecureNATSToken, SecureNATSCreds))
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidSettings, errors.Join(errs...))
}

// secrets lists the non-empty secrets of s, for redaction.
func (s Settings) secrets() []string {
	var out []string
	for _, v := range []string{s.ClickHouse.Password, s.NATS.Password, s.NATS.Token, s.NATS.Creds} {
		if v != "" {
			out = append(out, v)
		}
	}
	// A creds file holds a JWT and a seed; redact each line of it too.
	for _, line := range strings.Split(s.NATS.Creds, "\n") {
		if line = strings.TrimSpace(line); len(line) >= 16 {
			out = append(out, line)
		}
	}
	return out
}

// String renders s with secrets replaced.
func (s Settings) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "grafana.Settings{ClickHouse:{Addrs:%q Database:%q Username:%q TLS:%t", s.ClickHouse.Addrs,
		s.ClickHouse.Database, s.ClickHouse.Username, s.ClickHouse.TLS)
	if s.ClickHouse.Password != "" {
		b.WriteString(" Password:" + redacted)
	}
	fmt.Fprintf(&b, "} NATS:{URL:%q User:%q TLS:%t", bus.RedactURL(s.NATS.URL), s.NATS.User, s.NATS.TLS)
	if s.NATS.Password != "" {
		b.WriteString(" Password:" + redacted)
	}
	if s.NATS.Token != "" {
		b.WriteString(" Token:" + redacted)
	}
	if s.NATS.Creds != "" {
		b.WriteString(" Creds:" + redacted)
	}
	b.WriteString("}}")
	return b.String()
}

// Format makes every fmt verb print the redacted form.
func (s Settings) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s.String())
		return
	}
	_, _ = f.Write([]byte(s.String()))
}

// MarshalJSON writes s without secrets (they are tagged "-" and never marshalled).
func (s Settings) MarshalJSON() ([]byte, error) {
	type plain Settings
	p := plain(s)
	p.NATS.URL = bus.RedactURL(s.NATS.URL)
	return json.Marshal(p)
}

// redactedError is an error whose message had a secret in it. It deliberately does not unwrap:
// the cause's message still holds the secret.
type redactedError struct{ msg string }

func (e *redactedError) Error() string { return e.msg }

// redact replaces every secret in err's message.
func redact(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		if s != "" {
			clean = strings.ReplaceAll(clean, s, redacted)
		}
	}
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean}
}
