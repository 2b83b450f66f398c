package grafana

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/keywarden/keywarden/pkg/events"
)

// querier is what the readers need from ClickHouse (a clickhouse-go driver.Conn has it).
type querier interface {
	Select(ctx context.Context, dest any, query string, args ...any) error
	Query(ctx context.Context, query string, args ...any) (driver.Rows, error)
	Ping(ctx context.Context) error
}

var _ querier = driver.Conn(nil)

// finalSettings makes WHERE run after the FINAL merge (as pkg/store does): a filter on a
// column that later versions change must see only the latest version.
const finalSettings = " SETTINGS optimize_move_to_prewhere = 0"

// where collects conditions and their bound arguments. Column names are constants of this
// file; every user value is an argument.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

func (w *where) chain(r request) {
	if r.chain != nil {
		w.add("chain_id = ?", *r.chain)
	}
}

func (w *where) eq(col, v string) {
	if v != "" {
		w.add(col+" = ?", v)
	}
}

// timeRange bounds a UInt64 unix-seconds column.
func (w *where) unixRange(col string, r request) {
	w.add(col+" >= ?", uint64(max(r.from.Unix(), 0)))
	w.add(col+" <= ?", uint64(max(r.to.Unix(), 0)))
}

// dateTimeRange bounds a DateTime column.
func (w *where) dateTimeRange(col string, r request) {
	w.add(col+" >= toDateTime(?)", uint64(max(r.from.Unix(), 0)))
	w.add(col+" <= toDateTime(?)", uint64(max(r.to.Unix(), 0)))
}

func limit(r request) string { return " LIMIT " + strconv.Itoa(r.limit) }

func selectRows[T any](ctx context.Context, conn querier, what, q string, args []any) ([]T, error) {
	var rows []T
	if err := conn.Select(ctx, &rows, q, args...); err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	return rows, nil
}

// ---- keys ----

func keyWhere(r request) *where {
	w := &where{}
	w.add("status != 'retracted'")
	w.chain(r)
	w.eq("account", r.account)
	w.eq("session_key", r.sessionKey)
	switch r.Status {
	case "":
		w.add("status = ?", string(events.StatusActive))
	case "any":
	default:
		w.add("status = ?", r.Status)
	}
	if r.verified != nil {
		w.add("verified = ?", *r.verified)
	}
	switch r.AccessControl {
	case "allowlist":
		w.add("access_control_type = ?", uint8(events.AccessAllowlist))
	case "denylist":
		w.add("access_control_type = ?", uint8(events.AccessDenylist))
	case "allow_all":
		w.add("access_control_type = ?", uint8(events.AccessAllowAll))
	}
	if r.NoExpiry {
		w.add("valid_until = 0")
	}
	if r.ExpiringWithin != "" {
		d, _ := time.ParseDuration(r.ExpiringWithin) // validated by parseQuery
		now := uint64(max(r.now.Unix(), 0))
		w.add("valid_until > ?", now)
		w.add("valid_until <= ?", now+uint64(d/time.Second))
	}
	return w
}

type keyRow struct {
	ChainID           uint64 `ch:"chain_id"`
	Plugin            string `ch:"plugin"`
	Account           string `ch:"account"`
	SessionKey        string `ch:"session_key"`
	Status            string `ch:"status"`
	Tag               string `ch:"tag"`
	Verified          uint8  `ch:"verified"`
	RotatedFrom       string `ch:"rotated_from"`
	AccessControlType uint8  `ch:"access_control_type"`
	AccessEntries     uint64 `ch:"access_entries"`
	FunctionEntries   uint64 `ch:"function_entries"`
	ValidAfter        uint64 `ch:"valid_after"`
	ValidUntil        uint64 `ch:"valid_until"`
	NativeHasLimit    uint8  `ch:"native_has_limit"`
	NativeLimit       string `ch:"native_limit"`
	GasHasLimit       uint8  `ch:"gas_has_limit"`
	GasLimit          string `ch:"gas_limit"`
	ERC20Tokens       uint64 `ch:"erc20_tokens"`
	RequiredPaymaster string `ch:"required_paymaster"`
	AddedBlock        uint64 `ch:"added_block"`
	AddedTime         uint64 `ch:"added_time"`
	UpdatedBlock      uint64 `ch:"updated_block"`
	UpdatedTime       uint64 `ch:"updated_time"`
}

