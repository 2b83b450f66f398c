package grafana

import (
	"context"
	"flag"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/keywarden/keywarden/internal/testenv"
	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/store"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func TestMain(m *testing.M) { testenv.Run(m) }

const (
	chainA = 31337
	chainB = 8453
	// t0 is a whole hour; the fixture's rows fall in the six hours after it.
	t0 = 1_699_999_200
)

var (
	now      = time.Unix(t0+6*3600, 0).UTC()
	plugin   = events.SessionKeyPluginV101
	accountA = events.HexToAddress("0x00000000000000000000000000000000000A11CE")
	accountB = events.HexToAddress("0x0000000000000000000000000000000000000B0B")
	accountC = events.HexToAddress("0x000000000000000000000000000000000000CAFE")
	signer   = events.HexToAddress("0x5151515151515151515151515151515151515151")
	key1     = events.HexToAddress("0x1111111111111111111111111111111111111111")
	key2     = events.HexToAddress("0x2222222222222222222222222222222222222222")
	key3     = events.HexToAddress("0x3333333333333333333333333333333333333333")
	key4     = events.HexToAddress("0x4444444444444444444444444444444444444444")
	key5     = events.HexToAddress("0x5555555555555555555555555555555555555555")
	key6     = events.HexToAddress("0x6666666666666666666666666666666666666666")
	target   = events.HexToAddress("0x7777777777777777777777777777777777777777")
	token    = events.HexToAddress("0x8888888888888888888888888888888888888888")
)

func hashN(n uint64) common.Hash { return common.BigToHash(new(big.Int).SetUint64(n + 0xb10c)) }

func pos(chain, block, li, at uint64) events.Position {
	return events.Position{ChainID: chain, BlockNumber: block, BlockHash: hashN(chain*1e6 + block), ParentHash: hashN(chain*1e6 + block - 1),
		BlockTime: at, TxHash: hashN(2e9 + chain*1e6 + block), TxIndex: 1, LogIndex: li}
}

func ev(p events.Position, emitter events.Address, verified bool, payload events.Payload) events.Event {
	return events.Event{Schema: events.SchemaVersion, Kind: payload.Kind(), Position: p, Emitter: emitter, Verified: verified, Payload: payload}
}

func u256(s string) events.U256 {
	u, err := events.ParseU256(s)
	if err != nil {
		panic(err)
	}
	return u
}

func keyState(chain uint64, account, key events.Address, status events.KeyStatus, addedAt uint64, mut func(*events.KeyState)) events.KeyState {
	k := events.KeyState{Schema: events.SchemaVersion, ChainID: chain, Plugin: plugin, Account: account, SessionKey: key,
		Status: status, Tag: common.HexToHash("0x7a9"), Verified: true, Permissions: events.DefaultPermissions(),
		AddedBlock: 100 + (addedAt-t0)/12, AddedTime: addedAt, UpdatedBlock: 100 + (addedAt-t0)/12, UpdatedTime: addedAt,
		LastEventID: "x"}
	if mut != nil {
		mut(&k)
	}
	return k
}

// seed writes the fixture every golden test reads: keys in every state the dashboards single
// out, events (one retracted), decode failures, blocks and checkpoints through pkg/store, and
// the enforcer's audit rows as the enforcer writes them. Several rows have an older version
// that FINAL must hide.
func seed(t testing.TB, ch *testenv.CH) {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{Addrs: []string{ch.Addr}, Database: ch.Database, Username: ch.Username, Password: ch.Password})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	hour := uint64(3600)
	retracted := ev(pos(chainA, 150, 0, t0+2*hour+5), plugin, true, events.SessionKeyAdded{Account: accountA, SessionKey: key6})
	first := store.Batch{
		Events: []events.Event{
			ev(pos(chainA, 101, 0, t0+10), accountA, true, events.PluginInstalled{Account: accountA, Plugin: plugin}),
			ev(pos(chainA, 101, 1, t0+10), plugin, true, events.SessionKeyAdded{Account: accountA, SessionKey: key1}),
			ev(pos(chainA, 400, 0, t0+hour+20), plugin, true, events.SessionKeyAdded{Account: accountA, SessionKey: key2}),
			ev(pos(chainA, 700, 3, t0+2*hour+30), plugin, false, events.SessionKeyAdded{Account: accountB, SessionKey: key3}),
			ev(pos(chainA, 701, 0, t0+2*hour+42), plugin, false, events.SessionKeyAdded{Account: accountB, SessionKey: key4}),
			ev(pos(chainA, 1300, 0, t0+4*hour+1), plugin, false, events.SessionKeyRemoved{Account: accountB, SessionKey: key4}),
			ev(pos(chainB, 5000, 2, t0+3*hour+7), plugin, true, events.SessionKeyAdded{Account: accountC, SessionKey: key5}),
			retracted,
		},
		KeyStates: []events.KeyState{
			keyState(chainA, accountA, key1, events.StatusActive, t0+10, nil), // replaced below: FINAL must show the allow-all version
			keyState(chainA, accountA, key6, events.StatusActive, t0+2*hour+5, nil),
		},
		Blocks: []store.Block{
			{ChainID: chainA, Number: 1300, Hash: hashN(1), ParentHash: hashN(0), Time: t0 + 4*hour + 1},
			{ChainID: chainA, Number: 1310, Hash: hashN(2), ParentHash: hashN(1), Time: t0 + 4*hour + 121},
			{ChainID: chainA, Number: 1311, Hash: hashN(3), ParentHash: hashN(2), Time: t0 + 4*hour + 133},
		},
		Failures: []events.DecodeFailure{
			{Schema: events.SchemaVersion, Position: pos(chainA, 900, 4, t0+3*hour+15), Emitter: plugin,
				Topics: []common.Hash{hashN(77)}, Data: []byte{0xde, 0xad}, Reason: "bad_data", Error: "permissions_updated: updates[0]: short data"},
			{Schema: events.SchemaVersion, Position: pos(chainA, 1200, 0, t0+4*hour+15), Emitter: plugin,
				Topics: []common.Hash{hashN(78)}, Reason: "unknown_topic", Error: "unknown event topic 0x…"},
		},
	}
	if err := s.WriteBatch(ctx, first); err != nil {
		t.Fatal(err)
	}
	retracted.Removed = true
	second := store.Batch{
		Events: []events.Event{retracted},
		KeyStates: []events.KeyState{
			keyState(chainA, accountA, key1, events.StatusActive, t0+10, func(k *events.KeyState) {
				k.Permissions.AccessControlType = events.AccessAllowAll
				k.UpdatedTime, k.UpdatedBlock = t0+hour, 400
			}),
			keyState(chainA, accountA, key2, events.StatusActive, t0+hour+20, func(k *events.KeyState) {
				k.Permissions.AccessList = []events.AccessEntry{{Target: target, IsOnList: true}, {Target: token, IsOnList: true, CheckSelectors: true}}
				k.Permissions.ValidAfter = t0
				k.Permissions.ValidUntil = uint64(now.Unix()) + 24*hour // expiring soon
				k.Permissions.NativeLimit = events.SpendLimit{HasLimit: true, Limit: u256("1000000000000000000"), RefreshInterval: 86400}
				k.Permissions.GasLimit = events.SpendLimit{HasLimit: true, Limit: u256("5000000000000000")}
				k.Permissions.ERC20Limits = []events.TokenLimit{{Token: token, SpendLimit: events.SpendLimit{HasLimit: true, Limit: u256("100")}}}
				k.Permissions.RequiredPaymaster = target
			}),
			keyState(chainA, accountB, key3, events.StatusActive, t0+2*hour+30, func(k *events.KeyState) {
				k.Verified = false
				k.Permissions.AccessControlType = events.AccessDenylist
				k.Permissions.ValidUntil = uint64(now.Unix()) + 30*24*hour
			}),
			keyState(chainA, accountB, key4, events.StatusRemoved, t0+2*hour+42, func(k *events.KeyState) {
				k.Verified = false
				k.UpdatedTime, k.UpdatedBlock = t0+4*hour+1, 1300
			}),
			keyState(chainB, accountC, key5, events.StatusActive, t0+3*hour+7, func(k *events.KeyState) {
				k.Permissions.ValidUntil = 1<<48 - 1 // the largest uint48: beyond any frame time, clamped
			}),
		},
		RetractedKeys: []store.KeyRef{{ChainID: chainA, Plugin: plugin, Account: accountA, SessionKey: key6}},
	}
	if err := s.WriteBatch(ctx, second); err != nil {
		t.Fatal(err)
	}
	for _, cp := range []store.Checkpoint{
		{ChainID: chainA, Number: 1200, Hash: hashN(9), Time: t0 + 4*hour + 15},
		{ChainID: chainA, Number: 1300, Hash: hashN(1), Time: t0 + 4*hour + 1}, // the later write wins
		{ChainID: chainB, Number: 5000, Hash: hashN(5), Time: t0 + 3*hour + 7},
	} {
		if err := s.SetCheckpoint(ctx, cp); err != nil {
			t.Fatal(err)
		}
	}
	seedAudit(t, ch)
}

