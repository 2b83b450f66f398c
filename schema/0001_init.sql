-- keywarden storage, version 1.
--
-- Rules every table follows (they keep the schema working on ClickHouse 18.16 and current
-- releases alike):
--   * ReplacingMergeTree(version): a row with the same sorting key and a higher version
--     replaces the older one. Replaying a write is harmless; a correction (a reorg retraction,
--     a refolded key state) is a new row with a higher version. Read with FINAL (or argMax).
--   * No partitioning: FINAL only deduplicates inside a partition.
--   * uint256 values are decimal Strings, addresses EIP-55 checksummed Strings, hashes and
--     raw bytes 0x-prefixed lowercase hex Strings, booleans UInt8, block times UInt64 unix
--     seconds (exact for any value a chain reports) with a DateTime column derived for
--     dashboards. No DateTime64, UInt256, Map, JSON, TTL, CODEC, LowCardinality or Nullable.
--   * version is assigned by the writer and grows across restarts (see pkg/store).
--
-- Statements are separated by a semicolon at the end of a line.

CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32   COMMENT 'migration number, the file prefix',
    name       String   COMMENT 'migration file name',
    applied_at DateTime DEFAULT now() COMMENT 'when this server applied it'
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version;

-- One row per decoded log (and per retraction of one). The identity of an event is
-- (chain_id, block_hash, log_index); block_number is part of the key only to make block-range
-- reads cheap (a block hash determines its number, so it does not change the identity).
CREATE TABLE IF NOT EXISTS events
(
    chain_id     UInt64 COMMENT 'EIP-155 chain id',
    block_number UInt64,
    block_hash   String COMMENT '0x hex, 32 bytes',
    log_index    UInt64 COMMENT 'index of the log in its block',
    parent_hash  String,
    block_time   UInt64 COMMENT 'unix seconds, from the block header',
    tx_hash      String,
    tx_index     UInt64,
    kind         String COMMENT 'events.Kind: session_key_added, permissions_updated, ...',
    emitter      String COMMENT 'address of the log: the plugin, the account or the EntryPoint',
    plugin       String COMMENT 'the Session Key Plugin the event is about (emitter of plugin events, the installed plugin of plugin_installed/uninstalled), else empty',
    account      String COMMENT 'the account the event is about',
    session_key  String COMMENT 'the key named by the event (the old key of a rotation), else empty',
    other_key    String COMMENT 'the new key of a rotation, else empty',
    tag          String COMMENT 'bytes32 tag of session_key_added, else empty',
    verified     UInt8  COMMENT '1 when the account had installed the plugin when the event was emitted',
    removed      UInt8  COMMENT '1 when a reorg retracted the event',
    schema       UInt16 COMMENT 'wire-form schema version of payload',
    payload      String COMMENT 'the event in its JSON wire form (pkg/events)',
    version      UInt64 COMMENT 'row version: the highest wins',
    block_at     DateTime MATERIALIZED toDateTime(block_time)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (chain_id, block_number, block_hash, log_index);

-- One row per element of a PermissionsUpdated event's updates, each decoded field in its own
-- column (zero or empty when the update kind has no such field).
CREATE TABLE IF NOT EXISTS permission_updates
(
    chain_id            UInt64,
    block_number        UInt64,
    block_hash          String,
    log_index           UInt64,
    update_index        UInt32 COMMENT 'position in the updates array',
    block_time          UInt64,
    tx_hash             String,
    plugin              String COMMENT 'emitter of the PermissionsUpdated event',
    account             String,
    session_key         String,
    kind                String COMMENT 'events.UpdateKind, or unknown',
    selector            String COMMENT '0x hex, the first 4 bytes of raw',
    access_control_type UInt8  COMMENT 'set_access_list_type: 0 allowlist, 1 denylist, 2 allow all',
    target              String COMMENT 'access-list address and function entries',
    is_on_list          UInt8,
    check_selectors     UInt8,
    function_selector   String COMMENT 'update_access_list_function_entry: the target function',
    valid_after         UInt64 COMMENT 'update_time_range',
    valid_until         UInt64,
    token               String COMMENT 'set_erc20_spend_limit',
    spend_limit         String COMMENT 'spend-limit updates: uint256 decimal, 2^256-1 removes the limit',
    refresh_interval    UInt64 COMMENT 'spend-limit updates: seconds, 0 for a lifetime limit',
    paymaster           String COMMENT 'set_required_paymaster',
    unknown_reason      String COMMENT 'why an unknown update did not decode',
    raw                 String COMMENT '0x hex of the whole encoded update',
    verified            UInt8,
    removed             UInt8  COMMENT '1 when a reorg retracted the event',
    version             UInt64,
    block_at            DateTime MATERIALIZED toDateTime(block_time)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (chain_id, block_number, block_hash, log_index, update_index);

-- The folded state of every session key keywarden has seen, per (chain, plugin, account, key).
-- A key that a reorg erased entirely gets a row with status 'retracted' and a higher version
-- (ReplacingMergeTree cannot delete); readers skip it. Permission lists are parallel arrays:
-- element i of each access_* array is one access-list entry, and so on.
CREATE TABLE IF NOT EXISTS key_state
(
    chain_id                    UInt64,
    plugin                      String,
    account                     String,
    session_key                 String,
    status                      String COMMENT 'active, removed, rotated_away, or retracted',
    tag                         String COMMENT 'bytes32 tag from session_key_added, carried through rotation',
    verified                    UInt8  COMMENT '1 while the account has the plugin installed',
    rotated_from                String COMMENT 'the key this one was rotated from, else zero address',
    rotated_to                  String COMMENT 'the key this one was rotated to (status rotated_away), else zero address',
    access_control_type         UInt8  COMMENT '0 allowlist, 1 denylist, 2 allow all',
    access_target               Array(String),
    access_is_on_list           Array(UInt8),
    access_check_selectors      Array(UInt8),
    function_target             Array(String),
    function_selector           Array(String),
    function_is_on_list         Array(UInt8),
    valid_after                 UInt64 COMMENT 'unix seconds, 0 for none',
    valid_until                 UInt64 COMMENT 'unix seconds, 0 for no expiry',
    native_has_limit            UInt8,
    native_limit                String COMMENT 'wei, uint256 decimal',
    native_refresh_interval     UInt64,
    native_last_used_time       UInt64,
    erc20_token                 Array(String),
    erc20_has_limit             Array(UInt8),
    erc20_limit                 Array(String),
    erc20_refresh_interval      Array(UInt64),
    erc20_last_used_time        Array(UInt64),
    gas_has_limit               UInt8,
    gas_limit                   String COMMENT 'wei, uint256 decimal',
    gas_refresh_interval        UInt64,
    gas_last_used_time          UInt64,
    required_paymaster          String COMMENT 'zero address when no paymaster is required',
    added_block                 UInt64,
    added_time                  UInt64,
    updated_block               UInt64 COMMENT 'block of the last event that changed this state',
    updated_time                UInt64,
    last_event_id               String COMMENT 'chain:block_hash:log_index of that event',
    schema                      UInt16,
    version                     UInt64,
    updated_at                  DateTime MATERIALIZED toDateTime(updated_time)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (chain_id, plugin, account, session_key);

-- What keywarden knows of each account: the watched Session Key Plugins it has installed and
-- its owners (the Multi Owner plugin's OwnerUpdated). Both arrays are sorted.
CREATE TABLE IF NOT EXISTS accounts
(
    chain_id          UInt64,
    account           String,
    installed_plugins Array(String) COMMENT 'watched plugins installed on the account',
    owners            Array(String) COMMENT 'current owners',
    updated_block     UInt64,
    updated_time      UInt64,
    last_event_id     String,
    version           UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (chain_id, account);

-- The canonical block at each height of the unfinalised window, for reorg detection. A reorg
-- replaces the row of a height with the new branch's block (higher version), or marks it
-- removed when the new branch is shorter.
CREATE TABLE IF NOT EXISTS blocks
(
    chain_id    UInt64,
    number      UInt64,
    hash        String,
    parent_hash String,
    time        UInt64 COMMENT 'unix seconds',
    removed     UInt8  COMMENT '1 when a reorg took this height off the chain',
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (chain_id, number);

-- The last block whose rows (and messages) are durable, per chain and stream. Written last,
-- after everything it covers.
CREATE TABLE IF NOT EXISTS checkpoints
(
    chain_id    UInt64,
    stream      String COMMENT 'what the checkpoint covers, e.g. logs',
    number      UInt64,
    hash        String,
    parent_hash String,
    time        UInt64,
    version     UInt64,
    written_at  DateTime DEFAULT now()
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (chain_id, stream);

-- Logs keywarden watches but could not decode, byte for byte, with the reason.
CREATE TABLE IF NOT EXISTS decode_failures
(
    chain_id     UInt64,
    block_number UInt64,
    block_hash   String,
    log_index    UInt64,
    parent_hash  String,
    block_time   UInt64,
    tx_hash      String,
    tx_index     UInt64,
    emitter      String,
    topics       Array(String) COMMENT '0x hex, in log order',
    data         String        COMMENT '0x hex',
    reason       String        COMMENT 'stable class, for metrics',
    error        String        COMMENT 'the full message',
    removed      UInt8,
    schema       UInt16,
    version      UInt64,
    block_at     DateTime MATERIALIZED toDateTime(block_time)
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (chain_id, block_number, block_hash, log_index);
