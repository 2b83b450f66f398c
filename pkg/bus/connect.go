package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"
)

const redacted = "[REDACTED]"

// TLSOptions configures TLS to the NATS server. Files are PEM.
type TLSOptions struct {
	// Enabled requires TLS even when no file is given (system roots).
	Enabled  bool   `yaml:"enabled" json:"enabled"`
	CAFile   string `yaml:"ca_file" json:"ca_file"`
	CertFile string `yaml:"cert_file" json:"cert_file"`
	KeyFile  string `yaml:"key_file" json:"key_file"`
}

// Options configures a NATS connection. Its String, Format and MarshalJSON redact the password,
// the token and any password inside the URL, so an Options can be logged as it is.
type Options struct {
	// URL is one server URL or a comma-separated list.
	URL string `yaml:"url" json:"url"`
	// CredsFile is a .creds file (JWT and nkey seed), NKeySeedFile a bare nkey seed file.
	CredsFile    string     `yaml:"creds_file" json:"creds_file"`
	NKeySeedFile string     `yaml:"nkey_seed_file" json:"nkey_seed_file"`
	User         string     `yaml:"user" json:"user"`
	Password     string     `yaml:"password" json:"-"`
	Token        string     `yaml:"token" json:"-"`
	TLS          TLSOptions `yaml:"tls" json:"tls"`
	// Name is the connection name shown by the server's monitoring.
	Name string `yaml:"name" json:"name"`
	// ReconnectWait is the first reconnect delay, MaxReconnectWait its cap (defaults 250ms, 10s).
	// Reconnection never gives up.
	ReconnectWait    time.Duration `yaml:"reconnect_wait" json:"reconnect_wait"`
	MaxReconnectWait time.Duration `yaml:"max_reconnect_wait" json:"max_reconnect_wait"`
	// Logger receives connection events (never credentials).
	Logger zerolog.Logger `yaml:"-" json:"-"`
}

// String renders the options with secrets redacted.
func (o Options) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bus.Options{URL:%q", RedactURL(o.URL))
	if o.CredsFile != "" {
		fmt.Fprintf(&b, " CredsFile:%q", o.CredsFile)
	}
	if o.NKeySeedFile != "" {
		fmt.Fprintf(&b, " NKeySeedFile:%q", o.NKeySeedFile)
	}
	if o.User != "" {
		fmt.Fprintf(&b, " User:%q", o.User)
	}
	if o.Password != "" {
		b.WriteString(" Password:" + redacted)
	}
	if o.Token != "" {
		b.WriteString(" Token:" + redacted)
	}
	if o.TLS != (TLSOptions{}) {
		fmt.Fprintf(&b, " TLS:%+v", o.TLS)
	}
	if o.Name != "" {
		fmt.Fprintf(&b, " Name:%q", o.Name)
	}
	b.WriteString("}")
	return b.String()
}

// Format makes every fmt verb (%v, %+v, %#v, %s, %q) print the redacted form.
func (o Options) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", o.String())
		return
	}
	_, _ = f.Write([]byte(o.String()))
}

// MarshalJSON writes the options with secrets redacted (for structured logs).
func (o Options) MarshalJSON() ([]byte, error) {
	type plain Options // no methods: no recursion
	p := plain(o)
	p.URL = RedactURL(o.URL)
	out := struct {
		plain
		Password string `json:"password,omitempty"`
		Token    string `json:"token,omitempty"`
	}{plain: p}
	if o.Password != "" {
		out.Password = redacted
	}
	if o.Token != "" {
		out.Token = redacted
	}
	return json.Marshal(out)
}

// RedactURL replaces the password (or a lone token) in each URL of a comma-separated list.
func RedactURL(list string) string {
	if list == "" {
		return ""
	}
	parts := strings.Split(list, ",")
	for i, raw := range parts {
		raw = strings.TrimSpace(raw)
		u, err := url.Parse(raw)
		if err != nil {
			if strings.Contains(raw, "@") {
				parts[i] = redacted
			} else {
				parts[i] = raw
			}
			continue
		}
		if u.User != nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), "xxxxx")
			} else {
				u.User = url.User("xxxxx") // a lone user part is a token
			}
		}
		parts[i] = strings.Replace(u.String(), "xxxxx", redacted, 1)
	}
	return strings.Join(parts, ",")
}

