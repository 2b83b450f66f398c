package indexer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/keywarden/keywarden/pkg/bus"
	"github.com/keywarden/keywarden/pkg/ingest"
)

// App is a configured indexer: storage migrated, the stream ensured, one log source per
// chain. Open builds it, Run indexes until its context ends, Close releases everything.
type App struct {
	cfg Config
	log zerolog.Logger
	reg *prometheus.Registry

	closers []func(context.Context) error // in reverse order of opening
	chains  []*chainRun
}

type chainRun struct {
	cfg  ChainConfig
	src  *ingest.Source
	sink *Sink

	mu       sync.Mutex
	err      error // why Run stopped for good
	caughtUp bool  // caught up with the head at least once
}

// AppOptions are what Open needs besides the configuration.
type AppOptions struct {
	Logger zerolog.Logger
	// Registry receives the metrics; nil creates one (with Go and process collectors).
	Registry *prometheus.Registry
	// OpenStore opens storage; nil uses ClickHouse from the configuration (OpenClickHouse).
	OpenStore func(ctx context.Context, cfg ClickHouseConfig, log zerolog.Logger) (Store, func() error, error)
}

// Open connects to storage (running the migrations), to NATS (starting the embedded server
// when no URL is configured) and to every chain's endpoints, and builds the sources. On error
// everything opened so far is closed.
func Open(ctx context.Context, cfg Config, opts AppOptions) (_ *App, err error) {
	a := &App{cfg: cfg, log: opts.Logger, reg: opts.Registry}
	defer func() {
		if err != nil {
			_ = a.Close(context.Background())
		}
	}()
	if a.reg == nil {
		a.reg = prometheus.NewRegistry()
		a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	ingestMetrics, err := ingest.NewPromMetrics(a.reg)
	if err != nil {
		return nil, err
	}
	sinkMetrics, err := NewPromMetrics(a.reg)
	if err != nil {
		return nil, err
	}

	openStore := opts.OpenStore
	if openStore == nil {
		openStore = OpenClickHouse
	}
	st, closeStore, err := openStore(ctx, cfg.ClickHouse, a.log)
	if err != nil {
		return nil, fmt.Errorf("open storage: %w", err)
	}
	a.closers = append(a.closers, func(context.Context) error { return closeStore() })

	js, err := a.openNATS(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := bus.EnsureStream(ctx, js, cfg.NATS.Stream); err != nil {
		return nil, fmt.Errorf("ensure stream: %w", err)
	}
	pub := bus.NewPublisher(js, bus.PublisherOptions{})

	for _, ch := range cfg.Chains {
		log := a.log.With().Uint64("chain_id", ch.ID).Str("chain", ch.Label()).Logger()
		pool, err := ingest.DialPool(ctx, ch.RPCURLs, ingest.PoolOptions{ChainID: ch.ID, Timeout: ch.RequestTimeout, Metrics: ingestMetrics, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("chain %d: %w", ch.ID, err)
		}
		a.closers = append(a.closers, func(context.Context) error { pool.Close(); return nil })
		sink, err := NewSink(Options{ChainID: ch.ID, Plugins: ch.Plugins(), Store: st, Bus: pub, Metrics: sinkMetrics, Logger: log})
		if err != nil {
			return nil, fmt.Errorf("chain %d: %w", ch.ID, err)
		}
		so := ch.SourceOptions()
		so.Client, so.Sink, so.Checkpoints, so.Metrics, so.Logger = pool, sink, st, ingestMetrics, log
		if ch.WSURL != "" {
			wsc, err := ethclient.DialContext(ctx, ch.WSURL)
			if err != nil {
				return nil, fmt.Errorf("chain %d: dial %s: %w", ch.ID, ingest.EndpointName(ch.WSURL), err)
			}
			a.closers = append(a.closers, func(context.Context) error { wsc.Close(); return nil })
			so.Heads = wsc
		}
		src, err := ingest.New(so)
		if err != nil {
			return nil, fmt.Errorf("chain %d: %w", ch.ID, err)
		}
		a.chains = append(a.chains, &chainRun{cfg: ch, src: src, sink: sink})
	}
	return a, nil
}

func (a *App) openNATS(ctx context.Context) (jetstream.JetStream, error) {
	n := a.cfg.NATS
	url := n.URL
	if url == "" {
		srv, err := bus.Embedded(ctx, bus.EmbeddedOptions{DataDir: n.Embedded.DataDir, Host: n.Embedded.Host, Port: n.Embedded.Port,
			Logger: a.log.With().Str("component", "nats").Logger()})
		if err != nil {
			return nil, fmt.Errorf("start embedded nats: %w", err)
		}
		a.closers = append(a.closers, srv.Shutdown)
		url = srv.ClientURL()
		a.log.Info().Str("url", url).Str("data_dir", n.Embedded.DataDir).Msg("embedded NATS with JetStream started")
	}
	nc, err := bus.Connect(ctx, bus.Options{URL: url, CredsFile: n.CredsFile, NKeySeedFile: n.NKeySeedFile, User: n.User,
		Password: n.Password, Token: n.Token, TLS: n.TLS, Name: "keywarden-indexer", Logger: a.log.With().Str("component", "nats").Logger()})
	if err != nil {
		return nil, fmt.Errorf("connect nats: %w", err)
	}
	a.closers = append(a.closers, func(context.Context) error { return drainConn(nc) })
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	return js, nil
}

func drainConn(nc *nats.Conn) error {
	if err := nc.Drain(); err != nil {
		nc.Close()
		return fmt.Errorf("drain nats connection: %w", err)
	}
	for i := 0; i < 100 && !nc.IsClosed(); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

// Run indexes every chain until ctx ends. A chain that stops for good (a reorg deeper than
// its window) stays stopped, is reported by Health, and does not stop the others.
func (a *App) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, c := range a.chains {
		wg.Add(1)
		go func(c *chainRun) {
			defer wg.Done()
			go a.watchCaughtUp(ctx, c)
			err := c.src.Run(ctx)
			if err != nil && ctx.Err() == nil {
				c.mu.Lock()
				c.err = err
				c.mu.Unlock()
				a.log.Error().Err(err).Uint64("chain_id", c.cfg.ID).Msg("chain stopped: indexing of this chain needs an operator")
			}
		}(c)
	}
	wg.Wait()
	return nil
}

func (a *App) watchCaughtUp(ctx context.Context, c *chainRun) {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if c.src.Status().CaughtUp {
				c.mu.Lock()
				first := !c.caughtUp
				c.caughtUp = true
				c.mu.Unlock()
				if first {
					a.log.Info().Uint64("chain_id", c.cfg.ID).Uint64("block_number", c.src.Status().Indexed).Msg("caught up with the head")
				}
				return
			}
		}
	}
}

// ChainHealth is one chain in /healthz and /readyz.
type ChainHealth struct {
	ChainID  uint64 `json:"chain_id"`
	Head     uint64 `json:"head"`
	Indexed  uint64 `json:"indexed"`
	Behind   uint64 `json:"behind"`
	CaughtUp bool   `json:"caught_up"`
	Error    string `json:"error,omitempty"`
}

// Health reports every chain; ok is false when one stopped for good.
func (a *App) Health() (chains []ChainHealth, healthy, ready bool) {
	healthy, ready = true, true
	for _, c := range a.chains {
		st := c.src.Status()
		c.mu.Lock()
		err, caught := c.err, c.caughtUp
		c.mu.Unlock()
		if err == nil {
			err = c.src.Health()
		}
		h := ChainHealth{ChainID: c.cfg.ID, Head: st.Head, Indexed: st.Indexed, CaughtUp: caught}
		if st.Head > st.Indexed {
			h.Behind = st.Head - st.Indexed
		}
		if err != nil {
			h.Error = err.Error()
			healthy = false
		}
		if !caught || err != nil {
			ready = false
		}
		chains = append(chains, h)
	}
	sort.Slice(chains, func(i, j int) bool { return chains[i].ChainID < chains[j].ChainID })
	return chains, healthy, ready
}

// Handler serves /metrics, /healthz (503 with the reason when a chain stopped) and /readyz
// (503 until every chain has caught up with its head).
func (a *App) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg}))
	write := func(w http.ResponseWriter, ok bool, chains []ChainHealth) {
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": ok, "chains": chains})
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		chains, healthy, _ := a.Health()
		write(w, healthy, chains)
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		chains, _, ready := a.Health()
		write(w, ready, chains)
	})
	return mux
}

// Close releases everything Open opened, in reverse order, and joins the errors.
func (a *App) Close(ctx context.Context) error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		if err := a.closers[i](ctx); err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	a.closers = nil
	return errors.Join(errs...)
}
