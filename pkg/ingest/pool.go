package ingest

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/url"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/rs/zerolog"
)

// Endpoint is one RPC provider of a chain.
type Endpoint struct {
	// Name appears in logs and errors; never put a URL with credentials here.
	Name   string
	Client Client
}

// PoolOptions tune a Pool. Zero values take the defaults.
type PoolOptions struct {
	ChainID uint64
	// Timeout bounds each request (default 10s): a request that never returns fails over.
	// After a timeout the next attempt of the same call gets twice as long, up to
	// MaxTimeout (default 4*Timeout), so a slow but working node is not retried forever.
	Timeout    time.Duration
	MaxTimeout time.Duration
	// BackoffBase and BackoffMax shape the wait after every endpoint failed once in a
	// row: exponential from base, capped, with jitter (defaults 200ms and 5s).
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// MaxAttempts bounds the attempts of one call; 0 retries until the context ends.
	MaxAttempts int
	Metrics     Metrics
	Logger      zerolog.Logger
}

// Pool is a Client over several endpoints of one chain: each request has a timeout, a failed
// request fails over to the next endpoint, and once all failed it backs off (capped
// exponential with jitter) and tries again. A block one endpoint does not know is asked of
// the others once each. Errors that retrying cannot fix (not found everywhere, a provider's
// range cap, the caller's cancellation) return at once as *RPCError.
type Pool struct {
	eps  []Endpoint
	opts PoolOptions

	mu        sync.Mutex
	cur       int
	lastOK    time.Time
	lastErr   error
	lastErrAt time.Time
}

// PoolStatus tells whether a chain's endpoints answer, for health endpoints.
type PoolStatus struct {
	Endpoint  string    // the endpoint requests go to now
	LastOK    time.Time // last answered request
	LastErr   error     // last failed attempt, nil if none since the last success
	LastErrAt time.Time
}

// Status returns the pool's current state.
func (p *Pool) Status() PoolStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	return PoolStatus{Endpoint: p.eps[p.cur].Name, LastOK: p.lastOK, LastErr: p.lastErr, LastErrAt: p.lastErrAt}
}

func (p *Pool) record(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.lastOK, p.lastErr = time.Now(), nil
		return
	}
	p.lastErr, p.lastErrAt = err, time.Now()
}

var _ Client = (*Pool)(nil)

// NewPool returns a pool over endpoints, tried in the given order.
func NewPool(endpoints []Endpoint, opts PoolOptions) (*Pool, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("new pool: no endpoints")
	}
	for i, ep := range endpoints {
		if ep.Client == nil {
			return nil, fmt.Errorf("new pool: endpoint %d (%s) has no client", i, ep.Name)
		}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.MaxTimeout < opts.Timeout {
		opts.MaxTimeout = 4 * opts.Timeout
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = 200 * time.Millisecond
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = 5 * time.Second
	}
	if opts.Metrics == nil {
		opts.Metrics = NopMetrics{}
	}
	return &Pool{eps: append([]Endpoint(nil), endpoints...), opts: opts}, nil
}

// DialPool dials every URL (http, https, ws, wss) and returns a pool over them. The
// endpoints are named by scheme and host only, so API keys in paths stay out of logs.
func DialPool(ctx context.Context, urls []string, opts PoolOptions) (*Pool, error) {
	eps := make([]Endpoint, 0, len(urls))
	for i, raw := range urls {
		c, err := ethclient.DialContext(ctx, raw)
		if err != nil {
			for _, ep := range eps {
				ep.Client.(*ethclient.Client).Close()
			}
			return nil, fmt.Errorf("dial endpoint %d (%s): %w", i, EndpointName(raw), err)
		}
		eps = append(eps, Endpoint{Name: EndpointName(raw), Client: c})
	}
	return NewPool(eps, opts)
}

// Close closes the endpoints that DialPool opened.
func (p *Pool) Close() {
	for _, ep := range p.eps {
		if c, ok := ep.Client.(interface{ Close() }); ok {
			c.Close()
		}
	}
}

// EndpointName renders a URL without credentials, path or query: "https://host:port".
func EndpointName(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "endpoint"
	}
	return u.Scheme + "://" + u.Host
}

// HeaderByNumber implements Client.
func (p *Pool) HeaderByNumber(ctx context.Context, number *big.Int) (*types.Header, error) {
	var h *types.Header
	err := p.do(ctx, "eth_getBlockByNumber", func(ctx context.Context, c Client) error {
		var err error
		h, err = c.HeaderByNumber(ctx, number)
		if err == nil && h == nil {
			err = ethereum.NotFound
		}
		return err
	})
	return h, err
}

// FilterLogs implements Client.
func (p *Pool) FilterLogs(ctx context.Context, q ethereum.FilterQuery) ([]types.Log, error) {
	var logs []types.Log
	err := p.do(ctx, "eth_getLogs", func(ctx context.Context, c Client) error {
		var err error
		logs, err = c.FilterLogs(ctx, q)
		return err
	})
	return logs, err
}

func (p *Pool) current() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur
}

// failover moves off endpoint i unless another request already did.
func (p *Pool) failover(i int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == i {
		p.cur = (i + 1) % len(p.eps)
	}
}

func (p *Pool) do(ctx context.Context, method string, call func(context.Context, Client) error) error {
	round, notFound, timeout := 0, 0, p.opts.Timeout
	for attempt := 0; ; attempt++ {
		i := p.current()
		ep := p.eps[i]
		actx, cancel := context.WithTimeout(ctx, timeout)
		err := call(actx, ep.Client)
		cancel()
		if err == nil {
			p.opts.Metrics.RPCRequest(p.opts.ChainID, method, "ok")
			p.record(nil)
			return nil
		}
		e := Classify(ctx, method, ep.Name, err)
		p.opts.Metrics.RPCRequest(p.opts.ChainID, method, e.Label())
		if e.Class.Retryable() {
			p.record(e)
		}
		if e.Class == ClassTimeout {
			timeout = min(2*timeout, p.opts.MaxTimeout)
		}
		if e.Class == ClassNotFound {
			// A lagging replica may not have the block yet: ask the other endpoints once
			// each; only when all agree it is missing is it missing.
			if notFound++; notFound < len(p.eps) {
				p.failover(i)
				continue
			}
			return e
		}
		if !e.Class.Retryable() {
			return e
		}
		if p.opts.MaxAttempts > 0 && attempt+1 >= p.opts.MaxAttempts {
			return e
		}
		p.failover(i)
		if (attempt+1)%len(p.eps) != 0 {
			p.opts.Logger.Debug().Err(e).Str("endpoint", ep.Name).Msg("rpc request failed, failing over")
			continue
		}
		d := backoff(p.opts.BackoffBase, p.opts.BackoffMax, round)
		round++
		p.opts.Logger.Warn().Err(e).Str("endpoint", ep.Name).Dur("backoff", d).Int("attempt", attempt+1).
			Msg("rpc request failed on every endpoint, backing off")
		if err := sleep(ctx, d); err != nil {
			return Classify(ctx, method, ep.Name, err)
		}
	}
}

// backoff is base*2^n capped at max, with "equal jitter": at least half of it, so a fault
// never turns into a tight loop, and at most all of it.
func backoff(base, max time.Duration, n int) time.Duration {
	d := base
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
