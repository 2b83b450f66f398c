// Package schema holds keywarden's numbered ClickHouse migrations (NNNN_name.sql), embedded
// in the binary. pkg/store applies them in order at start and records each applied version.
//
// Guarantees:
//   - Every statement is idempotent (CREATE ... IF NOT EXISTS, ADD COLUMN IF NOT EXISTS), so a
//     migration interrupted half way is simply applied again.
//   - The SQL works on ClickHouse 18.16 and on current releases: only types and clauses both
//     understand (see the header of 0001_init.sql).
//   - Versions are contiguous from 1; a file once released is never edited, only followed.
package schema
