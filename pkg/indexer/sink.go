package indexer

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/rs/zerolog"

	"github.com/keywarden/keywarden/pkg/bus"
	"github.com/keywarden/keywarden/pkg/decoder"
	"github.com/keywarden/keywarden/pkg/events"
	"github.com/keywarden/keywarden/pkg/ingest"
	"github.com/keywarden/keywarden/pkg/store"
)

// Publisher is what the sink needs from the bus: a batch that returns nil only when every
// message is stored (bus.Publisher).
type Publisher interface {
	PublishBatch(ctx context.Context, msgs []bus.Msg) error
}

// HeaderVerified is set to "false" on the message of an event whose account had not installed
// the plugin when the event was emitted (see events.Event.Verified).
const HeaderVerified = "Keywarden-Verified"

// Options configure a Sink.
type Options struct {
	ChainID uint64
	// Plugins are the Session Key Plugins watched on the chain (their events are folded into
	// key states per plugin). Required.
	Plugins []events.Address
	Store   Store     // required
	Bus     Publisher // required
	Metrics Metrics
	Logger  zerolog.Logger
	// DrainGrace is how long a batch being committed may still take once the context ended
	// (default 5s): a stop drains it instead of abandoning it.
	DrainGrace time.Duration
	// MaxCachedAccounts bounds the in-memory folds (default 100000); an evicted account is
	// refolded from storage when it shows up again.
	MaxCachedAccounts int
}

// Sink is the ingest.Sink of one chain: it decodes, verifies, folds, stores, publishes and
// only then checkpoints. See the package documentation for its guarantees.
type Sink struct {
	opts    Options
	log     zerolog.Logger
	plugins map[events.Address]bool

	mu       sync.Mutex
	accounts map[events.Address]*accountEntry
	inited   bool
	// orphans are events stored above the checkpoint at start (a write whose checkpoint never
	// moved): each is either delivered again or retracted when the source passes its block.
	orphans map[string]events.Event
	// orphanFailures are the decode failures of such a write, reconciled the same way.
	orphanFailures map[string]events.DecodeFailure
	// readded maps the id of an event a reorg retracted to the suffix of that reorg: if the
	// chain comes back to the same block, the event and its states are published again under
	// ids JetStream has not seen (it would drop them as duplicates of the pre-reorg messages).
	readded map[string]string
}

// accountEntry is the fold of one account: its account state and one key fold per plugin.
type accountEntry struct {
	state AccountState
	folds map[events.Address]*events.AccountKeys
}

var _ ingest.Sink = (*Sink)(nil)

