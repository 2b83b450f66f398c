package rpcproxy

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/ethereum/go-ethereum/rpc"
)

// emitterCode deploys a contract whose every call emits LOG1(topic = caller) with no data:
// init (copy 7 bytes of runtime from offset 12, return them) then the runtime
// CALLER PUSH1 0 PUSH1 0 LOG1 STOP.
var emitterCode = common.FromHex("6007600c60003960076000f3" + "3360006000a100")

// chain is a simulated backend served over HTTP on loopback, with an emitter contract.
//
//	block 1: deploy the emitter
//	blocks 2..6: three emitter calls each (15 logs)
//	block 7: empty
type chain struct {
	sim     *simulated.Backend
	url     string
	key     *ecdsa.PrivateKey
	from    common.Address
	emitter common.Address
	nonce   uint64
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func newBackend(t *testing.T, alloc types.GenesisAlloc) (sim *simulated.Backend, url string) {
	t.Helper()
	for attempt := 0; attempt < 5; attempt++ {
		port := freePort(t)
		func() {
			defer func() {
				if r := recover(); r != nil { // NewBackend panics when the port was taken meanwhile
					t.Logf("simulated backend on port %d: %v", port, r)
				}
			}()
			sim = simulated.NewBackend(alloc, func(nc *node.Config, _ *ethconfig.Config) {
				nc.HTTPHost, nc.HTTPPort = "127.0.0.1", port
				nc.HTTPModules = []string{"eth", "net", "web3"}
				nc.WSHost, nc.WSPort, nc.WSModules = "127.0.0.1", port, []string{"eth", "net", "web3"}
			})
			url = fmt.Sprintf("http://127.0.0.1:%d", port)
		}()
		if sim != nil {
			t.Cleanup(func() { _ = sim.Close() })
			return sim, url
		}
	}
	t.Fatal("could not start the simulated backend")
	return nil, ""
}

func newChain(t *testing.T) *chain {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	from := crypto.PubkeyToAddress(key.PublicKey)
	sim, url := newBackend(t, types.GenesisAlloc{from: {Balance: new(big.Int).Mul(big.NewInt(1e18), big.NewInt(1000))}})
	c := &chain{sim: sim, url: url, key: key, from: from}
	c.send(t, nil, emitterCode)
	c.commit(t, 1)
	c.emitter = crypto.CreateAddress(from, 0)
	for b := 0; b < 5; b++ {
		for i := 0; i < 3; i++ {
			c.send(t, &c.emitter, nil)
		}
		c.commit(t, 3)
	}
	c.commit(t, 0)
	return c
}

// commit mines a block once the pool holds every sent transaction (the pool admits them
// asynchronously), and checks the block holds txs of them.
func (c *chain) commit(t *testing.T, txs int) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second) // a hang guard, not a timing assertion
	for {
		if time.Now().After(deadline) {
			t.Fatalf("the pool never held nonce %d", c.nonce)
		}
		n, err := c.sim.Client().PendingNonceAt(ctx, c.from)
		if err != nil {
			t.Fatal(err)
		}
		if n == c.nonce {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	h := c.sim.Commit()
	b, err := c.sim.Client().BlockByHash(ctx, h)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Transactions()) != txs {
		t.Fatalf("block %d holds %d transactions, want %d", b.NumberU64(), len(b.Transactions()), txs)
	}
}

