package ingest

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/ethclient"
)

// cannedRPC answers every JSON-RPC request with one canned HTTP status and body.
func cannedRPC(t *testing.T, status int, body string, delay time.Duration) string {
	t.Helper()
	released := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			case <-released:
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(released) }) // runs first: frees a held handler so Close returns
	return srv.URL
}

func rpcErrBody(code int, msg string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"error":{"code":%d,"message":%q}}`, code, msg)
}

// The real texts providers send (the same ones internal/rpcproxy cites), classified through
// go-ethereum's own client so the error types are the real ones.
func TestClassifyProviderErrors(t *testing.T) {
	cases := []struct {
		name     string
		status   int
		body     string
		delay    time.Duration
		class    ErrorClass
		hintSize uint64
	}{
		{"alchemy range cap", 200, rpcErrBody(-32600, "You can make eth_getLogs requests with up to a 500 block range. Based on your parameters, this block range should work: [0x10, 0x203]"), 0, ClassRangeCap, 500},
		{"alchemy result cap", 200, rpcErrBody(-32602, "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size, or you can request any block range with a cap of 10K logs in the response. Based on your parameters and the response size limit, this block range should work: [0x1, 0x3e8]"), 0, ClassRangeCap, 1000},
		{"infura range cap", 200, rpcErrBody(-32602, "range 5001 exceeds limit of 5000"), 0, ClassRangeCap, 5000},
		{"infura result cap", 200, rpcErrBody(-32005, "query returned more than 10000 results. Try with this block range [0x1, 0x1388]."), 0, ClassRangeCap, 5000},
		{"quicknode range cap (HTTP 413)", 413, rpcErrBody(-32614, "eth_getLogs is limited to a 10,000 range"), 0, ClassRangeCap, 10000},
		{"frontier range cap", 200, rpcErrBody(-32603, "block range is too wide (maximum 1024)"), 0, ClassRangeCap, 1024},
		{"bsc range cap", 200, rpcErrBody(-32000, "exceed maximum block range: 5000"), 0, ClassRangeCap, 5000},
		{"geth limit exceeded", 200, rpcErrBody(-32005, "limit exceeded"), 0, ClassRangeCap, 0},
		{"result cap without hint", 200, rpcErrBody(-32005, "query returned more than 10000 results"), 0, ClassRangeCap, 0},
		{"generic too wide", 200, rpcErrBody(-32000, "block range is too wide"), 0, ClassRangeCap, 0},
		{"http 429", 429, `{"jsonrpc":"2.0","id":1,"error":{"code":429,"message":"Too Many Requests"}}`, 0, ClassRateLimit, 0},
		{"infura rate limit -32005", 200, rpcErrBody(-32005, "daily request count exceeded, request rate limited"), 0, ClassRateLimit, 0},
		{"http 502", 502, "<html><body><h1>502 Bad Gateway</h1></body></html>", 0, ClassServer, 0},
		{"json-rpc error", 200, rpcErrBody(-32000, "internal error"), 0, ClassRPC, 0},
		{"unknown block", 200, rpcErrBody(-32000, "unknown block"), 0, ClassNotFound, 0},
		{"no answer", 200, `{"jsonrpc":"2.0","id":1,"result":[]}`, 5 * time.Second, ClassTimeout, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ethclient.Dial(cannedRPC(t, tc.status, tc.body, tc.delay))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			actx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			_, err = c.FilterLogs(actx, ethereum.FilterQuery{FromBlock: big.NewInt(1), ToBlock: big.NewInt(20000)})
			e := Classify(ctx, "eth_getLogs", "test", err)
			if e == nil || e.Class != tc.class {
				t.Fatalf("class of %v = %+v, want %s", err, e, tc.class)
			}
			if e.Hint.Size() != tc.hintSize {
				t.Errorf("hint %+v size %d, want %d", e.Hint, e.Hint.Size(), tc.hintSize)
			}
			if tc.class == ClassRangeCap && !errors.Is(e, ErrRangeCap) {
				t.Errorf("errors.Is(ErrRangeCap) false")
			}
			if tc.class.Retryable() == (tc.class == ClassRangeCap || tc.class == ClassNotFound) {
				t.Errorf("%s retryable = %v", tc.class, tc.class.Retryable())
			}
		})
	}
}

func TestClassifyConnectionRefusedAndNotFound(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := ethclient.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.HeaderByNumber(context.Background(), nil)
	if e := Classify(context.Background(), "eth_getBlockByNumber", "test", err); e.Class != ClassNetwork {
		t.Errorf("connection refused: %v classified %s", err, e.Class)
	}

	c2, _ := ethclient.Dial(cannedRPC(t, 200, `{"jsonrpc":"2.0","id":1,"result":null}`, 0))
	defer c2.Close()
	_, err = c2.HeaderByNumber(context.Background(), big.NewInt(99))
	e := Classify(context.Background(), "eth_getBlockByNumber", "test", err)
	if e.Class != ClassNotFound || !errors.Is(e, ethereum.NotFound) {
		t.Errorf("null header: %v classified %s", err, e.Class)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if e := Classify(ctx, "eth_getLogs", "test", context.Canceled); e.Class != ClassCanceled {
		t.Errorf("canceled classified %s", e.Class)
	}
}