const keyColumns = "chain_id, plugin, account, session_key, status, tag, verified, rotated_from, access_control_type," +
	" length(access_target) AS access_entries, length(function_target) AS function_entries, valid_after, valid_until," +
	" native_has_limit, native_limit, gas_has_limit, gas_limit, length(erc20_token) AS erc20_tokens, required_paymaster," +
	" added_block, added_time, updated_block, updated_time"

func keys(ctx context.Context, conn querier, r request) (data.Frames, error) {
	w := keyWhere(r)
	q := "SELECT " + keyColumns + " FROM key_state FINAL" + w.sql() +
		" ORDER BY chain_id, account, added_block, session_key" + limit(r) + finalSettings
	rows, err := selectRows[keyRow](ctx, conn, "key states", q, w.args)
	if err != nil {
		return nil, err
	}
	n := len(rows)
	var (
		chain, addedBlock, accessN, funcN, erc20N, updatedBlock = make([]uint64, n), make([]uint64, n), make([]uint64, n), make([]uint64, n), make([]uint64, n), make([]uint64, n)
		account, key, plugin, status, tag, access, native, gas  = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		paymaster, rotatedFrom                                  = make([]string, n), make([]string, n)
		verified                                                = make([]bool, n)
		validAfter, validUntil                                  = make([]*time.Time, n), make([]*time.Time, n)
		expiresIn                                               = make([]*int64, n)
		added, updated                                          = make([]time.Time, n), make([]time.Time, n)
	)
	now := r.now.Unix()
	for i, k := range rows {
		chain[i], account[i], key[i], plugin[i], status[i] = k.ChainID, k.Account, k.SessionKey, k.Plugin, k.Status
		tag[i] = k.Tag
		verified[i] = k.Verified == 1
		access[i] = events.AccessControlType(k.AccessControlType).String()
		accessN[i], funcN[i], erc20N[i] = k.AccessEntries, k.FunctionEntries, k.ERC20Tokens
		validAfter[i], validUntil[i] = optTime(k.ValidAfter), optTime(k.ValidUntil)
		if k.ValidUntil != 0 {
			left := unixTime(k.ValidUntil).Unix() - now
			expiresIn[i] = &left
		}
		native[i], gas[i] = limitText(k.NativeHasLimit, k.NativeLimit), limitText(k.GasHasLimit, k.GasLimit)
		paymaster[i], rotatedFrom[i] = nonZeroAddr(k.RequiredPaymaster), nonZeroAddr(k.RotatedFrom)
		addedBlock[i], added[i], updatedBlock[i], updated[i] = k.AddedBlock, unixTime(k.AddedTime), k.UpdatedBlock, unixTime(k.UpdatedTime)
	}
	f := data.NewFrame("keys",
		data.NewField("chain_id", nil, chain),
		data.NewField("account", nil, account),
		data.NewField("session_key", nil, key),
		data.NewField("status", nil, status),
		data.NewField("verified", nil, verified),
		data.NewField("access_control", nil, access),
		data.NewField("access_entries", nil, accessN),
		data.NewField("function_entries", nil, funcN),
		data.NewField("valid_after", nil, validAfter),
		data.NewField("valid_until", nil, validUntil),
		data.NewField("expires_in", nil, expiresIn).SetConfig(&data.FieldConfig{Unit: "s"}),
		data.NewField("native_limit_wei", nil, native),
		data.NewField("gas_limit_wei", nil, gas),
		data.NewField("erc20_limits", nil, erc20N),
		data.NewField("required_paymaster", nil, paymaster),
		data.NewField("added_block", nil, addedBlock),
		data.NewField("added_time", nil, added),
		data.NewField("updated_block", nil, updatedBlock),
		data.NewField("updated_time", nil, updated),
		data.NewField("rotated_from", nil, rotatedFrom),
		data.NewField("tag", nil, tag),
		data.NewField("plugin", nil, plugin),
	)
	return data.Frames{f}, nil
}

