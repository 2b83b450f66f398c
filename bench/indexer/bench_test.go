// Package indexerbench measures the indexer end to end: backfill throughput from a dev-chain
// scenario into ClickHouse and NATS against a bare eth_getLogs loop on the same node, and the
// head latency (block → row, block → message) at 1 s blocks. Nothing is asserted on the
// figures: they are reported (see scripts/bench-indexer.sh).
package indexerbench

import (
	"context"
	"encoding/json"
	"math"
	"math/big"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/keywarden/keywarden/internal/testenv"
	"github.com/keywarden/keywarden/pkg/bus"
	"github.com/keywarden/keywarden/pkg/devchain"
	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/indexer"
	"github.com/keywarden/keywarden/pkg/ingest"
	"github.com/keywarden/keywarden/pkg/store"
)

func TestMain(m *testing.M) { testenv.Run(m) }

type env struct {
	ctx   context.Context
	chain *devchain.Chain
	eth   *ethclient.Client
}

func newEnv(b *testing.B) *env {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	// A mainnet-sized block gas limit, so that events spread over blocks as on a real chain.
	c, err := devchain.Start(ctx, devchain.Options{NoBundler: true, BlockGasLimit: 30_000_000})
	if err != nil {
		b.Fatalf("start dev chain: %v", err)
	}
	b.Cleanup(func() { _ = c.Close() })
	eth, err := ethclient.DialContext(ctx, c.HTTPURL)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(eth.Close)
	return &env{ctx: ctx, chain: c, eth: eth}
}

func (e *env) chainConfig() indexer.ChainConfig {
	a := e.chain.Addresses
	return indexer.ChainConfig{ID: e.chain.ChainID.Uint64(), RPCURLs: []string{e.chain.HTTPURL},
		SessionKeyPlugins: []string{a.SessionKeyPlugin.Hex()}, MultiOwnerPlugin: a.MultiOwnerPlugin.Hex(),
		EntryPoint: a.EntryPoint.Hex(), Finality: indexer.FinalityConfig{Confirmations: 2}, ReorgWindow: 64,
		PollInterval: 50 * time.Millisecond, RangeSize: 1000, MaxBlockRange: 5000, Concurrency: 4, RequestTimeout: 10 * time.Second}
}

// indexer is an in-process indexer on a fresh database and stream.
type runningIndexer struct {
	st     *store.Store
	store  indexer.Store
	nc     *nats.Conn
	cancel context.CancelFunc
	done   chan struct{}
}

func (e *env) startIndexer(b *testing.B, ns *testenv.NATSServer) *runningIndexer {
	b.Helper()
	ch := testenv.ClickHouse(b)
	st, err := store.Open(e.ctx, store.Options{Addrs: []string{ch.Addr}, Database: ch.Database, Username: ch.Username, Password: ch.Password})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	if err := st.Migrate(e.ctx); err != nil {
		b.Fatal(err)
	}
	js, err := jetstream.New(ns.Conn)
	if err != nil {
		b.Fatal(err)
	}
	_ = js.DeleteStream(e.ctx, events.StreamName)
	if _, err := bus.EnsureStream(e.ctx, js, bus.StreamOptions{}); err != nil {
		b.Fatal(err)
	}
	cc := e.chainConfig()
	adapter := indexer.NewStoreAdapter(st)
	sink, err := indexer.NewSink(indexer.Options{ChainID: cc.ID, Plugins: cc.Plugins(), Store: adapter, Bus: bus.NewPublisher(js, bus.PublisherOptions{})})
	if err != nil {
		b.Fatal(err)
	}
	pool, err := ingest.DialPool(e.ctx, cc.RPCURLs, ingest.PoolOptions{ChainID: cc.ID})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	so := cc.SourceOptions()
	so.Client, so.Sink, so.Checkpoints, so.Logger = pool, sink, adapter, zerolog.Nop()
	src, err := ingest.New(so)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	r := &runningIndexer{st: st, store: adapter, nc: ns.Conn, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(r.done); _ = src.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-r.done })
	return r
}

