package devchain

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/keywarden/keywarden/pkg/events"
)

// pingLogs returns the emitter's logs over [from, head], read over HTTP as an indexer would.
func pingLogs(t *testing.T, cl *ethclient.Client, emitter common.Address, from uint64) []types.Log {
	t.Helper()
	logs, err := cl.FilterLogs(context.Background(), ethereum.FilterQuery{FromBlock: new(big.Int).SetUint64(from), Addresses: []common.Address{emitter}})
	if err != nil {
		t.Fatal(err)
	}
	return logs
}

// TestReorgReplacesLogs draws the chain before and after:
//
//	before:  A ── B1(ping "b1") ── B2(ping "b2")
//	after:   A ── C1(ping "c1") ── C2() ── C3()      (depth 2, new length 3)
//	then:    A ── C1 ── C2 ── C3 ── D1(): depth 1, empty replacement of C3 .. and so on
func TestReorgReplacesLogs(t *testing.T) {
	c := startChain(t, Options{NoBundler: true})
	ctx := context.Background()
	rcpt, err := c.Transact(ctx, TxRequest{From: c.Keys[1], Data: emitterCode(), Gas: 200_000})
	if err != nil {
		t.Fatal(err)
	}
	emitter := rcpt.ContractAddress
	cl, err := ethclient.Dial(c.HTTPURL)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ping := func(s string) TxRequest {
		return TxRequest{From: c.Keys[1], To: &emitter, Data: []byte(s), Gas: 100_000}
	}
	start := rcpt.BlockNumber.Uint64() + 1
	r1, err := c.Transact(ctx, ping("b1"))
	if err != nil {
		t.Fatal(err)
	}
	r2, err := c.Transact(ctx, ping("b2"))
	if err != nil {
		t.Fatal(err)
	}
	if got := pingLogs(t, cl, emitter, start); len(got) != 2 {
		t.Fatalf("before the reorg: %d logs, want 2", len(got))
	}
	oldHead := r2.BlockNumber.Uint64()

	res, err := c.Reorg(ctx, ReorgOptions{Depth: 2, Fill: func(ctx context.Context, i int) error {
		if i == 0 {
			_, err := c.Send(ctx, ping("c1"))
			return err
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Replaced) != 2 || res.Replaced[0] != r1.BlockHash || res.Replaced[1] != r2.BlockHash || len(res.Added) != 3 {
		t.Fatalf("reorg result: %+v", res)
	}
	logs := pingLogs(t, cl, emitter, start)
	if len(logs) != 1 || string(logs[0].Data) != "c1" || logs[0].BlockHash != res.Added[0] {
		t.Fatalf("after the reorg: logs %+v, want only c1 in %s", logs, res.Added[0])
	}
	head, err := cl.BlockNumber(ctx)
	if err != nil || head != oldHead+1 {
		t.Fatalf("head %d, want %d (longer branch)", head, oldHead+1)
	}
	for i, old := range res.Replaced {
		h, err := cl.HeaderByNumber(ctx, new(big.Int).SetUint64(res.Ancestor.Number.Uint64()+1+uint64(i)))
		if err != nil || h.Hash() == old || h.Hash() != res.Added[i] {
			t.Fatalf("height %d still canonical as %s (err %v)", i, old, err)
		}
	}
	// As on a real geth node, a replaced block stays retrievable by hash as a side-chain block.
	if old, err := cl.HeaderByHash(ctx, r2.BlockHash); err != nil || old.Hash() != r2.BlockHash {
		t.Fatalf("replaced block by hash: %v", err)
	}
	if _, err := cl.TransactionReceipt(ctx, r2.TxHash); err == nil {
		t.Fatal("receipt of a replaced, unresent transaction still served")
	}

	// An empty replacement removes the events entirely, and the key's nonce is reusable.
	if _, err := c.Transact(ctx, ping("d1")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reorg(ctx, ReorgOptions{Depth: 1, Length: 1}); err != nil {
		t.Fatal(err)
	}
	if logs := pingLogs(t, cl, emitter, start); len(logs) != 1 {
		t.Fatalf("after an empty reorg: %d logs, want 1", len(logs))
	}
	if _, err := c.Transact(ctx, ping("e1")); err != nil {
		t.Fatalf("send after reorg: %v", err)
	}
	if logs := pingLogs(t, cl, emitter, start); len(logs) != 2 || string(logs[1].Data) != "e1" {
		t.Fatalf("after a new ping: %+v", logs)
	}
}

// TestReorgRemovesSessionKeyEvents: a key added in the replaced block disappears from the
// logs and from the plugin's views; the replacement adds another key instead.
//
//	before:  P ── B1(AddKey k1)
//	after:   P ── C1(AddKey k2) ── C2()
func TestReorgRemovesSessionKeyEvents(t *testing.T) {
	c := startChain(t, Options{NoBundler: true})
	ctx := context.Background()
	owner := c.Keys[1]
	account, err := c.CreateAccount(ctx, []common.Address{Address(owner)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.InstallSessionKeyPlugin(ctx, owner, account, nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	k1, k2 := common.HexToAddress("0x1111"), common.HexToAddress("0x2222")
	r1, err := c.AddKey(ctx, owner, account, k1, Tag("one"), nil)
	if err != nil {
		t.Fatal(err)
	}
	added := func() []common.Address {
		logs, err := c.Client().FilterLogs(ctx, ethereum.FilterQuery{FromBlock: big.NewInt(0),
			Addresses: []common.Address{c.Addresses.SessionKeyPlugin}, Topics: [][]common.Hash{{events.TopicSessionKeyAdded}}})
		if err != nil {
			t.Fatal(err)
		}
		var out []common.Address
		for _, l := range logs {
			out = append(out, common.BytesToAddress(l.Topics[2][:]))
		}
		return out
	}
	if got := added(); len(got) != 1 || got[0] != k1 {
		t.Fatalf("before: %v", got)
	}
	// A WebSocket log subscriber is told about the retraction (removed: true), then the new log.
	ws, err := ethclient.Dial(c.WSURL)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	sublogs := make(chan types.Log, 8)
	sub, err := ws.SubscribeFilterLogs(ctx, ethereum.FilterQuery{Addresses: []common.Address{c.Addresses.SessionKeyPlugin}}, sublogs)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	data, _ := c.AddSessionKeyCall(k2, Tag("two"), nil)
	res, err := c.Reorg(ctx, ReorgOptions{Depth: 1, Fill: func(ctx context.Context, i int) error {
		if i > 0 {
			return nil
		}
		_, err := c.Send(ctx, TxRequest{From: owner, To: &account, Data: data, Gas: 500_000})
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Replaced[0] != r1.BlockHash {
		t.Fatalf("replaced %v, want %s", res.Replaced, r1.BlockHash)
	}
	if got := added(); len(got) != 1 || got[0] != k2 {
		t.Fatalf("after: %v", got)
	}
	if keys, _ := c.SessionKeysOf(ctx, account); len(keys) != 1 || keys[0] != k2 {
		t.Fatalf("sessionKeysOf after the reorg: %v", keys)
	}
	var seen []string
	for len(seen) < 2 {
		select {
		case l := <-sublogs:
			key := common.BytesToAddress(l.Topics[2][:])
			seen = append(seen, fmt.Sprintf("%s removed=%v", key.Hex(), l.Removed))
		case err := <-sub.Err():
			t.Fatal(err)
		case <-time.After(10 * time.Second):
			t.Fatalf("subscription saw only %v", seen)
		}
	}
	if want := []string{k1.Hex() + " removed=true", k2.Hex() + " removed=false"}; seen[0] != want[0] || seen[1] != want[1] {
		t.Fatalf("subscription saw %v, want %v", seen, want)
	}
}

// TestConcurrentSealing runs the auto-miner, direct transactions, user ops and AdjustTime
// together (run with -race to check the locking).
func TestConcurrentSealing(t *testing.T) {
	c := startChain(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := c.AutoMine(10 * time.Millisecond)
	defer a.Stop()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 1; i <= 2; i++ {
		owner := c.Keys[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			account, err := c.CreateAccount(ctx, []common.Address{Address(owner)})
			if err != nil {
				errs <- err
				return
			}
			if _, err := c.InstallSessionKeyPlugin(ctx, owner, account, nil, nil, nil); err != nil {
				errs <- err
				return
			}
			for j := 0; j < 5; j++ {
				k := common.BigToAddress(big.NewInt(int64(1000*i + j + 1)))
				if _, err := c.AddKey(ctx, owner, account, k, Tag("c"), nil); err != nil {
					errs <- err
					return
				}
			}
			data, _ := c.UpdatePermissionsCall(common.BigToAddress(big.NewInt(int64(1000*i+1))), nil)
			if _, err := c.SendUserOp(ctx, UserOpRequest{Sender: account, CallData: data, Signer: owner}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for j := 0; j < 3; j++ {
			if err := c.AdjustTime(time.Minute); err != nil {
				errs <- err
			}
			c.Commit()
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestDeepReorg replaces 40 blocks, past the simulated beacon's 32-block finality epoch.
func TestDeepReorg(t *testing.T) {
	c := startChain(t, Options{NoBundler: true})
	ctx := context.Background()
	for i := 0; i < 45; i++ {
		c.Commit()
	}
	head, _ := c.Client().HeaderByNumber(ctx, nil)
	res, err := c.Reorg(ctx, ReorgOptions{Depth: 40})
	if err != nil {
		t.Fatal(err)
	}
	now, _ := c.Client().HeaderByNumber(ctx, nil)
	if now.Number.Uint64() != head.Number.Uint64()+1 || len(res.Replaced) != 40 {
		t.Fatalf("head %d -> %d, replaced %d", head.Number, now.Number, len(res.Replaced))
	}
	old, _ := c.Client().HeaderByNumber(ctx, new(big.Int).Add(res.Ancestor.Number, big.NewInt(1)))
	if old.Hash() == res.Replaced[0] {
		t.Fatal("first replaced block still canonical")
	}
	// Three reorgs in quick succession.
	for i := 0; i < 3; i++ {
		if _, err := c.Reorg(ctx, ReorgOptions{Depth: 2}); err != nil {
			t.Fatal(err)
		}
	}
}