// NewSink returns the sink of one chain.
func NewSink(opts Options) (*Sink, error) {
	var errs []error
	if opts.ChainID == 0 {
		errs = append(errs, errors.New("chain id is required"))
	}
	if len(opts.Plugins) == 0 {
		errs = append(errs, errors.New("at least one session key plugin is required"))
	}
	if opts.Store == nil {
		errs = append(errs, errors.New("store is required"))
	}
	if opts.Bus == nil {
		errs = append(errs, errors.New("bus is required"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("new sink: %w", errors.Join(errs...))
	}
	if opts.Metrics == nil {
		opts.Metrics = NopMetrics{}
	}
	if opts.DrainGrace <= 0 {
		opts.DrainGrace = 5 * time.Second
	}
	if opts.MaxCachedAccounts <= 0 {
		opts.MaxCachedAccounts = 100000
	}
	s := &Sink{opts: opts, log: opts.Logger.With().Str("component", "sink").Uint64("chain_id", opts.ChainID).Logger(),
		plugins: map[events.Address]bool{}, accounts: map[events.Address]*accountEntry{}}
	for _, p := range opts.Plugins {
		s.plugins[p] = true
	}
	return s, nil
}

// init reads, once, the events a crashed write left above the checkpoint.
func (s *Sink) init(ctx context.Context) error {
	if s.inited {
		return nil
	}
	from := uint64(0)
	cp, err := s.opts.Store.Checkpoint(ctx, s.opts.ChainID)
	switch {
	case err == nil:
		from = cp.Number + 1
	case errors.Is(err, ingest.ErrNoCheckpoint):
	default:
		return fmt.Errorf("read checkpoint: %w", err)
	}
	stored, err := s.opts.Store.EventsFrom(ctx, s.opts.ChainID, from)
	if err != nil {
		return fmt.Errorf("read events above the checkpoint: %w", err)
	}
	s.orphans = map[string]events.Event{}
	for _, e := range stored {
		if !e.Removed {
			s.orphans[e.ID()] = e
		}
	}
	fails, err := s.opts.Store.FailuresFrom(ctx, s.opts.ChainID, from)
	if err != nil {
		return fmt.Errorf("read decode failures above the checkpoint: %w", err)
	}
	s.orphanFailures = map[string]events.DecodeFailure{}
	for _, f := range fails {
		s.orphanFailures[f.ID()] = f
	}
	if len(s.orphans) > 0 {
		s.log.Warn().Int("events", len(s.orphans)).Uint64("from_block", from).
			Msg("events stored above the checkpoint by an unfinished batch: they are kept if delivered again, retracted otherwise")
	}
	s.inited = true
	return nil
}

// item is one decoded log (an event or a failure) in chain order.
type item struct {
	ev   *events.Event
	fail *events.DecodeFailure
}

type txKey struct {
	block   common.Hash
	tx      uint64
	account events.Address
	plugin  events.Address
}

// decode turns every log into an event or a failure record; nothing is dropped except logs
// whose topic0 keywarden does not watch at all.
func (s *Sink) decode(b ingest.Batch) []item {
	refs := make(map[uint64]ingest.BlockRef, len(b.Blocks))
	for _, r := range b.Blocks {
		refs[r.Number] = r
	}
	out := make([]item, 0, len(b.Logs))
	for _, lg := range b.Logs {
		ref := refs[lg.BlockNumber]
		meta := decoder.Meta{ChainID: s.opts.ChainID, BlockTime: ref.Time, ParentHash: ref.Parent}
		e, err := decodeSafe(lg, meta)
		switch {
		case err == nil:
			out = append(out, item{ev: &e})
		case errors.Is(err, decoder.ErrNotOurs):
			s.log.Debug().Uint64("block_number", lg.BlockNumber).Uint("log_index", lg.Index).Msg("log not watched, ignored")
		default:
			f := decoder.Failure(lg, meta, err)
			out = append(out, item{fail: &f})
		}
	}
	return out
}

// decodeSafe is Decode with a last line of defence: a panic becomes a failure record.
func decodeSafe(lg types.Log, meta decoder.Meta) (e events.Event, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("decode log: internal error: %v", r)
		}
	}()
	return decoder.Decode(lg, meta)
}

// foldPlugin is the plugin whose key fold an event belongs to, if any.
func (s *Sink) foldPlugin(e events.Event) (events.Address, bool) {
	switch p := e.Payload.(type) {
	case events.SessionKeyAdded, events.SessionKeyRemoved, events.SessionKeyRotated, events.PermissionsUpdated:
		return e.Emitter, s.plugins[e.Emitter]
	case events.PluginInstalled:
		return p.Plugin, s.plugins[p.Plugin]
	case events.PluginUninstalled:
		return p.Plugin, s.plugins[p.Plugin]
	}
	return events.Address{}, false
}

func isAccountEvent(e events.Event) bool {
	switch e.Payload.(type) {
	case events.PluginInstalled, events.PluginUninstalled, events.OwnerUpdated:
		return true
	}
	return false
}

func (s *Sink) newEntry(account events.Address) *accountEntry {
	en := &accountEntry{state: AccountState{ChainID: s.opts.ChainID, Account: account, Plugins: []events.Address{}, Owners: []events.Address{}},
		folds: make(map[events.Address]*events.AccountKeys, len(s.plugins))}
	for p := range s.plugins {
		en.folds[p] = events.NewAccountKeys(s.opts.ChainID, p, account)
	}
	return en
}

// replay folds stored events into en; inconsistencies were counted when the events arrived.
func (s *Sink) replay(en *accountEntry, e events.Event) {
	if isAccountEvent(e) {
		en.state.apply(e)
	}
	if p, ok := s.foldPlugin(e); ok {
		_, _ = en.folds[p].Apply(e)
	}
}

