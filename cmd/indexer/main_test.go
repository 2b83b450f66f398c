package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestCheckConfigRedactsSecrets(t *testing.T) {
	t.Setenv("KEYWARDEN_CLICKHOUSE_PASSWORD", "s3cret-pw")
	t.Setenv("KEYWARDEN_CHAIN_8453_RPC_URLS", "https://base.example/v2/APIKEY123")
	var out, errb bytes.Buffer
	if rc := run([]string{"-check-config", "-config", "../../config/indexer.example.yaml"}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	for _, secret := range []string{"s3cret-pw", "APIKEY123"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("-check-config prints %q:\n%s", secret, out.String())
		}
	}
	if !strings.Contains(out.String(), "valid") || !strings.Contains(out.String(), "https://base.example/REDACTED") {
		t.Errorf("unexpected output:\n%s", out.String())
	}
}

func TestBadConfigReportsEveryError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("chains: [{id: 0, rpc_urls: [ftp://x], colour: red}]\nlog: {level: loud}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if rc := run([]string{"-check-config", "-config", path}, &out, &errb); rc != 2 {
		t.Fatalf("rc %d, want 2", rc)
	}
	for _, want := range []string{"colour", "chains[0].id", "rpc_urls[0]", "log.level"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errb.String())
		}
	}
}

func TestRunGroupStopsEveryActor(t *testing.T) {
	stop := make(chan struct{})
	var stopped []string
	actors := []actor{
		{"first", func() error { return nil }, func(error) {}},
		{"waiter", func() error { <-stop; return nil }, func(error) { stopped = append(stopped, "waiter"); close(stop) }},
	}
	if err := runGroup(actors, 5*time.Second, zerolog.Nop()); err != nil {
		t.Fatalf("runGroup: %v", err)
	}
	if len(stopped) != 1 {
		t.Errorf("interrupted %v", stopped)
	}
}
