package ingest

import (
	"context"
	"errors"
	"math/big"
	"sync"
	"testing"

	"github.com/ethereum/go-ethereum/core/types"
)

// A one-block reorg that changes an event:
//
//	before:  1 ─ … ─ 9 ─ 10a{SessionKeyAdded(account1)}
//	after:   1 ─ … ─ 9 ─ 10b{SessionKeyRemoved(account1)} ─ 11b
//
// The source rolls back to 9, retracting 10a, and delivers 10b and 11b.
func TestReorgOneBlockChangesEvent(t *testing.T) {
	c := newTestChain(t)
	for i := 0; i < 9; i++ {
		c.emit(ownerUpdated(account1))
	}
	a10 := c.emit(keyAdded(pluginV101, account1))
	m := newMemSink()
	startSource(t, Options{Sink: m, Client: dial(t, c.url), Checkpoints: m, Finality: Finality{Confirmations: 2}, Window: 16})
	waitSynced(t, c, m)

	c.fork(9)
	c.emit(keyRemoved(pluginV101, account1))
	c.mine(1)
	waitSynced(t, c, m)

	assertMatchesChain(t, c, m, testFilter())
	rbs := m.rollbackCalls()
	if len(rbs) != 1 || rbs[0].ancestor.Number != 9 || rbs[0].ancestor.Hash != c.hashAt(9) {
		t.Fatalf("rollbacks %+v, want one to block 9", rbs)
	}
	if r := rbs[0].retracted; len(r) != 1 || r[0].Hash != a10 {
		t.Errorf("retracted %+v, want block 10a %s", r, a10.Hex())
	}
}

// A reorg that removes events entirely:
//
//	before:  … ─ 12 ─ 13a{Added} ─ 14a{Removed, OwnerUpdated} ─ 15a{PluginInstalled}
//	after:   … ─ 12 ─ 13b ─ 14b ─ 15b ─ 16b                    (no events)
func TestReorgRemovesEvents(t *testing.T) {
	c := newTestChain(t)
	for i := 0; i < 12; i++ {
		c.emit(userOp(account2))
	}
	c.emit(keyAdded(pluginV100, account2))
	c.emit(keyRemoved(pluginV100, account2), ownerUpdated(account2))
	c.emit(installed(account2, pluginV100))
	m := newMemSink()
	startSource(t, Options{Sink: m, Client: dial(t, c.url), Checkpoints: m, Finality: Finality{Confirmations: 3}, Window: 16})
	waitSynced(t, c, m)

	c.fork(12)
	c.mine(4)
	waitSynced(t, c, m)

	assertMatchesChain(t, c, m, testFilter())
	m.mu.Lock()
	for _, l := range m.logs {
		if l.BlockNumber > 12 {
			t.Errorf("log of retracted block %d still held", l.BlockNumber)
		}
	}
	m.mu.Unlock()
	if rbs := m.rollbackCalls(); len(rbs) == 0 || rbs[0].ancestor.Number != 12 {
		t.Fatalf("rollbacks %+v, want one to block 12", rbs)
	}
}

// A reorg deeper than the window stops the chain with ErrReorgTooDeep:
//
//	window 4, confirmations 2
//	before:  1 ─ … ─ 10 ─ 11a ─ … ─ 20a      (indexed up to 20a; kept: 17a..20a)
//	after:   1 ─ … ─ 10 ─ 11b ─ … ─ 22b      (nothing kept is on the chain any more)
func TestReorgDeeperThanWindowStops(t *testing.T) {
	c := newTestChain(t)
	for i := 0; i < 20; i++ {
		c.emit(keyAdded(pluginV101, account1))
	}
	m := newMemSink()
	r := startSource(t, Options{Sink: m, Client: dial(t, c.url), Checkpoints: m, Finality: Finality{Confirmations: 2}, Window: 4})
	waitSynced(t, c, m)
	before, _ := m.checkpoint()

	c.fork(10)
	for i := 0; i < 12; i++ {
		c.emit(keyRemoved(pluginV101, account1))
	}
	err := r.Wait(t)
	if !errors.Is(err, ErrReorgTooDeep) {
		t.Fatalf("Run returned %v, want ErrReorgTooDeep", err)
	}
	if h := r.src.Health(); !errors.Is(h, ErrReorgTooDeep) {
		t.Errorf("Health() = %v, want ErrReorgTooDeep", h)
	}
	t.Logf("stopped with: %v", err)
	if after, _ := m.checkpoint(); after != before || len(m.rollbackCalls()) != 0 {
		t.Errorf("sink changed after an unreconcilable reorg: checkpoint %d -> %d, %d rollbacks", before.Number, after.Number, len(m.rollbackCalls()))
	}
}

