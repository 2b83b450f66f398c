package devchain

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"math/rand"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/keywarden/keywarden/pkg/events"
)

// OpKind is a session-key operation of a scenario's mix.
type OpKind string

// The four operations a scenario mixes.
const (
	OpAdd    OpKind = "add"    // addSessionKey with two permission updates: SessionKeyAdded + PermissionsUpdated
	OpUpdate OpKind = "update" // updateKeyPermissions with two updates: PermissionsUpdated
	OpRotate OpKind = "rotate" // rotateSessionKey to a fresh key: SessionKeyRotated
	OpRemove OpKind = "remove" // removeSessionKey: SessionKeyRemoved
)

var opKinds = []OpKind{OpAdd, OpUpdate, OpRotate, OpRemove}

// ScenarioHelp documents the -scenario syntax.
const ScenarioHelp = `A scenario is a comma-separated list of key=value settings:
  accounts=N    accounts to create (default 10), owned by the funded keys 1..K-2 in turn
  keys=M        session keys installed with the plugin on each account (default 5)
  mix=K:W,...   weights of the operations to generate after setup (default add:5,update:3,rotate:1,remove:1):
                  add     addSessionKey with 2 permission updates  -> SessionKeyAdded + PermissionsUpdated
                  update  updateKeyPermissions with 2 updates      -> PermissionsUpdated
                  rotate  rotateSessionKey to a fresh key          -> SessionKeyRotated
                  remove  removeSessionKey                         -> SessionKeyRemoved
                an operation that needs a key on an account without keys becomes an add
  events=E      stop once at least E session-key events were emitted, setup included (default 100000)
  rate=R        session-key events per second; 0 = as fast as the chain seals them (default 0)
  batch=B       plugin calls per owner transaction (executeBatch of self-calls; default: as many as fit 12M gas)
  seed=S        seed of the random choices (default 1)
Example: accounts=100,keys=10,mix=add:5,update:3,rotate:1,remove:1,events=100000,rate=0`

// Scenario is a load profile for [Chain.RunScenario]; see [ScenarioHelp].
type Scenario struct {
	Accounts int
	Keys     int
	Mix      map[OpKind]int
	Events   int
	Rate     float64
	Batch    int
	Seed     int64
}

// DefaultScenario is the scenario of an empty string.
func DefaultScenario() Scenario {
	return Scenario{Accounts: 10, Keys: 5, Events: 100_000, Seed: 1,
		Mix: map[OpKind]int{OpAdd: 5, OpUpdate: 3, OpRotate: 1, OpRemove: 1}}
}

// ParseScenario parses the -scenario syntax of [ScenarioHelp]. Every bad setting is reported.
func ParseScenario(s string) (Scenario, error) {
	sc := DefaultScenario()
	var errs []error
	inMix := false
	mixSet := false
	for _, tok := range strings.Split(s, ",") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		key, val, hasEq := strings.Cut(tok, "=")
		if !hasEq {
			if inMix {
				errs = append(errs, sc.addMix(tok))
				continue
			}
			errs = append(errs, fmt.Errorf("%q: want key=value", tok))
			continue
		}
		inMix = false
		num := func() int {
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				errs = append(errs, fmt.Errorf("%s=%q: want a non-negative integer", key, val))
			}
			return n
		}
		switch key {
		case "accounts":
			sc.Accounts = num()
		case "keys":
			sc.Keys = num()
		case "events":
			sc.Events = num()
		case "batch":
			sc.Batch = num()
		case "seed":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil {
				errs = append(errs, fmt.Errorf("seed=%q: want an integer", val))
			}
			sc.Seed = n
		case "rate":
			r, err := strconv.ParseFloat(val, 64)
			if err != nil || r < 0 {
				errs = append(errs, fmt.Errorf("rate=%q: want a non-negative number", val))
			}
			sc.Rate = r
		case "mix":
			if !mixSet {
				sc.Mix, mixSet = map[OpKind]int{}, true
			}
			inMix = true
			errs = append(errs, sc.addMix(val))
		default:
			errs = append(errs, fmt.Errorf("unknown setting %q", key))
		}
	}
	if sc.Accounts < 1 {
		errs = append(errs, errors.New("accounts must be at least 1"))
	}
	total := 0
	for _, w := range sc.Mix {
		total += w
	}
	if total == 0 {
		errs = append(errs, errors.New("mix has no positive weight"))
	}
	if err := errors.Join(errs...); err != nil {
		return Scenario{}, fmt.Errorf("parse scenario: %w", err)
	}
	return sc, nil
}

