// Package indexer turns a chain's Session Key Plugin logs into ClickHouse rows and NATS
// JetStream messages: Sink is the heart (an ingest.Sink), App wires storage, messaging and one
// log source per chain for cmd/indexer, Config is its strict configuration.
//
// Guarantees of Sink, given the ordering pkg/ingest provides:
//   - Nothing watched is dropped: every log becomes an event or a decode failure; failures are
//     stored, published and counted by reason, and never stop the chain.
//   - The checkpoint moves last: the rows of a batch are written, then its messages are
//     acknowledged by JetStream, and only then is the checkpoint set. A crash anywhere leaves
//     the checkpoint at or behind what is durable, and a replay is harmless: rows are
//     versioned by identity, messages carry their identity as the JetStream message id.
//   - Rows an unfinished batch left above the checkpoint are reconciled: kept when the source
//     delivers them again, retracted when the chain no longer holds them.
//   - Plugin events are Verified only when the account had the plugin installed (a
//     PluginInstalled later in the same transaction counts, as in an install with initial
//     keys). Unverified events are stored and published flagged; key-state messages are
//     published only for verified keys (and for a key that stops being verified).
//   - Key state is the plugin's fold (events.AccountKeys) of the account's surviving events;
//     events it cannot follow (history before the start block) are stored and counted.
//   - A reorg retracts every stored event above the common ancestor (rows with removed = 1 at a
//     higher version, and a retraction message each), recomputes the state of every affected
//     key from what survives (a key that existed only in retracted events is marked
//     retracted), and republishes those states under message ids that differ per abandoned
//     branch, so JetStream never drops them as duplicates. Rolling back twice is harmless.
package indexer
