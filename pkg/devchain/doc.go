// Package devchain is keywarden's local chain for tests, benchmarks and demos: go-ethereum's
// simulated backend with the Modular Account stand-ins, the Session Key Plugin, the Multi
// Owner plugin, the factory, a test ERC-20 and target, and EntryPoint v0.6 deployed, served
// over JSON-RPC on loopback, plus a local bundler. Never used in production paths.
//
// Guarantees:
//   - [Start] returns a chain whose HTTP and WebSocket JSON-RPC (eth, net, web3) listen on
//     127.0.0.1 only, with every contract deployed and [Chain.Addresses] saying where (not at
//     the canonical mainnet addresses). The chain follows mainnet's current rules (Osaka,
//     including the 2^24 per-transaction gas cap); chain id 1337.
//   - The funded keys are deterministic and public: dev use only.
//   - Sealing is serialised: [Chain.Commit], [Chain.AdjustTime], [Chain.Reorg], the
//     auto-miner and every helper may be used from several goroutines at once. Helpers that
//     wait for inclusion seal a block themselves unless auto-mining is on, in which case they
//     wait for the auto-miner.
//   - [Chain.Reorg] replaces the newest blocks so that, for every JSON-RPC reader, the logs of
//     the replaced blocks are gone from eth_getLogs range queries and the replaced heights
//     resolve to the new blocks (see its documentation for what a reader still sees).
//   - Helpers that transact return an error for a reverted transaction, with the decoded
//     custom error when the call can be replayed ([RevertError]).
//   - The local bundler (package bundler) validates user operations with the EntryPoint before
//     bundling them and refuses invalid ones with the error codes real bundlers use.
//   - [Chain.RunScenario] emits exactly the session-key events its statistics report, every
//     transaction checked for success.
package devchain