// A reorg while the source is down, to the same height: only the hash can tell; then one to
// a much longer branch, met by the backfill.
//
//	indexed, then stopped:  … ─ 8 ─ 9a{Added} ─ 10a{Added} ─ 11a{Added}
//	at restart:             … ─ 8 ─ 9b{Removed} ─ 10b ─ 11b{OwnerUpdated}
func TestReorgWhileStoppedDetectedByHash(t *testing.T) {
	c := newTestChain(t)
	for i := 0; i < 11; i++ {
		c.emit(keyAdded(pluginV101, account1))
	}
	m := newMemSink()
	opts := Options{Sink: m, Client: dial(t, c.url), Checkpoints: m, Finality: Finality{Confirmations: 2}, Window: 16}
	r := startSource(t, opts)
	waitSynced(t, c, m)
	if err := r.Stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}
	old, _ := m.checkpoint()

	c.fork(8)
	c.emit(keyRemoved(pluginV101, account1))
	c.mine(1)
	c.emit(ownerUpdated(account1))
	if h := c.head(); h.Number.Uint64() != old.Number || h.Hash() == old.Hash {
		t.Fatalf("test setup: head %d %s, checkpoint %d %s", h.Number, h.Hash().Hex(), old.Number, old.Hash.Hex())
	}

	r = startSource(t, opts)
	waitSynced(t, c, m)
	assertMatchesChain(t, c, m, testFilter())
	if rbs := m.rollbackCalls(); len(rbs) != 1 || rbs[0].ancestor.Number != 8 || len(rbs[0].retracted) != 3 {
		t.Fatalf("rollbacks %+v, want one to block 8 retracting 3 blocks", rbs)
	}

	// Again, but the new branch is long: the restart meets it in the backfill path.
	//
	//	indexed, then stopped:  … ─ 6 ─ 7 ─ 8 ─ 9b ─ 10b ─ 11b
	//	at restart:             … ─ 6 ─ 7c ─ … ─ 40c
	if err := r.Stop(t); err != nil {
		t.Fatalf("stop: %v", err)
	}
	c.fork(6)
	for i := 0; i < 34; i++ {
		c.emit(installed(account2, pluginV100))
	}
	startSource(t, opts)
	waitSynced(t, c, m)
	assertMatchesChain(t, c, m, testFilter())
	if rbs := m.rollbackCalls(); len(rbs) != 2 || rbs[1].ancestor.Number != 6 {
		t.Fatalf("rollbacks %+v, want a second one to block 6", rbs)
	}
}