func limitText(has uint8, v string) string {
	if has == 0 {
		return "unlimited"
	}
	return v
}

func nonZeroAddr(a string) string {
	if a == events.ZeroAddress.Hex() {
		return ""
	}
	return a
}

type keyCountRow struct {
	ChainID    uint64 `ch:"chain_id"`
	Account    string `ch:"account"`
	Keys       uint64 `ch:"keys"`
	AllowAll   uint64 `ch:"allow_all"`
	NoExpiry   uint64 `ch:"no_expiry"`
	Unverified uint64 `ch:"unverified"`
}

func keysByAccount(ctx context.Context, conn querier, r request) (data.Frames, error) {
	w := keyWhere(r)
	q := "SELECT chain_id, account, count() AS keys, sum(access_control_type = 2) AS allow_all," +
		" sum(valid_until = 0) AS no_expiry, sum(verified = 0) AS unverified FROM key_state FINAL" + w.sql() +
		" GROUP BY chain_id, account ORDER BY keys DESC, chain_id, account" + limit(r) + finalSettings
	rows, err := selectRows[keyCountRow](ctx, conn, "key counts", q, w.args)
	if err != nil {
		return nil, err
	}
	f := data.NewFrame("keys_by_account",
		data.NewField("chain_id", nil, []uint64{}), data.NewField("account", nil, []string{}),
		data.NewField("keys", nil, []uint64{}), data.NewField("allow_all", nil, []uint64{}),
		data.NewField("no_expiry", nil, []uint64{}), data.NewField("unverified", nil, []uint64{}))
	for _, k := range rows {
		f.AppendRow(k.ChainID, k.Account, k.Keys, k.AllowAll, k.NoExpiry, k.Unverified)
	}
	return data.Frames{f}, nil
}

// ---- events ----

func eventWhere(r request) *where {
	w := &where{}
	w.add("removed = 0")
	w.unixRange("block_time", r)
	w.chain(r)
	w.eq("account", r.account)
	if r.sessionKey != "" {
		w.add("(session_key = ? OR other_key = ?)", r.sessionKey, r.sessionKey)
	}
	if len(r.Kinds) > 0 {
		w.add("kind IN ("+placeholders(len(r.Kinds))+")", anys(r.Kinds)...)
	}
	if r.verified != nil {
		w.add("verified = ?", *r.verified)
	}
	return w
}

type bucketRow struct {
	Bucket uint64 `ch:"bucket"`
	A      string `ch:"a"`
	B      string `ch:"b"`
	N      uint64 `ch:"n"`
}

// bucketSeries runs a "bucket, a[, b], n" query and folds it into a wide frame.
func bucketSeries(ctx context.Context, conn querier, r request, what, q string, args []any, labels string) (data.Frames, error) {
	rows, err := selectRows[bucketRow](ctx, conn, what, q, args)
	if err != nil {
		return nil, err
	}
	s := newSeries(r, labels)
	for _, row := range rows {
		name := row.A
		if strings.Contains(labels, ",") {
			name += " / " + row.B
		}
		s.add(name, row.Bucket, row.N)
	}
	return data.Frames{s.frame(what)}, nil
}

func eventSeries(ctx context.Context, conn querier, r request) (data.Frames, error) {
	w := eventWhere(r)
	q := "SELECT toUInt64(intDiv(block_time, ?) * ?) AS bucket, kind AS a, '' AS b, count() AS n FROM events FINAL" + w.sql() +
		" GROUP BY bucket, a ORDER BY bucket, a" + finalSettings
	return bucketSeries(ctx, conn, r, "events", q, append([]any{r.step, r.step}, w.args...), "kind")
}