// load refolds accounts from their surviving stored events up to maxBlock.
func (s *Sink) load(ctx context.Context, accounts []events.Address, maxBlock uint64) (map[events.Address]*accountEntry, error) {
	out := make(map[events.Address]*accountEntry, len(accounts))
	for _, a := range accounts {
		out[a] = s.newEntry(a)
	}
	if len(accounts) == 0 {
		return out, nil
	}
	stored, err := s.opts.Store.AccountEvents(ctx, s.opts.ChainID, accounts, maxBlock)
	if err != nil {
		return nil, fmt.Errorf("refold %d accounts: %w", len(accounts), err)
	}
	sortEvents(stored)
	for _, e := range stored {
		if e.Removed || e.BlockNumber > maxBlock {
			continue
		}
		if en, ok := out[e.Account()]; ok {
			s.replay(en, e)
		}
	}
	return out, nil
}

func sortEvents(es []events.Event) {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Position.Before(es[j].Position) })
}

func (s *Sink) cache(a events.Address, en *accountEntry) {
	if _, ok := s.accounts[a]; !ok && len(s.accounts) >= s.opts.MaxCachedAccounts {
		for k := range s.accounts { // evict one at random: it is refolded on its next event
			delete(s.accounts, k)
			break
		}
	}
	s.accounts[a] = en
}

func eventMsg(e events.Event) (bus.Msg, error) {
	m, err := bus.EventMsg(e)
	if err != nil {
		return m, err
	}
	if !e.Verified && e.Payload != nil && e.Payload.Kind().IsPluginEvent() {
		if m.Headers == nil {
			m.Headers = map[string][]string{}
		}
		m.Headers.Set(HeaderVerified, "false")
	}
	return m, nil
}