func (sc *Scenario) addMix(entry string) error {
	k, w, ok := strings.Cut(entry, ":")
	n, err := strconv.Atoi(w)
	if !ok || err != nil || n < 0 {
		return fmt.Errorf("mix entry %q: want kind:weight", entry)
	}
	kind := OpKind(k)
	for _, known := range opKinds {
		if kind == known {
			sc.Mix[kind] = n
			return nil
		}
	}
	return fmt.Errorf("mix entry %q: kind must be add, update, rotate or remove", entry)
}

// String renders the scenario in the -scenario syntax.
func (sc Scenario) String() string {
	mix := make([]string, 0, len(opKinds))
	for _, k := range opKinds {
		if w := sc.Mix[k]; w > 0 {
			mix = append(mix, fmt.Sprintf("%s:%d", k, w))
		}
	}
	return fmt.Sprintf("accounts=%d,keys=%d,mix=%s,events=%d,rate=%g,batch=%d,seed=%d",
		sc.Accounts, sc.Keys, strings.Join(mix, ","), sc.Events, sc.Rate, sc.Batch, sc.Seed)
}

// ScenarioStats reports a scenario run.
type ScenarioStats struct {
	// Events counts the session-key events (the plugin's four events) mined, setup included.
	Events int `json:"events"`
	// SetupEvents are those of plugin installation with the initial keys.
	SetupEvents int `json:"setup_events"`
	// ByKind counts the operations sent after setup.
	ByKind       map[OpKind]int `json:"by_kind"`
	Transactions int            `json:"transactions"`
	Blocks       int            `json:"blocks"`
	GasUsed      uint64         `json:"gas_used"`
	Setup        time.Duration  `json:"setup_ns"`
	Elapsed      time.Duration  `json:"elapsed_ns"`
}

// EventsPerSecond is Events over Elapsed (setup included).
func (s ScenarioStats) EventsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Events) / s.Elapsed.Seconds()
}

// Per-call gas budgets inside executeBatch (measured on the stand-ins under Osaka rules,
// with a 40% margin); a transaction's limit is the sum plus a base.
var opGas = map[OpKind]uint64{OpAdd: 240_000, OpUpdate: 120_000, OpRotate: 150_000, OpRemove: 60_000}

const (
	txBaseGas   = 120_000
	txGasBudget = 12_000_000
)

var sentinel = [32]byte(common.LeftPadBytes([]byte{1}, 32))

// scenarioAccount is the locally tracked state of one account.
type scenarioAccount struct {
	addr  common.Address
	owner *ecdsa.PrivateKey
	keys  []common.Address // newest first, as sessionKeysOf returns them
}

func (a *scenarioAccount) predecessor(i int) [32]byte {
	if i == 0 {
		return sentinel
	}
	var p [32]byte
	copy(p[:], a.keys[i-1][:])
	return p
}

func (a *scenarioAccount) unlink(i int) {
	a.keys = append(a.keys[:i], a.keys[i+1:]...)
}

type scenarioRun struct {
	c       *Chain
	sc      Scenario
	rng     *rand.Rand
	next    uint64 // key counter
	stats   ScenarioStats
	weights []OpKind
}

func (r *scenarioRun) newKey() common.Address {
	r.next++
	return common.BytesToAddress(crypto.Keccak256([]byte("keywarden scenario key " + strconv.FormatUint(r.next, 10)))[12:])
}

func (r *scenarioRun) perms(i uint64) []events.Update {
	return []events.Update{
		events.UpdateTimeRange{ValidAfter: 0, ValidUntil: 2_000_000_000 + i%1_000_000},
		events.SetNativeTokenSpendLimit{Limit: events.U256From64(1e15 * (1 + i%1000)), RefreshInterval: 3600 * (i % 24)},
	}
}