type eventRow struct {
	ChainID     uint64 `ch:"chain_id"`
	BlockNumber uint64 `ch:"block_number"`
	LogIndex    uint64 `ch:"log_index"`
	BlockTime   uint64 `ch:"block_time"`
	TxHash      string `ch:"tx_hash"`
	Kind        string `ch:"kind"`
	Emitter     string `ch:"emitter"`
	Account     string `ch:"account"`
	SessionKey  string `ch:"session_key"`
	OtherKey    string `ch:"other_key"`
	Verified    uint8  `ch:"verified"`
}

func eventTable(ctx context.Context, conn querier, r request) (data.Frames, error) {
	w := eventWhere(r)
	q := "SELECT chain_id, block_number, log_index, block_time, tx_hash, kind, emitter, account, session_key, other_key, verified" +
		" FROM events FINAL" + w.sql() + " ORDER BY block_time DESC, chain_id, block_number DESC, log_index DESC" + limit(r) + finalSettings
	rows, err := selectRows[eventRow](ctx, conn, "events", q, w.args)
	if err != nil {
		return nil, err
	}
	f := data.NewFrame("events",
		data.NewField("time", nil, []time.Time{}), data.NewField("chain_id", nil, []uint64{}),
		data.NewField("block_number", nil, []uint64{}), data.NewField("log_index", nil, []uint64{}),
		data.NewField("kind", nil, []string{}), data.NewField("account", nil, []string{}),
		data.NewField("session_key", nil, []string{}), data.NewField("new_session_key", nil, []string{}),
		data.NewField("verified", nil, []bool{}), data.NewField("emitter", nil, []string{}),
		data.NewField("tx_hash", nil, []string{}))
	for _, e := range rows {
		f.AppendRow(unixTime(e.BlockTime), e.ChainID, e.BlockNumber, e.LogIndex, e.Kind, e.Account, e.SessionKey,
			e.OtherKey, e.Verified == 1, e.Emitter, e.TxHash)
	}
	return data.Frames{f}, nil
}

// ---- verdicts ----

func verdictWhere(r request) *where {
	w := &where{}
	w.dateTimeRange("evaluated_at", r)
	w.chain(r)
	w.eq("account", r.account)
	w.eq("session_key", r.sessionKey)
	w.eq("policy_id", r.Policy)
	w.eq("severity", r.Severity)
	return w
}

func verdictSeries(ctx context.Context, conn querier, r request) (data.Frames, error) {
	w := verdictWhere(r)
	q := "SELECT toUInt64(intDiv(toUInt64(toUInt32(evaluated_at)), ?) * ?) AS bucket, policy_id AS a, severity AS b, count() AS n" +
		" FROM verdicts FINAL" + w.sql() + " GROUP BY bucket, a, b ORDER BY bucket, a, b" + finalSettings
	return bucketSeries(ctx, conn, r, "verdicts", q, append([]any{r.step, r.step}, w.args...), "policy_id,severity")
}

type verdictRow struct {
	EvaluatedAt time.Time `ch:"evaluated_at"`
	ChainID     uint64    `ch:"chain_id"`
	PolicyID    string    `ch:"policy_id"`
	Severity    string    `ch:"severity"`
	Action      string    `ch:"action"`
	Reason      string    `ch:"reason"`
	Account     string    `ch:"account"`
	SessionKey  string    `ch:"session_key"`
	Trigger     string    `ch:"trigger"`
	ActionID    string    `ch:"action_id"`
}

