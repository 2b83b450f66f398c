package ingest

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rpc"
	"github.com/rs/zerolog"
)

// Finality says which blocks the source treats as final: Confirmations deep under the head,
// or the block the node tags "safe" or "finalized" (Tag), whichever is set (Tag wins).
type Finality struct {
	Confirmations uint64
	Tag           string // "", "safe" or "finalized"
}

// Options configure a Source. Zero values take the documented defaults.
type Options struct {
	ChainID uint64
	Client  Client // required; usually a *Pool
	Sink    Sink   // required
	// Checkpoints, when set, gives the resume point and the stored block refs at start.
	Checkpoints Checkpoints
	Filter      Filter // default DefaultFilter()
	// StartBlock is the first block indexed when the chain has no checkpoint.
	StartBlock uint64
	Finality   Finality
	// Window is how many blocks under the indexed block the source can roll back
	// (default 128; at least Confirmations+1). A reorg deeper than this stops the chain.
	Window uint64
	// RangeSize is the initial eth_getLogs span (default 1000), MaxRangeSize the widest it
	// grows back to after a provider cap (default 10*RangeSize).
	RangeSize    uint64
	MaxRangeSize uint64
	// Concurrency bounds the ranges fetched at once during backfill (default 4).
	Concurrency int
	// PollInterval is the wait between polls once caught up (default 2s).
	PollInterval time.Duration
	// Heads, when set, wakes the source on each new head (WS newHeads).
	Heads HeadSubscriber
	// RetryBase and RetryMax shape the wait after a failed step or sink call (200ms, 5s).
	RetryBase, RetryMax time.Duration
	// ProgressEvery is the period of the backfill progress line (default 10s).
	ProgressEvery time.Duration
	// NoBloom fetches logs of every unfinalised block instead of only those whose header
	// bloom may match (for chains whose headers carry no bloom).
	NoBloom bool
	Logger  zerolog.Logger
	Metrics Metrics
}

func (o *Options) defaults() error {
	var errs []error
	if o.Client == nil {
		errs = append(errs, errors.New("no client"))
	}
	if o.Sink == nil {
		errs = append(errs, errors.New("no sink"))
	}
	if o.Filter.Plugins == nil && o.Filter.MultiOwner == (common.Address{}) {
		o.Filter = DefaultFilter()
	}
	if err := o.Filter.Validate(); err != nil {
		errs = append(errs, err)
	}
	switch o.Finality.Tag {
	case "", "safe", "finalized":
	default:
		errs = append(errs, fmt.Errorf("finality tag %q: want safe or finalized", o.Finality.Tag))
	}
	if o.Window == 0 {
		o.Window = 128
	}
	if o.Finality.Tag == "" && o.Window <= o.Finality.Confirmations {
		errs = append(errs, fmt.Errorf("window %d must exceed confirmations %d", o.Window, o.Finality.Confirmations))
	}
	if o.RangeSize == 0 {
		o.RangeSize = 1000
	}
	if o.MaxRangeSize == 0 {
		o.MaxRangeSize = 10 * o.RangeSize
	}
	if o.MaxRangeSize < o.RangeSize {
		errs = append(errs, fmt.Errorf("max range size %d below range size %d", o.MaxRangeSize, o.RangeSize))
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 200 * time.Millisecond
	}
	if o.RetryMax <= 0 {
		o.RetryMax = 5 * time.Second
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 10 * time.Second
	}
	if o.Metrics == nil {
		o.Metrics = NopMetrics{}
	}
	if len(errs) > 0 {
		return fmt.Errorf("configure source: %w", errors.Join(errs...))
	}
	return nil
}

// Status is a snapshot of a source, for health and readiness endpoints.
type Status struct {
	ChainID    uint64
	Head       uint64
	Safe       uint64
	Indexed    uint64 // last block the sink committed (meaningful when HasIndexed)
	HasIndexed bool
	CaughtUp   bool  // the indexed block is the head the source last saw
	Err        error // set when the source stopped for good (ErrReorgTooDeep)
	// LastErr is the error of the last step if it failed (a node or sink fault being
	// retried); nil once a step succeeds. A degraded-health signal.
	LastErr   error
	LastErrAt time.Time
}

