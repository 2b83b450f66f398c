// Package conformance holds keywarden's conformance tests against the vendor's TypeScript SDK.
//
// The tests (conformance_test) run the pinned Node project in this directory (package.json,
// package-lock.json, gen.mjs) through internal/sdkvectors and hold keywarden to it:
//   - pkg/decoder decodes every SDK-built permission encoding and every SDK-ABI-encoded log into
//     exactly the SDK's inputs, field by field, and pkg/events re-encodes them to the SDK's bytes;
//   - every topic, selector, signature and address constant in pkg/events matches the SDK's ABIs
//     and deployment tables.
//
// The package has no non-test code; README.md documents the vector schema.
package conformance