func verdictTable(ctx context.Context, conn querier, r request) (data.Frames, error) {
	w := verdictWhere(r)
	q := "SELECT evaluated_at, chain_id, policy_id, severity, action, reason, account, session_key, trigger, action_id" +
		" FROM verdicts FINAL" + w.sql() + " ORDER BY evaluated_at DESC, chain_id, action_id" + limit(r) + finalSettings
	rows, err := selectRows[verdictRow](ctx, conn, "verdicts", q, w.args)
	if err != nil {
		return nil, err
	}
	f := data.NewFrame("verdicts",
		data.NewField("time", nil, []time.Time{}), data.NewField("chain_id", nil, []uint64{}),
		data.NewField("policy_id", nil, []string{}), data.NewField("severity", nil, []string{}),
		data.NewField("action", nil, []string{}), data.NewField("reason", nil, []string{}),
		data.NewField("account", nil, []string{}), data.NewField("session_key", nil, []string{}),
		data.NewField("trigger", nil, []string{}), data.NewField("action_id", nil, []string{}))
	for _, v := range rows {
		f.AppendRow(v.EvaluatedAt.UTC(), v.ChainID, v.PolicyID, v.Severity, v.Action, v.Reason, v.Account, v.SessionKey,
			v.Trigger, v.ActionID)
	}
	return data.Frames{f}, nil
}

// ---- actions ----

func actionWhere(r request) *where {
	w := &where{}
	w.dateTimeRange("at", r)
	w.chain(r)
	w.eq("account", r.account)
	w.eq("session_key", r.sessionKey)
	w.eq("policy_id", r.Policy)
	return w
}

func actionSeries(ctx context.Context, conn querier, r request) (data.Frames, error) {
	w := actionWhere(r)
	w.eq("outcome", r.Outcome)
	q := "SELECT toUInt64(intDiv(toUInt64(toUInt32(at)), ?) * ?) AS bucket, outcome AS a, '' AS b, count() AS n" +
		" FROM actions FINAL" + w.sql() + " GROUP BY bucket, a ORDER BY bucket, a" + finalSettings
	return bucketSeries(ctx, conn, r, "actions", q, append([]any{r.step, r.step}, w.args...), "outcome")
}

type actionRow struct {
	ChainID       uint64    `ch:"chain_id"`
	ActionID      string    `ch:"action_id"`
	PolicyID      string    `ch:"cur_policy"`
	Action        string    `ch:"cur_action"`
	Outcome       string    `ch:"cur_outcome"`
	Account       string    `ch:"cur_account"`
	SessionKey    string    `ch:"cur_key"`
	NewSessionKey string    `ch:"cur_new_key"`
	Attempt       uint32    `ch:"cur_attempt"`
	Error         string    `ch:"cur_error"`
	UserOpHash    string    `ch:"cur_user_op"`
	TxHash        string    `ch:"cur_tx"`
	FirstAt       time.Time `ch:"first_at"`
	LastAt        time.Time `ch:"last_at"`
}

func actionTable(ctx context.Context, conn querier, r request) (data.Frames, error) {
	w := actionWhere(r)
	having := ""
	args := w.args
	if r.Outcome != "" {
		having = " HAVING cur_outcome = ?"
		args = append(args, r.Outcome)
	}
	q := "SELECT chain_id, action_id, argMax(policy_id, version) AS cur_policy, argMax(action, version) AS cur_action," +
		" argMax(outcome, version) AS cur_outcome, argMax(account, version) AS cur_account," +
		" argMax(session_key, version) AS cur_key, argMax(new_session_key, version) AS cur_new_key," +
		" argMax(attempt, version) AS cur_attempt, argMax(error, version) AS cur_error," +
		" argMax(user_op_hash, version) AS cur_user_op, argMax(tx_hash, version) AS cur_tx," +
		" min(at) AS first_at, max(at) AS last_at FROM actions FINAL" + w.sql() +
		" GROUP BY chain_id, action_id" + having + " ORDER BY last_at DESC, chain_id, action_id" + limit(r) + finalSettings
	rows, err := selectRows[actionRow](ctx, conn, "actions", q, args)
	if err != nil {
		return nil, err
	}
	f := data.NewFrame("actions",
		data.NewField("time", nil, []time.Time{}), data.NewField("first_seen", nil, []time.Time{}),
		data.NewField("chain_id", nil, []uint64{}), data.NewField("policy_id", nil, []string{}),
		data.NewField("action", nil, []string{}), data.NewField("outcome", nil, []string{}),
		data.NewField("account", nil, []string{}), data.NewField("session_key", nil, []string{}),
		data.NewField("new_session_key", nil, []string{}), data.NewField("attempt", nil, []uint32{}),
		data.NewField("error", nil, []string{}), data.NewField("user_op_hash", nil, []string{}),
		data.NewField("tx_hash", nil, []string{}), data.NewField("action_id", nil, []string{}))
	for _, a := range rows {
		f.AppendRow(a.LastAt.UTC(), a.FirstAt.UTC(), a.ChainID, a.PolicyID, a.Action, a.Outcome, a.Account, a.SessionKey,
			nonZeroAddr(a.NewSessionKey), a.Attempt, a.Error, a.UserOpHash, a.TxHash, a.ActionID)
	}
	return data.Frames{f}, nil
}

