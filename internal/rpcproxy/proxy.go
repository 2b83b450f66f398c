package rpcproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/rs/zerolog"
)

// Options configures a Proxy.
type Options struct {
	// Upstream is the node's HTTP JSON-RPC URL.
	Upstream string
	// UpstreamTimeout bounds one upstream call; default 30s.
	UpstreamTimeout time.Duration
	Logger          zerolog.Logger
}

// Proxy is a running fault-injecting JSON-RPC proxy. All methods are safe for concurrent use.
type Proxy struct {
	upstream string
	client   *http.Client
	ln       net.Listener
	srv      *http.Server
	log      zerolog.Logger

	mu      sync.Mutex
	faults  Faults
	changed chan struct{} // closed and replaced whenever faults change
	counts  map[string]int64
	total   int64
	httpReq int64

	tunnels   map[*tunnel]struct{}
	closing   chan struct{}
	closeOnce sync.Once
	served    chan struct{}
}

// Start listens on 127.0.0.1 (a free port) and proxies to opts.Upstream.
func Start(ctx context.Context, opts Options) (*Proxy, error) {
	if opts.Upstream == "" {
		return nil, errors.New("start rpc proxy: Upstream is required")
	}
	if opts.UpstreamTimeout <= 0 {
		opts.UpstreamTimeout = 30 * time.Second
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("start rpc proxy: %w", err)
	}
	p := &Proxy{
		upstream: opts.Upstream,
		client:   &http.Client{Timeout: opts.UpstreamTimeout},
		ln:       ln,
		log:      opts.Logger.With().Str("component", "rpcproxy").Logger(),
		changed:  make(chan struct{}),
		counts:   map[string]int64{},
		closing:  make(chan struct{}),
		served:   make(chan struct{}),
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(p.served)
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error().Err(err).Msg("serve")
		}
	}()
	return p, nil
}

// URL is the proxy's http:// URL.
func (p *Proxy) URL() string { return "http://" + p.ln.Addr().String() }

// WSURL is the proxy's ws:// URL; it tunnels to the same upstream (serve the node's WebSocket
// on its HTTP port: node.Config WSHost/WSPort equal to HTTPHost/HTTPPort).
func (p *Proxy) WSURL() string { return "ws://" + p.ln.Addr().String() }

// Close stops the proxy, answering nothing more; held requests and WebSocket tunnels are
// dropped.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() { close(p.closing) })
	p.DropWebSockets()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	if err != nil {
		err = p.srv.Close()
	}
	<-p.served
	if err != nil {
		return fmt.Errorf("close rpc proxy: %w", err)
	}
	return nil
}

// Set replaces the faults in force.
func (p *Proxy) Set(f Faults) { p.Update(func(cur *Faults) { *cur = f.clone() }) }

// Update changes the faults in force under the proxy's lock.
func (p *Proxy) Update(fn func(f *Faults)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.faults.clone()
	fn(&f)
	p.faults = f.clone()
	close(p.changed)
	p.changed = make(chan struct{})
}

// Faults returns a copy of the faults in force.
func (p *Proxy) Faults() Faults {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faults.clone()
}

// Clear removes every fault: pure pass-through again, and held requests go through.
func (p *Proxy) Clear() { p.Set(Faults{}) }

// FailMethod answers method with a JSON-RPC error; ClearMethod undoes it.
func (p *Proxy) FailMethod(method string, e RPCError) {
	p.Update(func(f *Faults) {
		if f.MethodErrors == nil {
			f.MethodErrors = map[string]RPCError{}
		}
		f.MethodErrors[method] = e
	})
}

// ClearMethod stops failing method.
func (p *Proxy) ClearMethod(method string) {
	p.Update(func(f *Faults) { delete(f.MethodErrors, method) })
}

// SetHTTPFault answers with an HTTP error (nil clears it).
func (p *Proxy) SetHTTPFault(h *HTTPFault) { p.Update(func(f *Faults) { f.HTTP = h }) }

// TooManyRequests answers every request with HTTP 429, a JSON body and Retry-After.
func (p *Proxy) TooManyRequests(retryAfter time.Duration) {
	p.SetHTTPFault(&HTTPFault{Status: http.StatusTooManyRequests, RetryAfter: retryAfter})
}