// RunScenario creates the scenario's accounts, installs the plugin with the initial keys and
// then sends the mix of operations as owner transactions (executeBatch of self-calls) until
// the event target is reached. It seals blocks itself unless auto-mining is on. Every
// transaction must succeed: a failure ends the run with an error.
func (c *Chain) RunScenario(ctx context.Context, sc Scenario, progress func(ScenarioStats)) (ScenarioStats, error) {
	if len(c.Keys) < 3 {
		return ScenarioStats{}, errors.New("run scenario: need at least 3 funded keys")
	}
	r := &scenarioRun{c: c, sc: sc, rng: rand.New(rand.NewSource(sc.Seed)), stats: ScenarioStats{ByKind: map[OpKind]int{}}}
	for _, k := range opKinds {
		for i := 0; i < sc.Mix[k]; i++ {
			r.weights = append(r.weights, k)
		}
	}
	if len(r.weights) == 0 {
		return ScenarioStats{}, errors.New("run scenario: empty mix")
	}
	start := time.Now()
	accts, err := r.setup(ctx)
	if err != nil {
		return r.stats, fmt.Errorf("run scenario: %w", err)
	}
	r.stats.Setup = time.Since(start)
	r.stats.SetupEvents = r.stats.Events
	if progress != nil {
		r.stats.Elapsed = time.Since(start)
		progress(r.stats)
	}
	loadStart := time.Now()
	loadEvents := 0
	turn := 0
	for r.stats.Events < sc.Events {
		if err := ctx.Err(); err != nil {
			return r.stats, fmt.Errorf("run scenario: %w", err)
		}
		// One round fills about one block.
		var txs []*types.Transaction
		var roundGas uint64
		roundEvents := 0
		want := sc.Events - r.stats.Events
		if sc.Rate > 0 {
			want = min(want, max(1, int(sc.Rate)))
		}
		for roundGas+txGasBudget <= c.blockGasLimit() && roundEvents < want {
			a := accts[turn%len(accts)]
			turn++
			calls, gas, evs, err := r.batch(a, want-roundEvents)
			if err != nil {
				return r.stats, fmt.Errorf("run scenario: %w", err)
			}
			data, err := c.ExecuteBatchCall(calls)
			if err != nil {
				return r.stats, err
			}
			tx, err := c.Send(ctx, TxRequest{From: a.owner, To: &a.addr, Data: data, Gas: gas})
			if err != nil {
				return r.stats, fmt.Errorf("run scenario: %w", err)
			}
			txs = append(txs, tx)
			roundGas += gas
			roundEvents += evs
		}
		before := r.stats.Events
		if err := r.settle(ctx, txs); err != nil {
			return r.stats, fmt.Errorf("run scenario: %w", err)
		}
		loadEvents += r.stats.Events - before
		r.stats.Elapsed = time.Since(start)
		if progress != nil {
			progress(r.stats)
		}
		if sc.Rate > 0 {
			due := loadStart.Add(time.Duration(float64(loadEvents) / sc.Rate * float64(time.Second)))
			select {
			case <-ctx.Done():
				return r.stats, fmt.Errorf("run scenario: %w", ctx.Err())
			case <-time.After(time.Until(due)):
			}
		}
	}
	r.stats.Elapsed = time.Since(start)
	return r.stats, nil
}

func (c *Chain) blockGasLimit() uint64 {
	h, err := c.client.HeaderByNumber(context.Background(), nil)
	if err != nil {
		return 30_000_000
	}
	return h.GasLimit
}

// batch draws operations for one account until the gas budget or the event budget is used.
func (r *scenarioRun) batch(a *scenarioAccount, maxEvents int) ([]Call, uint64, int, error) {
	var calls []Call
	gas := uint64(txBaseGas)
	evs := 0
	for evs < maxEvents {
		if r.sc.Batch > 0 && len(calls) >= r.sc.Batch {
			break
		}
		kind := r.weights[r.rng.Intn(len(r.weights))]
		if len(a.keys) == 0 {
			kind = OpAdd
		}
		if gas+opGas[kind] > txGasBudget {
			break
		}
		var data []byte
		var err error
		switch kind {
		case OpAdd:
			k := r.newKey()
			data, err = r.c.AddSessionKeyCall(k, Tag("scenario-"+strconv.FormatUint(r.next, 10)), r.perms(r.next))
			a.keys = append([]common.Address{k}, a.keys...)
			evs += 2
		case OpUpdate:
			i := r.rng.Intn(len(a.keys))
			data, err = r.c.UpdatePermissionsCall(a.keys[i], r.perms(uint64(r.rng.Int63())))
			evs++
		case OpRotate:
			i := r.rng.Intn(len(a.keys))
			k := r.newKey()
			data, err = r.c.RotateSessionKeyCall(a.keys[i], a.predecessor(i), k)
			a.unlink(i)
			a.keys = append([]common.Address{k}, a.keys...)
			evs++
		case OpRemove:
			i := r.rng.Intn(len(a.keys))
			data, err = r.c.RemoveSessionKeyCall(a.keys[i], a.predecessor(i))
			a.unlink(i)
			evs++
		}
		if err != nil {
			return nil, 0, 0, err
		}
		calls = append(calls, Call{Target: a.addr, Data: data})
		gas += opGas[kind]
		r.stats.ByKind[kind]++
	}
	return calls, gas, evs, nil
}