func at(sec uint64) time.Time { return time.Unix(int64(sec), 0).UTC() }

// seedAudit inserts the enforcer's audit rows with the column lists of pkg/enforcer's writer.
func seedAudit(t testing.TB, ch *testenv.CH) {
	t.Helper()
	ctx := context.Background()
	hour := uint64(3600)
	exec := func(q string, rows ...[]any) {
		t.Helper()
		b, err := ch.Conn.PrepareBatch(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if err := b.Append(r...); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	a, b := accountA.Hex(), accountB.Hex()
	exec("INSERT INTO verdicts (action_id, policy_id, severity, action, reason, chain_id, plugin, account, session_key, trigger, evaluated_at, body)",
		[]any{"act1", "no-allow-all", "high", "remove", "allow-all access", uint64(chainA), plugin.Hex(), a, key1.Hex(), "ev1", at(t0 + hour + 60), "{}"},
		[]any{"act2", "max-lifetime", "medium", "restrict", "no expiry", uint64(chainA), plugin.Hex(), a, key1.Hex(), "ev1", at(t0 + hour + 61), "{}"},
		[]any{"act3", "no-allow-all", "high", "alert", "allow-all access (uncovered)", uint64(chainA), plugin.Hex(), b, key3.Hex(), "ev3", at(t0 + 2*hour + 90), "{}"},
		[]any{"act4", "unverified-key", "low", "alert", "account lacks plugin", uint64(chainA), plugin.Hex(), b, key3.Hex(), "ev3", at(t0 + 2*hour + 95), "{}"},
	)
	// act3 re-evaluated later: the same action id, a newer row.
	exec("INSERT INTO verdicts (action_id, policy_id, severity, action, reason, chain_id, plugin, account, session_key, trigger, evaluated_at, body)",
		[]any{"act3", "no-allow-all", "high", "alert", "allow-all access (uncovered)", uint64(chainA), plugin.Hex(), b, key3.Hex(), "ev3", at(t0 + 3*hour + 10), "{}"},
	)
	zero := events.ZeroAddress.Hex()
	actRow := func(id, policy, action, outcome, account, key, errText string, attempt uint32, when, version uint64) []any {
		return []any{id, policy, action, outcome, uint64(chainA), account, key, "ev", zero, "0xop" + id, "", attempt, errText, at(when), version}
	}
	exec("INSERT INTO actions (action_id, policy_id, action, outcome, chain_id, account, session_key, trigger, new_session_key, user_op_hash, tx_hash, attempt, error, at, version)",
		actRow("act1", "no-allow-all", "remove", "planned", a, key1.Hex(), "", 0, t0+hour+60, 1),
		actRow("act1", "no-allow-all", "remove", "submitted", a, key1.Hex(), "", 1, t0+hour+70, 2),
		actRow("act1", "no-allow-all", "remove", "included", a, key1.Hex(), "", 1, t0+2*hour+5, 3),
		actRow("act2", "max-lifetime", "restrict", "planned", a, key1.Hex(), "", 0, t0+hour+61, 4),
		actRow("act2", "max-lifetime", "restrict", "failed", a, key1.Hex(), "bundler rejected: AA25", 3, t0+2*hour+300, 5),
		actRow("act3", "no-allow-all", "alert", "uncovered", b, key3.Hex(), "signer is not an owner", 0, t0+2*hour+90, 6),
	)
	// act1's included row written twice (a replay): FINAL keeps one.
	exec("INSERT INTO actions (action_id, policy_id, action, outcome, chain_id, account, session_key, trigger, new_session_key, user_op_hash, tx_hash, attempt, error, at, version)",
		actRow("act1", "no-allow-all", "remove", "included", a, key1.Hex(), "", 1, t0+2*hour+5, 7),
	)
	exec("INSERT INTO coverage (chain_id, account, signer, covered, checked_at, version)",
		[]any{uint64(chainA), a, signer.Hex(), uint8(1), at(t0 + 60), uint64(1)},
		[]any{uint64(chainA), b, signer.Hex(), uint8(1), at(t0 + 60), uint64(1)},
		[]any{uint64(chainB), accountC.Hex(), signer.Hex(), uint8(0), at(t0 + 3*hour), uint64(1)},
	)
	// B removed the signer from its owners later.
	exec("INSERT INTO coverage (chain_id, account, signer, covered, checked_at, version)",
		[]any{uint64(chainA), b, signer.Hex(), uint8(0), at(t0 + 2*hour + 80), uint64(2)},
	)
}
