// Package sdkvectors gives tests the vendor SDK's own output to compare against.
//
// Load runs the pinned Node project under conformance/ (the vendor's @account-kit/smart-contracts,
// @aa-sdk/core and viem, at the versions in conformance/package-lock.json) once per test binary and
// returns its vectors: permission encodings from SessionKeyPermissionsBuilder, event logs encoded
// with the SDK's ABIs, the SDK ABI's topics and selectors, the call data of the SDK's session-key
// actions, its plugin-install payload and EntryPoint v0.6 user-op hashes.
//
// Guarantees:
//   - The vectors are a pure function of the seed and the lock file: the same seed always gives the
//     same vectors (a seed can be forced with KEYWARDEN_SDK_SEED to reproduce a failure).
//   - Every value in them was produced by the SDK or by viem at test time; nothing is copied in.
//   - A test never passes silently without them: when node or the npm packages are missing it fails
//     under CI=true and is skipped otherwise, in both cases with a message that says to run
//     `make deps`.
package sdkvectors
