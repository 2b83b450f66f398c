package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Environment variables that point the tests at an existing ClickHouse server.
const (
	EnvClickHouse         = "KEYWARDEN_TEST_CLICKHOUSE"          // host:port of the native protocol
	EnvClickHouseUser     = "KEYWARDEN_TEST_CLICKHOUSE_USER"     // default: "default"
	EnvClickHousePassword = "KEYWARDEN_TEST_CLICKHOUSE_PASSWORD" // default: empty
	// EnvClickHouseBinary names another server binary to start (say a newer release's
	// "clickhouse server" wrapper script); default /usr/sbin/clickhouse-server.
	EnvClickHouseBinary = "KEYWARDEN_TEST_CLICKHOUSE_BINARY"
)

func clickHouseBinary() string {
	if b := os.Getenv(EnvClickHouseBinary); b != "" {
		return b
	}
	return "/usr/sbin/clickhouse-server"
}

// startTimeout bounds how long a server may take to answer after it was started.
const startTimeout = 60 * time.Second

// CH is one test's ClickHouse database.
type CH struct {
	// Addr is host:port of the native protocol.
	Addr string
	// Database is the test's own database (kw_test_<random>).
	Database string
	Username string
	Password string
	// Conn is open on Database and closed at the end of the test.
	Conn driver.Conn
}

// String shows the database without the password.
func (c *CH) String() string {
	return fmt.Sprintf("clickhouse %s database %s user %s", c.Addr, c.Database, c.Username)
}

// Options returns client options for Database (a fresh copy each call).
func (c *CH) Options() *clickhouse.Options {
	return chOptions(c.Addr, c.Database, c.Username, c.Password)
}

func chOptions(addr, db, user, password string) *clickhouse.Options {
	return &clickhouse.Options{
		Protocol:    clickhouse.Native,
		Addr:        []string{addr},
		Auth:        clickhouse.Auth{Database: db, Username: user, Password: password},
		DialTimeout: 5 * time.Second,
		// A hung query fails the test in a minute instead of the driver default of five.
		ReadTimeout: time.Minute,
	}
}

var (
	sharedOnce sync.Once
	sharedSrv  *CHServer
	sharedErr  error

	registryMu sync.Mutex
	registry   []*CHServer // every server started by this binary, stopped by Run
)

// ClickHouse returns a fresh database on the binary's shared server, dropped at t.Cleanup.
func ClickHouse(t testing.TB) *CH {
	t.Helper()
	addr, user, password := os.Getenv(EnvClickHouse), os.Getenv(EnvClickHouseUser), os.Getenv(EnvClickHousePassword)
	if addr == "" {
		sharedOnce.Do(func() { sharedSrv, sharedErr = startCHServer() })
		if errors.Is(sharedErr, errNoBinary) {
			missing(t, sharedErr)
		}
		if sharedErr != nil {
			t.Fatalf("testenv: %v", sharedErr)
		}
		addr, user, password = sharedSrv.Addr, "default", ""
	}
	if user == "" {
		user = "default"
	}
	return newDatabase(t, addr, user, password)
}

func missing(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("testenv: %v (CI=true: a missing server is a failure)", err)
	}
	t.Skipf("testenv: %v: run make deps", err)
}

func newDatabase(t testing.TB, addr, user, password string) *CH {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := clickhouse.Open(chOptions(addr, "default", user, password))
	if err != nil {
		t.Fatalf("testenv: open clickhouse %s: %v", addr, err)
	}
	defer admin.Close()
	db := "kw_test_" + randomHex(6)
	if err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
		t.Fatalf("testenv: create database %s: %v", db, err)
	}
	ch := &CH{Addr: addr, Database: db, Username: user, Password: password}
	conn, err := clickhouse.Open(ch.Options())
	if err != nil {
		t.Fatalf("testenv: open clickhouse database %s: %v", db, err)
	}
	ch.Conn = conn
	t.Cleanup(func() {
		_ = conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := clickhouse.Open(chOptions(addr, "default", user, password))
		if err != nil {
			t.Errorf("testenv: open clickhouse to drop %s: %v", db, err)
			return
		}
		defer admin.Close()
		if err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+db); err != nil {
			t.Errorf("testenv: drop database %s: %v", db, err)
		}
	})
	return ch
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("testenv: read random bytes: %v", err)) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b)
}

