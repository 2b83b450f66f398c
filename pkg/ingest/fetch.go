package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
)

// maxTailBlocks bounds one batch of the unfinalised tail.
const maxTailBlocks = 128

type rangeResult struct {
	batch Batch
	first BlockRef // header of batch.From, to link to the cursor
	err   error
}

type rangeJob struct {
	from, to uint64
	res      chan rangeResult
}

// backfill delivers [from, to] (all at or under the safe block) in ranges fetched
// concurrently and committed strictly in order. It returns after the whole span, or at the
// first range that cannot be committed (errReorg when it does not link to the cursor).
func (s *Source) backfill(ctx context.Context, from, to uint64) error {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	// The last Window blocks get every header, so that the window stays contiguous and a
	// reorg anywhere in it finds its exact ancestor.
	dense := uint64(0)
	if to+1 > s.opts.Window {
		dense = to + 1 - s.opts.Window
	}
	ordered := make(chan *rangeJob, s.opts.Concurrency)
	sem := make(chan struct{}, s.opts.Concurrency)
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ordered)
		for n := from; n <= to; {
			end := min(to, n+s.sizer.get()-1)
			if end < n { // overflow guard
				end = to
			}
			j := &rangeJob{from: n, to: end, res: make(chan rangeResult, 1)}
			select {
			case ordered <- j:
			case <-ctx.Done():
				return
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				j.res <- s.fetchRange(ctx, j.from, j.to, dense)
			}()
			if end == to {
				return
			}
			n = end + 1
		}
	}()

	s.prog.start(from, to)
	for j := range ordered {
		var r rangeResult
		select {
		case r = <-j.res:
		case <-ctx.Done():
			return ctx.Err()
		}
		if r.err != nil {
			return r.err
		}
		if s.have && s.cursor.Hash != (common.Hash{}) && r.first.Parent != s.cursor.Hash {
			return fmt.Errorf("%w: block %d's parent %s is not the indexed block %s", errReorg,
				r.first.Number, r.first.Parent.Hex(), s.cursor.Hash.Hex())
		}
		if err := s.commit(ctx, r.batch); err != nil {
			return err
		}
		s.prog.add(s, r.batch)
	}
	return nil
}

// fetchRange reads the logs of [from, to] in spans the provider accepts, then the headers of
// to, of every block with a log, of every block from dense on, and of from, newest first; a
// log whose block hash is not the header's, or dense headers that do not link, are a reorg
// under way (errStale).
func (s *Source) fetchRange(ctx context.Context, from, to, dense uint64) rangeResult {
	var logs []types.Log
	for n := from; n <= to; {
		span := s.sizer.get()
		end := min(to, n+span-1)
		if end < n {
			end = to
		}
		got, err := s.getLogs(ctx, n, end)
		if errors.Is(err, ErrRangeCap) {
			re := Classify(ctx, "eth_getLogs", "", err)
			next := s.sizer.capped(end-n+1, re.Hint)
			s.log.Info().Uint64("from", n).Uint64("to", end).Uint64("new_span", next).Str("reason", re.Err.Error()).
				Msg("provider capped eth_getLogs; narrowing")
			if end == n { // one block over the cap: nothing narrower exists, wait and retry
				if err := sleep(ctx, backoff(s.opts.RetryBase, s.opts.RetryMax, 3)); err != nil {
					return rangeResult{err: err}
				}
			}
			continue
		}
		if err != nil {
			return rangeResult{err: fmt.Errorf("get logs %d-%d: %w", n, end, err)}
		}
		s.sizer.success(end - n + 1)
		logs = append(logs, got...)
		n = end + 1
		if end == to {
			break
		}
	}
	logs = s.clean(logs)
	want := map[uint64]bool{to: true, from: true}
	for _, l := range logs {
		if l.BlockNumber < from || l.BlockNumber > to {
			return rangeResult{err: fmt.Errorf("%w: log of block %d outside %d-%d", errStale, l.BlockNumber, from, to)}
		}
		want[l.BlockNumber] = true
	}
	for n := max(from, dense); n <= to; n++ {
		want[n] = true
	}
	numbers := make([]uint64, 0, len(want))
	for n := range want {
		numbers = append(numbers, n)
	}
	slices.SortFunc(numbers, func(a, b uint64) int { return cmp.Compare(b, a) }) // newest first
	hs, err := s.headers(ctx, numbers)
	if err != nil {
		return rangeResult{err: err}
	}
	refs := make(map[uint64]BlockRef, len(numbers))
	for i, n := range numbers {
		ref := refOf(hs[i])
		if child, ok := refs[n+1]; ok && child.Parent != ref.Hash {
			return rangeResult{err: fmt.Errorf("%w: block %d does not link to block %d", errStale, n+1, n)}
		}
		refs[n] = ref
	}
	for _, l := range logs {
		if refs[l.BlockNumber].Hash != l.BlockHash {
			return rangeResult{err: fmt.Errorf("%w: log of block %d has hash %s, header %s", errStale,
				l.BlockNumber, l.BlockHash.Hex(), refs[l.BlockNumber].Hash.Hex())}
		}
	}
	blocks := make([]BlockRef, 0, len(refs))
	for _, r := range refs {
		blocks = append(blocks, r)
	}
	slices.SortFunc(blocks, func(a, b BlockRef) int { return cmp.Compare(a.Number, b.Number) })
	return rangeResult{
		batch: Batch{ChainID: s.opts.ChainID, From: from, To: to, Blocks: blocks, Logs: logs},
		first: refs[from],
	}
}

