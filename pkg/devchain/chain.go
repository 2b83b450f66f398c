package devchain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/eth/ethconfig"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
	"github.com/ethereum/go-ethereum/node"
	"github.com/rs/zerolog"
)

// Options configures [Start]. The zero value is usable.
type Options struct {
	// Logger receives the chain's and the bundler's logs. The zero logger discards them.
	Logger zerolog.Logger
	// FundedKeys is how many EOAs the genesis funds (default 4, at least 2: the first is the
	// deployer, the last is the bundler's beneficiary).
	FundedKeys int
	// BlockGasLimit is the gas limit of every block (default 500,000,000). Transactions are
	// still capped at 2^24 gas each (EIP-7825, active on the dev chain).
	BlockGasLimit uint64
	// BlockTime, when positive, starts [Chain.AutoMine] with this period right away.
	BlockTime time.Duration
	// NoBundler skips the local bundler endpoint.
	NoBundler bool
}

// Addresses are where the contracts live on the dev chain. They differ from the canonical
// mainnet addresses (events.SessionKeyPluginV101 and the others): a consumer that watches
// the dev chain must be configured with these.
type Addresses struct {
	EntryPoint            common.Address `json:"entry_point"`
	MultiOwnerPlugin      common.Address `json:"multi_owner_plugin"`
	SessionKeyPlugin      common.Address `json:"session_key_plugin"`
	AccountImplementation common.Address `json:"account_implementation"`
	Factory               common.Address `json:"factory"`
	TestERC20             common.Address `json:"test_erc20"`
	TestTarget            common.Address `json:"test_target"`
}

// Chain is a running dev chain. Its methods are safe for concurrent use.
type Chain struct {
	// HTTPURL and WSURL serve the chain's JSON-RPC (eth, net, web3) on 127.0.0.1.
	HTTPURL, WSURL string
	// BundlerURL is the local bundler's JSON-RPC endpoint ("" with Options.NoBundler).
	BundlerURL string
	// ChainID is the chain id (the simulated backend always uses 1337).
	ChainID *big.Int
	// Addresses of the deployed contracts.
	Addresses Addresses
	// Keys are the funded EOAs, deterministic across runs. Dev use only: never reuse them.
	Keys []*ecdsa.PrivateKey

	log     zerolog.Logger
	backend *simulated.Backend
	client  simulated.Client
	gasCap  uint64

	// mineMu serialises everything that seals or rewinds blocks: the simulated backend is
	// not safe for concurrent Commit, Fork or AdjustTime.
	mineMu sync.Mutex
	// sendMu serialises nonce assignment per sender.
	sendMu   sync.Mutex
	senders  map[common.Address]*senderLock
	autoMu   sync.Mutex
	auto     *AutoMiner
	bundler  bundlerHandle
	closeMu  sync.Mutex
	closed   bool
	abis     *abis
	bc       bundlerClient
	deployer *ecdsa.PrivateKey
}

type bundlerHandle interface {
	Close() error
}

// DevKey returns the i-th deterministic dev key (the same on every run).
func DevKey(i int) *ecdsa.PrivateKey {
	seed := crypto.Keccak256([]byte("keywarden devchain key " + strconv.Itoa(i)))
	k, err := crypto.ToECDSA(seed)
	if err != nil {
		panic(err) // a keccak output is a valid secp256k1 scalar with overwhelming probability
	}
	return k
}

// Address returns the address of key.
func Address(key *ecdsa.PrivateKey) common.Address { return crypto.PubkeyToAddress(key.PublicKey) }

var genesisBalance = new(big.Int).Mul(big.NewInt(1e18), big.NewInt(1e12)) // 10^12 ETH each

// Start starts a dev chain, serves it over HTTP and WebSocket on 127.0.0.1, deploys the
// contracts and, unless disabled, starts the local bundler. Close releases everything.
func Start(ctx context.Context, opts Options) (*Chain, error) {
	if opts.FundedKeys == 0 {
		opts.FundedKeys = 4
	}
	if opts.FundedKeys < 2 {
		return nil, errors.New("start devchain: need at least 2 funded keys")
	}
	if opts.BlockGasLimit == 0 {
		opts.BlockGasLimit = 500_000_000
	}
	c := &Chain{log: opts.Logger.With().Str("component", "devchain").Logger(), senders: map[common.Address]*senderLock{}}
	alloc := types.GenesisAlloc{}
	for i := 0; i < opts.FundedKeys; i++ {
		k := DevKey(i)
		c.Keys = append(c.Keys, k)
		alloc[Address(k)] = types.Account{Balance: genesisBalance}
	}
	c.deployer = c.Keys[0]
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		var port int
		port, err = freePort()
		if err != nil {
			break
		}
		c.backend, err = newBackend(alloc, port, opts.BlockGasLimit)
		if err == nil {
			c.HTTPURL = fmt.Sprintf("http://127.0.0.1:%d", port)
			c.WSURL = fmt.Sprintf("ws://127.0.0.1:%d", port)
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("start devchain: %w", err)
	}
	c.client = c.backend.Client()
	c.gasCap = 1 << 24
	if c.ChainID, err = c.client.ChainID(ctx); err != nil {
		c.backend.Close()
		return nil, fmt.Errorf("start devchain: read chain id: %w", err)
	}
	if err := c.deploy(ctx); err != nil {
		c.backend.Close()
		return nil, fmt.Errorf("start devchain: %w", err)
	}
	if !opts.NoBundler {
		if err := c.startBundler(ctx); err != nil {
			c.backend.Close()
			return nil, fmt.Errorf("start devchain: %w", err)
		}
	}
	if opts.BlockTime > 0 {
		c.AutoMine(opts.BlockTime)
	}
	c.log.Info().Str("http", c.HTTPURL).Str("bundler", c.BundlerURL).Msg("dev chain started")
	return c, nil
}

