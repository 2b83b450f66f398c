package rpcproxy

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
)

// RPCError is a JSON-RPC error object.
type RPCError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

// HTTPFault answers requests with an HTTP error status instead of a JSON-RPC answer.
type HTTPFault struct {
	// Status, e.g. 429 or 502.
	Status int
	// RetryAfter, when positive, is sent as the Retry-After header (whole seconds, at least 1).
	RetryAfter time.Duration
	// Body is sent as it is; empty picks a body typical for the status (JSON for 429, an HTML
	// gateway page for 502/503/504).
	Body string
	// Methods limits the fault to requests that contain one of these methods; empty means all.
	Methods []string
}

// Hang holds requests without an answer until the client gives up or the fault is cleared.
type Hang struct {
	// Methods limits the fault to requests that contain one of these methods; empty means all.
	Methods []string
}

// Provider selects whose error texts a cap uses.
type Provider string

// Providers whose eth_getLogs limits the proxy imitates.
const (
	// Alchemy: range cap -32600 "You can make eth_getLogs requests with up to a N block range.
	// Based on your parameters, this block range should work: [from, to]"
	// (BobTheBuidler/dank_mids#772); result cap -32602 "Log response size exceeded. You can make
	// eth_getLogs requests with up to a 2K block range and no limit on the response size, or
	// you can request any block range with a cap of 10K logs in the response. Based on your
	// parameters and the response size limit, this block range should work: [from, to]"
	// (ethereum/go-ethereum#25343).
	Alchemy Provider = "alchemy"
	// Infura: range cap -32602 "range N exceeds limit of M" (INFURA/infura#237); result cap
	// -32005 "query returned more than N results. Try with this block range [from, to]."
	// (documented -32005 text in INFURA/infura#237 and the Linea docs; the hinted form as
	// matter-labs/zksync-era#3412 shows it).
	Infura Provider = "infura"
	// QuickNode: range cap, HTTP 413 with -32614 "eth_getLogs is limited to a 10,000 range"
	// (OffchainLabs/arbitrum-sdk#609, eternalsafe/wallet#57).
	QuickNode Provider = "quicknode"
	// Frontier (Moonbeam and other Substrate EVMs): range cap "block range is too wide (maximum
	// 1024)" (moonbeam-foundation/moonbeam#3250); the code is Frontier's internal-error -32603.
	Frontier Provider = "frontier"
	// Ankr: range cap with the bare text "block range is too wide" (as indexers' provider tables
	// list it). The text is what clients match on; the code -32600 is not from a cited source.
	Ankr Provider = "ankr"
	// BSC-style geth forks: range cap -32000 "exceed maximum block range: 5000"
	// (beamer-bridge/beamer#509, omni/tokenbridge#540).
	BSC Provider = "bsc"
	// Geth's own result limit, and public BSC endpoints: -32005 "limit exceeded" for both caps
	// (DefiLlama/dimension-adapters#864, smartcontractkit/chainlink#9876).
	LimitExceeded Provider = "limit-exceeded"
)

// RangeCap refuses eth_getLogs ranges of more than MaxBlocks blocks (to - from + 1).
type RangeCap struct {
	Provider  Provider
	MaxBlocks uint64
}

// ResultCap refuses eth_getLogs answers of more than MaxResults logs.
type ResultCap struct {
	Provider   Provider
	MaxResults int
}

// Faults is the set of faults in force. The zero value passes everything through.
type Faults struct {
	// MethodErrors answers these methods with the given JSON-RPC error (HTTP 200).
	MethodErrors map[string]RPCError
	HTTP         *HTTPFault
	Hang         *Hang
	RangeCap     *RangeCap
	ResultCap    *ResultCap
	// HeadLag makes the node look N blocks behind: eth_blockNumber, "latest" and
	// eth_getBlockByNumber answer as a replica that has not seen the last N blocks. Lowering the
	// head by raising HeadLag makes it go backwards.
	HeadLag uint64
	// DuplicateLogs serves every log of an eth_getLogs answer twice (the same range served
	// twice, as a misbehaving load balancer merging two replicas does).
	DuplicateLogs bool
	// VanishedBlocks no longer exist: eth_getBlockByHash answers null and eth_getLogs by
	// blockHash answers geth's "unknown block" error.
	VanishedBlocks map[common.Hash]bool
}

