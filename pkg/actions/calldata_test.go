package actions_test

import (
	"bytes"
	"errors"
	"math/big"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/keywarden/keywarden/pkg/actions"
	"github.com/keywarden/keywarden/pkg/events"
)

func TestComputePredecessorMatchesTheFold(t *testing.T) {
	a, b, c := common.HexToAddress("0xa1"), common.HexToAddress("0xb2"), common.HexToAddress("0xc3")
	keys := []common.Address{c, b, a} // newest first
	ak := events.NewAccountKeys(1, events.SessionKeyPluginV101, events.AddressFrom(common.HexToAddress("0xacc")))
	for _, k := range []common.Address{a, b, c} {
		if _, err := ak.Apply(events.Event{Kind: events.KindSessionKeyAdded, Emitter: events.SessionKeyPluginV101,
			Payload: events.SessionKeyAdded{Account: ak.Account, SessionKey: events.AddressFrom(k)}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range keys {
		got, err := actions.ComputePredecessor(keys, k)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := ak.Predecessor(events.AddressFrom(k))
		if [32]byte(got) != want {
			t.Errorf("%s: %s, fold %x", k, got, want)
		}
	}
	if got, _ := actions.ComputePredecessor(keys, c); got != actions.SentinelPredecessor {
		t.Errorf("head: %s", got)
	}
	if got, _ := actions.ComputePredecessor(keys, a); !bytes.Equal(got[:20], b[:]) || got[31] != 0 {
		t.Errorf("left alignment: %s", got)
	}
	if _, err := actions.ComputePredecessor(keys, common.HexToAddress("0xdd")); !errors.Is(err, actions.ErrKeyNotFound) {
		t.Errorf("unknown key: %v", err)
	}
}

// Batch predecessors are recomputed after every step: removing the head and then the next
// key uses the sentinel twice.
func TestBatchCallsRecomputePredecessors(t *testing.T) {
	account := common.HexToAddress("0xacc")
	a, b, c, n := common.HexToAddress("0xa1"), common.HexToAddress("0xb2"), common.HexToAddress("0xc3"), common.HexToAddress("0xee")
	keys := []common.Address{c, b, a}
	calls, err := actions.BatchCalls(account, keys, []actions.BatchStep{
		{Remove: &c}, // c head: sentinel; list b a
		{Rotate: &actions.RotateStep{Old: a, New: n}}, // a after b: pred b; list n b
		{Remove: &b},                    // b after n: pred n; list n
		{Add: &actions.AddStep{Key: c}}, // list c n
		{Remove: &n},                    // pred c
	})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{
		actions.EncodeRemoveSessionKey(c, actions.SentinelPredecessor),
		actions.EncodeRotateSessionKey(a, actions.PredecessorOf(b), n),
		actions.EncodeRemoveSessionKey(b, actions.PredecessorOf(n)),
		actions.EncodeAddSessionKey(c, common.Hash{}, nil),
		actions.EncodeRemoveSessionKey(n, actions.PredecessorOf(c)),
	}
	for i := range want {
		if calls[i].Target != account || !bytes.Equal(calls[i].Data, want[i]) {
			t.Errorf("step %d: %x", i, calls[i].Data)
		}
	}
	if _, err := actions.BatchCalls(account, keys, []actions.BatchStep{{Remove: &c}, {Remove: &c}}); !errors.Is(err, actions.ErrKeyNotFound) {
		t.Errorf("double removal: %v", err)
	}
	// executeBatch round trip.
	got, err := actions.DecodeExecuteBatch(actions.EncodeExecuteBatch(calls))
	if err != nil || len(got) != len(calls) {
		t.Fatalf("decode: %v", err)
	}
	for i := range got {
		if got[i].Target != calls[i].Target || got[i].Value.Sign() != 0 || !bytes.Equal(got[i].Data, calls[i].Data) {
			t.Errorf("call %d differs", i)
		}
	}
}

func TestDependenciesAndNonceKey(t *testing.T) {
	mo := events.MultiOwnerPlugin.Common()
	d := actions.SessionKeyPluginDependencies(mo)
	if len(d) != 2 || !bytes.Equal(d[0][:20], mo[:]) || d[0][20] != 0 || d[1][20] != 1 {
		t.Fatalf("dependencies %x", d)
	}
	key := common.HexToAddress("0x00000000000000000000000000000000000000ff")
	nonce := new(big.Int).Lsh(actions.NonceKeyFor(key), 64)
	nonce.Add(nonce, big.NewInt(7))
	if actions.NonceKey(nonce).Cmp(big.NewInt(0xff)) != 0 {
		t.Fatalf("nonce key %s", actions.NonceKey(nonce))
	}
}