// Three reorgs in quick succession. First each branch is seen by the source before the next
// fork (three rollbacks, each to its fork point), then three more forks without waiting:
//
//	… ─ 19 ─ 20 ─ 21a ─ 22a ─ 23a
//	… ─ 19 ─ 20 ─ 21b ─ 22b ─ 23b ─ 24b          fork at 20 -> rollback to 20
//	… ─ 19 ─ 20 ─ 21b ─ 22c ─ 23c ─ 24c ─ 25c    fork at 21 -> rollback to 21
//	… ─ 19 ─ 20d ─ 21d ─ … ─ 26d                 fork at 19 -> rollback to 19
//	then forks at 24, 22 and 25 back to back; the source converges on the last branch.
func TestThreeReorgsInQuickSuccession(t *testing.T) {
	c := newTestChain(t)
	for i := 0; i < 23; i++ {
		c.emit(keyAdded(pluginV101, account1))
	}
	m := newMemSink()
	startSource(t, Options{Sink: m, Client: dial(t, c.url), Checkpoints: m, Finality: Finality{Confirmations: 3}, Window: 32})
	waitSynced(t, c, m)

	branches := []struct {
		at     uint64
		blocks int
		spec   logSpec
	}{{20, 4, keyRemoved(pluginV101, account1)}, {21, 4, installed(account1, pluginV101)}, {19, 7, ownerUpdated(account2)}}
	for _, b := range branches {
		c.fork(b.at)
		for i := 0; i < b.blocks; i++ {
			c.emit(b.spec)
		}
		waitSynced(t, c, m)
	}
	rbs := m.rollbackCalls()
	if len(rbs) != 3 {
		t.Fatalf("%d rollbacks, want 3", len(rbs))
	}
	for i, b := range branches {
		if rbs[i].ancestor.Number != b.at {
			t.Errorf("rollback %d to %d, want %d", i, rbs[i].ancestor.Number, b.at)
		}
	}

	for _, b := range []uint64{24, 22, 25} {
		c.fork(b)
		for i := 0; i < 3; i++ {
			c.emit(keyAdded(pluginV100, account2), uninstalled(account2, pluginV100))
		}
	}
	waitSynced(t, c, m)
	assertMatchesChain(t, c, m, testFilter())
}

// countingClient records which block headers were read by number.
type countingClient struct {
	Client
	mu    sync.Mutex
	heads map[uint64]int
}

func (c *countingClient) HeaderByNumber(ctx context.Context, n *big.Int) (*types.Header, error) {
	h, err := c.Client.HeaderByNumber(ctx, n)
	if n != nil && n.Sign() >= 0 && err == nil {
		c.mu.Lock()
		c.heads[n.Uint64()]++
		c.mu.Unlock()
	}
	return h, err
}

// readAll reports whether every header in [from, to] was read.
func (c *countingClient) readAll(from, to uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for n := from; n <= to; n++ {
		if c.heads[n] == 0 {
			return false
		}
	}
	return true
}

// A reorg inside ranges that are fetched but not yet committed:
//
//	ranges of 5, 4 fetched at a time; the sink holds the first batch [1..5] while
//	[6..10] [11..15] [16..20] [21..25] are fetched, then the chain reorgs under them:
//
//	before:  1 ─ … ─ 8 ─ 9a ─ … ─ 40a        (events in every block)
//	after:   1 ─ … ─ 8 ─ 9b ─ … ─ 42b        (other events)
//
// The stale ranges are committed, but the first range fetched after the reorg does not link
// to them: the source rolls back to 8 and fetches again.
func TestReorgInsideBackfillRange(t *testing.T) {
	c := newTestChain(t)
	for i := 0; i < 40; i++ {
		c.emit(keyAdded(pluginV101, account1))
	}
	m := newMemSink()
	release := make(chan struct{})
	var once sync.Once
	m.beforeApply = func(b Batch) error {
		if b.From == 1 {
			once.Do(func() { <-release })
		}
		return nil
	}
	cc := &countingClient{Client: dial(t, c.url), heads: map[uint64]int{}}
	startSource(t, Options{Sink: m, Client: cc, Checkpoints: m, StartBlock: 1,
		Finality: Finality{Confirmations: 4}, Window: 64, RangeSize: 5, MaxRangeSize: 5, Concurrency: 4})
	// Headers come last in a range (all of them here: the chain is shorter than the window):
	// once 6..25 are read, ranges [6..10] … [21..25] are fetched and wait behind [1..5].
	waitFor(t, "ranges fetched and waiting", func() bool { return cc.readAll(6, 25) })

	c.fork(8)
	for i := 0; i < 34; i++ {
		c.emit(keyRemoved(pluginV101, account1), ownerUpdated(account1))
	}
	close(release)
	waitSynced(t, c, m)
	assertMatchesChain(t, c, m, testFilter())
	rbs := m.rollbackCalls()
	if len(rbs) == 0 {
		t.Fatal("no rollback: the stale ranges were never noticed")
	}
	if rbs[0].ancestor.Number != 8 || rbs[0].ancestor.Hash != c.hashAt(8) {
		t.Errorf("rolled back to %d, want the fork point 8", rbs[0].ancestor.Number)
	}
}
