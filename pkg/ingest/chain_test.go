package ingest

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/keywarden/keywarden/pkg/events"
	"github.com/rs/zerolog"
)

// emitterCode is a hand-assembled runtime that emits LOG3 for any call: calldata is
// topic0 ‖ topic1 ‖ topic2 ‖ data.
//
//	PUSH1 0x60 CALLDATASIZE SUB PUSH1 0x60 PUSH1 0 CALLDATACOPY   ; mem[0:] = data
//	PUSH1 0x40 CALLDATALOAD PUSH1 0x20 CALLDATALOAD PUSH1 0 CALLDATALOAD
//	PUSH1 0x60 CALLDATASIZE SUB PUSH1 0 LOG3 STOP
var emitterCode = common.FromHex("606036036060600037604035602035600035606036036000a300")

var (
	pluginV101 = common.Address(events.SessionKeyPluginV101)
	pluginV100 = common.Address(events.SessionKeyPluginV100)
	multiOwner = common.Address(events.MultiOwnerPlugin)
	entryPoint = common.Address(events.EntryPointV06)
	account1   = common.HexToAddress("0x00000000000000000000000000000000000A11CE")
	account2   = common.HexToAddress("0x0000000000000000000000000000000000000B0B")
	stranger   = common.HexToAddress("0x0000000000000000000000000000000000000BAD") // not a watched plugin
)

const simChainID = 1337

