package grafana

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"
	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/keywarden/keywarden/pkg/bus"
	"github.com/keywarden/keywarden/pkg/store"
)

// PluginID is the plugin's id in grafana/plugin.json.
const PluginID = "keywarden-keywarden-datasource"

var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.StreamHandler         = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// ErrNATSNotConfigured is returned by the stream handlers when the instance has no NATS URL.
var ErrNATSNotConfigured = errors.New("nats is not configured for this data source")

// Options are what the plugin main injects.
type Options struct {
	// Logger receives connection and query errors (never secrets). Default: discard.
	Logger zerolog.Logger
	// Now is the clock of relative filters (expiring soon, lag). Default time.Now.
	Now func() time.Time
	// DialTimeout bounds one connection attempt to ClickHouse or NATS. Default 5 s.
	DialTimeout time.Duration
}

// Datasource is one configured instance of the keywarden data source.
type Datasource struct {
	settings Settings
	secrets  []string
	log      zerolog.Logger
	now      func() time.Time
	dial     time.Duration

	// chMu and natsMu guard each connection separately, so that a slow NATS dial never
	// holds up a ClickHouse query.
	chMu   sync.Mutex
	ch     querier
	chDB   *store.Store
	natsMu sync.Mutex
	nc     *nats.Conn
	closed chan struct{} // closed when nc closes
	dispos atomic.Bool

	// streamReady, when set (tests), is called once a stream's subscriptions are registered.
	streamReady func(path string)
}

// New returns a data source for settings. It connects on first use.
func New(settings Settings, o Options) *Datasource {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 5 * time.Second
	}
	return &Datasource{
		settings: settings,
		secrets:  settings.secrets(),
		log:      o.Logger.With().Str("component", "grafana-datasource").Logger(),
		now:      o.Now,
		dial:     o.DialTimeout,
	}
}

// NewInstanceFactory returns the factory datasource.Manage calls for each configured instance.
func NewInstanceFactory(o Options) datasource.InstanceFactoryFunc {
	return func(_ context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
		settings, err := LoadSettings(s)
		if err != nil {
			return nil, fmt.Errorf("create data source %s: %w", s.UID, err)
		}
		o := o
		o.Logger = o.Logger.With().Str("datasource_uid", s.UID).Logger()
		return New(settings, o), nil
	}
}

// Dispose closes the connections; Grafana calls it when the instance's settings change.
func (d *Datasource) Dispose() {
	d.dispos.Store(true)
	d.chMu.Lock()
	if d.chDB != nil {
		if err := d.chDB.Close(); err != nil {
			d.log.Warn().Err(d.redact(err)).Msg("close clickhouse")
		}
		d.chDB, d.ch = nil, nil
	}
	d.chMu.Unlock()
	d.natsMu.Lock()
	if d.nc != nil {
		d.nc.Close()
		d.nc = nil
	}
	d.natsMu.Unlock()
}

func (d *Datasource) redact(err error) error { return redact(err, d.secrets) }

var errDisposed = errors.New("data source instance was disposed")