// getLogs runs the filter's queries for [from, to] side by side.
func (s *Source) getLogs(ctx context.Context, from, to uint64) ([]types.Log, error) {
	qs := s.opts.Filter.Queries(from, to)
	res := make([][]types.Log, len(qs))
	errs := make([]error, len(qs))
	var wg sync.WaitGroup
	for i, q := range qs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], errs[i] = s.opts.Client.FilterLogs(ctx, q)
		}()
	}
	wg.Wait()
	var all []types.Log
	for i := range qs {
		if errs[i] != nil {
			// A bare client's errors are classified here, so a provider cap narrows the
			// span whatever Client the source was given.
			return nil, Classify(ctx, "eth_getLogs", "node", errs[i])
		}
		all = append(all, res[i]...)
	}
	return all, nil
}

// clean keeps the watched logs, drops duplicates and sorts them in chain order.
func (s *Source) clean(logs []types.Log) []types.Log {
	out := logs[:0]
	for _, l := range logs {
		if !l.Removed && s.opts.Filter.Match(&l) {
			out = append(out, l)
		}
	}
	slices.SortFunc(out, func(a, b types.Log) int {
		if c := cmp.Compare(a.BlockNumber, b.BlockNumber); c != 0 {
			return c
		}
		return cmp.Compare(a.Index, b.Index)
	})
	return slices.CompactFunc(out, func(a, b types.Log) bool {
		return a.BlockHash == b.BlockHash && a.Index == b.Index
	})
}

// tail delivers the unfinalised blocks [from, head] (at most maxTailBlocks of them) with
// every header, each linked to its parent, and the logs of each block asked by its hash. It
// returns the last block delivered.
func (s *Source) tail(ctx context.Context, from, head uint64, latest *types.Header) (uint64, error) {
	to := min(head, from+maxTailBlocks-1)
	headers := make([]*types.Header, 0, to-from+1)
	var prev BlockRef
	havePrev := s.have && s.cursor.Hash != (common.Hash{})
	if havePrev {
		prev = s.cursor
	}
	var numbers []uint64
	for n := from; n <= to; n++ {
		if n != head || latest == nil {
			numbers = append(numbers, n)
		}
	}
	fetched, err := s.headers(ctx, numbers)
	if err != nil {
		return 0, err
	}
	if len(numbers) < int(to-from+1) {
		fetched = append(fetched, latest)
	}
	for _, h := range fetched {
		ref, n := refOf(h), h.Number.Uint64()
		if havePrev && ref.Parent != prev.Hash {
			if n == from {
				return 0, fmt.Errorf("%w: block %d's parent %s is not the indexed block %s", errReorg, n, ref.Parent.Hex(), prev.Hash.Hex())
			}
			return 0, fmt.Errorf("%w: block %d does not link to block %d", errStale, n, n-1)
		}
		headers = append(headers, h)
		prev, havePrev = ref, true
	}
	b := Batch{ChainID: s.opts.ChainID, From: from, To: to}
	for _, h := range headers {
		ref := refOf(h)
		b.Blocks = append(b.Blocks, ref)
		if !s.opts.NoBloom && !s.opts.Filter.MayMatch(h.Bloom) {
			continue
		}
		var logs []types.Log
		for _, q := range s.opts.Filter.QueriesAt(ref.Hash) {
			got, err := s.opts.Client.FilterLogs(ctx, q)
			if err != nil {
				if isNotFoundErr(err) {
					// The block vanished while we read it: a reorg signal, re-verify.
					return 0, fmt.Errorf("%w: block %d (%s) vanished: %v", errStale, ref.Number, ref.Hash.Hex(), err)
				}
				return 0, fmt.Errorf("get logs of block %d: %w", ref.Number, err)
			}
			logs = append(logs, got...)
		}
		for _, l := range logs {
			if l.BlockHash != ref.Hash || l.BlockNumber != ref.Number {
				return 0, fmt.Errorf("%w: log for block %s came with block %s", errStale, ref.Hash.Hex(), l.BlockHash.Hex())
			}
		}
		b.Logs = append(b.Logs, logs...)
	}
	b.Logs = s.clean(b.Logs)
	if err := s.commit(ctx, b); err != nil {
		return 0, err
	}
	return to, nil
}