// Connect dials NATS and waits until the first connection is up or ctx ends. The connection
// reconnects forever afterwards, with exponential backoff capped at MaxReconnectWait and jitter.
func Connect(ctx context.Context, opts Options) (*nats.Conn, error) {
	if opts.URL == "" {
		return nil, errors.New("connect nats: URL is required")
	}
	log := opts.Logger.With().Str("component", "nats").Logger()
	base, maxWait := opts.ReconnectWait, opts.MaxReconnectWait
	if base <= 0 {
		base = 250 * time.Millisecond
	}
	if maxWait <= 0 {
		maxWait = 10 * time.Second
	}
	nopts := []nats.Option{
		nats.Name(opts.Name),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.CustomReconnectDelay(func(attempts int) time.Duration { return backoff(base, maxWait, attempts) }),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			log.Warn().Err(err).Str("url", nc.ConnectedUrlRedacted()).Msg("nats disconnected")
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info().Str("url", nc.ConnectedUrlRedacted()).Msg("nats reconnected")
		}),
		nats.ClosedHandler(func(*nats.Conn) { log.Debug().Msg("nats connection closed") }),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			ev := log.Warn().Err(err)
			if sub != nil {
				ev = ev.Str("subject", sub.Subject)
			}
			ev.Msg("nats async error")
		}),
	}
	if opts.CredsFile != "" {
		nopts = append(nopts, nats.UserCredentials(opts.CredsFile))
	}
	if opts.NKeySeedFile != "" {
		o, err := nats.NkeyOptionFromSeed(opts.NKeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("connect nats: read nkey seed file %s: %w", opts.NKeySeedFile, redactErr(err, opts))
		}
		nopts = append(nopts, o)
	}
	if opts.User != "" || opts.Password != "" {
		nopts = append(nopts, nats.UserInfo(opts.User, opts.Password))
	}
	if opts.Token != "" {
		nopts = append(nopts, nats.Token(opts.Token))
	}
	if opts.TLS.Enabled {
		nopts = append(nopts, nats.Secure())
	}
	if opts.TLS.CAFile != "" {
		nopts = append(nopts, nats.RootCAs(opts.TLS.CAFile))
	}
	if opts.TLS.CertFile != "" || opts.TLS.KeyFile != "" {
		nopts = append(nopts, nats.ClientCert(opts.TLS.CertFile, opts.TLS.KeyFile))
	}
	nc, err := nats.Connect(opts.URL, nopts...)
	if err != nil {
		return nil, fmt.Errorf("connect nats %s: %w", RedactURL(opts.URL), redactErr(err, opts))
	}
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !nc.IsConnected() {
		select {
		case <-ctx.Done():
			lastErr := nc.LastError()
			nc.Close()
			if lastErr != nil {
				return nil, fmt.Errorf("connect nats %s: %w (last error: %v)", RedactURL(opts.URL), ctx.Err(), redactErr(lastErr, opts))
			}
			return nil, fmt.Errorf("connect nats %s: %w", RedactURL(opts.URL), ctx.Err())
		case <-t.C:
		}
		if nc.IsClosed() {
			return nil, fmt.Errorf("connect nats %s: connection closed: %v", RedactURL(opts.URL), redactErr(nc.LastError(), opts))
		}
	}
	log.Info().Str("url", nc.ConnectedUrlRedacted()).Msg("nats connected")
	return nc, nil
}

// backoff is base*2^attempts capped at max, with up to 25% jitter either way.
func backoff(base, max time.Duration, attempts int) time.Duration {
	d := base
	for i := 0; i < attempts && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	j := time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	return d + j
}

// redactErr removes secrets that an underlying library might have put in an error message.
func redactErr(err error, o Options) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	for _, s := range []string{o.Password, o.Token} {
		if len(s) >= 4 {
			clean = strings.ReplaceAll(clean, s, redacted)
		}
	}
	if clean == msg {
		return err
	}
	return errors.New(clean)
}
