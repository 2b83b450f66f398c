package store

import (
	"context"
	"errors"
	"math"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/keywarden/keywarden/internal/testenv"
	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/schema"
)

func TestMain(m *testing.M) { testenv.Run(m) }

const chain = 31337

var (
	plugin  = events.SessionKeyPluginV101
	account = events.HexToAddress("0x00000000000000000000000000000000000A11CE")
	key1    = events.HexToAddress("0x1111111111111111111111111111111111111111")
	key2    = events.HexToAddress("0x2222222222222222222222222222222222222222")
	target  = events.HexToAddress("0x3333333333333333333333333333333333333333")
	token   = events.HexToAddress("0x4444444444444444444444444444444444444444")
)

func openStore(t *testing.T, opts ...func(*Options)) (*Store, *testenv.CH) {
	t.Helper()
	ch := testenv.ClickHouse(t)
	return openOn(t, ch, opts...), ch
}

func openOn(t *testing.T, ch *testenv.CH, opts ...func(*Options)) *Store {
	t.Helper()
	o := Options{Addrs: []string{ch.Addr}, Database: ch.Database, Username: ch.Username, Password: ch.Password}
	for _, f := range opts {
		f(&o)
	}
	s, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

func hashN(n uint64) common.Hash { return common.BigToHash(new(big.Int).SetUint64(n + 0xb10c)) }

func pos(block, logIndex uint64) events.Position {
	return events.Position{ChainID: chain, BlockNumber: block, BlockHash: hashN(block), ParentHash: hashN(block - 1),
		BlockTime: 1_700_000_000 + block*12, TxHash: hashN(1000 + block), TxIndex: 3, LogIndex: logIndex}
}

func ev(p events.Position, payload events.Payload) events.Event {
	emitter := plugin
	switch payload.(type) {
	case events.PluginInstalled, events.PluginUninstalled:
		emitter = account
	case events.OwnerUpdated:
		emitter = events.MultiOwnerPlugin
	}
	return events.Event{Schema: events.SchemaVersion, Kind: payload.Kind(), Position: p, Emitter: emitter,
		Verified: true, Payload: payload}
}

func added(block, li uint64, key events.Address) events.Event {
	return ev(pos(block, li), events.SessionKeyAdded{Account: account, SessionKey: key, Tag: common.HexToHash("0x7a9")})
}

func count(t *testing.T, ch *testenv.CH, q string) uint64 {
	t.Helper()
	var n uint64
	if err := ch.Conn.QueryRow(context.Background(), q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestMigrateIsIdempotent(t *testing.T) {
	s, ch := openStore(t)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := s.Migrate(ctx); err != nil {
			t.Fatalf("migrate again (%d): %v", i, err)
		}
	}
	// A second process migrating the same database changes nothing either.
	openOn(t, ch)
	got, err := s.AppliedMigrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var want []uint32
	for _, m := range ms {
		want = append(want, m.Version)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("applied = %v, want %v", got, want)
	}
	if n := count(t, ch, "SELECT count() FROM schema_migrations"); n != uint64(len(ms)) {
		t.Fatalf("schema_migrations holds %d rows, want %d", n, len(ms))
	}
	for _, tbl := range []string{"events", "permission_updates", "key_state", "accounts", "blocks", "checkpoints", "decode_failures"} {
		if n := count(t, ch, "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = '"+tbl+"'"); n != 1 {
			t.Errorf("table %s missing", tbl)
		}
	}
}

// Losing schema_migrations (or an interrupted first run) only makes Migrate run every
// statement again, which changes nothing.
func TestMigrateAfterLostBookkeeping(t *testing.T) {
	s, ch := openStore(t)
	ctx := context.Background()
	if err := s.WriteBatch(ctx, Batch{Events: []events.Event{added(1, 0, key1)}}); err != nil {
		t.Fatal(err)
	}
	if err := ch.Conn.Exec(ctx, "DROP TABLE schema_migrations"); err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountEvents(ctx, EventFilter{ChainID: chain}); err != nil || n != 1 {
		t.Fatalf("CountEvents = %d, %v after re-migrating", n, err)
	}
}

// A caller-supplied version below what is stored does not make a write lose.
func TestBatchVersionIsAFloor(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	e := added(1, 0, key1)
	if err := s.WriteBatch(ctx, Batch{Version: 1 << 62, Events: []events.Event{e}}); err != nil {
		t.Fatal(err)
	}
	r := e
	r.Removed = true
	if err := s.WriteBatch(ctx, Batch{Version: 5, Events: []events.Event{r}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountEvents(ctx, EventFilter{ChainID: chain}); n != 0 {
		t.Fatalf("retraction written with a low version lost against the stored row")
	}
}

func sampleBatch() Batch {
	upd := ev(pos(11, 1), events.PermissionsUpdated{Account: account, SessionKey: key1, Updates: []events.Update{
		events.SetAccessListType{Type: events.AccessDenylist},
		events.UpdateAccessListAddressEntry{Target: target, IsOnList: true, CheckSelectors: true},
		events.UpdateAccessListFunctionEntry{Target: target, Function: events.Selector{0xa9, 0x05, 0x9c, 0xbb}, IsOnList: true},
		events.UpdateTimeRange{ValidAfter: 0, ValidUntil: events.MaxUint48},
		events.SetNativeTokenSpendLimit{Limit: events.MaxU256, RefreshInterval: 0},
		events.SetERC20SpendLimit{Token: token, Limit: events.U256From64(5000), RefreshInterval: 86400},
		events.SetGasSpendLimit{Limit: events.U256From64(1e18), RefreshInterval: 3600},
		events.SetRequiredPaymaster{Paymaster: target},
		events.UnknownUpdate{Raw: []byte{0xde, 0xad, 0xbe, 0xef, 1}, Reason: "unknown selector"},
	}})
	st := fullKeyState()
	return Batch{
		Events: []events.Event{
			ev(pos(10, 0), events.PluginInstalled{Account: account, Plugin: plugin, ManifestHash: hashN(5),
				Dependencies: []events.FunctionReference{{1, 2, 3}}}),
			added(11, 0, key1),
			upd,
			ev(pos(12, 0), events.SessionKeyRotated{Account: account, OldSessionKey: key1, NewSessionKey: key2}),
			ev(pos(12, 1), events.OwnerUpdated{Account: account, AddedOwners: []events.Address{target}, RemovedOwners: []events.Address{}}),
		},
		KeyStates: []events.KeyState{st},
		Accounts: []Account{{ChainID: chain, Account: account, InstalledPlugins: []events.Address{plugin},
			Owners: []events.Address{target}, UpdatedBlock: 12, UpdatedTime: 1_700_000_144, LastEventID: pos(12, 1).ID()}},
		Blocks: []Block{
			{ChainID: chain, Number: 10, Hash: hashN(10), ParentHash: hashN(9), Time: 1_700_000_120},
			{ChainID: chain, Number: 11, Hash: hashN(11), ParentHash: hashN(10), Time: 1_700_000_132},
			{ChainID: chain, Number: 12, Hash: hashN(12), ParentHash: hashN(11), Time: 1_700_000_144},
		},
		Failures: []events.DecodeFailure{{Schema: events.SchemaVersion, Position: pos(12, 7), Emitter: plugin,
			Topics: []common.Hash{events.TopicPermissionsUpdated, hashN(1)}, Data: []byte{1, 2, 3},
			Reason: "short_data", Error: "decode: short data"}},
	}
}

func TestReplayedBatchLeavesOneLogicalRow(t *testing.T) {
	s, ch := openStore(t)
	ctx := context.Background()
	b := sampleBatch()
	for i := 0; i < 2; i++ {
		if err := s.WriteBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	for tbl, want := range map[string]uint64{"events": 5, "permission_updates": 9, "key_state": 1, "accounts": 1,
		"blocks": 3, "decode_failures": 1} {
		if raw := count(t, ch, "SELECT count() FROM "+tbl); raw != 2*want {
			t.Errorf("%s: %d physical rows, want %d (both writes stored)", tbl, raw, 2*want)
		}
		if n := count(t, ch, "SELECT count() FROM "+tbl+" FINAL"); n != want {
			t.Errorf("%s FINAL: %d rows, want %d", tbl, n, want)
		}
	}
	n, err := s.CountEvents(ctx, EventFilter{ChainID: chain})
	if err != nil || n != 5 {
		t.Fatalf("CountEvents = %d, %v", n, err)
	}
	got, err := s.Events(ctx, EventFilter{ChainID: chain})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, b.Events) {
		t.Fatalf("events read back differ:\n got %+v\nwant %+v", got, b.Events)
	}
	fails, err := s.DecodeFailures(ctx, FailureFilter{ChainID: chain})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fails, b.Failures) {
		t.Fatalf("failures read back differ:\n got %+v\nwant %+v", fails, b.Failures)
	}
	accts, err := s.Accounts(ctx, AccountFilter{ChainID: chain, Plugin: plugin})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(accts, b.Accounts) {
		t.Fatalf("accounts read back differ:\n got %+v\nwant %+v", accts, b.Accounts)
	}
	if accts, _ := s.Accounts(ctx, AccountFilter{ChainID: chain, Plugin: events.SessionKeyPluginV100}); len(accts) != 0 {
		t.Fatalf("accounts with v1.0.0 installed = %+v", accts)
	}
}

func TestRetractionHidesEvent(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	e1, e2 := added(20, 0, key1), added(21, 0, key2)
	if err := s.WriteBatch(ctx, Batch{Events: []events.Event{e1, e2}}); err != nil {
		t.Fatal(err)
	}
	// A separate batch, so the retraction is a separate insert and a separate part.
	r := e2
	r.Removed = true
	if err := s.WriteBatch(ctx, Batch{Events: []events.Event{r}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Events(ctx, EventFilter{ChainID: chain})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID() != e1.ID() {
		t.Fatalf("visible events = %+v, want only %s", got, e1.ID())
	}
	all, err := s.Events(ctx, EventFilter{ChainID: chain, IncludeRemoved: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[1].ID() != e2.ID() || !all[1].Removed || all[0].Removed {
		t.Fatalf("all events = %+v", all)
	}
	if n, _ := s.CountEvents(ctx, EventFilter{ChainID: chain}); n != 1 {
		t.Fatalf("CountEvents = %d, want 1", n)
	}
	// The same block comes back (a reorg to the old branch): the event is visible again.
	if err := s.WriteBatch(ctx, Batch{Events: []events.Event{e2}}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.CountEvents(ctx, EventFilter{ChainID: chain}); n != 2 {
		t.Fatalf("CountEvents after restore = %d, want 2", n)
	}
}

func TestRetractionHidesPermissionUpdates(t *testing.T) {
	s, ch := openStore(t)
	ctx := context.Background()
	b := sampleBatch()
	if err := s.WriteBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	r := b.Events[2]
	r.Removed = true
	if err := s.WriteBatch(ctx, Batch{Events: []events.Event{r}}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, ch, "SELECT count() FROM permission_updates FINAL WHERE removed = 0 SETTINGS optimize_move_to_prewhere = 0"); n != 0 {
		t.Fatalf("%d live update rows after the retraction", n)
	}
}

func TestExtremeValuesRoundTrip(t *testing.T) {
	s, ch := openStore(t)
	ctx := context.Background()
	p := pos(math.MaxUint64, math.MaxUint32) // log index 2^32-1, block number 2^64-1
	p.BlockTime, p.TxIndex = math.MaxUint64, math.MaxUint32
	max := events.MaxU256
	e := ev(p, events.PermissionsUpdated{Account: account, SessionKey: key1, Updates: []events.Update{
		events.SetERC20SpendLimit{Token: token, Limit: max, RefreshInterval: events.MaxUint48},
		events.UpdateTimeRange{ValidAfter: events.MaxUint48, ValidUntil: events.MaxUint48},
	}})
	st := fullKeyState()
	st.Permissions.NativeLimit.Limit = max
	st.Permissions.ERC20Limits[0].Limit = max
	st.Permissions.ValidUntil = events.MaxUint48
	if err := s.WriteBatch(ctx, Batch{Events: []events.Event{e}, KeyStates: []events.KeyState{st}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Events(ctx, EventFilter{ChainID: chain, FromBlock: math.MaxUint64})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !reflect.DeepEqual(got[0], e) {
		t.Fatalf("event read back = %+v, want %+v", got, e)
	}
	if got[0].LogIndex != math.MaxUint32 {
		t.Fatalf("log index = %d", got[0].LogIndex)
	}
	var limit string
	if err := ch.Conn.QueryRow(ctx, "SELECT spend_limit FROM permission_updates FINAL WHERE update_index = 0").Scan(&limit); err != nil {
		t.Fatal(err)
	}
	if limit != "115792089237316195423570985008687907853269984665640564039457584007913129639935" {
		t.Fatalf("stored limit %s", limit)
	}
	keys, err := s.KeyStates(ctx, KeyFilter{ChainID: chain})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || !keys[0].Permissions.ERC20Limits[0].Limit.IsMax() || !keys[0].Permissions.NativeLimit.Limit.IsMax() {
		t.Fatalf("key read back = %+v", keys)
	}
}

func TestKeyStateRoundTripsThroughClickHouse(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	want := fullKeyState()
	def := events.KeyState{Schema: events.SchemaVersion, ChainID: chain, Plugin: plugin, Account: account,
		SessionKey: key1, Status: events.StatusActive, Permissions: events.DefaultPermissions(), AddedBlock: 1,
		UpdatedBlock: 1, LastEventID: pos(1, 0).ID()}
	if err := s.WriteBatch(ctx, Batch{KeyStates: []events.KeyState{want, def}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.KeyStates(ctx, KeyFilter{ChainID: chain, Accounts: []events.Address{account}})
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[events.Address]events.KeyState{}
	for _, k := range got {
		byKey[k.SessionKey] = k
	}
	if !reflect.DeepEqual(byKey[want.SessionKey], want) {
		t.Errorf("full key state differs:\n got %+v\nwant %+v", byKey[want.SessionKey], want)
	}
	if !reflect.DeepEqual(byKey[key1], def) {
		t.Errorf("default key state differs:\n got %+v\nwant %+v", byKey[key1], def)
	}
}

func TestKeyStateLatestVersionAndRetraction(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	k := fullKeyState()
	if err := s.WriteBatch(ctx, Batch{KeyStates: []events.KeyState{k}}); err != nil {
		t.Fatal(err)
	}
	k2 := k.Clone()
	k2.Status = events.StatusRemoved
	k2.UpdatedBlock++
	if err := s.WriteBatch(ctx, Batch{KeyStates: []events.KeyState{k2}}); err != nil {
		t.Fatal(err)
	}
	active, err := s.KeyStates(ctx, KeyFilter{ChainID: chain, Statuses: []events.KeyStatus{events.StatusActive}})
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != 0 {
		t.Fatalf("an older active version is visible: %+v", active)
	}
	ref := KeyRef{ChainID: chain, Plugin: k.Plugin, Account: k.Account, SessionKey: k.SessionKey}
	if err := s.WriteBatch(ctx, Batch{RetractedKeys: []KeyRef{ref}}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.KeyStates(ctx, KeyFilter{ChainID: chain}); len(got) != 0 {
		t.Fatalf("retracted key visible: %+v", got)
	}
	got, err := s.KeyStates(ctx, KeyFilter{ChainID: chain, IncludeRetracted: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Status != StatusRetracted {
		t.Fatalf("with retracted = %+v", got)
	}
}

func TestBlocksFollowReorg(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	var b Batch
	for n := uint64(1); n <= 6; n++ {
		b.Blocks = append(b.Blocks, Block{ChainID: chain, Number: n, Hash: hashN(n), ParentHash: hashN(n - 1), Time: n})
	}
	if err := s.WriteBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	// 1-2-3-4-5-6 becomes 1-2-3-4'-5' : 4 and 5 replaced, 6 gone.
	fork := func(n uint64) common.Hash { return hashN(n + 500) }
	reorg := Batch{Blocks: []Block{
		{ChainID: chain, Number: 4, Removed: true, Hash: hashN(4)}, // superseded within the batch
		{ChainID: chain, Number: 4, Hash: fork(4), ParentHash: hashN(3), Time: 40},
		{ChainID: chain, Number: 5, Hash: fork(5), ParentHash: fork(4), Time: 50},
		{ChainID: chain, Number: 6, Hash: hashN(6), ParentHash: hashN(5), Time: 6, Removed: true},
	}}
	if err := s.WriteBatch(ctx, reorg); err != nil {
		t.Fatal(err)
	}
	got, err := s.Blocks(ctx, chain, 2, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []Block{
		{ChainID: chain, Number: 2, Hash: hashN(2), ParentHash: hashN(1), Time: 2},
		{ChainID: chain, Number: 3, Hash: hashN(3), ParentHash: hashN(2), Time: 3},
		reorg.Blocks[1], reorg.Blocks[2],
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("blocks = %+v\nwant %+v", got, want)
	}
}

func TestCheckpoint(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	if _, err := s.Checkpoint(ctx, chain, StreamLogs); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty checkpoint: err = %v, want ErrNotFound", err)
	}
	for n := uint64(1); n <= 3; n++ {
		if err := s.SetCheckpoint(ctx, Checkpoint{ChainID: chain, Number: n, Hash: hashN(n), ParentHash: hashN(n - 1), Time: n}); err != nil {
			t.Fatal(err)
		}
	}
	cp, err := s.Checkpoint(ctx, chain, "")
	if err != nil {
		t.Fatal(err)
	}
	want := Checkpoint{ChainID: chain, Stream: StreamLogs, Number: 3, Hash: hashN(3), ParentHash: hashN(2), Time: 3}
	if cp != want {
		t.Fatalf("checkpoint = %+v, want %+v", cp, want)
	}
	if _, err := s.Checkpoint(ctx, chain+1, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other chain: %v", err)
	}
}

// A restart on a machine whose clock went back still writes rows that replace older ones.
func TestVersionsGrowAcrossRestartWithClockBack(t *testing.T) {
	future := func(o *Options) { o.now = func() time.Time { return time.Now().Add(24 * time.Hour) } }
	past := func(o *Options) { o.now = func() time.Time { return time.Unix(1, 0) } }
	s1, ch := openStore(t, future)
	ctx := context.Background()
	if err := s1.SetCheckpoint(ctx, Checkpoint{ChainID: chain, Number: 1, Hash: hashN(1)}); err != nil {
		t.Fatal(err)
	}
	_ = s1.Close()
	s2 := openOn(t, ch, past)
	if err := s2.SetCheckpoint(ctx, Checkpoint{ChainID: chain, Number: 2, Hash: hashN(2)}); err != nil {
		t.Fatal(err)
	}
	cp, err := s2.Checkpoint(ctx, chain, "")
	if err != nil {
		t.Fatal(err)
	}
	if cp.Number != 2 {
		t.Fatalf("checkpoint = %d after restart with the clock back, want 2", cp.Number)
	}
}

func TestEventFilters(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	b := sampleBatch()
	unverified := added(13, 0, key1)
	unverified.Verified = false
	other := ev(pos(14, 0), events.SessionKeyAdded{Account: target, SessionKey: key1})
	b.Events = append(b.Events, unverified, other)
	if err := s.WriteBatch(ctx, b); err != nil {
		t.Fatal(err)
	}
	ids := func(f EventFilter) []string {
		t.Helper()
		got, err := s.Events(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range got {
			out = append(out, e.ID())
		}
		return out
	}
	cases := []struct {
		name string
		f    EventFilter
		want []events.Event
	}{
		{"range", EventFilter{ChainID: chain, FromBlock: 11, ToBlock: new(uint64(11))}, []events.Event{b.Events[1], b.Events[2]}},
		{"kinds", EventFilter{ChainID: chain, Kinds: []events.Kind{events.KindSessionKeyRotated, events.KindOwnerUpdated}},
			[]events.Event{b.Events[3], b.Events[4]}},
		{"rotation matches new key", EventFilter{ChainID: chain, SessionKeys: []events.Address{key2}}, []events.Event{b.Events[3]}},
		{"account", EventFilter{ChainID: chain, Accounts: []events.Address{target}}, []events.Event{other}},
		{"verified only", EventFilter{ChainID: chain, FromBlock: 13, VerifiedOnly: true}, []events.Event{other}},
		{"plugin", EventFilter{ChainID: chain, Plugin: plugin, ToBlock: new(uint64(10))}, []events.Event{b.Events[0]}},
		{"limit", EventFilter{ChainID: chain, Limit: 2}, []events.Event{b.Events[0], b.Events[1]}},
		{"other chain", EventFilter{ChainID: chain + 1}, nil},
		{"up to genesis", EventFilter{ChainID: chain, ToBlock: new(uint64(0))}, nil},
	}
	for _, c := range cases {
		var want []string
		for _, e := range c.want {
			want = append(want, e.ID())
		}
		if got := ids(c.f); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v, want %v", c.name, got, want)
		}
	}
}

func TestBadInputFailsWholeBatch(t *testing.T) {
	s, ch := openStore(t)
	ctx := context.Background()
	b := sampleBatch()
	b.Events = append(b.Events, events.Event{Position: pos(30, 0)}) // no payload
	if err := s.WriteBatch(ctx, b); err == nil {
		t.Fatal("batch with an event without payload was accepted")
	}
	if n := count(t, ch, "SELECT count() FROM events"); n != 0 {
		t.Fatalf("%d rows written by a rejected batch", n)
	}
}

func TestLongFilterLists(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	if err := s.WriteBatch(ctx, Batch{Events: []events.Event{added(1, 0, key1)}}); err != nil {
		t.Fatal(err)
	}
	accts := make([]events.Address, 20000)
	for i := range accts {
		accts[i] = events.AddressFrom(common.BigToAddress(big.NewInt(int64(i + 1))))
	}
	accts = append(accts, account)
	got, err := s.Events(ctx, EventFilter{ChainID: chain, Accounts: accts})
	if err != nil || len(got) != 1 {
		t.Fatalf("events of 20001 accounts = %d, %v", len(got), err)
	}
	if ks, err := s.KeyStates(ctx, KeyFilter{ChainID: chain, Accounts: accts, Committed: true}); err != nil || len(ks) != 0 {
		t.Fatalf("key states of 20001 accounts = %d, %v", len(ks), err)
	}
}