// settle seals blocks (or waits for the auto-miner) until every tx is mined, checks that each
// succeeded and counts the session-key events they emitted.
func (r *scenarioRun) settle(ctx context.Context, txs []*types.Transaction) error {
	c := r.c
	blocks := map[common.Hash]bool{}
	for _, tx := range txs {
		rcpt, err := c.Mined(ctx, tx)
		if err != nil {
			return err
		}
		if rcpt.Status != types.ReceiptStatusSuccessful {
			return fmt.Errorf("transaction %s failed (gas used %d of %d)", tx.Hash().Hex(), rcpt.GasUsed, tx.Gas())
		}
		blocks[rcpt.BlockHash] = true
		r.stats.GasUsed += rcpt.GasUsed
		r.stats.Events += countSessionKeyEvents(rcpt.Logs, c.Addresses.SessionKeyPlugin)
	}
	r.stats.Transactions += len(txs)
	r.stats.Blocks += len(blocks)
	return nil
}

var sessionKeyTopics = map[common.Hash]bool{
	events.TopicSessionKeyAdded: true, events.TopicSessionKeyRemoved: true,
	events.TopicSessionKeyRotated: true, events.TopicPermissionsUpdated: true,
}

func countSessionKeyEvents(logs []*types.Log, plugin common.Address) int {
	n := 0
	for _, l := range logs {
		if l.Address == plugin && len(l.Topics) > 0 && sessionKeyTopics[l.Topics[0]] {
			n++
		}
	}
	return n
}

// setup creates the accounts and installs the plugin with the initial keys on each.
func (r *scenarioRun) setup(ctx context.Context) ([]*scenarioAccount, error) {
	c := r.c
	owners := c.Keys[1 : len(c.Keys)-1]
	accts := make([]*scenarioAccount, r.sc.Accounts)
	var txs []*types.Transaction
	var createGas uint64
	for i := range accts {
		owner := owners[i%len(owners)]
		salt := new(big.Int).SetUint64(saltCounter.Add(1))
		addr, err := c.AccountAddress(ctx, salt, []common.Address{Address(owner)})
		if err != nil {
			return nil, err
		}
		accts[i] = &scenarioAccount{addr: addr, owner: owner}
		data, err := pack(c.abis.factory, "createAccount", salt, []common.Address{Address(owner)})
		if err != nil {
			return nil, err
		}
		req := TxRequest{From: c.deployer, To: &c.Addresses.Factory, Data: data, Gas: createGas}
		tx, err := c.Send(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("create account: %w", err)
		}
		createGas = tx.Gas() // every account costs the same: estimate once
		txs = append(txs, tx)
		if len(txs)*int(createGas) > int(c.blockGasLimit())-int(createGas) {
			if err := r.settle(ctx, txs); err != nil {
				return nil, err
			}
			txs = txs[:0]
		}
	}
	if err := r.settle(ctx, txs); err != nil {
		return nil, err
	}
	txs = txs[:0]
	var installGas, round uint64
	for _, a := range accts {
		keys := make([]common.Address, r.sc.Keys)
		tags := make([][32]byte, r.sc.Keys)
		perms := make([][]events.Update, r.sc.Keys)
		for j := range keys {
			keys[j] = r.newKey()
			tags[j] = Tag("scenario-" + strconv.FormatUint(r.next, 10))
			perms[j] = r.perms(r.next)
		}
		data, err := c.InstallSessionKeyPluginCall(ctx, keys, tags, perms)
		if err != nil {
			return nil, err
		}
		tx, err := c.Send(ctx, TxRequest{From: a.owner, To: &a.addr, Data: data, Gas: installGas})
		if err != nil {
			return nil, fmt.Errorf("install plugin: %w", err)
		}
		installGas = tx.Gas()
		// sessionKeysOf is newest first: the last initial key is the head.
		for j := len(keys) - 1; j >= 0; j-- {
			a.keys = append(a.keys, keys[j])
		}
		txs = append(txs, tx)
		round += installGas
		if round+installGas > c.blockGasLimit() {
			if err := r.settle(ctx, txs); err != nil {
				return nil, err
			}
			txs, round = txs[:0], 0
		}
	}
	if err := r.settle(ctx, txs); err != nil {
		return nil, err
	}
	return accts, nil
}

func filterAll(plugin common.Address) ethereum.FilterQuery {
	return ethereum.FilterQuery{FromBlock: big.NewInt(0), Addresses: []common.Address{plugin}}
}
