package bus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/rs/zerolog"
)

// EmbeddedOptions configures an in-process nats-server.
type EmbeddedOptions struct {
	// DataDir holds the JetStream store. Required: a restart on the same directory keeps the
	// streams, consumers and key-value buckets.
	DataDir string
	// Host to listen on; default 127.0.0.1.
	Host string
	// Port to listen on; 0 picks a free port (see [EmbeddedServer.Port]).
	Port int
	// ServerName is the server's name; default "keywarden-embedded". JetStream ties its store to
	// the name, so keep it stable across restarts.
	ServerName string
	// MaxMemory and MaxStore cap JetStream's memory and file storage in bytes; 0 lets the server
	// choose.
	MaxMemory int64
	MaxStore  int64
	// ReadyTimeout bounds the wait for the server to accept connections; default 10s. The
	// context passed to Embedded bounds it too.
	ReadyTimeout time.Duration
	// Logger receives the server's log lines; the zero value discards them.
	Logger zerolog.Logger
}

// EmbeddedServer is a running in-process nats-server with JetStream.
type EmbeddedServer struct {
	srv *server.Server
}

// Embedded starts an in-process nats-server with JetStream under opts.DataDir and waits until it
// accepts connections.
func Embedded(ctx context.Context, opts EmbeddedOptions) (*EmbeddedServer, error) {
	if opts.DataDir == "" {
		return nil, errors.New("start embedded nats: DataDir is required")
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("start embedded nats: port %d out of range", opts.Port)
	}
	host := opts.Host
	if host == "" {
		host = "127.0.0.1"
	}
	name := opts.ServerName
	if name == "" {
		name = "keywarden-embedded"
	}
	port := opts.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	sopts := &server.Options{
		ServerName:         name,
		Host:               host,
		Port:               port,
		JetStream:          true,
		StoreDir:           opts.DataDir,
		JetStreamMaxMemory: opts.MaxMemory,
		JetStreamMaxStore:  opts.MaxStore,
		NoSigs:             true, // main owns signals
		HTTPPort:           0,    // no monitoring endpoint
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return nil, fmt.Errorf("start embedded nats: %w", err)
	}
	srv.SetLogger(serverLogger{opts.Logger.With().Str("component", "nats-server").Logger()}, false, false)
	srv.Start()

	timeout := opts.ReadyTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}
	if !srv.ReadyForConnections(timeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("start embedded nats: %w", err)
		}
		return nil, fmt.Errorf("start embedded nats on %s: not ready after %s", net.JoinHostPort(host, strconv.Itoa(opts.Port)), timeout)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, errors.New("start embedded nats: JetStream did not start")
	}
	return &EmbeddedServer{srv: srv}, nil
}

// ClientURL is the nats:// URL clients connect to.
func (e *EmbeddedServer) ClientURL() string { return e.srv.ClientURL() }

// Port is the port the server listens on (the chosen one when EmbeddedOptions.Port was 0).
func (e *EmbeddedServer) Port() int {
	if a, ok := e.srv.Addr().(*net.TCPAddr); ok {
		return a.Port
	}
	return 0
}

// Shutdown stops the server and waits until it has stopped, or until ctx ends (the server keeps
// stopping in the background then).
func (e *EmbeddedServer) Shutdown(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		e.srv.Shutdown()
		e.srv.WaitForShutdown()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("shut down embedded nats: %w", ctx.Err())
	}
}

// serverLogger adapts zerolog to nats-server's logger.
type serverLogger struct{ l zerolog.Logger }

func (s serverLogger) Noticef(format string, v ...any) { s.l.Info().Msgf(format, v...) }
func (s serverLogger) Warnf(format string, v ...any)   { s.l.Warn().Msgf(format, v...) }
func (s serverLogger) Fatalf(format string, v ...any)  { s.l.Error().Msgf(format, v...) }
func (s serverLogger) Errorf(format string, v ...any)  { s.l.Error().Msgf(format, v...) }
func (s serverLogger) Debugf(format string, v ...any)  { s.l.Debug().Msgf(format, v...) }
func (s serverLogger) Tracef(format string, v ...any)  { s.l.Trace().Msgf(format, v...) }

var _ server.Logger = serverLogger{}
