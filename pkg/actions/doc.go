// Package actions is keywarden's Go client for Modular Account v1 and its Session Key Plugin:
// everything the vendor's TypeScript SDK offers (install the plugin, add, remove, rotate and
// update keys, execute with a session key, list keys, is-session-key, installed plugins, the
// permission getters, the permissions builder), as ERC-4337 EntryPoint v0.6 user operations.
//
// Guarantees:
//   - Call data is byte for byte what the SDK sends: the plugin's functions are the user
//     operation's callData, with no execute wrapper; the install payload is the SDK's
//     (initial keys, tags, permissions; dependencies Multi Owner ‖ 0x00 and ‖ 0x01; the
//     manifest hash read from pluginManifest() and hashed, or given). PermissionsBuilder
//     emits the SDK builder's updates in the SDK's order. Conformance tests compare both with
//     vectors the SDK generates at test time.
//   - User operation hashes are EntryPoint v0.6 getUserOpHash; owner and session-key
//     signatures are the 65-byte EIP-191 personal-sign form the plugins recover.
//   - Remove and rotate read the key's predecessor right before building the operation;
//     Batch computes each predecessor from the list as the earlier steps leave it.
//   - Every failure of a submitted operation is typed and carries its hash: *AAError for
//     ERC-4337 AAxx codes (from a bundler or from the EntryPoint's FailedOp), and *OpError
//     wrapping ErrRejected, ErrTimeout, ErrDropped or ErrReverted. Waiting is bounded by a
//     deadline.
//   - Private keys never appear in logs, errors, JSON or any fmt verb: KeySigner prints its
//     address only.
//   - Guard signs only operations whose callData is in its allowed set (for the enforcer:
//     removeSessionKey, rotateSessionKey and updateKeyPermissions on the account, or an
//     executeBatch of only those as self-calls), never a bare hash, and refuses everything
//     else with a *GuardError.
//
// Where the account does not allow Batch: executeWithSessionKey can never be part of one (its
// runtime path has an always-deny hook), and calls to the plugin's address itself are
// refused by the account (PluginCallDenied); management calls go to the account, which
// routes them. The steps of a batch succeed or revert together.
package actions