// clickhouse returns the shared connection, opening it on first use.
func (d *Datasource) clickhouse(ctx context.Context) (querier, error) {
	d.chMu.Lock()
	defer d.chMu.Unlock()
	if d.dispos.Load() {
		return nil, errDisposed
	}
	if d.ch != nil {
		return d.ch, nil
	}
	c := d.settings.ClickHouse
	o := store.Options{
		Addrs: c.Addrs, Database: c.Database, Username: c.Username, Password: c.Password,
		DialTimeout: d.dial, ReadTimeout: time.Minute, MaxOpenConns: 4, Logger: d.log,
	}
	if c.TLS {
		o.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	s, err := store.Open(ctx, o)
	if err != nil {
		return nil, d.redact(err)
	}
	d.chDB, d.ch = s, s.Conn()
	return d.ch, nil
}

// natsConn returns the shared NATS connection and a channel closed when it closes.
func (d *Datasource) natsConn(ctx context.Context) (*nats.Conn, <-chan struct{}, error) {
	d.natsMu.Lock()
	defer d.natsMu.Unlock()
	if d.dispos.Load() {
		return nil, nil, errDisposed
	}
	if d.settings.NATS.URL == "" {
		return nil, nil, ErrNATSNotConfigured
	}
	if d.nc != nil && !d.nc.IsClosed() {
		return d.nc, d.closed, nil
	}
	n := d.settings.NATS
	closed := make(chan struct{})
	log := d.log
	opts := []nats.Option{
		nats.Name("keywarden-grafana"),
		nats.Timeout(d.dial),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) {
			log.Warn().Err(d.redact(err)).Str("url", nc.ConnectedUrlRedacted()).Msg("nats disconnected")
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			log.Warn().Err(d.redact(err)).Msg("nats async error")
		}),
	}
	if n.User != "" || n.Password != "" {
		opts = append(opts, nats.UserInfo(n.User, n.Password))
	}
	if n.Token != "" {
		opts = append(opts, nats.Token(n.Token))
	}
	if n.Creds != "" {
		userJWT, err := jwt.ParseDecoratedJWT([]byte(n.Creds))
		if err != nil {
			return nil, nil, fmt.Errorf("read nats credentials: not a .creds file (%s)", redacted)
		}
		kp, err := jwt.ParseDecoratedNKey([]byte(n.Creds))
		if err != nil {
			return nil, nil, fmt.Errorf("read nats credentials: no nkey seed (%s)", redacted)
		}
		seed, err := kp.Seed()
		if err != nil {
			return nil, nil, fmt.Errorf("read nats credentials: no nkey seed (%s)", redacted)
		}
		opts = append(opts, nats.UserJWTAndSeed(userJWT, string(seed)))
	}
	if n.TLS {
		opts = append(opts, nats.Secure(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(n.URL, opts...)
		done <- result{nc, err}
	}()
	select {
	case <-ctx.Done():
		go func() { // the dial is bounded by nats.Timeout; close whatever it yields
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, nil, fmt.Errorf("connect nats %s: %w", bus.RedactURL(n.URL), ctx.Err())
	case r := <-done:
		if r.err != nil {
			return nil, nil, d.redact(fmt.Errorf("connect nats %s: %w", bus.RedactURL(n.URL), r.err))
		}
		d.nc, d.closed = r.nc, closed
		return r.nc, closed, nil
	}
}

// CheckHealth pings ClickHouse and, when configured, NATS.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	var problems, ok []string
	if conn, err := d.clickhouse(ctx); err != nil {
		problems = append(problems, "ClickHouse: "+err.Error())
	} else if err := conn.Ping(ctx); err != nil {
		problems = append(problems, "ClickHouse: ping: "+d.redact(err).Error())
	} else if missing, err := missingTables(ctx, conn); err != nil {
		problems = append(problems, "ClickHouse: "+d.redact(err).Error())
	} else if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("ClickHouse database %s lacks tables %s (the indexer creates them at start)",
			d.settings.ClickHouse.Database, strings.Join(missing, ", ")))
	} else {
		ok = append(ok, fmt.Sprintf("ClickHouse %s (database %s)", strings.Join(d.settings.ClickHouse.Addrs, ","), d.settings.ClickHouse.Database))
	}
	if d.settings.NATS.URL == "" {
		ok = append(ok, "NATS not configured (no live streams)")
	} else if nc, _, err := d.natsConn(ctx); err != nil {
		problems = append(problems, "NATS: "+err.Error())
	} else if err := flush(ctx, nc); err != nil {
		problems = append(problems, "NATS: ping: "+d.redact(err).Error())
	} else {
		ok = append(ok, "NATS "+nc.ConnectedUrlRedacted())
	}
	if len(problems) > 0 {
		msg := strings.Join(problems, "; ")
		// The result goes to the person who pressed "Save & test"; operators see it here.
		d.log.Warn().Str("problems", msg).Msg("health check failed")
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: msg}, nil
	}
	return &backend.CheckHealthResult{Status: backend.HealthStatusOk, Message: "OK: " + strings.Join(ok, "; ")}, nil
}

// queriedTables are the tables the query types read.
var queriedTables = []string{"events", "key_state", "blocks", "checkpoints", "decode_failures", "verdicts", "actions", "coverage"}

func missingTables(ctx context.Context, conn querier) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT name FROM system.tables WHERE database = currentDatabase()")
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var have []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("list tables: %w", err)
		}
		have = append(have, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	var missing []string
	for _, t := range queriedTables {
		if !slices.Contains(have, t) {
			missing = append(missing, t)
		}
	}
	return missing, nil
}

func flush(ctx context.Context, nc *nats.Conn) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	return nc.FlushWithContext(ctx)
}
