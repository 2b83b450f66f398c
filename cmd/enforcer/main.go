// Command enforcer evaluates keywarden's policies over the indexer's key states and removes,
// rotates or restricts session keys that breach them. `enforcer keys …` is the manual panic
// button for a responder (list, show, add, remove, rotate, update, revoke-all).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/keywarden/keywarden/internal/keyscli"
	"github.com/keywarden/keywarden/internal/logging"
	"github.com/keywarden/keywarden/pkg/actions"
	"github.com/keywarden/keywarden/pkg/bus"
	"github.com/keywarden/keywarden/pkg/enforcer"
	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/policy"
	"github.com/keywarden/keywarden/pkg/store"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "keys" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := keyscli.Run(ctx, os.Args[2:], os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("enforcer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "config/enforcer.yaml", "configuration file (YAML)")
	check := fs.Bool("check-config", false, "validate the configuration and the policies, print them with secrets redacted, and exit")
	mode := fs.String("mode", "", "override the mode: enforce, dry_run or approval")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: enforcer [flags]\n       enforcer keys <list|show|add|remove|rotate|update|revoke-all> [flags]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}

	cfg, err := enforcer.ReadConfig(*cfgPath)
	if err == nil {
		if *mode != "" {
			cfg.Mode = enforcer.Mode(*mode)
		}
		if verr := cfg.Validate(); verr != nil {
			err = fmt.Errorf("config %s: %w", *cfgPath, verr)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "enforcer:", err)
		return 2
	}
	policies, err := policy.LoadFile(cfg.Policies)
	if err != nil {
		fmt.Fprintln(stderr, "enforcer:", err)
		return 2
	}
	if *check {
		fmt.Fprint(stdout, cfg.Redacted())
		fmt.Fprintf(stdout, "# %d policies loaded from %s\n", len(policies.Policies), cfg.Policies)
		return 0
	}
	log := logging.New(cfg.Log, os.Stderr, "enforcer")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, policies, log); err != nil {
		log.Error().Err(err).Msg("enforcer stopped")
		return 1
	}
	log.Info().Msg("enforcer stopped")
	return 0
}

