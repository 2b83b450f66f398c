// Package grafana is the backend of keywarden's Grafana data source plugin.
//
// Guarantees:
//   - The browser never sends SQL. A query names one of a fixed set of query types
//     ([QueryTypes]: keys, events, verdicts, actions, coverage, decode_failures,
//     indexer_progress, live) and a few typed filters; every filter value reaches ClickHouse as a
//     bound argument, after validation (chain ids are integers, accounts and keys are addresses,
//     enumerations are checked against their lists). Anything else is a bad-request error for
//     that query only.
//   - Every reader sees the latest version of each row (FINAL, with the WHERE evaluated after
//     the merge, as pkg/store reads), and hides rows a reorg retracted.
//   - Time series come back as wide frames with a time field in UTC; tables keep their natural
//     types (UInt64 for block numbers, bool for flags, nullable times for optional dates).
//   - Secrets (the ClickHouse password, the NATS password, token and credentials) are read only
//     from the instance's decrypted secure JSON. They never appear in a log line, an error, a
//     health message, a frame or the %v form of [Settings].
//   - A live stream ([Datasource.RunStream]) forwards the key-state and audit messages of one
//     chain (or all) from NATS as frames of one fixed schema, and returns as soon as its context
//     ends or the NATS connection closes; it never blocks on one while the other fired.
//   - Connections are opened on first use and shared by all requests of an instance; a server
//     that is down fails the requests that need it (and CheckHealth), never the instance.
package grafana