// Source is the log source of one chain. Run it once; see the package documentation for
// what it guarantees.
type Source struct {
	opts  Options
	log   zerolog.Logger
	sizer *sizer
	wake  chan struct{}

	running atomic.Bool

	// Run-goroutine state.
	have   bool     // cursor is set
	cursor BlockRef // last block the sink committed
	window []BlockRef
	behind bool // the head was under the cursor at the last poll
	prog   progress

	mu     sync.Mutex
	status Status
}

// New returns a source for one chain.
func New(opts Options) (*Source, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	s := &Source{
		opts: opts,
		log:  opts.Logger.With().Str("component", "ingest").Uint64("chain_id", opts.ChainID).Logger(),
		wake: make(chan struct{}, 1),
	}
	s.sizer = newSizer(opts.RangeSize, opts.MaxRangeSize, func(n uint64) { opts.Metrics.RangeSize(opts.ChainID, n) })
	s.status.ChainID = opts.ChainID
	return s, nil
}

// Status returns a snapshot of the source.
func (s *Source) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status
}

// Health is nil while the source can go on, and the error that stopped it otherwise.
func (s *Source) Health() error { return s.Status().Err }

// Wake makes a waiting source poll now (a new head was seen elsewhere).
func (s *Source) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run indexes the chain until ctx ends (then it returns nil) or the chain cannot be
// reconciled (then it returns an error wrapping ErrReorgTooDeep and Health reports it).
// Transient failures of the node or the sink are retried, never returned.
func (s *Source) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("run source: already running")
	}
	defer s.running.Store(false)
	if err := s.load(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if s.opts.Heads != nil {
		wg.Add(1)
		go func() { defer wg.Done(); s.watchHeads(ctx) }()
	}
	failures := 0
	for {
		idle, err := s.step(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var wait time.Duration
		s.mu.Lock()
		if err != nil {
			s.status.LastErr, s.status.LastErrAt = err, time.Now()
		} else {
			s.status.LastErr = nil
		}
		s.mu.Unlock()
		switch {
		case errors.Is(err, ErrReorgTooDeep):
			s.mu.Lock()
			s.status.Err = err
			s.mu.Unlock()
			s.log.Error().Err(err).Msg("chain stopped: reorg deeper than the window; reconcile by hand and restart")
			return err
		case err != nil:
			failures++
			wait = backoff(s.opts.RetryBase, s.opts.RetryMax, failures-1)
			ev := s.log.Warn()
			if errors.Is(err, errStale) {
				ev = s.log.Info()
			}
			ev.Err(err).Dur("retry_in", wait).Msg("ingest step did not complete")
		case idle:
			failures = 0
			wait = jitter(s.opts.PollInterval)
		default:
			failures = 0
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		case <-s.wake:
			t.Stop()
		}
	}
}

func jitter(d time.Duration) time.Duration {
	return d - d/10 + time.Duration(rand.Int64N(int64(d/5)+1))
}

// load reads the checkpoint and the stored window, retrying while the store is unavailable.
func (s *Source) load(ctx context.Context) error {
	if s.opts.Checkpoints == nil {
		return nil
	}
	for attempt := 0; ; attempt++ {
		err := s.loadOnce(ctx)
		if err == nil {
			return nil
		}
		d := backoff(s.opts.RetryBase, s.opts.RetryMax, attempt)
		s.log.Warn().Err(err).Dur("retry_in", d).Msg("read checkpoint")
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
}

func (s *Source) loadOnce(ctx context.Context) error {
	cp, err := s.opts.Checkpoints.Checkpoint(ctx, s.opts.ChainID)
	if errors.Is(err, ErrNoCheckpoint) {
		s.log.Info().Uint64("start_block", s.opts.StartBlock).Msg("no checkpoint, starting fresh")
		return nil
	}
	if err != nil {
		return fmt.Errorf("read checkpoint: %w", err)
	}
	lo := uint64(0)
	if cp.Number+1 > s.opts.Window {
		lo = cp.Number + 1 - s.opts.Window
	}
	refs, err := s.opts.Checkpoints.Blocks(ctx, s.opts.ChainID, lo, cp.Number)
	if err != nil {
		return fmt.Errorf("read stored blocks: %w", err)
	}
	window := make([]BlockRef, 0, len(refs)+1)
	for _, r := range refs {
		if r.Number < cp.Number && (len(window) == 0 || r.Number > window[len(window)-1].Number) {
			window = append(window, r)
		}
	}
	s.window = append(window, cp)
	s.cursor, s.have = cp, true
	s.setIndexed(cp.Number)
	s.log.Info().Uint64("block_number", cp.Number).Str("block_hash", cp.Hash.Hex()).Int("window", len(s.window)).
		Msg("resuming from checkpoint; verifying it by hash")
	return nil
}

func (s *Source) next() uint64 {
	if s.have {
		return s.cursor.Number + 1
	}
	return s.opts.StartBlock
}

// step does one round: read the head, then deliver what is new, or handle a reorg. idle
// means there is nothing more to do until the head moves.
func (s *Source) step(ctx context.Context) (idle bool, err error) {
	latest, err := s.opts.Client.HeaderByNumber(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("read head: %w", err)
	}
	head := latest.Number.Uint64()
	safe, err := s.safeBlock(ctx, head)
	if err != nil {
		return false, err
	}
	s.opts.Metrics.Head(s.opts.ChainID, head, safe)
	s.mu.Lock()
	s.status.Head, s.status.Safe = head, safe
	s.mu.Unlock()

	if s.have {
		if head < s.cursor.Number {
			// A lagging replica, or a reorg to a shorter chain: either way wait for the
			// node to reach the cursor again; the parent check then tells which.
			if !s.behind {
				s.log.Info().Uint64("head", head).Uint64("indexed", s.cursor.Number).Msg("node head is behind the indexed block; waiting")
				s.behind = true
			}
			s.setCaughtUp(false)
			return true, nil
		}
		s.behind = false
		if head == s.cursor.Number {
			if latest.Hash() == s.cursor.Hash {
				s.setCaughtUp(true)
				return true, nil
			}
			return false, s.reorg(ctx)
		}
	}
	from := s.next()
	if from > head {
		s.setCaughtUp(true)
		return true, nil
	}
	s.setCaughtUp(false)
	if from <= safe {
		err = s.backfill(ctx, from, safe)
	} else {
		var to uint64
		to, err = s.tail(ctx, from, head, latest)
		if err == nil && to == head {
			s.setCaughtUp(true)
			return true, nil
		}
	}
	if errors.Is(err, errReorg) {
		return false, s.reorg(ctx)
	}
	return false, err
}

func (s *Source) safeBlock(ctx context.Context, head uint64) (uint64, error) {
	if s.opts.Finality.Tag == "" {
		if head < s.opts.Finality.Confirmations {
			return 0, nil
		}
		return head - s.opts.Finality.Confirmations, nil
	}
	tag := rpc.SafeBlockNumber
	if s.opts.Finality.Tag == "finalized" {
		tag = rpc.FinalizedBlockNumber
	}
	h, err := s.opts.Client.HeaderByNumber(ctx, big.NewInt(tag.Int64()))
	if errors.Is(err, ethereum.NotFound) {
		return 0, nil // nothing final yet: everything goes through the verified path
	}
	if err != nil {
		return 0, fmt.Errorf("read %s block: %w", s.opts.Finality.Tag, err)
	}
	return min(h.Number.Uint64(), head), nil
}

func (s *Source) setCaughtUp(v bool) {
	s.mu.Lock()
	s.status.CaughtUp = v
	s.mu.Unlock()
}

func (s *Source) setIndexed(n uint64) {
	s.mu.Lock()
	s.status.Indexed, s.status.HasIndexed = n, true
	s.mu.Unlock()
	s.opts.Metrics.Indexed(s.opts.ChainID, n)
}

// header reads block n; a block the node does not have (yet) is errStale.
func (s *Source) header(ctx context.Context, n uint64) (BlockRef, *types.Header, error) {
	h, err := s.opts.Client.HeaderByNumber(ctx, new(big.Int).SetUint64(n))
	if err == nil && h == nil {
		err = ethereum.NotFound
	}
	if errors.Is(err, ethereum.NotFound) {
		return BlockRef{}, nil, fmt.Errorf("%w: block %d not found", errStale, n)
	}
	if err != nil {
		return BlockRef{}, nil, fmt.Errorf("read block %d: %w", n, err)
	}
	if h.Number.Uint64() != n {
		return BlockRef{}, nil, fmt.Errorf("%w: asked block %d, got %d", errStale, n, h.Number.Uint64())
	}
	return refOf(h), h, nil
}

// commit hands a batch to the sink, retrying until it is durable, then moves the cursor.
func (s *Source) commit(ctx context.Context, b Batch) error {
	for attempt := 0; ; attempt++ {
		err := s.opts.Sink.Apply(ctx, b)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d := backoff(s.opts.RetryBase, s.opts.RetryMax, attempt)
		s.log.Warn().Err(err).Uint64("from", b.From).Uint64("to", b.To).Dur("retry_in", d).Msg("sink apply failed")
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
	for _, r := range b.Blocks {
		if !s.have || r.Number > s.cursor.Number {
			s.window = append(s.window, r)
		}
	}
	s.cursor, s.have = b.Tip(), true
	s.prune()
	s.setIndexed(b.To)
	s.opts.Metrics.Delivered(s.opts.ChainID, int(b.To-b.From+1), len(b.Logs))
	s.log.Debug().Uint64("from", b.From).Uint64("to", b.To).Int("logs", len(b.Logs)).Msg("batch committed")
	return nil
}

func (s *Source) prune() {
	if s.cursor.Number < s.opts.Window {
		return
	}
	lo := s.cursor.Number - s.opts.Window // keep refs above lo
	i := 0
	for i < len(s.window)-1 && s.window[i].Number <= lo {
		i++
	}
	if i > 0 {
		s.window = append(s.window[:0:0], s.window[i:]...)
	}
}

// reorg walks back from the cursor to the newest delivered block that is still on the node's
// chain, never below the window, and rolls the sink back to it.
func (s *Source) reorg(ctx context.Context) error {
	idx := -1
	for i := len(s.window) - 1; i >= 0; i-- {
		ref := s.window[i]
		got, _, err := s.header(ctx, ref.Number)
		if err != nil {
			return fmt.Errorf("walk back at block %d: %w", ref.Number, err)
		}
		if got.Hash == ref.Hash {
			idx = i
			break
		}
	}
	if idx < 0 {
		lowest := s.cursor.Number
		if len(s.window) > 0 {
			lowest = s.window[0].Number
		}
		return fmt.Errorf("%w: indexed block %d (%s) and every kept block down to %d (window %d) differ from the node's chain",
			ErrReorgTooDeep, s.cursor.Number, s.cursor.Hash.Hex(), lowest, s.opts.Window)
	}
	ancestor := s.window[idx]
	if ancestor.Number == s.cursor.Number {
		// The cursor is still canonical: the mismatch came from a view that has moved on.
		return fmt.Errorf("%w: indexed block %d is still on the chain", errStale, ancestor.Number)
	}
	retracted := make([]BlockRef, 0, len(s.window)-idx-1)
	for i := len(s.window) - 1; i > idx; i-- {
		retracted = append(retracted, s.window[i])
	}
	depth := s.cursor.Number - ancestor.Number
	for attempt := 0; ; attempt++ {
		err := s.opts.Sink.Rollback(ctx, s.opts.ChainID, ancestor, retracted)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d := backoff(s.opts.RetryBase, s.opts.RetryMax, attempt)
		s.log.Warn().Err(err).Uint64("ancestor", ancestor.Number).Dur("retry_in", d).Msg("sink rollback failed")
		if err := sleep(ctx, d); err != nil {
			return err
		}
	}
	s.log.Warn().Uint64("ancestor", ancestor.Number).Str("ancestor_hash", ancestor.Hash.Hex()).
		Uint64("old_head", s.cursor.Number).Uint64("depth", depth).Int("retracted", len(retracted)).Msg("reorg: rolled back")
	s.opts.Metrics.Reorg(s.opts.ChainID, depth)
	s.window = s.window[:idx+1]
	s.cursor = ancestor
	s.setIndexed(ancestor.Number)
	return nil
}

// watchHeads wakes the source on every new head pushed by the node, resubscribing on error.
func (s *Source) watchHeads(ctx context.Context) {
	for attempt := 0; ctx.Err() == nil; attempt++ {
		ch := make(chan *types.Header, 16)
		sub, err := s.opts.Heads.SubscribeNewHead(ctx, ch)
		if err != nil {
			d := backoff(s.opts.RetryBase, s.opts.RetryMax, attempt)
			s.log.Warn().Err(err).Dur("retry_in", d).Msg("subscribe to new heads")
			if sleep(ctx, d) != nil {
				return
			}
			continue
		}
		attempt = 0
	recv:
		for {
			select {
			case <-ctx.Done():
				sub.Unsubscribe()
				return
			case err := <-sub.Err():
				s.log.Warn().Err(err).Msg("new heads subscription ended")
				break recv
			case <-ch:
				s.Wake()
			}
		}
	}
}
