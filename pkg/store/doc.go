// Package store is keywarden's ClickHouse storage: the schema migrations, the batch writer the
// indexer uses, and the readers the indexer, the enforcer and the dashboards use.
//
// Guarantees:
//   - One identity per event end to end, (chain_id, block_hash, log_index). Writing the same
//     batch again leaves one logical row per identity: tables are ReplacingMergeTree(version)
//     and every reader sees only the highest version (FINAL).
//   - Nothing is deleted. A reorg retraction is a new row (removed = 1, or status 'retracted'
//     for a key state) at a higher version; readers hide it unless asked.
//   - Versions grow monotonically within a process and across restarts: each batch takes
//     max(wall clock in ns, highest version stored or issued so far + 1, Batch.Version), so a
//     later write always replaces an earlier one, even after the clock stepped back.
//   - [Store.WriteBatch] either returns nil after every row of the batch was sent, or returns an
//     error; a failed batch may have reached some tables, and writing it again repairs that.
//     Within one table a batch lands all or nothing (one INSERT, which ClickHouse commits as a
//     whole up to max_insert_block_size rows, about a million): a killed writer leaves no half
//     table batch behind.
//     [Store.SetCheckpoint] is separate and meant to be called last, after the batch (and any
//     messages it covers) are durable: the checkpoint never runs ahead of its rows.
//   - Committed reads (the Committed field of the filters) see each row as of the chain's last
//     checkpoint: a batch written after it, or cut short by a crash, is invisible to them until
//     the next checkpoint covers it. The default reads see the latest rows.
//   - Values are stored exactly: uint256 as decimal strings (2^256-1 included), block numbers,
//     log indexes and times as UInt64, addresses EIP-55 checksummed, bytes as 0x hex.
//     [events.KeyState] round-trips field for field.
//   - The SQL works against ClickHouse 18.16 and current releases (native protocol, every
//     INSERT names its columns).
package store