// headers reads the given blocks in one round trip when the client can batch; a block the
// node does not have (yet) is errStale.
func (s *Source) headers(ctx context.Context, numbers []uint64) ([]*types.Header, error) {
	if len(numbers) == 0 {
		return nil, nil
	}
	var hs []*types.Header
	var err error
	switch c := s.opts.Client.(type) {
	case HeaderBatcher:
		hs, err = c.HeadersByNumber(ctx, numbers)
	case rpcClientOwner: // a bare *ethclient.Client
		hs = make([]*types.Header, len(numbers))
		for i := 0; i < len(numbers) && err == nil; i += maxBatch {
			end := min(i+maxBatch, len(numbers))
			err = headersByNumber(ctx, s.opts.Client, numbers[i:end], hs[i:end])
		}
	default:
		hs = make([]*types.Header, len(numbers))
		for i, n := range numbers {
			_, h, err := s.header(ctx, n)
			if err != nil {
				return nil, err
			}
			hs[i] = h
		}
		return hs, nil
	}
	if isNotFoundErr(err) {
		return nil, fmt.Errorf("%w: blocks %d-%d: %v", errStale, slices.Min(numbers), slices.Max(numbers), err)
	}
	if err != nil {
		return nil, fmt.Errorf("read blocks %d-%d: %w", slices.Min(numbers), slices.Max(numbers), err)
	}
	return hs, nil
}

func isNotFoundErr(err error) bool {
	if err == nil {
		return false
	}
	var re *RPCError
	if errors.As(err, &re) {
		return re.Class == ClassNotFound
	}
	return isNotFound(err.Error())
}

// progress logs the pace of a long backfill: blocks/s, events/s and the time left. Short
// catch-ups (under one period) stay quiet.
type progress struct {
	began, last  time.Time
	target       uint64
	blocks, logs uint64
	printed      bool
}

func (p *progress) start(from, target uint64) {
	if p.began.IsZero() {
		now := time.Now()
		*p = progress{began: now, last: now}
	}
	p.target = target
}

func (p *progress) add(s *Source, b Batch) {
	p.blocks += b.To - b.From + 1
	p.logs += uint64(len(b.Logs))
	now := time.Now()
	done := b.To >= p.target
	if now.Sub(p.last) < s.opts.ProgressEvery && !(done && p.printed) {
		if done {
			p.began = time.Time{}
		}
		return
	}
	p.last, p.printed = now, true
	secs := now.Sub(p.began).Seconds()
	bps := float64(p.blocks) / secs
	ev := s.log.Info().Uint64("block_number", b.To).Uint64("target", p.target).Uint64("blocks", p.blocks).
		Float64("blocks_per_s", bps).Uint64("events", p.logs).Float64("events_per_s", float64(p.logs)/secs)
	if bps > 0 {
		ev = ev.Dur("eta", time.Duration(float64(p.target-b.To)/bps*float64(time.Second)).Round(time.Second))
	}
	ev.Msg("backfill progress")
	if done {
		p.began = time.Time{}
	}
}