// CHServer is a clickhouse-server process owned by the test binary.
type CHServer struct {
	// Addr is 127.0.0.1:port of the native protocol. It stays the same across Stop and Start.
	Addr string
	// Dir holds the config, data and logs.
	Dir string

	mu     sync.Mutex
	proc   *os.Process
	exited chan struct{} // closed when proc has exited
}

var errNoBinary = errors.New("clickhouse-server not found")

// NewClickHouseServer starts a private server for one test (for tests that stop and restart
// it) and stops it at t.Cleanup. Use [CHServer.Database] to get a database on it.
func NewClickHouseServer(t testing.TB) *CHServer {
	t.Helper()
	s, err := startCHServer()
	if errors.Is(err, errNoBinary) {
		missing(t, err)
	}
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	t.Cleanup(func() {
		s.Stop()
		_ = os.RemoveAll(s.Dir)
	})
	return s
}

// Database returns a fresh database on s, dropped at t.Cleanup (if s is running then).
func (s *CHServer) Database(t testing.TB) *CH {
	t.Helper()
	return newDatabase(t, s.Addr, "default", "")
}

func startCHServer() (*CHServer, error) {
	if _, err := os.Stat(clickHouseBinary()); err != nil {
		return nil, fmt.Errorf("%w at %s", errNoBinary, clickHouseBinary())
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a free port can be taken between probe and bind
		dir, err := ownedTempDir("keywarden-clickhouse-")
		if err != nil {
			return nil, fmt.Errorf("create clickhouse dir: %w", err)
		}
		port, err := freePort()
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		s := &CHServer{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), Dir: dir}
		if err := s.writeConfig(port); err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		if lastErr = s.Start(); lastErr == nil {
			registryMu.Lock()
			registry = append(registry, s)
			registryMu.Unlock()
			return s, nil
		}
		s.Stop()
		_ = os.RemoveAll(dir)
	}
	return nil, lastErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// The config works on 18.16 (root <yandex>) and on current releases, which still accept it.
// Users, profiles and quotas live in the main file so that nothing is read from /etc.
var configTmpl = template.Must(template.New("config").Parse(`<?xml version="1.0"?>
<yandex>
    <logger>
        <level>information</level>
        <log>{{.Dir}}/log/server.log</log>
        <errorlog>{{.Dir}}/log/server.err.log</errorlog>
        <size>20M</size>
        <count>1</count>
        <console>0</console>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>{{.Port}}</tcp_port>
    <path>{{.Dir}}/data/</path>
    <tmp_path>{{.Dir}}/tmp/</tmp_path>
    <user_files_path>{{.Dir}}/user_files/</user_files_path>
    <format_schema_path>{{.Dir}}/format_schemas/</format_schema_path>
    <users_config>{{.Dir}}/config.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <max_connections>256</max_connections>
    <max_concurrent_queries>64</max_concurrent_queries>
    <mark_cache_size>67108864</mark_cache_size>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <max_server_memory_usage>2000000000</max_server_memory_usage>
    <profiles>
        <default>
            <max_memory_usage>1000000000</max_memory_usage>
            <max_threads>2</max_threads>
            <background_pool_size>4</background_pool_size>
            <background_schedule_pool_size>4</background_schedule_pool_size>
            <!-- idle connections notice a shutdown after this many seconds (default 10) -->
            <poll_interval>1</poll_interval>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
`))

func (s *CHServer) writeConfig(port int) error {
	for _, sub := range []string{"data", "tmp", "user_files", "format_schemas", "log"} {
		if err := os.MkdirAll(filepath.Join(s.Dir, sub), 0o755); err != nil {
			return fmt.Errorf("create clickhouse dir: %w", err)
		}
	}
	var buf bytes.Buffer
	if err := configTmpl.Execute(&buf, struct {
		Dir  string
		Port int
	}{s.Dir, port}); err != nil {
		return fmt.Errorf("render clickhouse config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "config.xml"), buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write clickhouse config: %w", err)
	}
	return nil
}

