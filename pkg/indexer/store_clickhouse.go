package indexer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/rs/zerolog"

	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/ingest"
	"github.com/keywarden/keywarden/pkg/store"
)

// StoreAdapter is the sink's Store over pkg/store.
type StoreAdapter struct{ st *store.Store }

var (
	_ Store              = (*StoreAdapter)(nil)
	_ ingest.Checkpoints = (*StoreAdapter)(nil)
)

// NewStoreAdapter wraps st.
func NewStoreAdapter(st *store.Store) *StoreAdapter { return &StoreAdapter{st: st} }

// WriteBatch implements Store.
func (a *StoreAdapter) WriteBatch(ctx context.Context, b store.Batch) error {
	return a.st.WriteBatch(ctx, b)
}

// SetCheckpoint implements Store.
func (a *StoreAdapter) SetCheckpoint(ctx context.Context, chainID uint64, r ingest.BlockRef) error {
	return a.st.SetCheckpoint(ctx, store.Checkpoint{ChainID: chainID, Stream: store.StreamLogs, Number: r.Number, Hash: r.Hash, ParentHash: r.Parent, Time: r.Time})
}

// Checkpoint implements ingest.Checkpoints.
func (a *StoreAdapter) Checkpoint(ctx context.Context, chainID uint64) (ingest.BlockRef, error) {
	cp, err := a.st.Checkpoint(ctx, chainID, store.StreamLogs)
	if errors.Is(err, store.ErrNotFound) {
		return ingest.BlockRef{}, fmt.Errorf("read checkpoint of chain %d: %w", chainID, ingest.ErrNoCheckpoint)
	}
	if err != nil {
		return ingest.BlockRef{}, err
	}
	return ingest.BlockRef{Number: cp.Number, Hash: cp.Hash, Parent: cp.ParentHash, Time: cp.Time}, nil
}

// Blocks implements ingest.Checkpoints.
func (a *StoreAdapter) Blocks(ctx context.Context, chainID uint64, from, to uint64) ([]ingest.BlockRef, error) {
	bs, err := a.st.Blocks(ctx, chainID, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]ingest.BlockRef, 0, len(bs))
	for _, b := range bs {
		if !b.Removed {
			out = append(out, ingest.BlockRef{Number: b.Number, Hash: b.Hash, Parent: b.ParentHash, Time: b.Time})
		}
	}
	return out, nil
}

// AccountEvents implements Store.
func (a *StoreAdapter) AccountEvents(ctx context.Context, chainID uint64, accounts []events.Address, maxBlock uint64) ([]events.Event, error) {
	if len(accounts) == 0 {
		return nil, nil
	}
	evs, err := a.st.Events(ctx, store.EventFilter{ChainID: chainID, Accounts: accounts, ToBlock: &maxBlock})
	if err != nil {
		return nil, err
	}
	out := evs[:0]
	for _, e := range evs {
		if e.BlockNumber <= maxBlock && !e.Removed {
			out = append(out, e)
		}
	}
	return out, nil
}

// EventsFrom implements Store.
func (a *StoreAdapter) EventsFrom(ctx context.Context, chainID uint64, from uint64) ([]events.Event, error) {
	return a.st.Events(ctx, store.EventFilter{ChainID: chainID, FromBlock: from, IncludeRemoved: true})
}

// FailuresFrom implements Store.
func (a *StoreAdapter) FailuresFrom(ctx context.Context, chainID uint64, from uint64) ([]events.DecodeFailure, error) {
	return a.st.DecodeFailures(ctx, store.FailureFilter{ChainID: chainID, FromBlock: from})
}

// OpenClickHouse opens the ClickHouse store of cfg and runs the migrations.
func OpenClickHouse(ctx context.Context, cfg ClickHouseConfig, log zerolog.Logger) (Store, func() error, error) {
	o, err := storeOptions(cfg)
	if err != nil {
		return nil, nil, err
	}
	o.Logger = log.With().Str("component", "store").Logger()
	st, err := store.Open(ctx, o)
	if err != nil {
		return nil, nil, fmt.Errorf("open clickhouse: %w", err)
	}
	if err := st.Migrate(ctx); err != nil {
		_ = st.Close()
		return nil, nil, fmt.Errorf("migrate clickhouse: %w", err)
	}
	return NewStoreAdapter(st), st.Close, nil
}

func storeOptions(cfg ClickHouseConfig) (store.Options, error) {
	o := store.Options{Addrs: cfg.Addrs, Database: cfg.Database, Username: cfg.Username, Password: cfg.Password,
		DialTimeout: cfg.Timeout, CreateDatabase: true}
	if cfg.DSN != "" {
		co, err := clickhouse.ParseDSN(cfg.DSN)
		if err != nil {
			return o, fmt.Errorf("clickhouse dsn: %s", strings.ReplaceAll(err.Error(), cfg.DSN, redacted))
		}
		o.Addrs, o.Database, o.Username, o.Password, o.TLS = co.Addr, co.Auth.Database, co.Auth.Username, co.Auth.Password, co.TLS
		if cfg.Password != "" {
			o.Password = cfg.Password
		}
	}
	if cfg.TLS.Enabled {
		tc := &tls.Config{InsecureSkipVerify: cfg.TLS.InsecureSkipVerify} //nolint:gosec // operator's explicit choice
		if cfg.TLS.CAFile != "" {
			pem, err := os.ReadFile(cfg.TLS.CAFile)
			if err != nil {
				return o, fmt.Errorf("clickhouse tls: read ca file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return o, fmt.Errorf("clickhouse tls: no certificate in %s", cfg.TLS.CAFile)
			}
			tc.RootCAs = pool
		}
		o.TLS = tc
	}
	return o, nil
}