// Apply implements ingest.Sink.
func (s *Sink) Apply(ctx context.Context, b ingest.Batch) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := time.Now()
	if b.ChainID != 0 && b.ChainID != s.opts.ChainID {
		return fmt.Errorf("apply batch of chain %d to the sink of chain %d", b.ChainID, s.opts.ChainID)
	}
	if len(b.Blocks) == 0 {
		return fmt.Errorf("apply batch %d-%d: no block refs", b.From, b.To)
	}
	if err := s.init(ctx); err != nil {
		s.opts.Metrics.BatchError(s.opts.ChainID, "init")
		return fmt.Errorf("apply batch %d-%d: %w", b.From, b.To, err)
	}
	items := s.decode(b)

	// Orphans of an unfinished write in this span that the chain no longer holds.
	inBatch := map[string]bool{}
	for _, it := range items {
		if it.ev != nil {
			inBatch[it.ev.ID()] = true
		} else {
			inBatch[it.fail.ID()] = true
		}
	}
	var orphans []events.Event
	var passed []string
	for id, o := range s.orphans {
		if o.BlockNumber >= b.From && o.BlockNumber <= b.To {
			passed = append(passed, id)
			if !inBatch[id] {
				r := o
				r.Removed = true
				orphans = append(orphans, r)
			}
		}
	}
	sortEvents(orphans)
	var orphanFails []events.DecodeFailure
	var passedFails []string
	for id, f := range s.orphanFailures {
		if f.BlockNumber >= b.From && f.BlockNumber <= b.To {
			passedFails = append(passedFails, id)
			if !inBatch[id] {
				f.Removed = true
				orphanFails = append(orphanFails, f)
			}
		}
	}

	// The accounts this batch touches, folded as of the checkpoint (b.From-1).
	touched := map[events.Address]bool{}
	var missing []events.Address
	need := func(a events.Address, force bool) {
		if touched[a] {
			return
		}
		touched[a] = true
		if _, ok := s.accounts[a]; !ok || force {
			missing = append(missing, a)
		}
	}
	for _, o := range orphans {
		need(o.Account(), true)
	}
	for _, it := range items {
		if it.ev != nil {
			need(it.ev.Account(), false)
		}
	}
	// On any failure below, the folds of touched accounts may hold part of this batch: drop
	// them so that the retry refolds from storage.
	defer func() {
		if err != nil {
			for a := range touched {
				delete(s.accounts, a)
			}
		}
	}()
	maxBlock := uint64(0)
	if b.From > 0 {
		maxBlock = b.From - 1
	}
	loaded, err := s.load(ctx, missing, maxBlock)
	if err != nil {
		s.opts.Metrics.BatchError(s.opts.ChainID, "refold")
		return fmt.Errorf("apply batch %d-%d: %w", b.From, b.To, err)
	}
	for a, en := range loaded {
		s.cache(a, en)
	}
	entries := make(map[events.Address]*accountEntry, len(touched))
	for a := range touched {
		en, ok := s.accounts[a]
		if !ok { // evicted while caching this very batch
			en = loaded[a]
			if en == nil {
				l, lerr := s.load(ctx, []events.Address{a}, maxBlock)
				if lerr != nil {
					return fmt.Errorf("apply batch %d-%d: %w", b.From, b.To, lerr)
				}
				en = l[a]
			}
		}
		entries[a] = en
	}

	// Install transactions: the plugin's events come before the account's PluginInstalled.
	installTx := map[txKey]bool{}
	for _, it := range items {
		if it.ev == nil {
			continue
		}
		if p, ok := it.ev.Payload.(events.PluginInstalled); ok {
			installTx[txKey{it.ev.BlockHash, it.ev.TxIndex, p.Account, p.Plugin}] = true
		}
	}

	w := store.Batch{Blocks: s.blockRows(b.Blocks, false)} // the store assigns a version above every stored one
	var msgs []bus.Msg
	var readded []string
	type rowKey struct{ plugin, account, key events.Address }
	keyIdx := map[rowKey]int{}
	stateMsgIdx := map[rowKey]int{}
	acctIdx := map[events.Address]int{}

	w.Failures = append(w.Failures, orphanFails...)
	for _, o := range orphans {
		w.Events = append(w.Events, o)
		m, merr := eventMsg(o)
		if merr != nil {
			return fmt.Errorf("apply batch %d-%d: %w", b.From, b.To, merr)
		}
		msgs = append(msgs, m)
	}
	if len(orphans) > 0 {
		s.opts.Metrics.Retracted(s.opts.ChainID, len(orphans))
	}

	for _, it := range items {
		if it.fail != nil {
			f := *it.fail
			w.Failures = append(w.Failures, f)
			s.opts.Metrics.DecodeFailure(s.opts.ChainID, f.Reason)
			s.log.Warn().Str("event_id", f.ID()).Uint64("block_number", f.BlockNumber).Str("reason", f.Reason).
				Str("error", f.Error).Msg("log did not decode: stored as a failure")
			m, merr := bus.FailureMsg(f)
			if merr != nil {
				return fmt.Errorf("apply batch %d-%d: %w", b.From, b.To, merr)
			}
			msgs = append(msgs, m)
			continue
		}
		e := *it.ev
		en := entries[e.Account()]
		plugin, folded := s.foldPlugin(e)
		var fold *events.AccountKeys
		if folded {
			fold = en.folds[plugin]
		}
		if e.Payload.Kind().IsPluginEvent() {
			e.Verified = folded && (fold.Installed || installTx[txKey{e.BlockHash, e.TxIndex, e.Account(), plugin}])
		} else {
			e.Verified = true // emitted by the account, the Multi Owner plugin or the EntryPoint itself
		}
		wasVerified := map[events.Address]bool{}
		if folded {
			for _, k := range e.SessionKeys() {
				if st, ok := fold.Key(k); ok {
					wasVerified[k] = st.Verified
				}
			}
		}
		w.Events = append(w.Events, e)
		s.opts.Metrics.Event(s.opts.ChainID, string(e.Payload.Kind()), e.Verified)
		m, merr := eventMsg(e)
		if merr != nil {
			return fmt.Errorf("apply batch %d-%d: %w", b.From, b.To, merr)
		}
		again := s.readded[e.ID()]
		if again != "" {
			m.MsgID += ":again" + again
			readded = append(readded, e.ID())
		}
		msgs = append(msgs, m)

		if isAccountEvent(e) && en.state.apply(e) {
			if i, ok := acctIdx[e.Account()]; ok {
				w.Accounts[i] = en.state.row()
			} else {
				acctIdx[e.Account()] = len(w.Accounts)
				w.Accounts = append(w.Accounts, en.state.row())
			}
		}
		if !folded {
			continue
		}
		changed, ferr := fold.Apply(e)
		if ferr != nil {
			s.opts.Metrics.Inconsistent(s.opts.ChainID, string(e.Payload.Kind()))
			s.log.Warn().Err(ferr).Str("event_id", e.ID()).Str("account", e.Account().Hex()).
				Msg("event does not follow the folded key state (history before the start block?): stored, state unchanged")
			// TODO(indexer): re-read the key from the plugin's views to resynchronise the fold.
			continue
		}
		for _, st := range changed {
			rk := rowKey{plugin, st.Account, st.SessionKey}
			if i, ok := keyIdx[rk]; ok {
				w.KeyStates[i] = st
			} else {
				keyIdx[rk] = len(w.KeyStates)
				w.KeyStates = append(w.KeyStates, st)
			}
			was := wasVerified[st.SessionKey]
			if isAccountEvent(e) {
				was = !st.Verified // install/uninstall report only the keys they flipped
			}
			if st.Verified || was {
				sm, serr := bus.StateMsg(st)
				if serr != nil {
					return fmt.Errorf("apply batch %d-%d: %w", b.From, b.To, serr)
				}
				// One state message per key per batch, the last: the states between two events
				// of one transaction never existed on chain at a block boundary, and acting on
				// them (a "fresh key without expiry" before its permissions land) is wrong.
				if again != "" {
					sm.MsgID += ":again" + again
				}
				if i, ok := stateMsgIdx[rk]; ok {
					msgs[i] = sm
				} else {
					stateMsgIdx[rk] = len(msgs)
					msgs = append(msgs, sm)
				}
			}
		}
	}

	// Keys the orphans named and this batch did not touch: their stored state came from the
	// unfinished write. Write (and publish) what the fold says now; a key that existed only in
	// orphans is retracted.
	for _, o := range orphans {
		p, ok := s.foldPlugin(o)
		if !ok {
			continue
		}
		en := entries[o.Account()]
		for _, k := range o.SessionKeys() {
			rk := rowKey{p, o.Account(), k}
			if _, done := keyIdx[rk]; done {
				continue
			}
			keyIdx[rk] = -1
			st, had := en.folds[p].Key(k)
			if had {
				w.KeyStates = append(w.KeyStates, st)
			} else {
				st = events.KeyState{Schema: events.SchemaVersion, ChainID: s.opts.ChainID, Plugin: p, Account: o.Account(), SessionKey: k,
					Status: store.StatusRetracted, Verified: o.Verified, Permissions: events.DefaultPermissions(),
					UpdatedBlock: o.BlockNumber, UpdatedTime: o.BlockTime, LastEventID: "retract:" + o.ID()}
				w.RetractedKeys = append(w.RetractedKeys, store.KeyRef{ChainID: s.opts.ChainID, Plugin: p, Account: o.Account(), SessionKey: k})
			}
			if st.Verified || o.Verified {
				sm, serr := bus.StateMsg(st)
				if serr != nil {
					return fmt.Errorf("apply batch %d-%d: %w", b.From, b.To, serr)
				}
				sm.MsgID += ":orphan:" + o.ID()
				msgs = append(msgs, sm)
			}
		}
	}

	if err := s.commit(ctx, w, msgs, b.Tip()); err != nil {
		return fmt.Errorf("apply batch %d-%d: %w", b.From, b.To, err)
	}
	for _, id := range passed {
		delete(s.orphans, id)
	}
	for _, id := range passedFails {
		delete(s.orphanFailures, id)
	}
	for _, id := range readded {
		delete(s.readded, id)
	}
	s.opts.Metrics.Batch(s.opts.ChainID, "apply", time.Since(start))
	return nil
}

