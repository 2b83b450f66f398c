package ingest

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// PromMetrics exports the source's measurements as Prometheus collectors, labelled by chain_id.
type PromMetrics struct {
	head, safe, indexed, behind, rangeSize *prometheus.GaugeVec
	requests, errors, reorgs, reorgDepth   *prometheus.CounterVec
	blocks, logs                           *prometheus.CounterVec

	mu    sync.Mutex
	heads map[uint64]uint64
	idx   map[uint64]uint64
}

var _ Metrics = (*PromMetrics)(nil)

// NewPromMetrics creates the collectors (namespace "keywarden", subsystem "ingest") and
// registers them on reg.
func NewPromMetrics(reg prometheus.Registerer) (*PromMetrics, error) {
	gauge := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "keywarden", Subsystem: "ingest", Name: name, Help: help}, []string{"chain_id"})
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "keywarden", Subsystem: "ingest", Name: name, Help: help}, append([]string{"chain_id"}, labels...))
	}
	m := &PromMetrics{
		head:       gauge("head_block", "Latest block number reported by the node."),
		safe:       gauge("safe_block", "Block number the source treats as final."),
		indexed:    gauge("indexed_block", "Last block committed by the sink."),
		behind:     gauge("blocks_behind", "Head minus indexed block."),
		rangeSize:  gauge("range_size_blocks", "Current eth_getLogs span in blocks."),
		requests:   counter("rpc_requests_total", "JSON-RPC requests by method and result code.", "method", "code"),
		errors:     counter("rpc_errors_total", "Failed JSON-RPC requests by method and code.", "method", "code"),
		reorgs:     counter("reorgs_total", "Rollbacks after a reorg."),
		reorgDepth: counter("reorg_blocks_total", "Blocks retracted by reorgs."),
		blocks:     counter("delivered_blocks_total", "Blocks handed to the sink."),
		logs:       counter("delivered_logs_total", "Logs handed to the sink."),
		heads:      map[uint64]uint64{},
		idx:        map[uint64]uint64{},
	}
	for _, c := range []prometheus.Collector{m.head, m.safe, m.indexed, m.behind, m.rangeSize, m.requests, m.errors, m.reorgs, m.reorgDepth, m.blocks, m.logs} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register ingest metrics: %w", err)
		}
	}
	return m, nil
}

func chainLabel(id uint64) string { return strconv.FormatUint(id, 10) }

func (m *PromMetrics) Head(chainID, head, safe uint64) {
	m.head.WithLabelValues(chainLabel(chainID)).Set(float64(head))
	m.safe.WithLabelValues(chainLabel(chainID)).Set(float64(safe))
	m.mu.Lock()
	m.heads[chainID] = head
	m.mu.Unlock()
	m.updateBehind(chainID)
}

func (m *PromMetrics) Indexed(chainID, block uint64) {
	m.indexed.WithLabelValues(chainLabel(chainID)).Set(float64(block))
	m.mu.Lock()
	m.idx[chainID] = block
	m.mu.Unlock()
	m.updateBehind(chainID)
}

func (m *PromMetrics) updateBehind(chainID uint64) {
	m.mu.Lock()
	h, i := m.heads[chainID], m.idx[chainID]
	m.mu.Unlock()
	behind := 0.0
	if h > i {
		behind = float64(h - i)
	}
	m.behind.WithLabelValues(chainLabel(chainID)).Set(behind)
}

func (m *PromMetrics) RangeSize(chainID, blocks uint64) {
	m.rangeSize.WithLabelValues(chainLabel(chainID)).Set(float64(blocks))
}

func (m *PromMetrics) RPCRequest(chainID uint64, method, code string) {
	m.requests.WithLabelValues(chainLabel(chainID), method, code).Inc()
	if code != "ok" {
		m.errors.WithLabelValues(chainLabel(chainID), method, code).Inc()
	}
}

func (m *PromMetrics) Reorg(chainID, depth uint64) {
	m.reorgs.WithLabelValues(chainLabel(chainID)).Inc()
	m.reorgDepth.WithLabelValues(chainLabel(chainID)).Add(float64(depth))
}

func (m *PromMetrics) Delivered(chainID uint64, blocks, logs int) {
	m.blocks.WithLabelValues(chainLabel(chainID)).Add(float64(blocks))
	m.logs.WithLabelValues(chainLabel(chainID)).Add(float64(logs))
}