func (f Faults) clone() Faults {
	c := f
	if f.MethodErrors != nil {
		c.MethodErrors = make(map[string]RPCError, len(f.MethodErrors))
		for k, v := range f.MethodErrors {
			c.MethodErrors[k] = v
		}
	}
	if f.VanishedBlocks != nil {
		c.VanishedBlocks = make(map[common.Hash]bool, len(f.VanishedBlocks))
		for k, v := range f.VanishedBlocks {
			c.VanishedBlocks[k] = v
		}
	}
	if f.HTTP != nil {
		h := *f.HTTP
		h.Methods = append([]string(nil), f.HTTP.Methods...)
		c.HTTP = &h
	}
	if f.Hang != nil {
		h := *f.Hang
		h.Methods = append([]string(nil), f.Hang.Methods...)
		c.Hang = &h
	}
	if f.RangeCap != nil {
		r := *f.RangeCap
		c.RangeCap = &r
	}
	if f.ResultCap != nil {
		r := *f.ResultCap
		c.ResultCap = &r
	}
	return c
}

func matches(methods []string, reqs []request) bool {
	if len(methods) == 0 {
		return true
	}
	for _, r := range reqs {
		for _, m := range methods {
			if r.Method == m {
				return true
			}
		}
	}
	return false
}

// capError is an eth_getLogs refusal: the JSON-RPC error, and an HTTP status when the provider
// sends one (QuickNode answers 413).
type capError struct {
	err    RPCError
	status int
}

func hexNum(n uint64) string { return "0x" + strconv.FormatUint(n, 16) }

func withCommas(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// rangeCapError is the refusal of [from, to] under a block-range cap of max.
func rangeCapError(p Provider, from, to, max uint64) capError {
	span := to - from + 1
	hintTo := from + max - 1
	switch p {
	case Alchemy:
		return capError{err: RPCError{Code: -32600, Message: fmt.Sprintf(
			"You can make eth_getLogs requests with up to a %d block range. Based on your parameters, this block range should work: [%s, %s]",
			max, hexNum(from), hexNum(hintTo))}}
	case Infura:
		return capError{err: RPCError{Code: -32602, Message: fmt.Sprintf("range %d exceeds limit of %d", span, max)}}
	case QuickNode:
		return capError{status: 413, err: RPCError{Code: -32614, Message: fmt.Sprintf("eth_getLogs is limited to a %s range", withCommas(max))}}
	case Frontier:
		return capError{err: RPCError{Code: -32603, Message: fmt.Sprintf("block range is too wide (maximum %d)", max)}}
	case Ankr:
		return capError{err: RPCError{Code: -32600, Message: "block range is too wide"}}
	case BSC:
		return capError{err: RPCError{Code: -32000, Message: fmt.Sprintf("exceed maximum block range: %d", max)}}
	default:
		return capError{err: RPCError{Code: -32005, Message: "limit exceeded"}}
	}
}

// resultCapError is the refusal of [from, to] whose answer has more than max logs; hintTo is the
// last block of the widest prefix of the range that stays within max.
func resultCapError(p Provider, from, hintTo uint64, max int) capError {
	switch p {
	case Alchemy:
		// Alchemy's text names its own fixed limits whatever the account's; only the hint moves.
		return capError{err: RPCError{Code: -32602, Message: fmt.Sprintf(
			"Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on the response size, or you can request any block range with a cap of 10K logs in the response. Based on your parameters and the response size limit, this block range should work: [%s, %s]",
			hexNum(from), hexNum(hintTo))}}
	case Infura:
		return capError{err: RPCError{Code: -32005, Message: fmt.Sprintf(
			"query returned more than %d results. Try with this block range [%s, %s].", max, hexNum(from), hexNum(hintTo))}}
	default:
		return capError{err: RPCError{Code: -32005, Message: "limit exceeded"}}
	}
}