// commit is the one order that makes the checkpoint safe: rows, then messages, then checkpoint.
//
// A batch being committed when ctx ends (SIGTERM) is drained: it gets Options.DrainGrace more
// to finish, so that a stop does not throw away work that is nearly durable.
func (s *Sink) commit(parent context.Context, w store.Batch, msgs []bus.Msg, cp ingest.BlockRef) error {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	defer cancel()
	go func() {
		select {
		case <-ctx.Done():
		case <-parent.Done():
			select {
			case <-ctx.Done():
			case <-time.After(s.opts.DrainGrace):
				cancel()
			}
		}
	}()
	if !w.Empty() {
		if err := s.opts.Store.WriteBatch(ctx, w); err != nil {
			s.opts.Metrics.BatchError(s.opts.ChainID, "store")
			return fmt.Errorf("store rows: %w", err)
		}
	}
	if len(msgs) > 0 {
		if err := s.opts.Bus.PublishBatch(ctx, msgs); err != nil {
			s.opts.Metrics.BatchError(s.opts.ChainID, "publish")
			return fmt.Errorf("publish %d messages: %w", len(msgs), err)
		}
	}
	if err := s.opts.Store.SetCheckpoint(ctx, s.opts.ChainID, cp); err != nil {
		s.opts.Metrics.BatchError(s.opts.ChainID, "checkpoint")
		return fmt.Errorf("set checkpoint %d: %w", cp.Number, err)
	}
	return nil
}