// BadGateway answers every request with HTTP 502.
func (p *Proxy) BadGateway() { p.SetHTTPFault(&HTTPFault{Status: http.StatusBadGateway}) }

// HangRequests holds requests containing one of methods (all when none) without an answer.
func (p *Proxy) HangRequests(methods ...string) {
	p.Update(func(f *Faults) { f.Hang = &Hang{Methods: append([]string(nil), methods...)} })
}

// StopHanging releases held requests and holds no more.
func (p *Proxy) StopHanging() { p.Update(func(f *Faults) { f.Hang = nil }) }

// CapRange refuses eth_getLogs ranges wider than max blocks, in provider's words (max 0 clears).
func (p *Proxy) CapRange(provider Provider, max uint64) {
	p.Update(func(f *Faults) {
		f.RangeCap = nil
		if max > 0 {
			f.RangeCap = &RangeCap{Provider: provider, MaxBlocks: max}
		}
	})
}

// CapResults refuses eth_getLogs answers of more than max logs, in provider's words (max 0
// clears).
func (p *Proxy) CapResults(provider Provider, max int) {
	p.Update(func(f *Faults) {
		f.ResultCap = nil
		if max > 0 {
			f.ResultCap = &ResultCap{Provider: provider, MaxResults: max}
		}
	})
}

// LagHead makes the node look n blocks behind (0 clears).
func (p *Proxy) LagHead(n uint64) { p.Update(func(f *Faults) { f.HeadLag = n }) }

// DuplicateLogs serves every log twice while on.
func (p *Proxy) DuplicateLogs(on bool) { p.Update(func(f *Faults) { f.DuplicateLogs = on }) }

// VanishBlock makes the block with hash h disappear; RestoreBlock brings it back.
func (p *Proxy) VanishBlock(h common.Hash) {
	p.Update(func(f *Faults) {
		if f.VanishedBlocks == nil {
			f.VanishedBlocks = map[common.Hash]bool{}
		}
		f.VanishedBlocks[h] = true
	})
}

// RestoreBlock undoes VanishBlock.
func (p *Proxy) RestoreBlock(h common.Hash) {
	p.Update(func(f *Faults) { delete(f.VanishedBlocks, h) })
}

// Count is the number of calls of method received so far (each element of a batch counts).
func (p *Proxy) Count(method string) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[method]
}

// Counts returns the calls received per method.
func (p *Proxy) Counts() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := make(map[string]int64, len(p.counts))
	for k, v := range p.counts {
		c[k] = v
	}
	return c
}

// CountsSince returns the calls received per method since prev (an earlier Counts), for rate
// comparisons: healthy := p.Counts(); ...; during := p.CountsSince(healthy).
func (p *Proxy) CountsSince(prev map[string]int64) map[string]int64 {
	cur := p.Counts()
	for k, v := range prev {
		cur[k] -= v
		if cur[k] == 0 {
			delete(cur, k)
		}
	}
	return cur
}

// Total is the number of JSON-RPC calls received.
func (p *Proxy) Total() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.total
}

// HTTPRequests is the number of HTTP requests received (a batch is one).
func (p *Proxy) HTTPRequests() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.httpReq
}

// ResetCounts sets every counter to zero.
func (p *Proxy) ResetCounts() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts = map[string]int64{}
	p.total, p.httpReq = 0, 0
}

type request struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params,omitempty"`
}

type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *RPCError       `json:"error,omitempty"`
}

const maxBody = 64 << 20

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && isWebSocket(r) {
		p.serveWebSocket(w, r)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	reqs, batch, perr := parse(body)

	p.mu.Lock()
	p.httpReq++
	for _, q := range reqs {
		p.counts[q.Method]++
		p.total++
	}
	p.mu.Unlock()

	if perr != nil {
		writeJSON(w, http.StatusOK, response{JSONRPC: "2.0", ID: json.RawMessage("null"),
			Error: &RPCError{Code: -32700, Message: "parse error"}})
		return
	}

	var f Faults
	for {
		p.mu.Lock()
		f, changed := p.faults.clone(), p.changed
		p.mu.Unlock()
		if f.Hang == nil || !matches(f.Hang.Methods, reqs) {
			break
		}
		select {
		case <-r.Context().Done():
			return // the client gave up
		case <-p.closing:
			return
		case <-changed:
		}
	}
	p.mu.Lock()
	f = p.faults.clone()
	p.mu.Unlock()

	if h := f.HTTP; h != nil && matches(h.Methods, reqs) {
		p.writeHTTPFault(w, h, reqs)
		return
	}

	out := make([]json.RawMessage, 0, len(reqs))
	status := http.StatusOK
	for _, q := range reqs {
		resp, st := p.handle(r.Context(), f, q)
		if st != 0 && !batch {
			status = st
		}
		b, err := json.Marshal(resp)
		if err != nil {
			b, _ = json.Marshal(response{JSONRPC: "2.0", ID: q.ID, Error: &RPCError{Code: -32603, Message: err.Error()}})
		}
		out = append(out, b)
	}
	if batch {
		writeJSON(w, status, out)
		return
	}
	writeJSON(w, status, out[0])
}

