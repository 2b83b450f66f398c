// Command devchain runs keywarden's dev chain (go-ethereum's simulated backend with the
// Modular Account stand-ins, the Session Key Plugin and EntryPoint v0.6 deployed) and its
// local bundler, for people, demos and benchmarks. Never for production.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/keywarden/keywarden/pkg/devchain"
	"github.com/rs/zerolog"
)

// Info is what devchain prints and writes with -o.
type Info struct {
	HTTPURL    string             `json:"http_url"`
	WSURL      string             `json:"ws_url"`
	BundlerURL string             `json:"bundler_url"`
	ChainID    uint64             `json:"chain_id"`
	Contracts  devchain.Addresses `json:"contracts"`
	// FundedKeys are throwaway dev keys, deterministic across runs: never use them elsewhere.
	FundedKeys []FundedKey `json:"funded_keys"`
	Note       string      `json:"note"`
}

// FundedKey is one funded dev EOA.
type FundedKey struct {
	Address    common.Address `json:"address"`
	PrivateKey string         `json:"private_key"`
	Role       string         `json:"role,omitempty"`
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("devchain", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		out       = fs.String("o", "", "also write the endpoints, contracts and dev keys as JSON to this file")
		blockTime = fs.Duration("block-time", time.Second, "seal a block this often; 0 seals only on demand (the bundler and -scenario seal their own blocks)")
		keys      = fs.Int("keys", 8, "funded dev keys (key 0 deploys, the last is the bundler's beneficiary, the others own scenario accounts)")
		gasLimit  = fs.Uint64("gas-limit", 500_000_000, "block gas limit")
		scenario  = fs.String("scenario", "", "generate session-key events after start (syntax below)")
		exit      = fs.Bool("exit-after-scenario", false, "exit once the scenario is done instead of serving until interrupted")
		level     = fs.String("log-level", "info", "log level: debug, info, warn, error")
	)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: devchain [flags]\n\nRuns a local chain with keywarden's contracts and a bundler on 127.0.0.1.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\n-scenario: %s\n", devchain.ScenarioHelp)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	lvl, err := zerolog.ParseLevel(*level)
	if err != nil {
		fmt.Fprintf(stderr, "devchain: -log-level: %v\n", err)
		return 2
	}
	log := zerolog.New(zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly}).Level(lvl).With().Timestamp().Logger()
	var sc devchain.Scenario
	if *scenario != "" {
		if sc, err = devchain.ParseScenario(*scenario); err != nil {
			fmt.Fprintf(stderr, "devchain: -scenario: %v\n", err)
			return 2
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The scenario seals its own blocks as fast as it can; auto-mining starts after it.
	startBlockTime := *blockTime
	if *scenario != "" && sc.Rate == 0 {
		startBlockTime = 0
	}
	chain, err := devchain.Start(ctx, devchain.Options{Logger: log, FundedKeys: *keys, BlockGasLimit: *gasLimit, BlockTime: startBlockTime})
	if err != nil {
		log.Error().Err(err).Msg("start")
		return 1
	}
	defer func() {
		if err := chain.Close(); err != nil {
			log.Error().Err(err).Msg("close")
		}
	}()
	info := describe(chain)
	b, _ := json.MarshalIndent(info, "", "  ")
	fmt.Fprintln(stdout, string(b))
	if *out != "" {
		if err := os.WriteFile(*out, append(b, '\n'), 0o600); err != nil {
			log.Error().Err(err).Str("file", *out).Msg("write info")
			return 1
		}
	}

	if *scenario != "" {
		log.Info().Str("scenario", sc.String()).Msg("scenario started")
		last := time.Now()
		st, err := chain.RunScenario(ctx, sc, func(s devchain.ScenarioStats) {
			if time.Since(last) >= 2*time.Second {
				last = time.Now()
				log.Info().Int("events", s.Events).Int("blocks", s.Blocks).Int("txs", s.Transactions).
					Str("events_per_s", fmt.Sprintf("%.0f", s.EventsPerSecond())).Msg("scenario progress")
			}
		})
		if err != nil {
			log.Error().Err(err).Msg("scenario")
			return 1
		}
		load := st.Elapsed - st.Setup
		loadRate := 0.0
		if load > 0 {
			loadRate = float64(st.Events-st.SetupEvents) / load.Seconds()
		}
		log.Info().Int("events", st.Events).Int("setup_events", st.SetupEvents).Int("blocks", st.Blocks).
			Int("txs", st.Transactions).Uint64("gas_used", st.GasUsed).Dur("elapsed", st.Elapsed).Dur("setup", st.Setup).
			Str("events_per_s", fmt.Sprintf("%.0f", st.EventsPerSecond())).
			Str("load_events_per_s", fmt.Sprintf("%.0f", loadRate)).Msg("scenario done")
		fmt.Fprintf(stdout, "scenario: %d session-key events in %s: %.0f events/s (load phase %.0f events/s, %d blocks, %d txs)\n",
			st.Events, st.Elapsed.Round(time.Millisecond), st.EventsPerSecond(), loadRate, st.Blocks, st.Transactions)
		if *exit {
			return 0
		}
		if *blockTime > 0 && startBlockTime == 0 {
			chain.AutoMine(*blockTime)
		}
	}
	log.Info().Str("http", chain.HTTPURL).Str("bundler", chain.BundlerURL).Msg("serving; interrupt to stop")
	<-ctx.Done()
	return 0
}

func describe(c *devchain.Chain) Info {
	info := Info{
		HTTPURL: c.HTTPURL, WSURL: c.WSURL, BundlerURL: c.BundlerURL, ChainID: c.ChainID.Uint64(),
		Contracts: c.Addresses,
		Note:      "dev chain only: the funded keys are public and deterministic; the contract addresses differ from the canonical ones",
	}
	for i, k := range c.Keys {
		fk := FundedKey{Address: devchain.Address(k), PrivateKey: hexutil.Encode(crypto.FromECDSA(k))}
		switch i {
		case 0:
			fk.Role = "deployer"
		case len(c.Keys) - 1:
			fk.Role = "bundler beneficiary"
		}
		info.FundedKeys = append(info.FundedKeys, fk)
	}
	return info
}
