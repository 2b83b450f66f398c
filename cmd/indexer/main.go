// Command indexer follows the Session Key Plugin's logs on every configured chain into
// ClickHouse and NATS JetStream (see pkg/indexer). It holds no business logic: it reads the
// configuration, sets up logging and signals, and runs the indexer and its HTTP endpoints as a
// run group until SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/keywarden/keywarden/internal/logging"
	"github.com/keywarden/keywarden/pkg/indexer"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("indexer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "config/indexer.yaml", "configuration file (YAML)")
	check := fs.Bool("check-config", false, "validate the configuration, print it with secrets redacted, and exit")
	listen := fs.String("listen", "", "address of /metrics, /healthz and /readyz (overrides http.listen)")
	level := fs.String("log-level", "", "trace, debug, info, warn or error (overrides log.level)")
	format := fs.String("log-format", "", "auto, json or console (overrides log.format)")
	natsURL := fs.String("nats-url", "", "external NATS URL (overrides nats.url and "+indexer.EnvNATSURL+")")
	dataDir := fs.String("data-dir", "", "data directory of the embedded NATS server (overrides nats.embedded.data_dir)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := indexer.LoadConfig(*path)
	if err == nil {
		flagOverrides(&cfg, *listen, *level, *format, *natsURL, *dataDir)
		err = cfg.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "indexer: %v\n", err)
		return 2
	}
	if *check {
		fmt.Fprintf(stdout, "# %s: valid\n%s", *path, cfg.Redacted().YAML())
		return 0
	}
	log := logging.New(cfg.Log, stderr, "indexer")
	if err := serve(cfg, log); err != nil {
		log.Error().Err(err).Msg("indexer stopped")
		return 1
	}
	return 0
}

func flagOverrides(c *indexer.Config, listen, level, format, natsURL, dataDir string) {
	if listen != "" {
		c.HTTP.Listen = listen
	}
	if level != "" {
		c.Log.Level = level
	}
	if format != "" {
		c.Log.Format = format
	}
	if natsURL != "" {
		c.NATS.URL = natsURL
	}
	if dataDir != "" {
		c.NATS.Embedded.DataDir = dataDir
	}
}

// actor is one member of the run group: execute runs until done, interrupt makes it return.
type actor struct {
	name      string
	execute   func() error
	interrupt func(error)
}

// runGroup runs every actor; when the first returns, every other one is interrupted. It
// returns the first actor's error once all have returned, or after grace.
func runGroup(actors []actor, grace time.Duration, log zerolog.Logger) error {
	type result struct {
		name string
		err  error
	}
	done := make(chan result, len(actors))
	for _, a := range actors {
		go func(a actor) { done <- result{a.name, a.execute()} }(a)
	}
	first := <-done
	log.Info().Str("actor", first.name).AnErr("reason", first.err).Msg("shutting down")
	for _, a := range actors {
		a.interrupt(first.err)
	}
	timeout := time.After(grace)
	for i := 1; i < len(actors); i++ {
		select {
		case r := <-done:
			if r.err != nil {
				log.Warn().Err(r.err).Str("actor", r.name).Msg("stopped with an error")
			}
		case <-timeout:
			return fmt.Errorf("shutdown: %d actors still running after %s", len(actors)-i, grace)
		}
	}
	return first.err
}

var errSignal = errors.New("signal")

func serve(cfg indexer.Config, log zerolog.Logger) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Open is interruptible too: a SIGTERM while connecting exits at once.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	app, err := indexer.Open(ctx, cfg, indexer.AppOptions{Logger: log})
	if err != nil {
		return err
	}
	defer func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer ccancel()
		if err := app.Close(cctx); err != nil {
			log.Warn().Err(err).Msg("close")
		}
	}()
	if ctx.Err() != nil {
		return nil
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.HTTP.Listen, err)
	}
	srv := &http.Server{Handler: app.Handler(), ReadHeaderTimeout: 5 * time.Second}
	log.Info().Str("listen", ln.Addr().String()).Int("chains", len(cfg.Chains)).Msg("indexer started")

	runCtx, stopRun := context.WithCancel(ctx)
	stopSignals := make(chan struct{})
	actors := []actor{
		{"signals", func() error {
			select {
			case <-ctx.Done():
				return errSignal
			case <-stopSignals:
				return nil
			}
		}, func(error) { close(stopSignals) }},
		{"indexer", func() error { return app.Run(runCtx) }, func(error) { stopRun() }},
		{"http", func() error {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}, func(error) {
			sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer scancel()
			_ = srv.Shutdown(sctx)
		}},
	}
	err = runGroup(actors, cfg.ShutdownTimeout, log)
	if errors.Is(err, errSignal) {
		return nil
	}
	return err
}
