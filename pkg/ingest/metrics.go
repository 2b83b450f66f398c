package ingest

// Metrics receives the source's measurements. NopMetrics discards them; PromMetrics exports
// them to Prometheus. Implementations must be safe for concurrent use.
type Metrics interface {
	// Head is the node's latest block number, Safe the block the source treats as final.
	Head(chainID, head, safe uint64)
	// Indexed is the last block the sink committed.
	Indexed(chainID, block uint64)
	// RangeSize is the current eth_getLogs span in blocks.
	RangeSize(chainID, blocks uint64)
	// RPCRequest counts one request; code is "ok" or RPCError.Label().
	RPCRequest(chainID uint64, method, code string)
	// Reorg counts one rollback of depth blocks (retracted height span).
	Reorg(chainID, depth uint64)
	// Delivered counts blocks and logs handed to the sink.
	Delivered(chainID uint64, blocks, logs int)
}

// NopMetrics discards everything.
type NopMetrics struct{}

var _ Metrics = NopMetrics{}

func (NopMetrics) Head(uint64, uint64, uint64)       {}
func (NopMetrics) Indexed(uint64, uint64)            {}
func (NopMetrics) RangeSize(uint64, uint64)          {}
func (NopMetrics) RPCRequest(uint64, string, string) {}
func (NopMetrics) Reorg(uint64, uint64)              {}
func (NopMetrics) Delivered(uint64, int, int)        {}
