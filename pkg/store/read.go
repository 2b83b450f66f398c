package store

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/keywarden/keywarden/pkg/events"
)

// Two ways to read the latest version of each row:
//
//   - latest (the default): FROM t FINAL. A filter on a column that later versions change
//     (removed, verified, status, installed_plugins) must run after the FINAL merge, so these
//     queries turn off the automatic move of WHERE conditions into PREWHERE, which runs before it.
//   - committed: argMax per identity over the rows whose version is at most the version of
//     the chain's "logs" checkpoint. The checkpoint is written after the batches it covers, so
//     rows of a batch still in flight, or of one a crash cut short, are not seen.
const finalSettings = " SETTINGS optimize_move_to_prewhere = 0"

// readCtx lets a query carry long IN lists (thousands of accounts after a deep reorg): the
// parser's limit is a setting that must arrive with the query packet, not in its text.
func readCtx(ctx context.Context) context.Context {
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_query_size": 64 << 20}))
}

// where collects conditions and their bound arguments: ident conditions are on columns that
// every version of a row shares (safe before the latest version is chosen), post conditions on
// columns a later version may change.
type where struct {
	ident, post         []string
	identArgs, postArgs []any
}

func (w *where) add(cond string, args ...any) {
	w.ident = append(w.ident, cond)
	w.identArgs = append(w.identArgs, args...)
}

