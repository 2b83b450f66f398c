// Package bundler is a local ERC-4337 bundler for EntryPoint v0.6, for the dev chain only.
//
// Guarantees:
//   - It speaks the bundler JSON-RPC methods eth_sendUserOperation, eth_estimateUserOperationGas,
//     eth_getUserOperationReceipt, eth_getUserOperationByHash, eth_supportedEntryPoints and
//     eth_chainId over HTTP on a loopback address.
//   - eth_sendUserOperation simulates validation with the EntryPoint's simulateValidation first
//     and refuses an operation with the error codes of ERC-7769 (the bundler RPC spec):
//     -32602 for malformed or missing fields or an unsupported entry point, -32500 with the
//     EntryPoint's "AAxx ..." FailedOp reason, -32501 when the paymaster refused, -32503 when
//     the validity window excludes the current block time, -32507 when the signature check
//     failed. Only a valid operation is bundled (handleOps from the beneficiary), and the call
//     returns once the bundle is mined: its hash is then answerable by the other methods.
//   - Receipts and lookups are read from the chain as it stands (UserOperationEvent logs and
//     the handleOps input), never from memory: after a reorg they describe the new branch.
//   - Each operation is bundled alone; no mempool, no reputation, no opcode rules.
package bundler
