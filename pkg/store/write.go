package store

import (
	"context"
	"fmt"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/keywarden/keywarden/pkg/events"
)

// WriteBatch writes every row of b: one INSERT per table (events, permission_updates,
// decode_failures, key_state, accounts, blocks, in that order), each sent once and aborted on
// any error. Rows are converted before anything is sent, so bad input fails the whole batch
// without writing. A batch that failed half way is repaired by writing it again.
func (s *Store) WriteBatch(ctx context.Context, b Batch) error {
	if b.Empty() {
		return nil
	}
	if err := s.seedVersions(ctx); err != nil {
		return fmt.Errorf("write batch: %w", err)
	}
	// The caller's version is a floor: a caller whose own clock went back still cannot write
	// below rows that are already stored.
	if b.Version > 0 {
		s.clock.observe(b.Version - 1)
	}
	v := s.clock.next()

	evs := lastByKey(b.Events, func(e events.Event) eventKey { return eventKey{e.ChainID, e.BlockHash, e.LogIndex} })
	eventRows := make([]eventRow, 0, len(evs))
	var updateRows []updateRow
	for _, e := range evs {
		r, err := toEventRow(e, v)
		if err != nil {
			return fmt.Errorf("write batch: %w", err)
		}
		eventRows = append(eventRows, r)
		updateRows = append(updateRows, toUpdateRows(e, v)...)
	}
	fails := lastByKey(b.Failures, func(f events.DecodeFailure) eventKey { return eventKey{f.ChainID, f.BlockHash, f.LogIndex} })
	failureRows := make([]failureRow, 0, len(fails))
	for _, f := range fails {
		failureRows = append(failureRows, toFailureRow(f, v))
	}
	// A state written in the batch supersedes a retraction of the same key in the batch.
	keyRows := make([]keyStateRow, 0, len(b.RetractedKeys)+len(b.KeyStates))
	for _, k := range b.RetractedKeys {
		keyRows = append(keyRows, retractedKeyRow(k, v))
	}
	for _, k := range b.KeyStates {
		keyRows = append(keyRows, toKeyStateRow(k, v))
	}
	keyRows = lastByKey(keyRows, func(r keyStateRow) [4]string {
		return [4]string{fmt.Sprint(r.ChainID), r.Plugin, r.Account, r.SessionKey}
	})
	accts := lastByKey(b.Accounts, func(a Account) accountKey { return accountKey{a.ChainID, a.Account} })
	accountRows := make([]accountRow, 0, len(accts))
	for _, a := range accts {
		accountRows = append(accountRows, toAccountRow(a, v))
	}
	blks := lastByKey(b.Blocks, func(x Block) [2]uint64 { return [2]uint64{x.ChainID, x.Number} })
	blockRows := make([]blockRow, 0, len(blks))
	for _, x := range blks {
		blockRows = append(blockRows, toBlockRow(x, v))
	}

	if err := sendRows(ctx, s.conn, tblEvents, eventRows); err != nil {
		return err
	}
	if err := sendRows(ctx, s.conn, tblUpdates, updateRows); err != nil {
		return err
	}
	if err := sendRows(ctx, s.conn, tblFailures, failureRows); err != nil {
		return err
	}
	if err := sendRows(ctx, s.conn, tblKeyState, keyRows); err != nil {
		return err
	}
	if err := sendRows(ctx, s.conn, tblAccounts, accountRows); err != nil {
		return err
	}
	return sendRows(ctx, s.conn, tblBlocks, blockRows)
}

// SetCheckpoint records cp as the last durable block of its chain and stream (StreamLogs when
// empty). Call it only after the batches (and messages) it covers were written.
func (s *Store) SetCheckpoint(ctx context.Context, cp Checkpoint) error {
	if cp.Stream == "" {
		cp.Stream = StreamLogs
	}
	if err := s.seedVersions(ctx); err != nil {
		return fmt.Errorf("set checkpoint: %w", err)
	}
	row := checkpointRow{ChainID: cp.ChainID, Stream: cp.Stream, Number: cp.Number, Hash: cp.Hash.Hex(),
		ParentHash: cp.ParentHash.Hex(), Time: cp.Time, Version: s.clock.next()}
	if err := sendRows(ctx, s.conn, tblCheckpoints, []checkpointRow{row}); err != nil {
		return fmt.Errorf("set checkpoint %d of chain %d: %w", cp.Number, cp.ChainID, err)
	}
	return nil
}

type eventKey struct {
	chain uint64
	hash  [32]byte
	index uint64
}

type accountKey struct {
	chain   uint64
	account events.Address
}

// lastByKey keeps the last element of each key, in the order of their first appearance.
func lastByKey[T any, K comparable](in []T, key func(T) K) []T {
	pos := make(map[K]int, len(in))
	out := make([]T, 0, len(in))
	for _, x := range in {
		k := key(x)
		if i, ok := pos[k]; ok {
			out[i] = x
			continue
		}
		pos[k] = len(out)
		out = append(out, x)
	}
	return out
}

// sendRows inserts rows with one batch: prepared once, sent once, aborted on every error.
func sendRows[T any](ctx context.Context, conn driver.Conn, t table, rows []T) (err error) {
	if len(rows) == 0 {
		return nil
	}
	b, err := conn.PrepareBatch(ctx, t.insertSQL())
	if err != nil {
		return fmt.Errorf("prepare insert into %s: %w", t.name, err)
	}
	defer abortUnlessSent(b, &err)
	for i := range rows {
		if err = b.AppendStruct(&rows[i]); err != nil {
			return fmt.Errorf("append row %d to %s: %w", i, t.name, err)
		}
	}
	if err = b.Send(); err != nil {
		return fmt.Errorf("insert %d rows into %s: %w", len(rows), t.name, err)
	}
	return nil
}
