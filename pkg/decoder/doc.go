// Package decoder turns raw go-ethereum logs into keywarden events.
//
// Guarantees:
//   - [Decode] accepts exactly the logs the contracts emit: the eight kinds of pkg/events
//     (the Session Key Plugin's four events, the account's PluginInstalled and
//     PluginUninstalled, the Multi Owner plugin's OwnerUpdated and the EntryPoint v0.6
//     UserOperationEvent), with every permission update inside PermissionsUpdated typed.
//   - A log whose topic0 is not one of those returns [ErrNotOurs]; the caller ignores it.
//   - Anything else that does not match the canonical ABI encoding Solidity emits (wrong topic
//     count, short data, non-canonical or out-of-range offsets and lengths, dirty padding,
//     values out of their type's range, unknown update selectors, trailing bytes) returns an
//     [*Error] with a stable [Reason], the field and the byte offset. [Failure] turns it into
//     the record form that is stored and published; malformed logs are never dropped.
//   - No input panics, whatever its lengths claim (they may claim 2^256 bytes).
//   - What decodes re-encodes to the same bytes: for a decoded PermissionsUpdated,
//     events.EncodeUpdates plus the ABI bytes[] encoding gives back the log's data.
//   - Values are exact: log indexes up to 2^64-1, uint256 values up to 2^256-1.
//   - Pure and allocation-light; safe for concurrent use.
package decoder
