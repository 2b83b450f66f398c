package ingest

import (
	"context"
	"math/big"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/keywarden/keywarden/pkg/devchain"
	"github.com/keywarden/keywarden/pkg/events"
)

// The Solidity stand-ins on pkg/devchain, with a session key's whole life, then a reorg that
// replaces the last key:
//
//	… ─ create account{OwnerUpdated} ─ install{PluginInstalled} ─ add k1{Added, PermissionsUpdated}
//	  ─ rotate k1→k2{Rotated} ─ remove k2{Removed} ─ B1 add k3{Added}
//	after the reorg:  … ─ remove k2 ─ C1 add k4{Added} ─ C2
//
// Every event of every kind the contracts emitted on the final chain reaches the sink, and
// nothing of the replaced block does.
func TestDevchainContractsEndToEnd(t *testing.T) {
	ctx := context.Background()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c, err := devchain.Start(sctx, devchain.Options{NoBundler: true})
	if err != nil {
		t.Fatalf("start devchain: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	f := Filter{Plugins: []common.Address{c.Addresses.SessionKeyPlugin}, MultiOwner: c.Addresses.MultiOwnerPlugin, EntryPoint: c.Addresses.EntryPoint}

	owner := c.Keys[1]
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	account, err := c.CreateAccount(ctx, []common.Address{devchain.Address(owner)})
	must(nil, err)
	must(c.InstallSessionKeyPlugin(ctx, owner, account, nil, nil, nil))
	k1, k2, k3, k4 := common.HexToAddress("0x1111"), common.HexToAddress("0x2222"), common.HexToAddress("0x3333"), common.HexToAddress("0x4444")
	must(c.AddKey(ctx, owner, account, k1, devchain.Tag("one"), []events.Update{events.SetAccessListType{Type: events.AccessAllowAll}}))
	must(c.RotateKey(ctx, owner, account, k1, k2))
	must(c.RemoveKey(ctx, owner, account, k2))

	m := newMemSink()
	startSource(t, Options{Sink: m, Client: dial(t, c.HTTPURL), Checkpoints: m, Filter: f,
		Finality: Finality{Confirmations: 2}, Window: 16, RangeSize: 4})
	waitFor(t, "sink at the head", func() bool {
		h, err := c.Client().HeaderByNumber(ctx, nil)
		cp, ok := m.checkpoint()
		return err == nil && ok && cp.Hash == h.Hash()
	})
	r3, err := c.AddKey(ctx, owner, account, k3, devchain.Tag("three"), nil)
	must(nil, err)
	waitFor(t, "k3 indexed", func() bool { cp, _ := m.checkpoint(); return cp.Hash == r3.BlockHash })

	data, err := c.AddSessionKeyCall(k4, devchain.Tag("four"), nil)
	must(nil, err)
	must(c.Reorg(ctx, devchain.ReorgOptions{Depth: 1, Fill: func(ctx context.Context, i int) error {
		if i > 0 {
			return nil
		}
		_, err := c.Send(ctx, devchain.TxRequest{From: owner, To: &account, Data: data, Gas: 500_000})
		return err
	}}))
	head, err := c.Client().HeaderByNumber(ctx, nil)
	must(nil, err)
	waitFor(t, "sink at the new head", func() bool { cp, _ := m.checkpoint(); return cp.Hash == head.Hash() })

	// The truth, read without the source's filter: every watched topic, any emitter.
	all, err := c.Client().FilterLogs(ctx, ethereum.FilterQuery{FromBlock: big.NewInt(0), ToBlock: head.Number,
		Topics: [][]common.Hash{append(append([]common.Hash{}, pluginTopics...), append(installTopics, events.TopicOwnerUpdated)...)}})
	must(nil, err)
	kinds := map[common.Hash]int{}
	var want []types.Log
	for _, l := range all {
		if l.Topics[0] == events.TopicPluginInstalled && common.BytesToAddress(l.Topics[1][:]) != c.Addresses.SessionKeyPlugin {
			continue // the Multi Owner plugin's own install
		}
		kinds[l.Topics[0]]++
		want = append(want, l)
	}
	for _, topic := range []common.Hash{events.TopicOwnerUpdated, events.TopicPluginInstalled, events.TopicSessionKeyAdded,
		events.TopicPermissionsUpdated, events.TopicSessionKeyRotated, events.TopicSessionKeyRemoved} {
		if kinds[topic] == 0 {
			t.Errorf("the contracts emitted no %s: the test proves less than it claims", topic.Hex())
		}
	}
	m.mu.Lock()
	got := append([]types.Log(nil), m.logs...)
	m.mu.Unlock()
	if len(got) != len(want) {
		t.Fatalf("sink holds %d logs, chain %d", len(got), len(want))
	}
	for i := range got {
		if got[i].BlockHash != want[i].BlockHash || got[i].Index != want[i].Index {
			t.Errorf("log %d: sink %d/%d, chain %d/%d", i, got[i].BlockNumber, got[i].Index, want[i].BlockNumber, want[i].Index)
		}
		if got[i].Topics[0] == events.TopicSessionKeyAdded && common.BytesToAddress(got[i].Topics[2][:]) == k3 {
			t.Errorf("k3's retracted SessionKeyAdded is still held")
		}
	}
	if len(m.rollbackCalls()) != 1 {
		t.Errorf("%d rollbacks, want 1", len(m.rollbackCalls()))
	}
}
