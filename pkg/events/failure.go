package events

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// DecodeFailure is a log that keywarden watches but could not decode. It is stored and
// published, never dropped: Topics and Data keep the log byte for byte.
type DecodeFailure struct {
	Schema int `json:"schema"`
	Position
	Emitter Address       `json:"emitter"`
	Topics  []common.Hash `json:"topics"`
	Data    hexutil.Bytes `json:"data"`
	// Reason is a stable machine-readable class (for metrics), Error the full message.
	Reason string `json:"reason"`
	Error  string `json:"error"`
}

// ID is the identity of the failed log, the same as an event's would be.
func (f DecodeFailure) ID() string { return f.Position.ID() }
