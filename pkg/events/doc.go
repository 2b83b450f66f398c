// Package events holds keywarden's domain types and their wire form.
//
// Guarantees:
//   - One identity per on-chain log: (chain id, block hash, log index), rendered by [Position.ID]
//     as "chain:block_hash:log_index". Every store and message uses it.
//   - The wire form is JSON with explicit snake_case names, a schema version ([SchemaVersion]),
//     uint256 values as decimal strings, addresses in EIP-55 checksum form. Decoding rejects
//     values out of range (a uint256 above 2^256-1, a negative number, a malformed address)
//     rather than wrapping them.
//   - [Permissions.Apply] folds permission updates exactly as the Session Key Plugin v1.0.x
//     stores them (docs/architecture.md lists the sources), and [AccountKeys.Apply] folds the plugin's events into
//     the key list of one account, including rotation, removal and the newest-first order that
//     sessionKeysOf returns. Updates the plugin would have reverted are reported as errors and
//     leave the state unchanged.
//   - No I/O. Everything here is pure and safe to use from any package.
package events
