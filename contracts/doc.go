// Package contracts carries keywarden's Solidity stand-ins for Modular Account v1, its Multi Owner and Session
// Key plugins and the account factory, plus a test ERC-20 and a test call target, as compiled artifacts.
//
// Guarantees:
//   - Every artifact named by the Name constants is embedded in the binary: Artifact never touches the
//     filesystem, and a missing or malformed embedded artifact is a build defect reported as an error.
//   - The stand-ins' function selectors, event topics and custom errors equal the vendor's where keywarden can
//     observe them (tests compare them with pkg/events and the vendor SDK's ABI), and the Session Key Plugin's
//     manifest hashes to the vendor's value.
//   - The EntryPoint v0.6.0 bytecode is never embedded or committed: EntryPoint reads it at run time from the
//     artifact `make contracts` copies out of the pinned npm package, and says how to produce it when absent.
//   - Deploy puts a complete, wired set of contracts on any go-ethereum compatible backend and reports the gas
//     each deployment used.
package contracts
