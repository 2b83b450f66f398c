// Package userop is the ERC-4337 EntryPoint v0.6 user operation: its Go form, its JSON-RPC
// wire form, its hash and its signature.
//
// Guarantees:
//   - [UserOperation.Hash] equals EntryPoint v0.6 getUserOpHash(op) for the same entry point
//     and chain id (tested against the deployed EntryPoint).
//   - The wire form is the one bundlers speak: every quantity a 0x-prefixed hex number,
//     every byte string 0x-prefixed hex. Decoding ([Decode]) rejects unknown fields, missing
//     fields, quantities above 2^256-1 and malformed hex, and reports every bad field at once.
//   - [SignHash] produces the 65-byte r ‖ s ‖ v signature (v = 27 or 28) over the EIP-191
//     personal-sign digest of a user op hash that the Multi Owner plugin and the Session Key
//     Plugin verify. Private keys never appear in errors or text forms.
//   - No I/O.
package userop
