// Package keyscli is the people's command line for session keys: `enforcer keys
// list|show|add|remove|rotate|update|revoke-all`, the manual panic button of a security
// responder. cmd/enforcer calls Run with the arguments after "keys".
//
// Guarantees:
//   - Nothing is sent with --dry-run: the signed (or, without a signer, unsigned) user
//     operation is printed as bundler JSON with its hash.
//   - Keys are read from env:, file: or keystore: sources only, never from a flag value, and
//     never printed.
//   - Every failure exits non-zero with one line that names the user operation hash when
//     there is one.
package keyscli
