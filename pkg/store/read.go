package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/keywarden/keywarden/pkg/events"
)

// Readers see the highest version of each row through FINAL. A filter on a column that later
// versions change (removed, verified, status, hash) must run after the FINAL merge, so these
// queries turn off the automatic move of WHERE conditions into PREWHERE, which runs before it.
const finalSettings = " SETTINGS optimize_move_to_prewhere = 0"

// where collects conditions and their bound arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) in(col string, vals []string) {
	if len(vals) == 0 {
		return
	}
	ph := strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ")
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	w.add(col+" IN ("+ph+")", args...)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func limitSQL(n int) string {
	if n <= 0 {
		return ""
	}
	return " LIMIT " + strconv.Itoa(n)
}

func kindList(ks []events.Kind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}

func eventWhere(f EventFilter) *where {
	w := &where{}
	w.add("chain_id = ?", f.ChainID)
	if f.FromBlock > 0 {
		w.add("block_number >= ?", f.FromBlock)
	}
	if f.ToBlock != nil {
		w.add("block_number <= ?", *f.ToBlock)
	}
	w.in("account", addrList(f.Accounts))
	w.in("kind", kindList(f.Kinds))
	if keys := addrList(f.SessionKeys); len(keys) > 0 {
		ph := strings.TrimSuffix(strings.Repeat("?, ", len(keys)), ", ")
		args := make([]any, 0, 2*len(keys))
		for _, k := range keys {
			args = append(args, k)
		}
		for _, k := range keys {
			args = append(args, k)
		}
		w.add("(session_key IN ("+ph+") OR other_key IN ("+ph+"))", args...)
	}
	if !f.Plugin.IsZero() {
		w.add("plugin = ?", f.Plugin.Hex())
	}
	if !f.IncludeRemoved {
		w.add("removed = 0")
	}
	if f.VerifiedOnly {
		w.add("verified = 1")
	}
	return w
}

