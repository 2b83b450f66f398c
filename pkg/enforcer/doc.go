// Package enforcer turns key states into verdicts and verdicts into on-chain actions.
//
// Guarantees:
//   - One action per (policy, chain, account, key, trigger), whatever the number of deliveries
//     or enforcer processes: the action id is deterministic (events.Verdict.ActionID), its
//     record is created with a compare-and-set in a JetStream key-value bucket, and a per-key
//     lock in another bucket serialises the work on one key.
//   - Before any user operation is sent the chain is read again: a key that is gone, or that
//     now complies, resolves the verdict without a user operation; a trigger whose block is
//     no longer canonical (a reorg retracted it) is recorded as retracted and never acted on.
//     An action already sent when its trigger is retracted is recorded as such.
//   - Only accounts whose owners include the enforcer's signer are acted on; the others get
//     verdicts and alerts (outcome "uncovered"), and losing ownership raises an alert.
//   - Unverified keys (plugin not installed on the account) are never acted on (pkg/policy
//     downgrades their verdicts to alerts).
//   - Every verdict and every action outcome (planned, awaiting approval, denied, submitted,
//     included, failed, resolved, retracted, uncovered, alerted) is recorded through Audit
//     before the triggering message is acknowledged. A failed action is retried with backoff,
//     then recorded as failed and notified; it is never reported as done.
//   - Dry-run mode prepares and records the user operation and sends nothing. Approval mode
//     records the plan and acts only after Approve, before the approval expires.
package enforcer