func (w *where) addPost(cond string, args ...any) {
	w.post = append(w.post, cond)
	w.postArgs = append(w.postArgs, args...)
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

func anyList(vals []string) []any {
	out := make([]any, len(vals))
	for i, v := range vals {
		out[i] = v
	}
	return out
}

func (w *where) in(col string, vals []string) {
	if len(vals) > 0 {
		w.add(col+" IN ("+placeholders(len(vals))+")", anyList(vals)...)
	}
}

func (w *where) inPost(col string, vals []string) {
	if len(vals) > 0 {
		w.addPost(col+" IN ("+placeholders(len(vals))+")", anyList(vals)...)
	}
}

func whereSQL(conds []string) string {
	if len(conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(conds, " AND ")
}

func limitSQL(n int) string {
	if n <= 0 {
		return ""
	}
	return " LIMIT " + strconv.Itoa(n)
}

// rowsQuery builds the SELECT of t's rows that w selects, in either read mode. The committed
// mode needs the chain id for the checkpoint. tail is ORDER BY and LIMIT.
func rowsQuery(t table, w *where, committed bool, chainID uint64, tail string) (string, []any) {
	if !committed {
		args := append(append([]any{}, w.identArgs...), w.postArgs...)
		return "SELECT " + strings.Join(t.columns, ", ") + " FROM " + t.name + " FINAL" +
			whereSQL(append(append([]string{}, w.ident...), w.post...)) + tail + finalSettings, args
	}
	inner := make([]string, 0, len(t.columns))
	outer := make([]string, 0, len(t.columns))
	for _, c := range t.columns {
		if slices.Contains(t.keys, c) {
			inner = append(inner, c)
			outer = append(outer, c)
			continue
		}
		inner = append(inner, "argMax("+c+", version) AS "+c+"__")
		outer = append(outer, c+"__ AS "+c)
	}
	conds := append(append([]string{}, w.ident...),
		"version <= (SELECT max(version) FROM checkpoints WHERE chain_id = ? AND stream = ?)")
	args := append(append([]any{}, w.identArgs...), chainID, StreamLogs)
	args = append(args, w.postArgs...)
	q := "SELECT " + strings.Join(outer, ", ") + " FROM (SELECT " + strings.Join(inner, ", ") + " FROM " + t.name +
		whereSQL(conds) + " GROUP BY " + strings.Join(t.keys, ", ") + ")" + whereSQL(w.post) + tail
	return q, args
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
	// A log's content, so every column derived from it, is fixed by its identity.
	w.in("account", addrList(f.Accounts))
	w.in("kind", kindList(f.Kinds))
	if keys := addrList(f.SessionKeys); len(keys) > 0 {
		ph := placeholders(len(keys))
		w.add("(session_key IN ("+ph+") OR other_key IN ("+ph+"))", append(anyList(keys), anyList(keys)...)...)
	}
	if !f.Plugin.IsZero() {
		w.add("plugin = ?", f.Plugin.Hex())
	}
	if !f.IncludeRemoved {
		w.addPost("removed = 0")
	}
	if f.VerifiedOnly {
		w.addPost("verified = 1")
	}
	return w
}

// Events returns the latest version of the events f selects, in chain order (block number,
// log index).
func (s *Store) Events(ctx context.Context, f EventFilter) ([]events.Event, error) {
	q, args := rowsQuery(tblEvents, eventWhere(f), f.Committed, f.ChainID,
		" ORDER BY block_number, log_index, block_hash"+limitSQL(f.Limit))
	out, err := selectRows(ctx, s, q, args, fromEventRow)
	if err != nil {
		return nil, fmt.Errorf("read events of chain %d: %w", f.ChainID, err)
	}
	return out, nil
}

// CountEvents counts the events f selects (Limit is ignored).
func (s *Store) CountEvents(ctx context.Context, f EventFilter) (uint64, error) {
	q, args := rowsQuery(tblEvents, eventWhere(f), f.Committed, f.ChainID, "")
	q = strings.TrimSuffix(q, finalSettings)
	var n uint64
	if err := s.conn.QueryRow(readCtx(ctx), "SELECT count() FROM ("+q+")"+finalSettings, args...).Scan(&n); err != nil {
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
	w.inPost("status", statuses)
	if !f.IncludeRetracted {
		w.addPost("status != ?", string(StatusRetracted))
	}
	q, args := rowsQuery(tblKeyState, w, f.Committed, f.ChainID, " ORDER BY plugin, account, added_block, session_key")
	out, err := selectRows(ctx, s, q, args, fromKeyStateRow)
	if err != nil {
		return nil, fmt.Errorf("read key states of chain %d: %w", f.ChainID, err)
	}
	return out, nil
}

// Accounts returns the latest state of the accounts f selects, ordered by account.
func (s *Store) Accounts(ctx context.Context, f AccountFilter) ([]Account, error) {
	w := &where{}
	w.add("chain_id = ?", f.ChainID)
	w.in("account", addrList(f.Accounts))
	if !f.Plugin.IsZero() {
		w.addPost("has(installed_plugins, ?)", f.Plugin.Hex())
	}
	q, args := rowsQuery(tblAccounts, w, f.Committed, f.ChainID, " ORDER BY account")
	out, err := selectRows(ctx, s, q, args, fromAccountRow)
	if err != nil {
		return nil, fmt.Errorf("read accounts of chain %d: %w", f.ChainID, err)
	}
	return out, nil
}

// Blocks returns the stored blocks of the chain with from <= number <= to, ascending, without
// heights a reorg removed.
func (s *Store) Blocks(ctx context.Context, chainID, from, to uint64) ([]Block, error) {
	w := &where{}
	w.add("chain_id = ? AND number >= ? AND number <= ?", chainID, from, to)
	w.addPost("removed = 0")
	q, args := rowsQuery(tblBlocks, w, false, chainID, " ORDER BY number")
	out, err := selectRows(ctx, s, q, args, fromBlockRow)
	if err != nil {
		return nil, fmt.Errorf("read blocks %d-%d of chain %d: %w", from, to, chainID, err)
	}
	return out, nil
}

// Checkpoint returns the checkpoint of the chain and stream (StreamLogs when empty), or an
// error wrapping ErrNotFound.
func (s *Store) Checkpoint(ctx context.Context, chainID uint64, stream string) (Checkpoint, error) {
	if stream == "" {
		stream = StreamLogs
	}
	w := &where{}
	w.add("chain_id = ? AND stream = ?", chainID, stream)
	q, args := rowsQuery(tblCheckpoints, w, false, chainID, "")
	var rows []checkpointRow
	if err := s.conn.Select(readCtx(ctx), &rows, q, args...); err != nil {
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
		w.addPost("removed = 0")
	}
	q, args := rowsQuery(tblFailures, w, false, f.ChainID, " ORDER BY block_number, log_index, block_hash"+limitSQL(f.Limit))
	out, err := selectRows(ctx, s, q, args, fromFailureRow)
	if err != nil {
		return nil, fmt.Errorf("read decode failures of chain %d: %w", f.ChainID, err)
	}
	return out, nil
}

// selectRows runs q and converts every row with conv; the caller names what failed.
func selectRows[R, T any](ctx context.Context, s *Store, q string, args []any, conv func(R) (T, error)) ([]T, error) {
	var rows []R
	if err := s.conn.Select(readCtx(ctx), &rows, q, args...); err != nil {
		return nil, err
	}
	out := make([]T, 0, len(rows))
	for _, r := range rows {
		v, err := conv(r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