func (c *chain) send(t *testing.T, to *common.Address, data []byte) {
	t.Helper()
	ctx := context.Background()
	tx, err := types.SignNewTx(c.key, types.LatestSignerForChainID(big.NewInt(1337)), &types.DynamicFeeTx{
		ChainID: big.NewInt(1337), Nonce: c.nonce, GasTipCap: big.NewInt(1e9), GasFeeCap: big.NewInt(100e9),
		Gas: 200_000, To: to, Data: data,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.sim.Client().SendTransaction(ctx, tx); err != nil {
		t.Fatal(err)
	}
	c.nonce++
}

// waitFor polls cond; it fails after a generous bound (a hang guard, not a timing assertion).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func setup(t *testing.T) (*chain, *Proxy, *ethclient.Client) {
	t.Helper()
	c := newChain(t)
	ctx := context.Background()
	p, err := Start(ctx, Options{Upstream: c.url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	ec, err := ethclient.DialContext(ctx, p.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ec.Close)
	return c, p, ec
}

func rpcCode(t *testing.T, err error) (int, string) {
	t.Helper()
	var re rpc.Error
	if !errors.As(err, &re) {
		t.Fatalf("want a JSON-RPC error, got %T %v", err, err)
	}
	return re.ErrorCode(), re.Error()
}

func TestPassThroughAndBatch(t *testing.T) {
	c, p, ec := setup(t)
	ctx := context.Background()
	head, err := ec.BlockNumber(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if head != 7 {
		t.Fatalf("head %d, want 7", head)
	}
	logs, err := ec.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: big.NewInt(0), Addresses: []common.Address{c.emitter}})
	if err != nil || len(logs) != 15 {
		t.Fatalf("logs %d %v, want 15", len(logs), err)
	}
	// A batch: one failing method among passing ones.
	p.FailMethod("eth_gasPrice", RPCError{Code: -32000, Message: "gas price oracle down"})
	var num, chainID string
	var gas string
	var hdr map[string]any
	batch := []rpc.BatchElem{
		{Method: "eth_blockNumber", Result: &num},
		{Method: "eth_chainId", Result: &chainID},
		{Method: "eth_gasPrice", Result: &gas},
		{Method: "eth_getBlockByNumber", Args: []any{"0x2", false}, Result: &hdr},
	}
	if err := ec.Client().BatchCallContext(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if batch[0].Error != nil || num != "0x7" || batch[1].Error != nil || chainID != "0x539" || batch[3].Error != nil || hdr["number"] != "0x2" {
		t.Fatalf("batch answers: %q %q %v %v", num, chainID, batch[0].Error, hdr)
	}
	if code, msg := rpcCode(t, batch[2].Error); code != -32000 || msg != "gas price oracle down" {
		t.Fatalf("faulted element: %d %s", code, msg)
	}
	if p.Count("eth_blockNumber") != 2 || p.Count("eth_gasPrice") != 1 || p.Count("eth_getLogs") != 1 {
		t.Fatalf("counts = %v", p.Counts())
	}
	p.ClearMethod("eth_gasPrice")
	if _, err := ec.SuggestGasPrice(ctx); err != nil {
		t.Fatalf("after clearing: %v", err)
	}
	p.ResetCounts()
	if p.Total() != 0 || p.HTTPRequests() != 0 {
		t.Fatal("counters not reset")
	}
}

func TestMethodError(t *testing.T) {
	_, p, ec := setup(t)
	ctx := context.Background()
	p.FailMethod("eth_getLogs", RPCError{Code: -32603, Message: "internal error"})
	_, err := ec.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: big.NewInt(0)})
	if code, _ := rpcCode(t, err); code != -32603 {
		t.Fatalf("code %d", code)
	}
	if _, err := ec.BlockNumber(ctx); err != nil {
		t.Fatalf("other methods pass: %v", err)
	}
	p.Clear()
	if _, err := ec.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: big.NewInt(0)}); err != nil {
		t.Fatalf("after clear: %v", err)
	}
}

func TestHTTP429And502(t *testing.T) {
	_, p, ec := setup(t)
	ctx := context.Background()
	p.TooManyRequests(1500 * time.Millisecond)
	_, err := ec.BlockNumber(ctx)
	var he rpc.HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(he.Body), `"code":429`) {
		t.Fatalf("429: %T %v", err, err)
	}
	res, err := http.Post(p.URL(), "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":7,"method":"eth_blockNumber","params":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 429 || res.Header.Get("Retry-After") != "2" || !strings.Contains(string(body), `"id":7`) {
		t.Fatalf("429 raw: %d %q %s", res.StatusCode, res.Header.Get("Retry-After"), body)
	}

	p.BadGateway()
	_, err = ec.BlockNumber(ctx)
	if !errors.As(err, &he) || he.StatusCode != http.StatusBadGateway {
		t.Fatalf("502: %T %v", err, err)
	}
	// Limited to one method.
	p.SetHTTPFault(&HTTPFault{Status: 503, Methods: []string{"eth_getLogs"}})
	if _, err := ec.BlockNumber(ctx); err != nil {
		t.Fatalf("unfaulted method: %v", err)
	}
	if _, err := ec.FilterLogs(ctx, ethereum.FilterQuery{}); !errors.As(err, &he) || he.StatusCode != 503 {
		t.Fatalf("503 on eth_getLogs: %v", err)
	}
	p.SetHTTPFault(nil)
	if _, err := ec.BlockNumber(ctx); err != nil {
		t.Fatalf("after clear: %v", err)
	}
}