// Events returns the latest version of the events f selects, in chain order (block number,
// log index).
func (s *Store) Events(ctx context.Context, f EventFilter) ([]events.Event, error) {
	w := eventWhere(f)
	q := "SELECT " + tblEvents.selectList() + " FROM events FINAL" + w.sql() +
		" ORDER BY block_number, log_index, block_hash" + limitSQL(f.Limit) + finalSettings
	var rows []eventRow
	if err := s.conn.Select(ctx, &rows, q, w.args...); err != nil {
		return nil, fmt.Errorf("read events of chain %d: %w", f.ChainID, err)
	}
	out := make([]events.Event, 0, len(rows))
	for _, r := range rows {
		e, err := fromEventRow(r)
		if err != nil {
			return nil, fmt.Errorf("read events of chain %d: %w", f.ChainID, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// CountEvents counts the events f selects (Limit is ignored).
func (s *Store) CountEvents(ctx context.Context, f EventFilter) (uint64, error) {
	w := eventWhere(f)
	var n uint64
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM events FINAL"+w.sql()+finalSettings, w.args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count events of chain %d: %w", f.ChainID, err)
	}
	return n, nil
}

// KeyStates returns the latest state of the keys f selects, ordered by plugin, account and
// added block. Keys a reorg erased are left out unless f.IncludeRetracted.
func (s *Store) KeyStates(ctx context.Context, f KeyFilter) ([]events.KeyState, error) {
	w := &where{}
	w.add("chain_id = ?", f.ChainID)
	if !f.Plugin.IsZero() {
		w.add("plugin = ?", f.Plugin.Hex())
	}
	w.in("account", addrList(f.Accounts))
	w.in("session_key", addrList(f.SessionKeys))
	statuses := make([]string, len(f.Statuses))
	for i, st := range f.Statuses {
		statuses[i] = string(st)
	}
	w.in("status", statuses)
	if !f.IncludeRetracted {
		w.add("status != ?", string(StatusRetracted))
	}
	q := "SELECT " + tblKeyState.selectList() + " FROM key_state FINAL" + w.sql() +
		" ORDER BY plugin, account, added_block, session_key" + finalSettings
	var rows []keyStateRow
	if err := s.conn.Select(ctx, &rows, q, w.args...); err != nil {
		return nil, fmt.Errorf("read key states of chain %d: %w", f.ChainID, err)
	}
	out := make([]events.KeyState, 0, len(rows))
	for _, r := range rows {
		k, err := fromKeyStateRow(r)
		if err != nil {
			return nil, fmt.Errorf("read key states of chain %d: %w", f.ChainID, err)
		}
		out = append(out, k)
	}
	return out, nil
}

// Accounts returns the latest state of the accounts f selects, ordered by account.
func (s *Store) Accounts(ctx context.Context, f AccountFilter) ([]Account, error) {
	w := &where{}
	w.add("chain_id = ?", f.ChainID)
	w.in("account", addrList(f.Accounts))
	if !f.Plugin.IsZero() {
		w.add("has(installed_plugins, ?)", f.Plugin.Hex())
	}
	q := "SELECT " + tblAccounts.selectList() + " FROM accounts FINAL" + w.sql() + " ORDER BY account" + finalSettings
	var rows []accountRow
	if err := s.conn.Select(ctx, &rows, q, w.args...); err != nil {
		return nil, fmt.Errorf("read accounts of chain %d: %w", f.ChainID, err)
	}
	out := make([]Account, 0, len(rows))
	for _, r := range rows {
		a, err := fromAccountRow(r)
		if err != nil {
			return nil, fmt.Errorf("read accounts of chain %d: %w", f.ChainID, err)
		}
		out = append(out, a)
	}
	return out, nil
}

// Blocks returns the stored blocks of the chain with from <= number <= to, ascending, without
// heights a reorg removed.
func (s *Store) Blocks(ctx context.Context, chainID, from, to uint64) ([]Block, error) {
	q := "SELECT " + tblBlocks.selectList() + " FROM blocks FINAL WHERE chain_id = ? AND number >= ? AND number <= ? AND removed = 0" +
		" ORDER BY number" + finalSettings
	var rows []blockRow
	if err := s.conn.Select(ctx, &rows, q, chainID, from, to); err != nil {
		return nil, fmt.Errorf("read blocks %d-%d of chain %d: %w", from, to, chainID, err)
	}
	out := make([]Block, 0, len(rows))
	for _, r := range rows {
		b, err := fromBlockRow(r)
		if err != nil {
			return nil, fmt.Errorf("read blocks of chain %d: %w", chainID, err)
		}
		out = append(out, b)
	}
	return out, nil
}

// Checkpoint returns the checkpoint of the chain and stream (StreamLogs when empty), or an
// error wrapping ErrNotFound.
func (s *Store) Checkpoint(ctx context.Context, chainID uint64, stream string) (Checkpoint, error) {
	if stream == "" {
		stream = StreamLogs
	}
	q := "SELECT " + tblCheckpoints.selectList() + " FROM checkpoints FINAL WHERE chain_id = ? AND stream = ?" + finalSettings
	var rows []checkpointRow
	if err := s.conn.Select(ctx, &rows, q, chainID, stream); err != nil {
		return Checkpoint{}, fmt.Errorf("read checkpoint %s of chain %d: %w", stream, chainID, err)
	}
	if len(rows) == 0 {
		return Checkpoint{}, fmt.Errorf("read checkpoint %s of chain %d: %w", stream, chainID, ErrNotFound)
	}
	cp, err := fromCheckpointRow(rows[0])
	if err != nil {
		return Checkpoint{}, fmt.Errorf("read checkpoint %s of chain %d: %w", stream, chainID, err)
	}
	return cp, nil
}

// DecodeFailures returns the failures f selects, in chain order.
func (s *Store) DecodeFailures(ctx context.Context, f FailureFilter) ([]events.DecodeFailure, error) {
	w := &where{}
	w.add("chain_id = ?", f.ChainID)
	if f.FromBlock > 0 {
		w.add("block_number >= ?", f.FromBlock)
	}
	if f.ToBlock != nil {
		w.add("block_number <= ?", *f.ToBlock)
	}
	w.in("reason", f.Reasons)
	if !f.IncludeRemoved {
		w.add("removed = 0")
	}
	q := "SELECT " + tblFailures.selectList() + " FROM decode_failures FINAL" + w.sql() +
		" ORDER BY block_number, log_index, block_hash" + limitSQL(f.Limit) + finalSettings
	var rows []failureRow
	if err := s.conn.Select(ctx, &rows, q, w.args...); err != nil {
		return nil, fmt.Errorf("read decode failures of chain %d: %w", f.ChainID, err)
	}
	out := make([]events.DecodeFailure, 0, len(rows))
	for _, r := range rows {
		df, err := fromFailureRow(r)
		if err != nil {
			return nil, fmt.Errorf("read decode failures of chain %d: %w", f.ChainID, err)
		}
		out = append(out, df)
	}
	return out, nil
}