// testChain is go-ethereum's simulated backend served over HTTP and WS on 127.0.0.1, with the
// emitter deployed at the watched addresses (and a few others) from genesis.
type testChain struct {
	t      testing.TB
	sim    *simulated.Backend
	client simulated.Client
	url    string
	wsURL  string
	key    *ecdsa.PrivateKey
	from   common.Address
	seq    uint64 // makes every emitted log distinct
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func newTestChain(t testing.TB) *testChain {
	t.Helper()
	key, _ := crypto.GenerateKey()
	from := crypto.PubkeyToAddress(key.PublicKey)
	alloc := types.GenesisAlloc{from: {Balance: new(big.Int).Lsh(big.NewInt(1), 100)}}
	for _, a := range []common.Address{pluginV101, pluginV100, multiOwner, entryPoint, account1, account2, stranger} {
		alloc[a] = types.Account{Code: emitterCode, Balance: big.NewInt(0)}
	}
	httpPort, wsPort := freePort(t), freePort(t)
	sim := simulated.NewBackend(alloc, func(nc *node.Config, _ *ethconfig.Config) {
		nc.HTTPHost, nc.HTTPPort, nc.HTTPModules = "127.0.0.1", httpPort, []string{"eth", "net", "web3"}
		nc.WSHost, nc.WSPort, nc.WSModules = "127.0.0.1", wsPort, []string{"eth", "net", "web3"}
	})
	t.Cleanup(func() { sim.Close() })
	return &testChain{
		t: t, sim: sim, client: sim.Client(), key: key, from: from,
		url:   fmt.Sprintf("http://127.0.0.1:%d", httpPort),
		wsURL: fmt.Sprintf("ws://127.0.0.1:%d", wsPort),
	}
}

// logSpec is one log to emit: by emitter, with topic0 and topic1.
type logSpec struct {
	emitter common.Address
	topic0  common.Hash
	topic1  common.Hash
}

func addrTopic(a common.Address) common.Hash { return common.BytesToHash(a.Bytes()) }

// Watched logs of each kind, and near misses the filter must skip.
func keyAdded(plugin, account common.Address) logSpec {
	return logSpec{plugin, events.TopicSessionKeyAdded, addrTopic(account)}
}
func keyRemoved(plugin, account common.Address) logSpec {
	return logSpec{plugin, events.TopicSessionKeyRemoved, addrTopic(account)}
}
func installed(account, plugin common.Address) logSpec {
	return logSpec{account, events.TopicPluginInstalled, addrTopic(plugin)}
}
func uninstalled(account, plugin common.Address) logSpec {
	return logSpec{account, events.TopicPluginUninstalled, addrTopic(plugin)}
}
func ownerUpdated(account common.Address) logSpec {
	return logSpec{multiOwner, events.TopicOwnerUpdated, addrTopic(account)}
}
func userOp(sender common.Address) logSpec {
	return logSpec{entryPoint, events.TopicUserOperationEvent, addrTopic(sender)}
}

// emit sends one transaction per log and seals them in one block; it returns the block's hash.
func (c *testChain) emit(specs ...logSpec) common.Hash {
	c.t.Helper()
	ctx := context.Background()
	head, err := c.client.HeaderByNumber(ctx, nil)
	if err != nil {
		c.t.Fatalf("head: %v", err)
	}
	nonce, err := c.client.PendingNonceAt(ctx, c.from)
	if err != nil {
		c.t.Fatalf("nonce: %v", err)
	}
	tip := big.NewInt(2e9)
	feeCap := new(big.Int).Add(new(big.Int).Mul(head.BaseFee, big.NewInt(2)), tip)
	signer := types.LatestSignerForChainID(big.NewInt(simChainID))
	for i, s := range specs {
		c.seq++
		data := make([]byte, 0, 128)
		data = append(data, s.topic0.Bytes()...)
		data = append(data, s.topic1.Bytes()...)
		data = append(data, common.BigToHash(new(big.Int).SetUint64(c.seq)).Bytes()...) // topic2
		data = append(data, common.BigToHash(new(big.Int).SetUint64(c.seq)).Bytes()...) // data
		to := s.emitter
		tx := types.MustSignNewTx(c.key, signer, &types.DynamicFeeTx{
			ChainID: big.NewInt(simChainID), Nonce: nonce + uint64(i), GasTipCap: tip, GasFeeCap: feeCap,
			Gas: 100_000, To: &to, Data: data,
		})
		if err := c.client.SendTransaction(ctx, tx); err != nil {
			c.t.Fatalf("send: %v", err)
		}
	}
	return c.sim.Commit()
}

// mine seals n empty blocks.
func (c *testChain) mine(n int) {
	for i := 0; i < n; i++ {
		c.sim.Commit()
	}
}

func (c *testChain) head() *types.Header {
	c.t.Helper()
	h, err := c.client.HeaderByNumber(context.Background(), nil)
	if err != nil {
		c.t.Fatalf("head: %v", err)
	}
	return h
}

func (c *testChain) hashAt(n uint64) common.Hash {
	c.t.Helper()
	h, err := c.client.HeaderByNumber(context.Background(), new(big.Int).SetUint64(n))
	if err != nil {
		c.t.Fatalf("header %d: %v", n, err)
	}
	return h.Hash()
}

// fork makes block n the head (the chain above it is abandoned), with an empty pool, so the
// abandoned transactions do not come back on the new branch.
func (c *testChain) fork(n uint64) {
	c.t.Helper()
	if err := c.sim.Fork(c.hashAt(n)); err != nil {
		c.t.Fatalf("fork at %d: %v", n, err)
	}
	c.sim.Rollback()
	if got := c.head().Number.Uint64(); got != n {
		c.t.Fatalf("fork at %d: head is %d", n, got)
	}
}

// truth is what the filter watches on the chain as it stands, read directly from the node.
func (c *testChain) truth(f Filter) []types.Log {
	c.t.Helper()
	head := c.head().Number.Uint64()
	var all []types.Log
	for _, q := range f.Queries(0, head) {
		logs, err := c.client.FilterLogs(context.Background(), q)
		if err != nil {
			c.t.Fatalf("truth: %v", err)
		}
		all = append(all, logs...)
	}
	s := &Source{opts: Options{Filter: f}}
	return s.clean(all)
}

func testFilter() Filter {
	return Filter{Plugins: []common.Address{pluginV101, pluginV100}, MultiOwner: multiOwner, EntryPoint: entryPoint}
}

// memSink is a durable-enough sink for tests: it keeps the logs, block refs and checkpoint in
// memory, checks that calls come in chain order, and serves as the Checkpoints too.
type memSink struct {
	mu        sync.Mutex
	chainID   uint64
	logs      []types.Log
	blocks    map[uint64]BlockRef
	cp        *BlockRef
	applies   int
	rollbacks []rollbackCall
	orderErrs []string
	// beforeApply, when set, runs before each Apply and may block or fail it.
	beforeApply func(Batch) error
}

type rollbackCall struct {
	ancestor  BlockRef
	retracted []BlockRef
}

var (
	_ Sink        = (*memSink)(nil)
	_ Checkpoints = (*memSink)(nil)
)

func newMemSink() *memSink { return &memSink{chainID: simChainID, blocks: map[uint64]BlockRef{}} }

func (m *memSink) Apply(ctx context.Context, b Batch) error {
	m.mu.Lock()
	hook := m.beforeApply
	m.mu.Unlock()
	if hook != nil {
		if err := hook(b); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cp != nil && b.From != m.cp.Number+1 {
		m.orderErrs = append(m.orderErrs, fmt.Sprintf("apply %d-%d after checkpoint %d", b.From, b.To, m.cp.Number))
	}
	if b.To < b.From || b.Tip().Number != b.To {
		m.orderErrs = append(m.orderErrs, fmt.Sprintf("bad batch %d-%d tip %d", b.From, b.To, b.Tip().Number))
	}
	for i, l := range b.Logs {
		if i > 0 && (l.BlockNumber < b.Logs[i-1].BlockNumber || l.BlockNumber == b.Logs[i-1].BlockNumber && l.Index <= b.Logs[i-1].Index) {
			m.orderErrs = append(m.orderErrs, fmt.Sprintf("logs out of order in %d-%d", b.From, b.To))
		}
		if r, ok := b.Block(l.BlockNumber); !ok || r.Hash != l.BlockHash {
			m.orderErrs = append(m.orderErrs, fmt.Sprintf("log of block %d without its block ref", l.BlockNumber))
		}
	}
	m.logs = append(m.logs, b.Logs...)
	for _, r := range b.Blocks {
		m.blocks[r.Number] = r
	}
	tip := b.Tip()
	m.cp = &tip
	m.applies++
	return nil
}

func (m *memSink) Rollback(ctx context.Context, chainID uint64, ancestor BlockRef, retracted []BlockRef) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cp == nil || ancestor.Number >= m.cp.Number {
		m.orderErrs = append(m.orderErrs, fmt.Sprintf("rollback to %d with checkpoint %v", ancestor.Number, m.cp))
	}
	kept := m.logs[:0]
	for _, l := range m.logs {
		if l.BlockNumber <= ancestor.Number {
			kept = append(kept, l)
		}
	}
	m.logs = kept
	for n := range m.blocks {
		if n > ancestor.Number {
			delete(m.blocks, n)
		}
	}
	a := ancestor
	m.cp = &a
	m.rollbacks = append(m.rollbacks, rollbackCall{ancestor, retracted})
	return nil
}

func (m *memSink) Checkpoint(ctx context.Context, chainID uint64) (BlockRef, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cp == nil {
		return BlockRef{}, fmt.Errorf("read checkpoint of chain %d: %w", chainID, ErrNoCheckpoint)
	}
	return *m.cp, nil
}

func (m *memSink) Blocks(ctx context.Context, chainID uint64, from, to uint64) ([]BlockRef, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []BlockRef
	for n := from; n <= to; n++ {
		if r, ok := m.blocks[n]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

func (m *memSink) checkpoint() (BlockRef, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cp == nil {
		return BlockRef{}, false
	}
	return *m.cp, true
}

func (m *memSink) rollbackCalls() []rollbackCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]rollbackCall(nil), m.rollbacks...)
}

