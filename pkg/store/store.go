package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/rs/zerolog"

	"github.com/keywarden/keywarden/schema"
)

// Store is a ClickHouse connection pool with keywarden's writer and readers. It is safe for
// concurrent use.
type Store struct {
	conn  driver.Conn
	db    string
	log   zerolog.Logger
	clock versionClock

	seedMu sync.Mutex
	seeded bool
}

// Open connects to ClickHouse and checks the connection. It does not touch the schema: call
// Migrate before the first write.
func Open(ctx context.Context, o Options) (*Store, error) {
	if len(o.Addrs) == 0 {
		return nil, errors.New("open clickhouse: no address")
	}
	if o.Database == "" {
		o.Database = "default"
	}
	if o.Username == "" {
		o.Username = "default"
	}
	if o.DialTimeout == 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = 2 * time.Minute
	}
	if o.MaxOpenConns == 0 {
		o.MaxOpenConns = 8
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.CreateDatabase && o.Database != "default" {
		if err := createDatabase(ctx, o); err != nil {
			return nil, err
		}
	}
	conn, err := clickhouse.Open(clientOptions(o, o.Database))
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %v: %w", o.Addrs, err)
	}
	if err := conn.Ping(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("ping clickhouse %v database %s: %w", o.Addrs, o.Database, err)
	}
	s := &Store{conn: conn, db: o.Database, log: o.Logger.With().Str("component", "store").Logger()}
	s.clock.now = o.now
	return s, nil
}

func clientOptions(o Options, db string) *clickhouse.Options {
	return &clickhouse.Options{
		Protocol:     clickhouse.Native,
		Addr:         o.Addrs,
		Auth:         clickhouse.Auth{Database: db, Username: o.Username, Password: o.Password},
		TLS:          o.TLS,
		DialTimeout:  o.DialTimeout,
		ReadTimeout:  o.ReadTimeout,
		MaxOpenConns: o.MaxOpenConns,
		MaxIdleConns: min(5, o.MaxOpenConns),
	}
}

func createDatabase(ctx context.Context, o Options) error {
	conn, err := clickhouse.Open(clientOptions(o, "default"))
	if err != nil {
		return fmt.Errorf("open clickhouse %v: %w", o.Addrs, err)
	}
	defer conn.Close()
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(o.Database)); err != nil {
		return fmt.Errorf("create database %s: %w", o.Database, err)
	}
	return nil
}

// quoteIdent quotes a ClickHouse identifier with backquotes.
func quoteIdent(s string) string {
	out := []byte{'`'}
	for i := 0; i < len(s); i++ {
		if s[i] == '`' || s[i] == '\\' {
			out = append(out, '\\')
		}
		out = append(out, s[i])
	}
	return string(append(out, '`'))
}

// Close closes the connection pool.
func (s *Store) Close() error {
	if err := s.conn.Close(); err != nil {
		return fmt.Errorf("close clickhouse: %w", err)
	}
	return nil
}

// Conn is the underlying connection, for ad-hoc queries (tests, tools).
func (s *Store) Conn() driver.Conn { return s.conn }

// Migrate applies the migrations of package schema that the database has not recorded yet, in
// order, and records each. Running it again, or from two processes at once, is harmless:
// every statement is idempotent.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := schema.Migrations()
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	applied, err := s.appliedVersions(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		for i, stmt := range m.Statements {
			if err := s.conn.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("migrate %s statement %d: %w", m.Name, i+1, err)
			}
		}
		if err := s.recordMigration(ctx, m); err != nil {
			return fmt.Errorf("migrate %s: %w", m.Name, err)
		}
		s.log.Info().Uint32("version", m.Version).Str("name", m.Name).Msg("applied migration")
	}
	return s.seedVersions(ctx)
}

func (s *Store) appliedVersions(ctx context.Context) (map[uint32]bool, error) {
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = 'schema_migrations'").Scan(&n); err != nil {
		return nil, fmt.Errorf("look for schema_migrations: %w", err)
	}
	applied := map[uint32]bool{}
	if n == 0 {
		return applied, nil
	}
	rows, err := s.conn.Query(ctx, "SELECT DISTINCT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return applied, nil
}

func (s *Store) recordMigration(ctx context.Context, m schema.Migration) (err error) {
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO schema_migrations (version, name, applied_at)")
	if err != nil {
		return fmt.Errorf("record migration: %w", err)
	}
	defer abortUnlessSent(b, &err)
	if err := b.Append(m.Version, m.Name, time.Now().UTC().Truncate(time.Second)); err != nil {
		return fmt.Errorf("record migration: %w", err)
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("record migration: %w", err)
	}
	return nil
}

// AppliedMigrations returns the versions recorded in schema_migrations, ascending.
func (s *Store) AppliedMigrations(ctx context.Context) ([]uint32, error) {
	applied, err := s.appliedVersions(ctx)
	if err != nil {
		return nil, err
	}
	ms, err := schema.Migrations()
	if err != nil {
		return nil, err
	}
	var out []uint32
	for _, m := range ms {
		if applied[m.Version] {
			out = append(out, m.Version)
		}
	}
	return out, nil
}

// versionedTables are the tables whose highest version seeds the version clock.
var versionedTables = []table{tblEvents, tblUpdates, tblKeyState, tblAccounts, tblBlocks, tblCheckpoints, tblFailures}

// seedVersions makes the clock issue versions above every stored row, so that a restart on a
// machine whose clock went back still replaces old rows.
func (s *Store) seedVersions(ctx context.Context) error {
	s.seedMu.Lock()
	defer s.seedMu.Unlock()
	if s.seeded {
		return nil
	}
	for _, t := range versionedTables {
		var v uint64
		if err := s.conn.QueryRow(ctx, "SELECT max(version) FROM "+t.name).Scan(&v); err != nil {
			return fmt.Errorf("read highest version of %s: %w", t.name, err)
		}
		s.clock.observe(v)
	}
	s.seeded = true
	return nil
}

// abortUnlessSent aborts b when the function returns an error before Send succeeded.
func abortUnlessSent(b driver.Batch, err *error) {
	if *err != nil && !b.IsSent() {
		_ = b.Abort()
	}
}
