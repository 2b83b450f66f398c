package reliability_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/keywarden/keywarden/internal/testenv"
	"github.com/keywarden/keywarden/pkg/bus"
	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/ingest"
	"github.com/keywarden/keywarden/pkg/store"
)

// Case 14: 500 blocks with no events: progress moves through them, in backfill and in tail.
func TestEmptyBlocksProgress(t *testing.T) {
	r := newRig(t, rigOptions{})
	acct := r.newAccount(newKey())
	r.mineEmpty(500)
	r.startIndexer(indexerOptions{})
	r.waitSynced()
	r.mineEmpty(500)
	r.waitSynced()
	r.addKey(acct, newKey())
	r.verify()
}

// Case 1: ClickHouse stops during a backfill, and again while tailing the head. The indexer
// keeps running, loses nothing and duplicates nothing. Each outage lasts 10 s, as the doc says.
func TestClickHouseOutage(t *testing.T) {
	srv := testenv.NewClickHouseServer(t)
	r := newRig(t, rigOptions{chServer: srv})
	k1 := newKey()
	acct := r.newAccount(k1, newKey())
	for i := 0; i < 8; i++ {
		r.addKey(acct, newKey())
		r.mineEmpty(5)
	}
	var applies atomic.Int64
	stopped := make(chan struct{})
	r.startIndexer(indexerOptions{wrap: func(s ingest.Sink) ingest.Sink {
		return sinkFunc{Sink: s, before: func() {
			if applies.Add(1) == 2 { // mid-backfill: the first batch is committed, the rest is not
				srv.Stop()
				close(stopped)
			}
		}}
	}})
	<-stopped
	time.Sleep(10 * time.Second)
	r.must(srv.Start(), "restart clickhouse")
	r.waitSynced()

	srv.Stop()
	r.addKey(acct, newKey())
	r.update(acct, k1, events.SetRequiredPaymaster{Paymaster: events.AddressFrom(acct)})
	time.Sleep(10 * time.Second)
	r.must(srv.Start(), "restart clickhouse")
	r.verify()
}

// Case 4: NATS restarts while the indexer publishes: no event is lost from the stream, and a
// durable consumer (the enforcer's) resumes and sees every event.
func TestNATSRestart(t *testing.T) {
	r := newRig(t, rigOptions{})
	k1 := newKey()
	acct := r.newAccount(k1)
	cons, err := bus.NewConsumer(r.ctx, mustJS(t, r), bus.ConsumerOptions{Durable: "reliability", LogOnlyDeadLetters: true})
	r.must(err, "consumer")
	var mu sync.Mutex
	seen := map[string]int{}
	h, err := cons.Consume(r.ctx, func(_ context.Context, d bus.Delivery) error {
		if d.Class == bus.ClassEvent {
			mu.Lock()
			seen[d.Event.ID()]++
			mu.Unlock()
		}
		return nil
	})
	r.must(err, "consume")
	t.Cleanup(h.Stop)
	r.startIndexer(indexerOptions{})
	r.waitSynced()

	r.nats.Shutdown()
	r.addKey(acct, newKey())
	r.update(acct, k1, events.UpdateTimeRange{ValidUntil: 4_100_000_000})
	time.Sleep(time.Second)
	r.must(r.nats.Start(), "restart nats")
	r.addKey(acct, newKey())
	r.verify()

	want, _ := r.truth()
	r.waitFor("the durable consumer to see every event", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for id := range want {
			if seen[id] == 0 {
				return false
			}
		}
		return true
	})
}

// ─── The indexer as a subprocess (cases 2 and 3) ─────────────────────────────────────────────

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func indexerBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kw-indexer-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "indexer")
		args := []string{"build", "-o", binPath}
		if mf := os.Getenv("KEYWARDEN_TEST_MODFILE"); mf != "" {
			args = append(args, "-modfile="+mf)
		}
		cmd := exec.Command("go", append(args, "github.com/keywarden/keywarden/cmd/indexer")...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build cmd/indexer: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type proc struct {
	cmd    *exec.Cmd
	out    *bytes.Buffer
	done   chan struct{}
	err    error
	config string
}

// writeConfig writes the subprocess's configuration file for the rig.
func (r *rig) writeConfig() string {
	cc := r.chainConfig()
	cfg := fmt.Sprintf(`chains:
  - id: %d
    rpc_urls: [%q]
    session_key_plugins: [%q]
    multi_owner_plugin: %q
    entry_point: %q
    finality: {confirmations: 2}
    reorg_window: 16
    poll_interval: 20ms
    range_size: %d
    concurrency: 2
    request_timeout: 2s
clickhouse:
  addrs: [%q]
  database: %q
  username: %q
nats:
  url: %q
http:
  listen: 127.0.0.1:0
log: {level: warn, format: json}
shutdown_timeout: 12s
`, cc.ID, r.rpcURL, cc.SessionKeyPlugins[0], cc.MultiOwnerPlugin, cc.EntryPoint, cc.RangeSize, r.ch.Addr, r.ch.Database, r.ch.Username, r.nats.URL)
	path := filepath.Join(r.t.TempDir(), "indexer.yaml")
	r.must(os.WriteFile(path, []byte(cfg), 0o600), "write config")
	return path
}

func (r *rig) startProcess(config string) *proc {
	r.t.Helper()
	cmd := exec.Command(indexerBinary(r.t), "-config", config)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if r.ch.Password != "" {
		cmd.Env = append(os.Environ(), "KEYWARDEN_CLICKHOUSE_PASSWORD="+r.ch.Password)
	}
	r.must(cmd.Start(), "start indexer")
	p := &proc{cmd: cmd, out: out, done: make(chan struct{}), config: config}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	r.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if r.t.Failed() {
			r.t.Logf("indexer output:\n%s", p.out.String())
		}
	})
	return p
}

