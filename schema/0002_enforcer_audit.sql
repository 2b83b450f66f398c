-- The enforcer's audit trail: every verdict and every step of every action.
-- Same rules as 0001: ReplacingMergeTree, no partitioning, read with FINAL.

-- One row per verdict: the action id is deterministic, so a re-evaluation of the same
-- (policy, chain, account, key, trigger) replaces the row instead of adding one.
CREATE TABLE IF NOT EXISTS verdicts
(
    action_id    String COMMENT 'events.Verdict.ActionID: hash of policy, chain, plugin, account, key, trigger',
    policy_id    String,
    severity     String COMMENT 'info, low, medium, high, critical',
    action       String COMMENT 'alert, remove, rotate, restrict (after downgrades)',
    reason       String,
    chain_id     UInt64,
    plugin       String,
    account      String,
    session_key  String,
    trigger      String COMMENT 'the event id that caused the evaluation, or expiry:<valid_until>',
    evaluated_at DateTime,
    body         String COMMENT 'the verdict in its JSON wire form, with the restrict updates'
)
ENGINE = ReplacingMergeTree(evaluated_at)
ORDER BY (chain_id, action_id);

-- One row per action outcome; the row with the highest version is the action's state.
CREATE TABLE IF NOT EXISTS actions
(
    action_id       String,
    policy_id       String,
    action          String COMMENT 'remove, rotate, restrict, alert',
    outcome         String COMMENT 'planned, awaiting_approval, denied, submitted, included, failed, resolved, retracted, uncovered, alerted',
    chain_id        UInt64,
    account         String,
    session_key     String,
    trigger         String,
    new_session_key String COMMENT 'the rotation target, else zero address',
    user_op_hash    String,
    tx_hash         String,
    attempt         UInt32,
    error           String COMMENT 'why it failed, resolved or fell back (empty when it went as planned)',
    at              DateTime,
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (chain_id, action_id, outcome);

-- Which accounts the enforcer can act on, written by the enforcer as it learns it.
CREATE TABLE IF NOT EXISTS coverage
(
    chain_id   UInt64,
    account    String,
    signer     String COMMENT 'the enforcer signer checked',
    covered    UInt8  COMMENT '1 while signer is an owner of account',
    checked_at DateTime,
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (chain_id, account, signer);