// newBackend builds the simulated backend with HTTP and WS served on one loopback port.
// NewBackend panics when the node cannot start (a port taken meanwhile): turn it into an error.
func newBackend(alloc types.GenesisAlloc, port int, gasLimit uint64) (b *simulated.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("start simulated backend on port %d: %v", port, r)
		}
	}()
	b = simulated.NewBackend(alloc, simulated.WithBlockGasLimit(gasLimit), func(nc *node.Config, ec *ethconfig.Config) {
		nc.HTTPHost, nc.HTTPPort = "127.0.0.1", port
		nc.WSHost, nc.WSPort = "127.0.0.1", port
		nc.HTTPModules = []string{"eth", "net", "web3"}
		nc.WSModules = []string{"eth", "net", "web3"}
		nc.HTTPVirtualHosts = []string{"localhost", "127.0.0.1"}
		nc.WSOrigins = []string{"*"}
		nc.AuthPort = 0
		nc.BatchRequestLimit = 10000
		nc.BatchResponseMaxSize = 256 << 20
		// Mainnet rules (Osaka): the dev config also enables the unreleased Bogota/Amsterdam
		// gas schedule (EIP-8037/8038), which prices new storage several times higher.
		cfg := *ec.Genesis.Config
		cfg.AmsterdamTime, cfg.BogotaTime = nil, nil
		ec.Genesis.Config = &cfg
		// Keep the simulated backend's unindexed log search: with the log index, eth_getLogs
		// waits for the indexer to reach the head, which it may never do while blocks are
		// sealed every few milliseconds.
		ec.RPCGasCap = 0
		ec.TxPool.GlobalSlots = 1 << 16
		ec.TxPool.AccountSlots = 1 << 14
		ec.TxPool.GlobalQueue = 1 << 14
		ec.TxPool.AccountQueue = 1 << 12
	})
	return b, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Client returns an in-process client of the chain (faster than HTTPURL, same data).
func (c *Chain) Client() simulated.Client { return c.client }

// Close stops auto-mining, the bundler and the chain.
func (c *Chain) Close() error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.StopAutoMine()
	var errs []error
	if c.bc.c != nil {
		c.bc.c.Close()
	}
	if c.bundler != nil {
		errs = append(errs, c.bundler.Close())
	}
	c.mineMu.Lock()
	errs = append(errs, c.backend.Close())
	c.mineMu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close devchain: %w", err)
	}
	return nil
}

// Commit seals one block with every pending transaction (up to the block gas limit) and
// returns its hash.
func (c *Chain) Commit() common.Hash {
	c.mineMu.Lock()
	defer c.mineMu.Unlock()
	return c.backend.Commit()
}

// AdjustTime seals an empty block whose timestamp is d later than the current head's.
// Pending transactions are sealed first, in blocks of their own (the simulated backend only
// moves time on an empty block).
func (c *Chain) AdjustTime(d time.Duration) error {
	c.mineMu.Lock()
	defer c.mineMu.Unlock()
	var err error
	for i := 0; i < 20; i++ {
		if err = c.backend.AdjustTime(d); err == nil {
			return nil
		}
		c.backend.Commit()
	}
	return fmt.Errorf("adjust time: %w", err)
}

// AutoMiner seals a block every period until stopped.
type AutoMiner struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Stop stops sealing and waits for the loop to end. Safe to call more than once.
func (a *AutoMiner) Stop() {
	a.once.Do(func() { close(a.stop) })
	<-a.done
}

// AutoMine seals a block every period (empty blocks too, as a real chain does), replacing
// any auto-miner already running. Helpers then wait for inclusion instead of mining.
func (c *Chain) AutoMine(every time.Duration) *AutoMiner {
	c.StopAutoMine()
	a := &AutoMiner{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-a.stop:
				return
			case <-t.C:
				c.Commit()
			}
		}
	}()
	c.autoMu.Lock()
	c.auto = a
	c.autoMu.Unlock()
	return a
}

// StopAutoMine stops the running auto-miner, if any.
func (c *Chain) StopAutoMine() {
	c.autoMu.Lock()
	a := c.auto
	c.auto = nil
	c.autoMu.Unlock()
	if a != nil {
		a.Stop()
	}
}

func (c *Chain) autoMining() bool {
	c.autoMu.Lock()
	defer c.autoMu.Unlock()
	return c.auto != nil
}