func (p *proc) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// checkpoint returns the stored checkpoint (zero when none yet).
func (r *rig) checkpoint() ingest.BlockRef {
	cp, err := r.store.Checkpoint(r.ctx, r.chain.ChainID.Uint64())
	if err != nil {
		return ingest.BlockRef{}
	}
	return cp
}

// assertCommittedConsistent checks that what the checkpoint covers is complete: every event
// of the chain up to the checkpoint is stored, and a committed read shows nothing above it.
func (r *rig) assertCommittedConsistent() {
	r.t.Helper()
	cp := r.checkpoint()
	want, _ := r.truth()
	got, err := r.st.Events(r.ctx, store.EventFilter{ChainID: r.chain.ChainID.Uint64(), Committed: true})
	r.must(err, "committed events")
	have := map[string]bool{}
	for _, e := range got {
		have[e.ID()] = true
		if e.BlockNumber > cp.Number {
			r.t.Errorf("committed read shows event %s of block %d above the checkpoint %d", e.ID(), e.BlockNumber, cp.Number)
		}
	}
	for id, e := range want {
		if e.BlockNumber <= cp.Number && !have[id] {
			r.t.Errorf("event %s of block %d is under the checkpoint %d but not stored", id, e.BlockNumber, cp.Number)
		}
	}
}

// Case 2: the indexer is killed (SIGKILL) during a backfill write, while idle at the head,
// and while tailing a burst of events. Each time it resumes from its own checkpoint, leaves no
// gap and applies nothing twice; a committed read never shows half a batch.
func TestKillAndResume(t *testing.T) {
	r := newRig(t, rigOptions{})
	k1 := newKey()
	acct := r.newAccount(k1, newKey(), newKey())
	for i := 0; i < 30; i++ {
		r.addKey(acct, newKey(), r.somePerms(uint64(i))...)
	}
	cfg := r.writeConfig()

	// 1. During the backfill: as soon as the first batch is committed, the next is in flight.
	p := r.startProcess(cfg)
	first := uint64(0)
	r.waitFor("a first checkpoint", func() bool { first = r.checkpoint().Number; return first > 0 })
	p.kill(t)
	r.assertCommittedConsistent()

	// 2. Idle at the head.
	p = r.startProcess(cfg)
	r.waitSynced()
	p.kill(t)
	r.assertCommittedConsistent()

	// 3. While a burst of events is being written.
	p = r.startProcess(cfg)
	r.waitSynced()
	for i := 0; i < 5; i++ {
		r.addKey(acct, newKey())
	}
	before := r.checkpoint().Number
	r.waitFor("the burst to be picked up", func() bool { return r.checkpoint().Number > before })
	p.kill(t)
	r.assertCommittedConsistent()

	r.startProcess(cfg)
	r.rotateKey(acct, k1, newKey())
	r.verify()
}

// Case 3: SIGTERM drains and exits 0 within 15 s, with the checkpoint consistent with the data.
func TestSIGTERM(t *testing.T) {
	r := newRig(t, rigOptions{})
	acct := r.newAccount(newKey())
	cfg := r.writeConfig()
	p := r.startProcess(cfg)
	r.waitSynced()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // keep the indexer busy while it is told to stop
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := r.chain.AddKey(r.ctx, r.owner, acct, newKey(), [32]byte{}, nil); err != nil {
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond)
	r.must(p.cmd.Process.Signal(syscall.SIGTERM), "SIGTERM")
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("indexer still running 15 s after SIGTERM")
	}
	close(stop)
	<-done
	var exit *exec.ExitError
	if errors.As(p.err, &exit) || p.err != nil {
		t.Fatalf("indexer exited with %v after SIGTERM, want 0\n%s", p.err, p.out.String())
	}
	r.assertCommittedConsistent()
	r.startProcess(cfg)
	r.verify()
}

var _ = common.Address{}
