package sdkvectors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// DefaultSeed is the seed Load uses unless KEYWARDEN_SDK_SEED is set.
const DefaultSeed uint64 = 20260101

// SeedEnv names the environment variable that overrides DefaultSeed.
const SeedEnv = "KEYWARDEN_SDK_SEED"

// generateTimeout bounds one run of the generator (it takes about a second).
const generateTimeout = 2 * time.Minute

// ErrMissingDeps is returned (wrapped) by Generate when node or the npm packages are absent.
var ErrMissingDeps = errors.New("SDK vectors need node and conformance/node_modules: run `make deps`")

// pinned are the packages whose versions the vectors must report: those of conformance/package.json.
var pinned = []string{"@account-kit/smart-contracts", "@aa-sdk/core", "viem"}

var (
	once    sync.Once
	cached  *Vectors
	loadErr error
)

// Load returns the vectors for the seed (DefaultSeed or KEYWARDEN_SDK_SEED), generating them on
// the first call in this test binary. Callers share the result and must not modify it.
//
// When node or conformance/node_modules is missing, the test fails if CI=true and is skipped
// otherwise; both say to run `make deps`. Any other generator failure fails the test.
func Load(t testing.TB) *Vectors {
	t.Helper()
	once.Do(func() {
		seed, err := seedFromEnv()
		if err != nil {
			loadErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), generateTimeout)
		defer cancel()
		cached, loadErr = Generate(ctx, seed)
	})
	if errors.Is(loadErr, ErrMissingDeps) && os.Getenv("CI") != "true" {
		t.Skipf("sdkvectors: %v", loadErr)
	}
	if loadErr != nil {
		t.Fatalf("sdkvectors: %v", loadErr)
	}
	return cached
}

func seedFromEnv() (uint64, error) {
	s := os.Getenv(SeedEnv)
	if s == "" {
		return DefaultSeed, nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse %s=%q: %w", SeedEnv, s, err)
	}
	return v, nil
}

// Generate runs `node conformance/gen.mjs --seed seed` and decodes its output. It does not cache.
func Generate(ctx context.Context, seed uint64) (*Vectors, error) {
	dir, err := conformanceDir()
	if err != nil {
		return nil, err
	}
	if err := checkDeps(dir); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "node", "gen.mjs", "--seed", strconv.FormatUint(seed, 10))
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("run node gen.mjs --seed %d in %s: %w\n%s", seed, dir, err, tail(stderr.Bytes()))
	}
	var v Vectors
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode vectors of seed %d: %w", seed, err)
	}
	if v.Schema != Schema {
		return nil, fmt.Errorf("decode vectors of seed %d: schema %d, want %d", seed, v.Schema, Schema)
	}
	if err := checkVersions(dir, v.Versions); err != nil {
		return nil, err
	}
	return &v, nil
}

// conformanceDir finds <module root>/conformance by walking up from the working directory to go.mod.
func conformanceDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "conformance"), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("find module root: no go.mod above %s", wd)
		}
	}
}

func checkDeps(dir string) error {
	if _, err := exec.LookPath("node"); err != nil {
		return fmt.Errorf("%w (node is not on PATH)", ErrMissingDeps)
	}
	lock := filepath.Join(dir, "package-lock.json")
	installed := filepath.Join(dir, "node_modules", ".package-lock.json")
	li, err := os.Stat(lock)
	if err != nil {
		return fmt.Errorf("stat %s: %w", lock, err)
	}
	ii, err := os.Stat(installed)
	if err != nil {
		return fmt.Errorf("%w (%s is missing)", ErrMissingDeps, installed)
	}
	if ii.ModTime().Before(li.ModTime()) {
		return fmt.Errorf("%w (node_modules is older than package-lock.json)", ErrMissingDeps)
	}
	return nil
}

// checkVersions compares the versions the generator ran with against conformance/package.json.
func checkVersions(dir string, got map[string]string) error {
	raw, err := os.ReadFile(filepath.Join(dir, "package.json"))
	if err != nil {
		return fmt.Errorf("read package.json: %w", err)
	}
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	if err := json.Unmarshal(raw, &pkg); err != nil {
		return fmt.Errorf("parse package.json: %w", err)
	}
	for _, name := range pinned {
		if want := pkg.Dependencies[name]; got[name] != want {
			return fmt.Errorf("%w (%s is %q in node_modules, package.json pins %q)", ErrMissingDeps, name, got[name], want)
		}
	}
	return nil
}

func tail(b []byte) string {
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}