func parse(body []byte) ([]request, bool, error) {
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] == '[' {
		var reqs []request
		if err := json.Unmarshal(body, &reqs); err != nil {
			return nil, true, err
		}
		if len(reqs) == 0 {
			return nil, true, errors.New("empty batch")
		}
		return reqs, true, nil
	}
	var q request
	if err := json.Unmarshal(body, &q); err != nil {
		return nil, false, err
	}
	return []request{q}, false, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (p *Proxy) writeHTTPFault(w http.ResponseWriter, h *HTTPFault, reqs []request) {
	if h.RetryAfter > 0 {
		secs := int((h.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	body := h.Body
	ctype := "application/json"
	if body == "" {
		switch {
		case h.Status == http.StatusTooManyRequests:
			// Shaped like a rate-limited provider's answer: a JSON-RPC error with code 429.
			id := json.RawMessage("null")
			if len(reqs) == 1 && len(reqs[0].ID) > 0 {
				id = reqs[0].ID
			}
			b, _ := json.Marshal(response{JSONRPC: "2.0", ID: id, Error: &RPCError{Code: 429,
				Message: "Your app has exceeded its compute units per second capacity. If you have retries enabled, you can safely ignore this message."}})
			body = string(b)
		case h.Status >= 500:
			ctype = "text/html"
			body = fmt.Sprintf("<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n</body>\r\n</html>\r\n",
				h.Status, http.StatusText(h.Status), h.Status, http.StatusText(h.Status))
		default:
			ctype = "text/plain"
			body = http.StatusText(h.Status)
		}
	}
	w.Header().Set("Content-Type", ctype)
	w.WriteHeader(h.Status)
	_, _ = io.WriteString(w, body)
}

func errResp(id json.RawMessage, e RPCError) response {
	return response{JSONRPC: "2.0", ID: idOrNull(id), Error: &e}
}

func idOrNull(id json.RawMessage) json.RawMessage {
	if len(id) == 0 {
		return json.RawMessage("null")
	}
	return id
}

// handle answers one call under faults f; the int is an HTTP status to use instead of 200 (0
// for none).
func (p *Proxy) handle(ctx context.Context, f Faults, q request) (response, int) {
	if e, ok := f.MethodErrors[q.Method]; ok {
		return errResp(q.ID, e), 0
	}
	switch q.Method {
	case "eth_blockNumber":
		if f.HeadLag > 0 {
			head, err := p.head(ctx, f)
			if err != nil {
				return errResp(q.ID, RPCError{Code: -32603, Message: err.Error()}), 0
			}
			return response{JSONRPC: "2.0", ID: idOrNull(q.ID), Result: mustJSON(hexNum(head))}, 0
		}
	case "eth_getBlockByNumber":
		if f.HeadLag > 0 {
			return p.blockByNumberLagged(ctx, f, q), 0
		}
	case "eth_getBlockByHash":
		var params []json.RawMessage
		if json.Unmarshal(q.Params, &params) == nil && len(params) > 0 {
			var h common.Hash
			if json.Unmarshal(params[0], &h) == nil && f.VanishedBlocks[h] {
				return response{JSONRPC: "2.0", ID: idOrNull(q.ID), Result: json.RawMessage("null")}, 0
			}
		}
	case "eth_getLogs":
		return p.getLogs(ctx, f, q)
	}
	return p.forward(ctx, q), 0
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// call makes one JSON-RPC call upstream.
func (p *Proxy) call(ctx context.Context, method string, params ...any) (json.RawMessage, error) {
	if params == nil {
		params = []any{}
	}
	resp := p.forward(ctx, request{JSONRPC: "2.0", ID: json.RawMessage("1"), Method: method, Params: mustJSON(params)})
	if resp.Error != nil {
		return nil, fmt.Errorf("upstream %s: %d %s", method, resp.Error.Code, resp.Error.Message)
	}
	return resp.Result, nil
}

// forward sends q to the node and returns its answer (an error answer if the node fails).
func (p *Proxy) forward(ctx context.Context, q request) response {
	id := idOrNull(q.ID)
	body, _ := json.Marshal(q)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.upstream, bytes.NewReader(body))
	if err != nil {
		return errResp(id, RPCError{Code: -32603, Message: "proxy: " + err.Error()})
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := p.client.Do(req)
	if err != nil {
		return errResp(id, RPCError{Code: -32603, Message: "proxy: upstream: " + err.Error()})
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return errResp(id, RPCError{Code: -32603, Message: "proxy: read upstream: " + err.Error()})
	}
	var out response
	if err := json.Unmarshal(b, &out); err != nil {
		return errResp(id, RPCError{Code: -32603, Message: fmt.Sprintf("proxy: upstream answered HTTP %d: %.200s", res.StatusCode, b)})
	}
	out.JSONRPC, out.ID = "2.0", id
	if out.Error == nil && out.Result == nil {
		out.Result = json.RawMessage("null")
	}
	return out
}

// head is the head as the client should see it: the node's, minus the lag.
func (p *Proxy) head(ctx context.Context, f Faults) (uint64, error) {
	raw, err := p.call(ctx, "eth_blockNumber")
	if err != nil {
		return 0, err
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("upstream head %s: %w", raw, err)
	}
	n, err := strconv.ParseUint(trimHex(s), 16, 64)
	if err != nil {
		return 0, fmt.Errorf("upstream head %q: %w", s, err)
	}
	if f.HeadLag >= n {
		return 0, nil
	}
	return n - f.HeadLag, nil
}

func trimHex(s string) string {
	if len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X") {
		return s[2:]
	}
	return s
}

// blockNumber resolves a block parameter ("0x..", "latest", ...) against the visible head.
func (p *Proxy) blockNumber(ctx context.Context, f Faults, raw json.RawMessage, def string) (uint64, error) {
	s := def
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, fmt.Errorf("block parameter %s: %w", raw, err)
		}
	}
	switch s {
	case "latest", "pending", "":
		return p.head(ctx, f)
	case "earliest":
		return 0, nil
	case "safe", "finalized":
		res, err := p.call(ctx, "eth_getBlockByNumber", s, false)
		if err != nil {
			return 0, err
		}
		var hdr struct {
			Number string `json:"number"`
		}
		if err := json.Unmarshal(res, &hdr); err != nil || hdr.Number == "" {
			return 0, fmt.Errorf("%s block not available", s)
		}
		n, err := strconv.ParseUint(trimHex(hdr.Number), 16, 64)
		if err != nil {
			return 0, err
		}
		if head, err := p.head(ctx, f); err == nil && n > head {
			n = head
		}
		return n, nil
	}
	n, err := strconv.ParseUint(trimHex(s), 16, 64)
	if err != nil {
		return 0, fmt.Errorf("block parameter %q: %w", s, err)
	}
	return n, nil
}

func (p *Proxy) blockByNumberLagged(ctx context.Context, f Faults, q request) response {
	var params []json.RawMessage
	if err := json.Unmarshal(q.Params, &params); err != nil || len(params) == 0 {
		return p.forward(ctx, q)
	}
	head, err := p.head(ctx, f)
	if err != nil {
		return errResp(q.ID, RPCError{Code: -32603, Message: err.Error()})
	}
	n, err := p.blockNumber(ctx, f, params[0], "latest")
	if err != nil {
		return errResp(q.ID, RPCError{Code: -32602, Message: err.Error()})
	}
	if n > head { // the replica has not seen it yet
		return response{JSONRPC: "2.0", ID: idOrNull(q.ID), Result: json.RawMessage("null")}
	}
	params[0] = mustJSON(hexNum(n))
	q.Params = mustJSON(params)
	return p.forward(ctx, q)
}

type logRef struct {
	BlockNumber string `json:"blockNumber"`
}

func (p *Proxy) getLogs(ctx context.Context, f Faults, q request) (response, int) {
	var params []map[string]json.RawMessage
	if err := json.Unmarshal(q.Params, &params); err != nil || len(params) != 1 {
		return p.forward(ctx, q), 0
	}
	filter := params[0]
	if raw, ok := filter["blockHash"]; ok && string(raw) != "null" {
		var h common.Hash
		if json.Unmarshal(raw, &h) == nil && f.VanishedBlocks[h] {
			// geth's eth/filters errUnknownBlock.
			return errResp(q.ID, RPCError{Code: -32000, Message: "unknown block"}), 0
		}
		return p.postLogs(p.forward(ctx, q), f, 0, 0, false)
	}
	needRange := f.RangeCap != nil || f.ResultCap != nil || f.HeadLag > 0
	if !needRange {
		return p.postLogs(p.forward(ctx, q), f, 0, 0, false)
	}
	from, err := p.blockNumber(ctx, f, filter["fromBlock"], "latest")
	if err != nil {
		return errResp(q.ID, RPCError{Code: -32602, Message: err.Error()}), 0
	}
	to, err := p.blockNumber(ctx, f, filter["toBlock"], "latest")
	if err != nil {
		return errResp(q.ID, RPCError{Code: -32602, Message: err.Error()}), 0
	}
	if from > to {
		return errResp(q.ID, RPCError{Code: -32602, Message: "invalid block range params"}), 0
	}
	if f.HeadLag > 0 {
		head, err := p.head(ctx, f)
		if err != nil {
			return errResp(q.ID, RPCError{Code: -32603, Message: err.Error()}), 0
		}
		if to > head {
			// What geth (eth/filters errBlockRangeIntoFuture) says of a range past its head.
			return errResp(q.ID, RPCError{Code: -32602, Message: "block range extends beyond current head block"}), 0
		}
	}
	if c := f.RangeCap; c != nil && to-from+1 > c.MaxBlocks {
		ce := rangeCapError(c.Provider, from, to, c.MaxBlocks)
		return errResp(q.ID, ce.err), ce.status
	}
	filter["fromBlock"], filter["toBlock"] = mustJSON(hexNum(from)), mustJSON(hexNum(to))
	q.Params = mustJSON(params)
	return p.postLogs(p.forward(ctx, q), f, from, to, true)
}

// postLogs applies the result cap and log duplication to a getLogs answer.
func (p *Proxy) postLogs(resp response, f Faults, from, to uint64, ranged bool) (response, int) {
	if resp.Error != nil || (f.ResultCap == nil && !f.DuplicateLogs) {
		return resp, 0
	}
	var logs []json.RawMessage
	if err := json.Unmarshal(resp.Result, &logs); err != nil {
		return resp, 0
	}
	if c := f.ResultCap; c != nil && ranged && len(logs) > c.MaxResults {
		hint := hintTo(logs, from, to, c.MaxResults)
		ce := resultCapError(c.Provider, from, hint, c.MaxResults)
		return errResp(resp.ID, ce.err), ce.status
	}
	if f.DuplicateLogs {
		dup := make([]json.RawMessage, 0, 2*len(logs))
		for _, l := range logs {
			dup = append(dup, l, l)
		}
		resp.Result = mustJSON(dup)
	}
	return resp, 0
}

// hintTo is the last block b in [from, to] such that the logs of [from, b] number at most max
// (from itself when its own block has more).
func hintTo(logs []json.RawMessage, from, to uint64, max int) uint64 {
	perBlock := map[uint64]int{}
	for _, l := range logs {
		var r logRef
		if json.Unmarshal(l, &r) != nil {
			continue
		}
		if n, err := strconv.ParseUint(trimHex(r.BlockNumber), 16, 64); err == nil {
			perBlock[n]++
		}
	}
	blocks := make([]uint64, 0, len(perBlock))
	for b := range perBlock {
		blocks = append(blocks, b)
	}
	slices.Sort(blocks)
	count := 0
	for _, b := range blocks {
		count += perBlock[b]
		if count > max {
			if b <= from {
				return from
			}
			return b - 1
		}
	}
	return to
}