func TestHangUntilClientGivesUpOrFaultCleared(t *testing.T) {
	_, p, ec := setup(t)
	p.HangRequests("eth_blockNumber")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	_, err := ec.BlockNumber(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("held request: %v, want deadline exceeded", err)
	}
	if _, err := ec.ChainID(context.Background()); err != nil {
		t.Fatalf("other methods pass: %v", err)
	}
	// A request held now goes through once the fault is cleared.
	var wg sync.WaitGroup
	var got uint64
	var gotErr error
	before := p.Count("eth_blockNumber")
	wg.Add(1)
	go func() {
		defer wg.Done()
		got, gotErr = ec.BlockNumber(context.Background())
	}()
	waitFor(t, "the request to be held", func() bool { return p.Count("eth_blockNumber") > before })
	p.StopHanging()
	wg.Wait()
	if gotErr != nil || got != 7 {
		t.Fatalf("released request: %d %v", got, gotErr)
	}
}

var hintRe = regexp.MustCompile(`\[(0x[0-9a-f]+), (0x[0-9a-f]+)\]`)

func hint(t *testing.T, msg string) (uint64, uint64) {
	t.Helper()
	m := hintRe.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("no hinted range in %q", msg)
	}
	a, _ := strconv.ParseUint(m[1][2:], 16, 64)
	b, _ := strconv.ParseUint(m[2][2:], 16, 64)
	return a, b
}

func TestRangeCapsInProvidersWords(t *testing.T) {
	c, p, ec := setup(t)
	ctx := context.Background()
	wide := ethereum.FilterQuery{FromBlock: big.NewInt(1), ToBlock: big.NewInt(7), Addresses: []common.Address{c.emitter}}
	narrow := ethereum.FilterQuery{FromBlock: big.NewInt(2), ToBlock: big.NewInt(4), Addresses: []common.Address{c.emitter}}
	cases := []struct {
		provider Provider
		code     int
		status   int
		msg      string
	}{
		{Alchemy, -32600, 0, "You can make eth_getLogs requests with up to a 3 block range. Based on your parameters, this block range should work: [0x1, 0x3]"},
		{Infura, -32602, 0, "range 7 exceeds limit of 3"},
		{QuickNode, -32614, 413, "eth_getLogs is limited to a 3 range"},
		{Frontier, -32603, 0, "block range is too wide (maximum 3)"},
		{Ankr, -32600, 0, "block range is too wide"},
		{BSC, -32000, 0, "exceed maximum block range: 3"},
		{LimitExceeded, -32005, 0, "limit exceeded"},
	}
	for _, tc := range cases {
		t.Run(string(tc.provider), func(t *testing.T) {
			p.CapRange(tc.provider, 3)
			_, err := ec.FilterLogs(ctx, wide)
			if tc.status != 0 {
				var he rpc.HTTPError
				if !errors.As(err, &he) || he.StatusCode != tc.status || !strings.Contains(string(he.Body), tc.msg) ||
					!strings.Contains(string(he.Body), strconv.Itoa(tc.code)) {
					t.Fatalf("want HTTP %d with %q, got %v", tc.status, tc.msg, err)
				}
			} else if code, msg := rpcCode(t, err); code != tc.code || msg != tc.msg {
				t.Fatalf("got %d %q, want %d %q", code, msg, tc.code, tc.msg)
			}
			logs, err := ec.FilterLogs(ctx, narrow)
			if err != nil || len(logs) != 9 {
				t.Fatalf("a range within the cap: %d logs, %v", len(logs), err)
			}
		})
	}
	// "latest" counts as the head when measuring the range.
	p.CapRange(BSC, 3)
	if _, err := ec.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: big.NewInt(2)}); err == nil {
		t.Fatal("2..latest passed a 3-block cap")
	}
	p.CapRange(BSC, 0)
	if logs, err := ec.FilterLogs(ctx, wide); err != nil || len(logs) != 15 {
		t.Fatalf("after clearing: %d %v", len(logs), err)
	}
}

