package ingest

import (
	"testing"
)

// Backfill then tail, with every kind of watched log and near misses that must be skipped:
//
//	blocks 1..40: logs spread over the chain, ranges of 7 fetched 3 at a time
//	blocks 41..60: arrive while the source tails the head
func TestBackfillThenTail(t *testing.T) {
	c := newTestChain(t)
	emitMix := func(i int) {
		switch i % 5 {
		case 0:
			c.emit(keyAdded(pluginV101, account1), installed(account1, pluginV101))
		case 1:
			c.emit(keyRemoved(pluginV100, account2), uninstalled(account2, pluginV100), ownerUpdated(account1))
		case 2:
			// Near misses: a plugin topic from a stranger, an install of an unwatched plugin,
			// OwnerUpdated from a plugin address.
			c.emit(keyAdded(stranger, account1), installed(account1, stranger), logSpec{pluginV101, ownerUpdated(account1).topic0, addrTopic(account1)})
		case 3:
			c.emit(userOp(account1))
		default:
			c.mine(1)
		}
	}
	for i := 0; i < 40; i++ {
		emitMix(i)
	}
	m := newMemSink()
	startSource(t, Options{Sink: m, Client: dial(t, c.url), Checkpoints: m, StartBlock: 1,
		Finality: Finality{Confirmations: 5}, Window: 32, RangeSize: 7, Concurrency: 3})
	waitSynced(t, c, m)
	for i := 0; i < 20; i++ {
		emitMix(i)
	}
	waitSynced(t, c, m)
	assertMatchesChain(t, c, m, testFilter())
	// 6 watched logs every 5 blocks (2 + 3 + 1), none of the near misses.
	if got := len(c.truth(testFilter())); got != 72 {
		t.Errorf("chain holds %d watched logs, want 72", got)
	}
	if n := len(m.rollbackCalls()); n != 0 {
		t.Errorf("%d rollbacks without a reorg", n)
	}
}