func (r *runningIndexer) waitHead(b *testing.B, e *env) {
	head, err := e.eth.HeaderByNumber(e.ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	for {
		cp, err := r.store.Checkpoint(e.ctx, e.chain.ChainID.Uint64())
		if err == nil && cp.Hash == head.Hash() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// bareLoop is the floor: eth_getLogs over the same ranges and filters, nothing else.
func bareLoop(b *testing.B, e *env, head uint64, span uint64) int {
	cc := e.chainConfig()
	f := cc.SourceOptions().Filter
	n := 0
	for from := uint64(0); from <= head; from += span {
		to := min(from+span-1, head)
		for _, q := range f.Queries(from, to) {
			logs, err := e.eth.FilterLogs(e.ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			n += len(logs)
		}
	}
	return n
}

// BenchmarkBackfill indexes a dev-chain scenario from block 0 into a fresh ClickHouse database
// and stream, and runs a bare eth_getLogs loop over the same blocks; ratio is indexer/bare.
func BenchmarkBackfill(b *testing.B) {
	e := newEnv(b)
	sc := devchain.DefaultScenario()
	sc.Events, sc.Accounts, sc.Keys = 5000, 20, 5
	// Forty-nine empty blocks after every block with activity: most of a chain holds none of our logs.
	stats, err := e.chain.RunScenario(e.ctx, sc, func(devchain.ScenarioStats) {
		for i := 0; i < 49; i++ {
			e.chain.Commit()
		}
	})
	if err != nil {
		b.Fatalf("scenario: %v", err)
	}
	head, err := e.eth.BlockNumber(e.ctx)
	if err != nil {
		b.Fatal(err)
	}
	ns := testenv.NATS(b)
	var bareDur, idxDur time.Duration
	var logs int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		logs = bareLoop(b, e, head, e.chainConfig().RangeSize)
		bareDur += time.Since(t0)
		t1 := time.Now()
		r := e.startIndexer(b, ns)
		r.waitHead(b, e)
		idxDur += time.Since(t1)
		r.cancel()
		<-r.done
	}
	b.StopTimer()
	n := float64(b.N)
	blocks := float64(head + 1)
	b.ReportMetric(float64(logs)*n/idxDur.Seconds(), "events/s")
	b.ReportMetric(blocks*n/idxDur.Seconds(), "blocks/s")
	b.ReportMetric(float64(logs)*n/bareDur.Seconds(), "bare-events/s")
	b.ReportMetric(blocks*n/bareDur.Seconds(), "bare-blocks/s")
	b.ReportMetric(bareDur.Seconds()/idxDur.Seconds(), "ratio")
	b.Logf("scenario: %d session-key events (%d watched logs) in %d blocks; indexer %s, bare loop %s per run",
		stats.Events, logs, head+1, (idxDur / time.Duration(b.N)).Round(time.Millisecond), (bareDur / time.Duration(b.N)).Round(time.Millisecond))
}

// BenchmarkHeadLatency runs the chain at 1 s blocks with session-key activity in every block
// and measures, per block, the time from the node serving its header to the rows being
// readable in ClickHouse and to the message arriving on NATS.
func BenchmarkHeadLatency(b *testing.B) {
	e := newEnv(b)
	owner := e.chain.Keys[1]
	acct, err := e.chain.CreateAccount(e.ctx, []common.Address{devchain.Address(owner)})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.chain.InstallSessionKeyPlugin(e.ctx, owner, acct, nil, nil, nil); err != nil {
		b.Fatal(err)
	}
	ns := testenv.NATS(b)
	r := e.startIndexer(b, ns)
	r.waitHead(b, e)

	var mu sync.Mutex
	seenHead := map[common.Hash]time.Time{}
	seenMsg := map[common.Hash]time.Time{}
	seenRow := map[common.Hash]time.Time{}
	sub, err := ns.Conn.Subscribe(events.SubjectRoot+".*.event.>", func(m *nats.Msg) {
		now := time.Now()
		var ev events.Event
		if json.Unmarshal(m.Data, &ev) == nil {
			mu.Lock()
			if _, ok := seenMsg[ev.BlockHash]; !ok {
				seenMsg[ev.BlockHash] = now
			}
			mu.Unlock()
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()
	heads := make(chan *types.Header, 64)
	ws, err := ethclient.DialContext(e.ctx, e.chain.WSURL)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	hsub, err := ws.SubscribeNewHead(e.ctx, heads)
	if err != nil {
		b.Fatal(err)
	}
	defer hsub.Unsubscribe()
	go func() {
		for h := range heads {
			mu.Lock()
			seenHead[h.Hash()] = time.Now()
			mu.Unlock()
		}
	}()
	// Rows: poll ClickHouse for the events of each new block.
	stopPoll := make(chan struct{})
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		var from uint64
		for {
			select {
			case <-stopPoll:
				return
			case <-time.After(20 * time.Millisecond):
			}
			evs, err := r.st.Events(e.ctx, store.EventFilter{ChainID: e.chain.ChainID.Uint64(), FromBlock: from})
			if err != nil {
				continue
			}
			now := time.Now()
			mu.Lock()
			for _, ev := range evs {
				if _, ok := seenRow[ev.BlockHash]; !ok {
					seenRow[ev.BlockHash] = now
				}
				from = max(from, ev.BlockNumber)
			}
			mu.Unlock()
		}
	}()

	miner := e.chain.AutoMine(time.Second)
	blocks := max(b.N, 20)
	b.ResetTimer()
	for i := 0; i < blocks; i++ {
		if _, err := e.chain.AddKey(e.ctx, owner, acct, newAddr(i), devchain.Tag("lat"), nil); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(3 * time.Second)
	b.StopTimer()
	miner.Stop()
	close(stopPoll)
	<-pollDone

	mu.Lock()
	defer mu.Unlock()
	var rows, msgs []time.Duration
	for h, t0 := range seenHead {
		if t, ok := seenRow[h]; ok {
			rows = append(rows, max(t.Sub(t0), 0))
		}
		if t, ok := seenMsg[h]; ok {
			msgs = append(msgs, max(t.Sub(t0), 0))
		}
	}
	if len(rows) == 0 || len(msgs) == 0 {
		b.Fatalf("no latency sample: %d rows, %d messages", len(rows), len(msgs))
	}
	b.ReportMetric(pct(rows, 50).Seconds()*1000, "row-p50-ms")
	b.ReportMetric(pct(rows, 99).Seconds()*1000, "row-p99-ms")
	b.ReportMetric(pct(msgs, 50).Seconds()*1000, "msg-p50-ms")
	b.ReportMetric(pct(msgs, 99).Seconds()*1000, "msg-p99-ms")
	b.Logf("%d blocks with events at 1 s blocks: block→row p50 %s p99 %s; block→message p50 %s p99 %s (poll interval 50 ms, row poll 20 ms)",
		len(rows), pct(rows, 50), pct(rows, 99), pct(msgs, 50), pct(msgs, 99))
}

func newAddr(i int) common.Address {
	return common.BigToAddress(new(big.Int).SetUint64(uint64(0xA0000000 + i)))
}

func pct(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))].Round(time.Millisecond)
}