func TestResultCapsWithHints(t *testing.T) {
	c, p, ec := setup(t)
	ctx := context.Background()
	all := ethereum.FilterQuery{FromBlock: big.NewInt(0), ToBlock: big.NewInt(7), Addresses: []common.Address{c.emitter}}

	p.CapResults(Infura, 7) // 3 logs per block from block 2: [0, 3] holds 6
	_, err := ec.FilterLogs(ctx, all)
	code, msg := rpcCode(t, err)
	if code != -32005 || msg != "query returned more than 7 results. Try with this block range [0x0, 0x3]." {
		t.Fatalf("infura: %d %q", code, msg)
	}
	from, to := hint(t, msg)
	logs, err := ec.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: new(big.Int).SetUint64(from), ToBlock: new(big.Int).SetUint64(to), Addresses: all.Addresses})
	if err != nil || len(logs) != 6 {
		t.Fatalf("the hinted range: %d logs, %v", len(logs), err)
	}

	p.CapResults(Alchemy, 2) // block 2 alone has 3: the hint is the single first block
	_, err = ec.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: big.NewInt(2), ToBlock: big.NewInt(6), Addresses: all.Addresses})
	code, msg = rpcCode(t, err)
	if code != -32602 || !strings.HasPrefix(msg, "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range") ||
		!strings.HasSuffix(msg, "this block range should work: [0x2, 0x2]") {
		t.Fatalf("alchemy: %d %q", code, msg)
	}

	p.CapResults(LimitExceeded, 14)
	_, err = ec.FilterLogs(ctx, all)
	if code, msg := rpcCode(t, err); code != -32005 || msg != "limit exceeded" {
		t.Fatalf("limit exceeded: %d %q", code, msg)
	}
	p.CapResults(LimitExceeded, 15)
	if logs, err := ec.FilterLogs(ctx, all); err != nil || len(logs) != 15 {
		t.Fatalf("at the cap: %d %v", len(logs), err)
	}
}

func TestLaggingHeadGoesBackwards(t *testing.T) {
	c, p, ec := setup(t)
	ctx := context.Background()
	p.LagHead(2)
	if n, err := ec.BlockNumber(ctx); err != nil || n != 5 {
		t.Fatalf("lagged head %d %v, want 5", n, err)
	}
	h, err := ec.HeaderByNumber(ctx, nil)
	if err != nil || h.Number.Uint64() != 5 {
		t.Fatalf("latest header %v %v", h, err)
	}
	if _, err := ec.HeaderByNumber(ctx, big.NewInt(6)); !errors.Is(err, ethereum.NotFound) {
		t.Fatalf("a block past the lagged head: %v, want not found", err)
	}
	_, err = ec.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: big.NewInt(2), ToBlock: big.NewInt(7), Addresses: []common.Address{c.emitter}})
	if code, msg := rpcCode(t, err); code != -32602 || msg != "block range extends beyond current head block" {
		t.Fatalf("range past the head: %d %q", code, msg)
	}
	logs, err := ec.FilterLogs(ctx, ethereum.FilterQuery{FromBlock: big.NewInt(2), Addresses: []common.Address{c.emitter}})
	if err != nil || len(logs) != 12 { // 2..latest is 2..5 on the replica
		t.Fatalf("2..latest on the replica: %d %v", len(logs), err)
	}
	p.LagHead(4) // backwards
	if n, err := ec.BlockNumber(ctx); err != nil || n != 3 {
		t.Fatalf("head after going backwards %d %v, want 3", n, err)
	}
	p.LagHead(0)
	if n, err := ec.BlockNumber(ctx); err != nil || n != 7 {
		t.Fatalf("head after recovery %d %v", n, err)
	}
}

func TestSameRangeServedTwice(t *testing.T) {
	c, p, ec := setup(t)
	ctx := context.Background()
	q := ethereum.FilterQuery{FromBlock: big.NewInt(2), ToBlock: big.NewInt(3), Addresses: []common.Address{c.emitter}}
	p.DuplicateLogs(true)
	logs, err := ec.FilterLogs(ctx, q)
	if err != nil || len(logs) != 12 {
		t.Fatalf("duplicated: %d %v, want 12", len(logs), err)
	}
	if logs[0].TxHash != logs[1].TxHash || logs[0].Index != logs[1].Index {
		t.Fatal("a log is not followed by its copy")
	}
	p.DuplicateLogs(false)
	if logs, err := ec.FilterLogs(ctx, q); err != nil || len(logs) != 6 {
		t.Fatalf("after clearing: %d %v", len(logs), err)
	}
}