// waitFor polls cond until it holds; the limit only keeps a broken test from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitSynced waits until the sink's checkpoint is the chain's current head, by hash.
func waitSynced(t *testing.T, c *testChain, m *memSink) {
	t.Helper()
	waitFor(t, "sink at the chain head", func() bool {
		cp, ok := m.checkpoint()
		return ok && cp.Hash == c.head().Hash()
	})
}

// assertMatchesChain compares the sink's logs with the chain as it finally stands, and checks
// that every call came in order.
func assertMatchesChain(t *testing.T, c *testChain, m *memSink, f Filter) {
	t.Helper()
	want := c.truth(f)
	m.mu.Lock()
	got := append([]types.Log(nil), m.logs...)
	orderErrs := append([]string(nil), m.orderErrs...)
	m.mu.Unlock()
	if len(orderErrs) > 0 {
		t.Errorf("sink saw out-of-order calls:\n%s", strings.Join(orderErrs, "\n"))
	}
	key := func(l types.Log) string {
		return fmt.Sprintf("%d/%s/%d/%s/%x/%x", l.BlockNumber, l.BlockHash.Hex(), l.Index, l.Address.Hex(), l.Topics, l.Data)
	}
	if len(got) != len(want) {
		t.Errorf("sink holds %d logs, chain %d", len(got), len(want))
	}
	for i := 0; i < min(len(got), len(want)); i++ {
		if key(got[i]) != key(want[i]) {
			t.Errorf("log %d: sink %s, chain %s", i, key(got[i]), key(want[i]))
			break
		}
	}
	if len(want) == 0 {
		t.Errorf("test chain holds no watched log: the test proves nothing")
	}
}

type runningSource struct {
	src  *Source
	stop context.CancelFunc
	done chan struct{}
	err  error
}

// Stop cancels the source and returns what Run returned.
func (r *runningSource) Stop(t *testing.T) error {
	t.Helper()
	r.stop()
	return r.Wait(t)
}

// Wait returns what Run returned, once it has.
func (r *runningSource) Wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(60 * time.Second):
		t.Fatalf("source did not stop")
		return nil
	}
}

// startSource runs a source on the chain's HTTP endpoint (or url if given).
func startSource(t *testing.T, opts Options) *runningSource {
	t.Helper()
	if opts.ChainID == 0 {
		opts.ChainID = simChainID
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 20 * time.Millisecond
	}
	if opts.RetryBase == 0 {
		opts.RetryBase, opts.RetryMax = 10*time.Millisecond, 100*time.Millisecond
	}
	if opts.Filter.Plugins == nil {
		opts.Filter = testFilter()
	}
	opts.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	src, err := New(opts)
	if err != nil {
		t.Fatalf("new source: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningSource{src: src, stop: cancel, done: make(chan struct{})}
	go func() { r.err = src.Run(ctx); close(r.done) }()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

func dial(t testing.TB, url string) *ethclient.Client {
	t.Helper()
	c, err := ethclient.Dial(url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(c.Close)
	return c
}
