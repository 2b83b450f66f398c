// Package policy turns a session key's folded state into verdicts.
//
// Policies are data: a YAML file of policies, each with an id, a severity, a scope, a condition
// and an action. A condition is a CEL expression over a typed environment (the key, the
// triggering event, the account, now) or one of the ready-made rules, which expand to CEL.
//
// Guarantees:
//   - Loading is all-or-nothing and reports every error at once: unknown YAML keys, a bad CEL
//     expression (with the policy id and the line:column inside the expression), an action a
//     rule cannot carry out, a bad parameter.
//   - Evaluation is pure and deterministic: the same Input gives the same verdicts, in the same
//     order (severity, then policy id). It does no I/O and never blocks; each expression runs
//     under a CEL cost limit.
//   - A key whose account has not installed the plugin (KeyState.Verified false) may breach a
//     policy, but its verdict is always downgraded to an alert: keywarden never acts on events
//     that anyone could have emitted.
//   - A restrict verdict carries the permission updates that make the key satisfy the policy;
//     a policy whose condition cannot be satisfied by a known update fails to load with
//     action restrict.
package policy
