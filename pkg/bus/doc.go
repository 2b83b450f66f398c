// Package bus is keywarden's messaging layer over NATS JetStream.
//
// Guarantees:
//   - [Publisher.PublishBatch] returns nil only when every message of the batch is stored in the
//     stream (a duplicate of a message already stored counts as stored). A caller that moves its
//     checkpoint only after a nil return never loses a message; a caller that retries a failed
//     batch never stores a message twice within the stream's duplicate window, because every
//     message carries its identity as the Nats-Msg-Id ([events.MsgID], [events.StateMsgID]).
//   - [Consumer] delivers every message of its durable consumer to one of the processes that
//     share it, again and again until a handler returns nil (then it is acknowledged and never
//     delivered again) or until it is dead-lettered. A handler error redelivers the message after
//     a growing delay; after [ConsumerOptions.MaxDeliver] attempts, or at once for a message that
//     cannot be decoded or a handler error wrapping [ErrPermanent], the message is copied to the
//     dead-letter subject "keywarden.<chain>.dead" (kept in its own stream) and terminated. A
//     message is terminated only after its dead-letter copy is stored, so nothing is dropped.
//     The durable consumer survives restarts of both the process and the server. Within one
//     process deliveries are handled one at a time in stream order; across processes sharing a
//     durable there is no order, so handlers serialise per key (see [Locker]).
//   - [Locker] grants a key to at most one owner at a time across every process that shares the
//     bucket: acquisition is a create-if-absent, and refresh, takeover of an expired lock and
//     release are compare-and-set on the entry's revision. A lock is only taken over after its
//     expiry (by the clock of the process that takes it over).
//   - [ActionStore.PutIfAbsent] stores an action record once: of two concurrent callers with the
//     same id, exactly one is told it created the record.
//   - [Options] never prints a password, token or key through fmt verbs, and [Connect] never
//     logs them; connections retry forever with capped, jittered backoff.
//   - [Embedded] runs an in-process nats-server with JetStream whose data survive a restart on the
//     same data directory.
package bus