// serve wires the enforcer and runs it until ctx ends; shutdown goes in reverse order.
func serve(ctx context.Context, cfg enforcer.Config, policies *policy.Set, log zerolog.Logger) (err error) {
	var closers []func() error
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			err = errors.Join(err, closers[i]())
		}
	}()

	signer, err := actions.LoadSigner(actions.SignerSpec{Source: cfg.Signer, PasswordFile: cfg.SignerPwFile, PasswordEnv: cfg.SignerPwEnv})
	if err != nil {
		return fmt.Errorf("load signer: %w", err)
	}
	log.Info().Str("signer", signer.Address().Hex()).Str("mode", string(cfg.Mode)).Int("policies", len(policies.Policies)).Msg("starting")

	chains := map[uint64]enforcer.Chain{}
	for _, cc := range cfg.Chains {
		ch, closeChain, err := dialChain(ctx, cc, signer, log)
		if err != nil {
			return err
		}
		closers = append(closers, closeChain)
		chains[cc.ID] = ch
	}

	nc, closeNATS, err := connectNATS(ctx, cfg, log)
	if err != nil {
		return err
	}
	closers = append(closers, closeNATS)
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("open jetstream: %w", err)
	}
	if _, err := bus.EnsureStream(ctx, js, bus.StreamOptions{}); err != nil {
		return err
	}
	ledger, err := bus.NewActionStore(ctx, js, bus.KVOptions{})
	if err != nil {
		return err
	}
	locks, err := bus.NewLocker(ctx, js, bus.KVOptions{})
	if err != nil {
		return err
	}

	stOpts := store.Options{Addrs: cfg.ClickHouse.Addrs, Database: cfg.ClickHouse.Database, CreateDatabase: true,
		Username: cfg.ClickHouse.Username, Password: cfg.ClickHouse.Password}
	if cfg.ClickHouse.TLS {
		stOpts.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	st, err := store.Open(ctx, stOpts)
	if err != nil {
		return err
	}
	closers = append(closers, st.Close)
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	conn := st.Conn()
	audit := enforcer.Audits{enforcer.ClickHouseAudit{Conn: conn}, enforcer.NATSAudit{JS: js}}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := enforcer.NewMetrics(reg)
	var notifier enforcer.Notifier
	if cfg.Webhook.URL != "" {
		notifier = enforcer.NewWebhook(cfg.Webhook.URL, []byte(cfg.Webhook.Secret))
	}
	enf, err := enforcer.New(enforcer.Options{Policies: policies, Mode: cfg.Mode, Chains: chains, Audit: audit, Ledger: ledger,
		Locks: locks, Agent: enforcer.NATSAgent{NC: nc}, Notifier: notifier, Metrics: metrics, Instance: cfg.Instance,
		AgentTimeout: cfg.Rotation.AgentTimeout, ReceiptTimeout: cfg.Retry.ReceiptTimeout, Attempts: cfg.Retry.Attempts,
		Backoff: cfg.Retry.Backoff, ApprovalTTL: cfg.Approval.TTL, Logger: log})
	if err != nil {
		return err
	}
	if err := enf.LoadExpiring(ctx, enforcer.StoreKeys{Store: st, Chains: chainIDs(cfg)}); err != nil {
		log.Warn().Err(err).Msg("expiry watch starts empty: key states could not be read from ClickHouse")
	}
	subs, err := enf.ServeApprovals(ctx, nc)
	if err != nil {
		return fmt.Errorf("serve approvals: %w", err)
	}
	closers = append(closers, func() error {
		for _, s := range subs {
			_ = s.Unsubscribe()
		}
		return nil
	})

	consumer, err := bus.NewConsumer(ctx, js, bus.ConsumerOptions{Durable: cfg.Consumer.Durable, AckWait: cfg.Consumer.AckWait,
		MaxDeliver: cfg.Consumer.MaxDeliver, Logger: log})
	if err != nil {
		return err
	}
	handle, err := consumer.Consume(ctx, enf.Handle)
	if err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if nc.Status() != nats.CONNECTED {
			http.Error(w, "nats: "+nc.Status().String(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ready\n")) })
	mux.Handle("/actions/", enf.ApprovalHandler())
	srv := &http.Server{Addr: cfg.HTTP.Listen, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	httpErr := make(chan error, 1)
	go func() { httpErr <- srv.ListenAndServe() }()

	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() { defer close(watchDone); _ = enf.RunExpiryWatch(watchCtx) }()
	log.Info().Str("http", cfg.HTTP.Listen).Msg("running")

	select {
	case <-ctx.Done():
	case err := <-httpErr:
		if !errors.Is(err, http.ErrServerClosed) {
			stopWatch()
			handle.Stop()
			return fmt.Errorf("http server: %w", err)
		}
	}
	log.Info().Msg("shutting down")
	handle.Drain()
	select {
	case <-handle.Closed():
	case <-time.After(10 * time.Second):
		handle.Stop()
	}
	stopWatch()
	<-watchDone
	sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

func dialChain(ctx context.Context, cc enforcer.ChainConfig, signer actions.Signer, log zerolog.Logger) (enforcer.Chain, func() error, error) {
	node, err := ethclient.DialContext(ctx, cc.RPCURL)
	if err != nil {
		return nil, nil, fmt.Errorf("dial chain %d: %w", cc.ID, err)
	}
	entryPoint := events.EntryPointV06
	if cc.EntryPoint != "" {
		entryPoint = events.HexToAddress(cc.EntryPoint)
	}
	multiOwner := events.MultiOwnerPlugin
	if cc.MultiOwner != "" {
		multiOwner = events.HexToAddress(cc.MultiOwner)
	}
	chainID := new(big.Int).SetUint64(cc.ID)
	bundler, err := actions.DialBundler(ctx, cc.BundlerURL, entryPoint.Common(), chainID)
	if err != nil {
		node.Close()
		return nil, nil, fmt.Errorf("dial bundler of chain %d: %w", cc.ID, err)
	}
	plugins := cc.Plugins
	if len(plugins) == 0 {
		plugins = []string{events.SessionKeyPluginV101.Hex(), events.SessionKeyPluginV100.Hex()}
	}
	ac := &enforcer.ActionsChain{ID: cc.ID, Node: node, Clients: map[events.Address]*actions.Client{},
		Guards: map[events.Address]actions.Signer{}}
	for _, p := range plugins {
		plugin := events.HexToAddress(p)
		cl, err := actions.NewClient(actions.Options{Node: node, Submitter: bundler, ChainID: chainID, Logger: log,
			Addresses: actions.Addresses{SessionKeyPlugin: plugin.Common(), MultiOwner: multiOwner.Common(), EntryPoint: entryPoint.Common()}})
		if err != nil {
			return nil, nil, err
		}
		ac.Clients[plugin] = cl
		// The guard signs only remove, rotate and update-permissions calls, and only when the
		// account routes them to this plugin.
		guard, err := actions.NewGuard(signer, actions.GuardOptions{EntryPoint: entryPoint.Common(), ChainID: chainID, Routes: cl.Reader})
		if err != nil {
			return nil, nil, err
		}
		ac.Guards[plugin] = guard
		ac.Owner = guard
	}
	return ac, func() error { bundler.Close(); node.Close(); return nil }, nil
}

func connectNATS(ctx context.Context, cfg enforcer.Config, log zerolog.Logger) (*nats.Conn, func() error, error) {
	opts := cfg.NATS.Options
	opts.Name = "keywarden-enforcer"
	opts.Logger = log
	var embedded *bus.EmbeddedServer
	if opts.URL == "" {
		var err error
		embedded, err = bus.Embedded(ctx, bus.EmbeddedOptions{DataDir: filepath.Clean(cfg.NATS.EmbeddedDir), Logger: log})
		if err != nil {
			return nil, nil, err
		}
		opts.URL = embedded.ClientURL()
		log.Info().Str("url", opts.URL).Msg("embedded NATS server started")
	}
	nc, err := bus.Connect(ctx, opts)
	if err != nil {
		if embedded != nil {
			_ = embedded.Shutdown(context.Background())
		}
		return nil, nil, err
	}
	return nc, func() error {
		err := nc.Drain()
		if embedded != nil {
			err = errors.Join(err, embedded.Shutdown(context.Background()))
		}
		return err
	}, nil
}

func chainIDs(cfg enforcer.Config) []uint64 {
	ids := make([]uint64, 0, len(cfg.Chains))
	for _, c := range cfg.Chains {
		ids = append(ids, c.ID)
	}
	return ids
}