func TestVanishingBlockHash(t *testing.T) {
	c, p, ec := setup(t)
	ctx := context.Background()
	h, err := ec.HeaderByNumber(ctx, big.NewInt(3))
	if err != nil {
		t.Fatal(err)
	}
	hash := h.Hash()
	p.VanishBlock(hash)
	if _, err := ec.HeaderByHash(ctx, hash); !errors.Is(err, ethereum.NotFound) {
		t.Fatalf("vanished header: %v, want not found", err)
	}
	_, err = ec.FilterLogs(ctx, ethereum.FilterQuery{BlockHash: &hash, Addresses: []common.Address{c.emitter}})
	if code, msg := rpcCode(t, err); code != -32000 || msg != "unknown block" {
		t.Fatalf("logs of a vanished block: %d %q", code, msg)
	}
	p.RestoreBlock(hash)
	logs, err := ec.FilterLogs(ctx, ethereum.FilterQuery{BlockHash: &hash, Addresses: []common.Address{c.emitter}})
	if err != nil || len(logs) != 3 {
		t.Fatalf("restored: %d %v", len(logs), err)
	}
}

// The counters let a test compare request rates: here a client that retries immediately is
// seen making one call per attempt, faulted or not.
func TestCountsEveryAttempt(t *testing.T) {
	_, p, ec := setup(t)
	ctx := context.Background()
	_, _ = ec.ChainID(ctx)
	before := p.Counts()
	p.BadGateway()
	for i := 0; i < 5; i++ {
		_, _ = ec.BlockNumber(ctx)
	}
	p.Clear()
	if n := p.Count("eth_blockNumber"); n != 5 {
		t.Fatalf("counted %d calls, want 5", n)
	}
	if d := p.CountsSince(before); len(d) != 1 || d["eth_blockNumber"] != 5 {
		t.Fatalf("counts since = %v", d)
	}
	if p.HTTPRequests() != 6 {
		t.Fatalf("counted %d HTTP requests", p.HTTPRequests())
	}
}

func TestParseErrorAndClose(t *testing.T) {
	_, p, _ := setup(t)
	res, err := http.Post(p.URL(), "application/json", strings.NewReader(`{not json`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(body), "-32700") {
		t.Fatalf("parse error answer: %s", body)
	}
	// Close releases held requests.
	p.HangRequests()
	done := make(chan error, 1)
	go func() {
		r, err := http.Post(p.URL(), "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`))
		if err == nil {
			r.Body.Close()
		}
		done <- err
	}()
	waitFor(t, "the request to be held", func() bool { return p.Count("eth_chainId") > 0 })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	<-done
}

func TestWebSocketTunnelAndDrop(t *testing.T) {
	c, p, _ := setup(t)
	ctx := context.Background()
	ws, err := ethclient.DialContext(ctx, p.WSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if n, err := ws.BlockNumber(ctx); err != nil || n != 7 {
		t.Fatalf("over the tunnel: %d %v", n, err)
	}
	heads := make(chan *types.Header, 4)
	sub, err := ws.SubscribeNewHead(ctx, heads)
	if err != nil {
		t.Fatal(err)
	}
	c.commit(t, 0)
	select {
	case h := <-heads:
		if h.Number.Uint64() != 8 {
			t.Fatalf("new head %d, want 8", h.Number.Uint64())
		}
	case err := <-sub.Err():
		t.Fatalf("subscription: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("no new head over the tunnel")
	}
	if p.Count(WebSocketMethod) != 1 {
		t.Fatalf("upgrades counted: %d", p.Count(WebSocketMethod))
	}
	p.DropWebSockets()
	select {
	case err := <-sub.Err():
		if err == nil {
			t.Fatal("subscription ended without an error")
		}
	case <-time.After(60 * time.Second):
		t.Fatal("subscription survived a dropped tunnel")
	}
	// A refused upgrade while the endpoint answers 502.
	p.BadGateway()
	if _, err := ethclient.DialContext(ctx, p.WSURL()); err == nil {
		t.Fatal("upgrade passed a 502 fault")
	}
	p.Clear()
	ws2, err := ethclient.DialContext(ctx, p.WSURL())
	if err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	ws2.Close()
}