// Start starts the server (again) and waits until it answers a query.
func (s *CHServer) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return fmt.Errorf("start clickhouse %s: already running", s.Addr)
	}
	started := make(chan error, 1)
	exited := make(chan struct{})
	var waitErr error
	out, err := os.Create(filepath.Join(s.Dir, "log", "stdout.log"))
	if err != nil {
		return fmt.Errorf("start clickhouse: %w", err)
	}
	// The child gets SIGKILL if the thread that started it dies. Go may retire threads, so the
	// start and the wait happen on one goroutine locked to its thread for the child's lifetime.
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		defer out.Close()
		cmd := exec.Command(clickHouseBinary(), "--config-file="+filepath.Join(s.Dir, "config.xml"))
		cmd.Dir = s.Dir
		cmd.Stdout, cmd.Stderr = out, out
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
		if err := cmd.Start(); err != nil {
			started <- err
			close(exited)
			return
		}
		s.proc = cmd.Process
		started <- nil
		waitErr = cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start clickhouse: %w", err)
	}
	s.exited = exited
	if err := s.waitReady(exited, &waitErr); err != nil {
		s.stopLocked()
		return err
	}
	return nil
}

func (s *CHServer) waitReady(exited <-chan struct{}, waitErr *error) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-exited:
			return fmt.Errorf("start clickhouse %s: server exited (%v): %s", s.Addr, *waitErr, s.logTail())
		case <-ctx.Done():
			return fmt.Errorf("start clickhouse %s: not answering after %s: %s", s.Addr, startTimeout, s.logTail())
		case <-tick.C:
		}
		if err := s.ping(ctx); err == nil {
			return nil
		}
	}
}

func (s *CHServer) ping(ctx context.Context) error {
	conn, err := clickhouse.Open(chOptions(s.Addr, "default", "default", ""))
	if err != nil {
		return err
	}
	defer conn.Close()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := conn.Ping(pctx); err != nil {
		return err
	}
	// The port was free when probed; make sure the server answering is the one using Dir,
	// not another test binary's that took the port in between.
	var dataPath string
	if err := conn.QueryRow(pctx, "SELECT data_path FROM system.databases WHERE name = 'default'").Scan(&dataPath); err != nil {
		return nil // a release without that column: the exit check of waitReady still applies
	}
	if !strings.HasPrefix(dataPath, s.Dir) {
		return fmt.Errorf("server on %s keeps its data in %s, not under %s", s.Addr, dataPath, s.Dir)
	}
	return nil
}

func (s *CHServer) logTail() string {
	var parts []string
	for _, name := range []string{"stdout.log", "server.err.log"} {
		b, err := os.ReadFile(filepath.Join(s.Dir, "log", name))
		if err != nil || len(b) == 0 {
			continue
		}
		if len(b) > 2000 {
			b = b[len(b)-2000:]
		}
		parts = append(parts, name+": "+strings.TrimSpace(string(b)))
	}
	if len(parts) == 0 {
		return "no log output"
	}
	return strings.Join(parts, "\n")
}

// Stop stops the server (SIGTERM, then SIGKILL after 20 s) and waits for it to exit.
// Data stays in Dir, so Start brings the same databases back. Stopping a stopped server is a no-op.
func (s *CHServer) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

// Kill stops the server with SIGKILL, as a crash would.
func (s *CHServer) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	_ = s.proc.Signal(syscall.SIGKILL)
	<-s.exited
	s.proc = nil
}

func (s *CHServer) stopLocked() {
	if s.proc == nil {
		return
	}
	_ = s.proc.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = s.proc.Signal(syscall.SIGKILL)
		<-s.exited
	}
	s.proc = nil
}

// Run runs the tests of a package and then stops every server this binary started and removes
// their directories. Call it from TestMain:
//
//	func TestMain(m *testing.M) { testenv.Run(m) }
func Run(m *testing.M) {
	code := m.Run()
	stopAll()
	os.Exit(code)
}

func stopAll() {
	stopNATS()
	registryMu.Lock()
	srvs := registry
	registry = nil
	registryMu.Unlock()
	for _, s := range srvs {
		s.Stop()
		_ = os.RemoveAll(s.Dir)
	}
}
