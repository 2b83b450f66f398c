package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunScenarioAndWriteInfo(t *testing.T) {
	out := filepath.Join(t.TempDir(), "devchain.json")
	var stdout, stderr bytes.Buffer
	code := run([]string{"-scenario", "accounts=2,keys=1,mix=add:1,update:1,events=40", "-exit-after-scenario", "-o", out, "-log-level", "warn"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var info Info
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(info.HTTPURL, "http://127.0.0.1:") || !strings.HasPrefix(info.BundlerURL, "http://127.0.0.1:") ||
		info.ChainID != 1337 || info.Contracts.SessionKeyPlugin == info.Contracts.EntryPoint || len(info.FundedKeys) != 8 {
		t.Fatalf("info %+v", info)
	}
	if !strings.Contains(stdout.String(), "events/s") {
		t.Fatalf("no throughput line: %s", stdout.String())
	}
}

func TestBadFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"-scenario", "accounts=zero"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "accounts") {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if code := run([]string{"-help"}, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "mix=K:W") {
		t.Fatalf("-help exit %d", code)
	}
}
