// Package testenv gives tests the real servers keywarden talks to.
//
// Guarantees:
//   - [ClickHouse] returns a database that no other test sees: a fresh kw_test_<random>
//     database on one ClickHouse server per test binary, dropped when the test ends. The server
//     is /usr/sbin/clickhouse-server started with a private config (loopback only, free port,
//     everything under a temp dir), or the server named by KEYWARDEN_TEST_CLICKHOUSE.
//   - [NewClickHouseServer] returns a private server that a test may stop and start again
//     (same port, same data), for crash and outage tests.
//   - [NATS] returns an embedded nats-server with JetStream on a random loopback port and a
//     temp store, shut down when the test ends; [NATSServer.Restart] keeps port and store.
//   - A missing ClickHouse binary skips the test, except when CI=true: then it fails.
//   - Servers started here never outlive the test binary: [Run] stops them and removes their
//     directories, and the child process is also signalled if the test binary dies.
//
// With Debian's ClickHouse 18.16 and clickhouse-go v2, insert with PrepareBatch and a column
// list ("INSERT INTO t (a, b)"); Exec("INSERT ... VALUES ...") never returns.
package testenv