// ---- coverage ----

type coverageRow struct {
	ChainID   uint64    `ch:"chain_id"`
	Account   string    `ch:"account"`
	Signer    string    `ch:"signer"`
	Covered   uint8     `ch:"covered"`
	CheckedAt time.Time `ch:"checked_at"`
}

func coverageTable(ctx context.Context, conn querier, r request) (data.Frames, error) {
	w := &where{}
	w.chain(r)
	w.eq("account", r.account)
	q := "SELECT chain_id, account, signer, covered, checked_at FROM coverage FINAL" + w.sql() +
		" ORDER BY covered, chain_id, account, signer" + limit(r) + finalSettings
	rows, err := selectRows[coverageRow](ctx, conn, "coverage", q, w.args)
	if err != nil {
		return nil, err
	}
	f := data.NewFrame("coverage",
		data.NewField("chain_id", nil, []uint64{}), data.NewField("account", nil, []string{}),
		data.NewField("signer", nil, []string{}), data.NewField("covered", nil, []bool{}),
		data.NewField("checked_at", nil, []time.Time{}))
	for _, c := range rows {
		f.AppendRow(c.ChainID, c.Account, c.Signer, c.Covered == 1, c.CheckedAt.UTC())
	}
	return data.Frames{f}, nil
}

type coverageCount struct {
	Covered  uint64 `ch:"covered"`
	Accounts uint64 `ch:"accounts"`
}

// coverageSummary counts accounts (an account is covered when any signer owns it).
func coverageSummary(ctx context.Context, conn querier, r request) (data.Frames, error) {
	w := &where{}
	w.chain(r)
	q := "SELECT toUInt64(sum(c)) AS covered, count() AS accounts FROM (SELECT chain_id, account, max(covered) AS c" +
		" FROM coverage FINAL" + w.sql() + " GROUP BY chain_id, account)" + finalSettings
	rows, err := selectRows[coverageCount](ctx, conn, "coverage", q, w.args)
	if err != nil {
		return nil, err
	}
	var c coverageCount
	if len(rows) > 0 {
		c = rows[0]
	}
	f := data.NewFrame("coverage_summary",
		data.NewField("covered", nil, []uint64{c.Covered}),
		data.NewField("uncovered", nil, []uint64{c.Accounts - c.Covered}),
		data.NewField("accounts", nil, []uint64{c.Accounts}))
	return data.Frames{f}, nil
}

// ---- decode failures ----

func failureWhere(r request) *where {
	w := &where{}
	w.add("removed = 0")
	w.unixRange("block_time", r)
	w.chain(r)
	w.eq("reason", r.Reason)
	return w
}

type failureRow struct {
	ChainID     uint64 `ch:"chain_id"`
	BlockNumber uint64 `ch:"block_number"`
	LogIndex    uint64 `ch:"log_index"`
	BlockTime   uint64 `ch:"block_time"`
	TxHash      string `ch:"tx_hash"`
	Emitter     string `ch:"emitter"`
	Reason      string `ch:"reason"`
	Error       string `ch:"error"`
}

