// Package rpcproxy is a fault-injecting JSON-RPC reverse proxy for tests. It listens on
// 127.0.0.1 in front of a real node and passes every request through until a test switches a
// fault on, at run time and from any goroutine.
//
// Guarantees:
//   - With no fault set, a request (single or batch) reaches the node unchanged and its answer
//     comes back unchanged.
//   - A fault applies to every request that arrives after the call that set it returns, and
//     stops applying to every request that arrives after the call that cleared it. A request
//     held by a hang fault is released (and passed through) as soon as the fault is cleared,
//     or dropped when the client gives up.
//   - Provider caps answer with the error codes and message texts that the named providers send
//     (sources cited next to each text), including their hinted ranges, so a client is tested
//     against what it meets in production, not against a convenient invention.
//   - Every JSON-RPC call is counted by method on arrival, whether it was answered, faulted or
//     held, so tests can compare request rates during and outside a fault.
//
// It is test infrastructure: never use it in a production path.
package rpcproxy
