package reliability_test

import (
	"context"
	"fmt"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/keywarden/keywarden/internal/testenv"
	"github.com/keywarden/keywarden/pkg/bus"
	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/indexer"
	"github.com/keywarden/keywarden/pkg/ingest"
	"github.com/keywarden/keywarden/pkg/store"
)

// hostileRig is the sink alone on real ClickHouse and NATS, fed hand-built batches: legal
// values no dev chain produces on demand (log indexes near 2^32, 2^256-1 limits).
type hostileRig struct {
	t      *testing.T
	ctx    context.Context
	st     *store.Store
	nats   *testenv.NATSServer
	sink   *indexer.Sink
	plugin common.Address
}

const hostileChain = 31337

func newHostileRig(t *testing.T) *hostileRig {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	h := &hostileRig{t: t, ctx: ctx, nats: testenv.NATS(t), plugin: common.HexToAddress("0x00000000000000000000000000000000005e55")}
	h.st = openStore(t, ctx, testenv.ClickHouse(t))
	js, err := jetstream.New(h.nats.Conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bus.EnsureStream(ctx, js, bus.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	h.sink, err = indexer.NewSink(indexer.Options{ChainID: hostileChain, Plugins: []events.Address{events.AddressFrom(h.plugin)},
		Store: indexer.NewStoreAdapter(h.st), Bus: bus.NewPublisher(js, bus.PublisherOptions{AckTimeout: 5 * time.Second}),
		Logger: zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.ErrorLevel)})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func topicAddr(a common.Address) common.Hash { return common.BytesToHash(a.Bytes()) }

func mustArgs(t *testing.T, types ...string) abi.Arguments {
	var args abi.Arguments
	for _, s := range types {
		ty, err := abi.NewType(s, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		args = append(args, abi.Argument{Type: ty})
	}
	return args
}

// Case 13: hostile but legal data is stored exactly, or recorded as a decode failure; never
// fatal, never dropped, and replaying the batch duplicates nothing.
func TestHostileData(t *testing.T) {
	h := newHostileRig(t)
	account := common.HexToAddress("0x00000000000000000000000000000000000ACC07")
	key := common.HexToAddress("0x000000000000000000000000000000000000BEEF")
	bytesArr := mustArgs(t, "bytes[]")
	pack := func(us ...[]byte) []byte {
		b, err := bytesArr.Pack(us)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	install, err := mustArgs(t, "bytes32", "bytes21[]").Pack([32]byte{1}, [][21]byte{})
	if err != nil {
		t.Fatal(err)
	}
	maxU := events.MaxU256
	maxLimit := events.SetNativeTokenSpendLimit{Limit: maxU, RefreshInterval: events.MaxUint48}
	erc20Max := events.SetERC20SpendLimit{Token: events.AddressFrom(common.HexToAddress("0x00000000000000000000000000000000000E2C20")), Limit: maxU}
	timeRange := events.UpdateTimeRange{ValidAfter: 0, ValidUntil: events.MaxUint48}
	huge := make([][]byte, 0, 1500)
	for i := 0; i < 1500; i++ {
		huge = append(huge, events.UpdateAccessListAddressEntry{Target: events.AddressFrom(common.BigToAddress(big.NewInt(int64(i + 1)))), IsOnList: true}.Encode())
	}
	unknown := append([]byte{0xde, 0xad, 0xbe, 0xef}, make([]byte, 32)...)
	good := pack(timeRange.Encode())

	block := common.HexToHash("0xb10c000000000000000000000000000000000000000000000000000000000001")
	parent := common.HexToHash("0xb10c000000000000000000000000000000000000000000000000000000000000")
	tx := crypto.Keccak256Hash([]byte("tx"))
	logAt := func(idx uint, addr common.Address, data []byte, topics ...common.Hash) types.Log {
		return types.Log{Address: addr, Topics: topics, Data: data, BlockNumber: 100, BlockHash: block, TxHash: tx, TxIndex: 0, Index: idx}
	}
	added := func(idx uint) types.Log {
		return logAt(idx, h.plugin, nil, events.TopicSessionKeyAdded, topicAddr(account), topicAddr(key), common.Hash{7})
	}
	updated := func(idx uint, data []byte) types.Log {
		return logAt(idx, h.plugin, data, events.TopicPermissionsUpdated, topicAddr(account), topicAddr(key))
	}
	logs := []types.Log{
		logAt(1, account, install, events.TopicPluginInstalled, topicAddr(h.plugin)),
		added(2),
		updated(3, pack(maxLimit.Encode(), erc20Max.Encode(), timeRange.Encode())),
		updated(4, pack()),             // empty updates list
		updated(5, pack(huge...)),      // 1500 updates
		updated(6, pack(unknown)),      // unknown selector: a decode failure
		updated(7, good[:len(good)-7]), // truncated ABI data: a decode failure
		logAt(8, h.plugin, nil, events.TopicSessionKeyAdded, topicAddr(account)), // too few topics
		updated(1<<32-1, pack(events.UpdateTimeRange{ValidAfter: 0, ValidUntil: 0}.Encode())),
		updated(1<<32+5, pack(events.SetGasSpendLimit{Limit: maxU}.Encode())),
	}
	b := ingest.Batch{ChainID: hostileChain, From: 100, To: 100,
		Blocks: []ingest.BlockRef{{Number: 100, Hash: block, Parent: parent, Time: 1_700_000_000}}, Logs: logs}
	for i := 0; i < 2; i++ { // the second Apply is a replay
		if err := h.sink.Apply(h.ctx, b); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}

	evs, err := h.st.Events(h.ctx, store.EventFilter{ChainID: hostileChain})
	if err != nil {
		t.Fatal(err)
	}
	fails, err := h.st.DecodeFailures(h.ctx, store.FailureFilter{ChainID: hostileChain})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 7 || len(fails) != 3 {
		t.Fatalf("stored %d events and %d failures, want 7 and 3", len(evs), len(fails))
	}
	byIndex := map[uint64]events.Event{}
	for _, e := range evs {
		byIndex[e.LogIndex] = e
		if !e.Verified {
			t.Errorf("event %d not verified though the account installed the plugin first", e.LogIndex)
		}
	}
	check := func(idx uint64, want ...events.Update) {
		t.Helper()
		e, ok := byIndex[idx]
		if !ok {
			t.Errorf("event at log index %d missing", idx)
			return
		}
		p := e.Payload.(events.PermissionsUpdated)
		if len(p.Updates) != len(want) || (len(want) > 0 && !reflect.DeepEqual(jsonOf(p.Updates), jsonOf(want))) {
			t.Errorf("log %d: updates %d %s, want %d", idx, len(p.Updates), shorten(jsonOf(p.Updates)), len(want))
		}
	}
	check(3, maxLimit, erc20Max, timeRange)
	check(4)
	if p := byIndex[5].Payload.(events.PermissionsUpdated); len(p.Updates) != 1500 {
		t.Errorf("huge list: %d updates stored, want 1500", len(p.Updates))
	}
	check(1<<32-1, events.UpdateTimeRange{})
	check(1<<32+5, events.SetGasSpendLimit{Limit: maxU})
	reasons := map[uint64]string{}
	for _, f := range fails {
		reasons[f.LogIndex] = f.Reason
	}
	if reasons[6] != "unknown_update_selector" || reasons[7] == "" || reasons[8] != "topic_count" {
		t.Errorf("failure reasons %v", reasons)
	}

	// The folded key state carries the exact extreme values.
	ks, err := h.st.KeyStates(h.ctx, store.KeyFilter{ChainID: hostileChain})
	if err != nil || len(ks) != 1 {
		t.Fatalf("key states %v, %v", ks, err)
	}
	p := ks[0].Permissions
	if !ks[0].Verified || p.NativeLimit.HasLimit || p.GasLimit.HasLimit || p.ValidUntil != 0 || len(p.AccessList) != 1500 || len(p.ERC20Limits) != 0 {
		t.Errorf("folded state: verified %v native %+v gas %+v until %d access %d erc20 %+v", ks[0].Verified, p.NativeLimit, p.GasLimit, p.ValidUntil, len(p.AccessList), p.ERC20Limits)
	}

	// The stream holds every event and failure once despite the replay.
	r := &rig{t: t, ctx: h.ctx, nats: h.nats}
	sc := r.readStream()
	if len(sc.events) != 7 || len(sc.failures) != 3 {
		t.Errorf("stream: %d events, %d failures; want 7 and 3", len(sc.events), len(sc.failures))
	}
	for id, n := range sc.events {
		if n != 1 {
			t.Errorf("stream: %s published %d times", id, n)
		}
	}
}

func shorten(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

// A reorg that comes back to the very block it abandoned (A → B → A): the event and its key
// state are published again after their retraction, under ids JetStream has not seen, so a
// consumer ends with the event present.
//
//	100a{add key} ──rollback to 99──► (100b …) ──rollback to 99──► 100a again
func TestFlipBackRepublishes(t *testing.T) {
	h := newHostileRig(t)
	account := common.HexToAddress("0x00000000000000000000000000000000000ACC08")
	key := common.HexToAddress("0x000000000000000000000000000000000000BEE8")
	install, _ := mustArgs(t, "bytes32", "bytes21[]").Pack([32]byte{1}, [][21]byte{})
	p99 := ingest.BlockRef{Number: 99, Hash: common.Hash{0x99}, Parent: common.Hash{0x98}, Time: 1_700_000_000}
	a100 := ingest.BlockRef{Number: 100, Hash: common.Hash{0xa1}, Parent: p99.Hash, Time: 1_700_000_012}
	tx := common.Hash{0x77}
	batch := ingest.Batch{ChainID: hostileChain, From: 99, To: 100, Blocks: []ingest.BlockRef{p99, a100}, Logs: []types.Log{
		{Address: account, Topics: []common.Hash{events.TopicPluginInstalled, topicAddr(h.plugin)}, Data: install, BlockNumber: 99, BlockHash: p99.Hash, TxHash: tx},
		{Address: h.plugin, Topics: []common.Hash{events.TopicSessionKeyAdded, topicAddr(account), topicAddr(key), {}}, BlockNumber: 100, BlockHash: a100.Hash, TxHash: tx},
	}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.sink.Apply(h.ctx, batch))
	must(h.sink.Rollback(h.ctx, hostileChain, p99, []ingest.BlockRef{a100}))
	again := batch
	again.From, again.Blocks, again.Logs = 100, []ingest.BlockRef{a100}, batch.Logs[1:]
	must(h.sink.Apply(h.ctx, again))

	r := &rig{t: t, ctx: h.ctx, nats: h.nats}
	sc := r.readStream()
	id := fmt.Sprintf("%d:%s:0", hostileChain, a100.Hash.Hex())
	if sc.events[id] != 2 || sc.retractions[id] != 1 {
		t.Errorf("stream: %d event and %d retraction messages of %s, want 2 and 1", sc.events[id], sc.retractions[id], id)
	}
	last := sc.states[len(sc.states)-1]
	if last.SessionKey != events.AddressFrom(key) || last.Status != events.StatusActive {
		t.Errorf("last state message %s %s, want the key active again", last.SessionKey, last.Status)
	}
	ks, err := h.st.KeyStates(h.ctx, store.KeyFilter{ChainID: hostileChain})
	must(err)
	if len(ks) != 1 || ks[0].Status != events.StatusActive {
		t.Errorf("clickhouse key states %+v, want the key active", ks)
	}
}

// failCheckpoint is the store of a process that dies between its write and its checkpoint.
type failCheckpoint struct{ indexer.Store }

func (failCheckpoint) SetCheckpoint(context.Context, uint64, ingest.BlockRef) error {
	return fmt.Errorf("set checkpoint: killed")
}

// A batch written and published whose checkpoint never moved (the process died), followed at
// restart by a different branch at the same height: the orphaned rows are retracted, the
// orphaned event gets a retraction message, and the key state follows the new branch.
//
//	crashed write:  99 ─ 100a{add key A, undecodable log}   (rows + messages, no checkpoint)
//	after restart:  99 ─ 100b{add key B}
func TestOrphansOfACrashedBatchAreRetracted(t *testing.T) {
	h := newHostileRig(t)
	account := common.HexToAddress("0x00000000000000000000000000000000000ACC09")
	keyA, keyB := common.HexToAddress("0xA0"), common.HexToAddress("0xB0")
	install, _ := mustArgs(t, "bytes32", "bytes21[]").Pack([32]byte{1}, [][21]byte{})
	p99 := ingest.BlockRef{Number: 99, Hash: common.Hash{0x99}, Parent: common.Hash{0x98}, Time: 1_700_000_000}
	a100 := ingest.BlockRef{Number: 100, Hash: common.Hash{0xa1}, Parent: p99.Hash, Time: 1_700_000_012}
	b100 := ingest.BlockRef{Number: 100, Hash: common.Hash{0xb1}, Parent: p99.Hash, Time: 1_700_000_013}
	tx := common.Hash{0x77}
	added := func(ref ingest.BlockRef, key common.Address) types.Log {
		return types.Log{Address: h.plugin, Topics: []common.Hash{events.TopicSessionKeyAdded, topicAddr(account), topicAddr(key), {}},
			BlockNumber: ref.Number, BlockHash: ref.Hash, TxHash: tx}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.sink.Apply(h.ctx, ingest.Batch{ChainID: hostileChain, From: 99, To: 99, Blocks: []ingest.BlockRef{p99}, Logs: []types.Log{
		{Address: account, Topics: []common.Hash{events.TopicPluginInstalled, topicAddr(h.plugin)}, Data: install, BlockNumber: 99, BlockHash: p99.Hash, TxHash: tx}}}))

	js, _ := jetstream.New(h.nats.Conn)
	crashed, err := indexer.NewSink(indexer.Options{ChainID: hostileChain, Plugins: []events.Address{events.AddressFrom(h.plugin)},
		Store: failCheckpoint{indexer.NewStoreAdapter(h.st)}, Bus: bus.NewPublisher(js, bus.PublisherOptions{})})
	must(err)
	bad := types.Log{Address: h.plugin, Topics: []common.Hash{events.TopicSessionKeyAdded}, BlockNumber: 100, BlockHash: a100.Hash, TxHash: tx, Index: 1}
	if err := crashed.Apply(h.ctx, ingest.Batch{ChainID: hostileChain, From: 100, To: 100, Blocks: []ingest.BlockRef{a100}, Logs: []types.Log{added(a100, keyA), bad}}); err == nil {
		t.Fatal("the crashed batch reported success")
	}

	restarted, err := indexer.NewSink(indexer.Options{ChainID: hostileChain, Plugins: []events.Address{events.AddressFrom(h.plugin)},
		Store: indexer.NewStoreAdapter(h.st), Bus: bus.NewPublisher(js, bus.PublisherOptions{})})
	must(err)
	must(restarted.Apply(h.ctx, ingest.Batch{ChainID: hostileChain, From: 100, To: 100, Blocks: []ingest.BlockRef{b100}, Logs: []types.Log{added(b100, keyB)}}))

	evs, err := h.st.Events(h.ctx, store.EventFilter{ChainID: hostileChain})
	must(err)
	if len(evs) != 2 || evs[1].BlockHash != b100.Hash {
		t.Errorf("surviving events %v, want the install and 100b's add", evs)
	}
	fails, err := h.st.DecodeFailures(h.ctx, store.FailureFilter{ChainID: hostileChain})
	must(err)
	if len(fails) != 0 {
		t.Errorf("the orphaned decode failure of 100a survives: %+v", fails)
	}
	ks, err := h.st.KeyStates(h.ctx, store.KeyFilter{ChainID: hostileChain})
	must(err)
	if len(ks) != 1 || ks[0].SessionKey != events.AddressFrom(keyB) || ks[0].Status != events.StatusActive {
		t.Errorf("key states %+v, want only key B active", ks)
	}
	r := &rig{t: t, ctx: h.ctx, nats: h.nats}
	sc := r.readStream()
	idA := fmt.Sprintf("%d:%s:0", hostileChain, a100.Hash.Hex())
	if sc.events[idA] != 1 || sc.retractions[idA] != 1 {
		t.Errorf("orphaned event: %d event and %d retraction messages, want 1 and 1", sc.events[idA], sc.retractions[idA])
	}
}