// Rollback implements ingest.Sink.
func (s *Sink) Rollback(ctx context.Context, chainID uint64, ancestor ingest.BlockRef, retracted []ingest.BlockRef) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := time.Now()
	if chainID != s.opts.ChainID {
		return fmt.Errorf("roll back chain %d in the sink of chain %d", chainID, s.opts.ChainID)
	}
	if err := s.init(ctx); err != nil {
		return fmt.Errorf("roll back to %d: %w", ancestor.Number, err)
	}
	// Every event stored above the ancestor, retracted already or not: retracting again is
	// harmless, and it makes a Rollback that crashed half-way complete on its second call.
	stored, err := s.opts.Store.EventsFrom(ctx, s.opts.ChainID, ancestor.Number+1)
	if err != nil {
		s.opts.Metrics.BatchError(s.opts.ChainID, "read")
		return fmt.Errorf("roll back to %d: %w", ancestor.Number, err)
	}
	sortEvents(stored)
	var accounts []events.Address
	seen := map[events.Address]bool{}
	for _, e := range stored {
		if a := e.Account(); !seen[a] {
			seen[a] = true
			accounts = append(accounts, a)
		}
	}
	after, err := s.load(ctx, accounts, ancestor.Number)
	if err != nil {
		s.opts.Metrics.BatchError(s.opts.ChainID, "refold")
		return fmt.Errorf("roll back to %d: %w", ancestor.Number, err)
	}
	// before: the surviving history plus everything above the ancestor, as it was delivered.
	before, err := s.load(ctx, accounts, ancestor.Number)
	if err != nil {
		return fmt.Errorf("roll back to %d: %w", ancestor.Number, err)
	}
	for _, e := range stored {
		e.Removed = false
		s.replay(before[e.Account()], e)
	}

	fails, err := s.opts.Store.FailuresFrom(ctx, s.opts.ChainID, ancestor.Number+1)
	if err != nil {
		s.opts.Metrics.BatchError(s.opts.ChainID, "read")
		return fmt.Errorf("roll back to %d: %w", ancestor.Number, err)
	}
	w := store.Batch{Blocks: s.blockRows(retracted, true)}
	for _, f := range fails {
		f.Removed = true
		w.Failures = append(w.Failures, f)
	}
	var msgs []bus.Msg
	for i := len(stored) - 1; i >= 0; i-- { // undo newest first
		r := stored[i]
		r.Removed = true
		w.Events = append(w.Events, r)
		m, merr := eventMsg(r)
		if merr != nil {
			return fmt.Errorf("roll back to %d: %w", ancestor.Number, merr)
		}
		msgs = append(msgs, m)
	}
	// A suffix that differs per abandoned branch, so that a state equal to one published
	// before the reorg is published again (JetStream would drop it as a duplicate otherwise).
	suffix := ":reorg:" + ancestor.Hash.Hex()
	if len(retracted) > 0 {
		suffix += ":" + retracted[0].Hash.Hex()
	}
	for _, a := range accounts {
		bf, af := before[a], after[a]
		if !reflect.DeepEqual(bf.state, af.state) {
			w.Accounts = append(w.Accounts, af.state.row())
		}
		plugins := make([]events.Address, 0, len(af.folds))
		for p := range af.folds {
			plugins = append(plugins, p)
		}
		sortAddrs(plugins)
		for _, p := range plugins {
			bk, ak := bf.folds[p], af.folds[p]
			for _, key := range keysOf(bk, ak) {
				old, hadOld := bk.Key(key)
				now, hasNow := ak.Key(key)
				var st events.KeyState
				switch {
				case hasNow && hadOld && reflect.DeepEqual(old, now):
					continue
				case hasNow:
					st = now
				default: // the key existed only in retracted events
					st = old.Clone()
					st.Status = store.StatusRetracted
					st.UpdatedBlock, st.UpdatedTime = ancestor.Number, ancestor.Time
					st.LastEventID = "retract:" + old.LastEventID
				}
				if st.Status == store.StatusRetracted {
					w.RetractedKeys = append(w.RetractedKeys, store.KeyRef{ChainID: st.ChainID, Plugin: st.Plugin, Account: st.Account, SessionKey: st.SessionKey})
				} else {
					w.KeyStates = append(w.KeyStates, st)
				}
				if st.Verified || (hadOld && old.Verified) {
					m, merr := bus.StateMsg(st)
					if merr != nil {
						return fmt.Errorf("roll back to %d: %w", ancestor.Number, merr)
					}
					m.MsgID += suffix
					msgs = append(msgs, m)
				}
			}
		}
	}
	if err := s.commit(ctx, w, msgs, ancestor); err != nil {
		// The folds of these accounts are unknown now: refold them on their next event.
		for _, a := range accounts {
			delete(s.accounts, a)
		}
		return fmt.Errorf("roll back to %d: %w", ancestor.Number, err)
	}
	for _, a := range accounts {
		s.cache(a, after[a])
	}
	if s.readded == nil || len(s.readded) > 100000 { // bounded: only quick flip-backs matter
		s.readded = map[string]string{}
	}
	for _, e := range stored {
		s.readded[e.ID()] = suffix
	}
	for id, o := range s.orphans {
		if o.BlockNumber > ancestor.Number {
			delete(s.orphans, id)
		}
	}
	for id, f := range s.orphanFailures {
		if f.BlockNumber > ancestor.Number {
			delete(s.orphanFailures, id)
		}
	}
	s.opts.Metrics.Retracted(s.opts.ChainID, len(stored))
	s.opts.Metrics.Batch(s.opts.ChainID, "rollback", time.Since(start))
	s.log.Info().Uint64("ancestor", ancestor.Number).Str("ancestor_hash", ancestor.Hash.Hex()).Int("retracted_blocks", len(retracted)).
		Int("retracted_events", len(stored)).Int("key_states", len(w.KeyStates)).Msg("rolled back")
	return nil
}

// blockRows are the block rows of refs (removed: heights a reorg took off the chain).
func (s *Sink) blockRows(refs []ingest.BlockRef, removed bool) []store.Block {
	out := make([]store.Block, len(refs))
	for i, r := range refs {
		out[i] = store.Block{ChainID: s.opts.ChainID, Number: r.Number, Hash: r.Hash, ParentHash: r.Parent, Time: r.Time, Removed: removed}
	}
	return out
}

// keysOf lists every key either fold knows, in a stable order.
func keysOf(folds ...*events.AccountKeys) []events.Address {
	seen := map[events.Address]bool{}
	var out []events.Address
	for _, f := range folds {
		for _, k := range knownKeys(f) {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sortAddrs(out)
	return out
}

func knownKeys(f *events.AccountKeys) []events.Address {
	all := f.All()
	out := make([]events.Address, len(all))
	for i, k := range all {
		out[i] = k.SessionKey
	}
	return out
}
