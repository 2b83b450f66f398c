package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// NATSServer is an embedded nats-server with JetStream, private to one test.
type NATSServer struct {
	// URL is nats://127.0.0.1:port. It stays the same across Restart.
	URL string
	// StoreDir is the JetStream store. It survives Restart.
	StoreDir string
	// Conn is a client connection opened with the test; JS is JetStream on it. Both are
	// closed at cleanup. After Restart, Conn reconnects on its own.
	Conn *nats.Conn
	JS   jetstream.JetStream

	mu   sync.Mutex
	opts server.Options
	srv  *server.Server
}

var (
	natsMu  sync.Mutex
	natsAll = map[*NATSServer]struct{}{}
)

// NATS starts an embedded server for t and shuts it down at t.Cleanup.
func NATS(t testing.TB) *NATSServer {
	t.Helper()
	dir, err := ownedTempDir("keywarden-nats-")
	if err != nil {
		t.Fatalf("testenv: create nats store dir: %v", err)
	}
	n := &NATSServer{StoreDir: dir, opts: server.Options{
		Host:      "127.0.0.1",
		Port:      server.RANDOM_PORT,
		JetStream: true,
		StoreDir:  dir,
		NoLog:     true,
		NoSigs:    true,
		// Small limits: tests share two cores and a little memory.
		JetStreamMaxMemory: 256 << 20,
		JetStreamMaxStore:  1 << 30,
	}}
	if err := n.start(); err != nil {
		_ = os.RemoveAll(dir)
		t.Fatalf("testenv: %v", err)
	}
	n.URL = n.srv.ClientURL()
	// Pin the port so that a restart comes back where clients expect it.
	n.opts.Port = n.srv.Addr().(*net.TCPAddr).Port
	natsMu.Lock()
	natsAll[n] = struct{}{}
	natsMu.Unlock()
	t.Cleanup(func() { n.close() })

	conn, err := nats.Connect(n.URL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("testenv: connect to nats %s: %v", n.URL, err)
	}
	n.Conn = conn
	js, err := jetstream.New(conn)
	if err != nil {
		t.Fatalf("testenv: jetstream on %s: %v", n.URL, err)
	}
	n.JS = js
	return n
}

// NewConn opens another client connection to the server, closed at t.Cleanup.
func (n *NATSServer) NewConn(t testing.TB, opts ...nats.Option) *nats.Conn {
	t.Helper()
	conn, err := nats.Connect(n.URL, opts...)
	if err != nil {
		t.Fatalf("testenv: connect to nats %s: %v", n.URL, err)
	}
	t.Cleanup(conn.Close)
	return conn
}

func (n *NATSServer) start() error {
	o := n.opts // NewServer keeps a pointer; give each run its own copy
	srv, err := server.NewServer(&o)
	if err != nil {
		return fmt.Errorf("create nats server: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(startTimeout) {
		srv.Shutdown()
		return fmt.Errorf("start nats server: not ready after %s", startTimeout)
	}
	n.srv = srv
	return nil
}

// Shutdown stops the server; the store stays for Start. Clients see a disconnect.
func (n *NATSServer) Shutdown() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

// Start starts a stopped server again on the same port with the same store.
func (n *NATSServer) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.srv != nil {
		return fmt.Errorf("start nats server %s: already running", n.URL)
	}
	return n.start()
}

// Restart is Shutdown then Start.
func (n *NATSServer) Restart() error {
	n.Shutdown()
	return n.Start()
}

// Server returns the running server (nil while stopped).
func (n *NATSServer) Server() *server.Server {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.srv
}

// WaitConnected blocks until Conn is connected again (after a Restart) or ctx ends.
func (n *NATSServer) WaitConnected(ctx context.Context) error {
	for !n.Conn.IsConnected() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for nats reconnect: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

func (n *NATSServer) close() {
	if n.Conn != nil {
		n.Conn.Close()
	}
	n.Shutdown()
	_ = os.RemoveAll(n.StoreDir)
	natsMu.Lock()
	delete(natsAll, n)
	natsMu.Unlock()
}

// stopNATS shuts down servers whose tests did not clean up (Run calls it).
func stopNATS() {
	natsMu.Lock()
	all := make([]*NATSServer, 0, len(natsAll))
	for n := range natsAll {
		all = append(all, n)
	}
	natsMu.Unlock()
	for _, n := range all {
		n.close()
	}
}
