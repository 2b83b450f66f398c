package indexer

import (
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics receives the sink's measurements. NopMetrics discards them; PromMetrics exports
// them. Implementations must be safe for concurrent use.
type Metrics interface {
	// Event counts one stored event of kind (verified or not).
	Event(chainID uint64, kind string, verified bool)
	// DecodeFailure counts one log that did not decode, by reason.
	DecodeFailure(chainID uint64, reason string)
	// Inconsistent counts one event the key fold could not follow (history before the start).
	Inconsistent(chainID uint64, kind string)
	// Retracted counts events a reorg retracted.
	Retracted(chainID uint64, n int)
	// Batch observes the time one Apply or Rollback took, by operation ("apply", "rollback").
	Batch(chainID uint64, op string, d time.Duration)
	// BatchError counts a failed Apply or Rollback by the step that failed.
	BatchError(chainID uint64, step string)
}

// NopMetrics discards everything.
type NopMetrics struct{}

func (NopMetrics) Event(uint64, string, bool)          {}
func (NopMetrics) DecodeFailure(uint64, string)        {}
func (NopMetrics) Inconsistent(uint64, string)         {}
func (NopMetrics) Retracted(uint64, int)               {}
func (NopMetrics) Batch(uint64, string, time.Duration) {}
func (NopMetrics) BatchError(uint64, string)           {}

var (
	_ Metrics = NopMetrics{}
	_ Metrics = (*PromMetrics)(nil)
)

// PromMetrics exports the sink's measurements (namespace "keywarden", subsystem "indexer").
type PromMetrics struct {
	events, failures, inconsistent, retracted, batchErrors *prometheus.CounterVec
	latency                                                *prometheus.HistogramVec
}

// NewPromMetrics creates the collectors and registers them on reg.
func NewPromMetrics(reg prometheus.Registerer) (*PromMetrics, error) {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "keywarden", Subsystem: "indexer", Name: name, Help: help},
			append([]string{"chain_id"}, labels...))
	}
	m := &PromMetrics{
		events:       counter("events_total", "Events stored, by kind and whether the account had the plugin installed.", "kind", "verified"),
		failures:     counter("decode_failures_total", "Watched logs that did not decode (stored and published), by reason.", "reason"),
		inconsistent: counter("inconsistent_events_total", "Events the key fold could not follow (indexing started after the key's history began).", "kind"),
		retracted:    counter("retracted_events_total", "Events retracted by reorgs."),
		batchErrors:  counter("batch_errors_total", "Failed batches, by the step that failed (retried by the source).", "step"),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "keywarden", Subsystem: "indexer", Name: "batch_seconds",
			Help: "Time to decode, fold, store, publish and checkpoint one batch.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)},
			[]string{"chain_id", "op"}),
	}
	for _, c := range []prometheus.Collector{m.events, m.failures, m.inconsistent, m.retracted, m.batchErrors, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register indexer metrics: %w", err)
		}
	}
	return m, nil
}

func chainLabel(id uint64) string { return strconv.FormatUint(id, 10) }

func (m *PromMetrics) Event(chainID uint64, kind string, verified bool) {
	m.events.WithLabelValues(chainLabel(chainID), kind, strconv.FormatBool(verified)).Inc()
}
func (m *PromMetrics) DecodeFailure(chainID uint64, reason string) {
	m.failures.WithLabelValues(chainLabel(chainID), reason).Inc()
}
func (m *PromMetrics) Inconsistent(chainID uint64, kind string) {
	m.inconsistent.WithLabelValues(chainLabel(chainID), kind).Inc()
}
func (m *PromMetrics) Retracted(chainID uint64, n int) {
	m.retracted.WithLabelValues(chainLabel(chainID)).Add(float64(n))
}
func (m *PromMetrics) Batch(chainID uint64, op string, d time.Duration) {
	m.latency.WithLabelValues(chainLabel(chainID), op).Observe(d.Seconds())
}
func (m *PromMetrics) BatchError(chainID uint64, step string) {
	m.batchErrors.WithLabelValues(chainLabel(chainID), step).Inc()
}