func failureTable(ctx context.Context, conn querier, r request) (data.Frames, error) {
	w := failureWhere(r)
	q := "SELECT chain_id, block_number, log_index, block_time, tx_hash, emitter, reason, error FROM decode_failures FINAL" +
		w.sql() + " ORDER BY block_time DESC, chain_id, block_number DESC, log_index DESC" + limit(r) + finalSettings
	rows, err := selectRows[failureRow](ctx, conn, "decode failures", q, w.args)
	if err != nil {
		return nil, err
	}
	f := data.NewFrame("decode_failures",
		data.NewField("time", nil, []time.Time{}), data.NewField("chain_id", nil, []uint64{}),
		data.NewField("block_number", nil, []uint64{}), data.NewField("log_index", nil, []uint64{}),
		data.NewField("emitter", nil, []string{}), data.NewField("reason", nil, []string{}),
		data.NewField("error", nil, []string{}), data.NewField("tx_hash", nil, []string{}))
	for _, x := range rows {
		f.AppendRow(unixTime(x.BlockTime), x.ChainID, x.BlockNumber, x.LogIndex, x.Emitter, x.Reason, x.Error, x.TxHash)
	}
	return data.Frames{f}, nil
}

func failureSeries(ctx context.Context, conn querier, r request) (data.Frames, error) {
	w := failureWhere(r)
	q := "SELECT toUInt64(intDiv(block_time, ?) * ?) AS bucket, reason AS a, '' AS b, count() AS n FROM decode_failures FINAL" +
		w.sql() + " GROUP BY bucket, a ORDER BY bucket, a" + finalSettings
	return bucketSeries(ctx, conn, r, "decode_failures", q, append([]any{r.step, r.step}, w.args...), "reason")
}

// ---- indexer progress ----

type checkpointRow struct {
	ChainID uint64 `ch:"chain_id"`
	Stream  string `ch:"stream"`
	Number  uint64 `ch:"number"`
	Time    uint64 `ch:"time"`
}

type headRow struct {
	ChainID uint64 `ch:"chain_id"`
	Head    uint64 `ch:"head"`
}

// indexerProgress reports each chain's checkpoint against the highest block the indexer stored
// (its view of the head) and the checkpoint's age.
func indexerProgress(ctx context.Context, conn querier, r request) (data.Frames, error) {
	w := &where{}
	w.chain(r)
	cps, err := selectRows[checkpointRow](ctx, conn, "checkpoints",
		"SELECT chain_id, stream, number, time FROM checkpoints FINAL"+w.sql()+" ORDER BY chain_id, stream"+finalSettings, w.args)
	if err != nil {
		return nil, err
	}
	hw := &where{}
	hw.add("removed = 0")
	hw.chain(r)
	heads, err := selectRows[headRow](ctx, conn, "blocks",
		"SELECT chain_id, max(number) AS head FROM blocks FINAL"+hw.sql()+" GROUP BY chain_id"+finalSettings, hw.args)
	if err != nil {
		return nil, err
	}
	head := map[uint64]uint64{}
	for _, h := range heads {
		head[h.ChainID] = h.Head
	}
	sort.Slice(cps, func(i, j int) bool {
		if cps[i].ChainID != cps[j].ChainID {
			return cps[i].ChainID < cps[j].ChainID
		}
		return cps[i].Stream < cps[j].Stream
	})
	f := data.NewFrame("indexer_progress",
		data.NewField("chain_id", nil, []uint64{}), data.NewField("stream", nil, []string{}),
		data.NewField("checkpoint_block", nil, []uint64{}), data.NewField("checkpoint_time", nil, []time.Time{}),
		data.NewField("head_block", nil, []uint64{}), data.NewField("blocks_behind", nil, []uint64{}),
		data.NewField("lag", nil, []int64{}).SetConfig(&data.FieldConfig{Unit: "s"}))
	for _, c := range cps {
		h := max(head[c.ChainID], c.Number)
		lag := r.now.Unix() - unixTime(c.Time).Unix()
		f.AppendRow(c.ChainID, c.Stream, c.Number, unixTime(c.Time), h, h-c.Number, lag)
	}
	return data.Frames{f}, nil
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
