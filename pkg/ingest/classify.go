package ingest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/rpc"
)

// ErrorClass is a stable name for what went wrong with an RPC request. It is the "code"
// label of the RPC error metrics and decides whether a request is retried.
type ErrorClass string

// The error classes.
const (
	ClassTimeout   ErrorClass = "timeout"    // the request got no answer in time
	ClassRateLimit ErrorClass = "rate_limit" // HTTP 429 or a JSON-RPC rate-limit error
	ClassServer    ErrorClass = "http_5xx"   // HTTP 5xx
	ClassHTTP      ErrorClass = "http_4xx"   // other non-2xx HTTP status
	ClassNetwork   ErrorClass = "network"    // connection refused, reset, DNS ...
	ClassRPC       ErrorClass = "rpc"        // a JSON-RPC error object
	ClassRangeCap  ErrorClass = "range_cap"  // eth_getLogs range or result cap
	ClassNotFound  ErrorClass = "not_found"  // unknown block or hash: not retried, a chain signal
	ClassCanceled  ErrorClass = "canceled"   // the caller's context ended
	ClassOther     ErrorClass = "other"
)

// Retryable reports whether the same request may succeed later unchanged.
func (c ErrorClass) Retryable() bool {
	switch c {
	case ClassTimeout, ClassRateLimit, ClassServer, ClassHTTP, ClassNetwork, ClassRPC, ClassOther:
		return true
	}
	return false
}

// RangeHint is what a provider's cap message says would work: a block range (Alchemy,
// Infura) or a maximum span. Zero fields are unknown.
type RangeHint struct {
	From, To uint64 // a hinted range, when To >= From and To != 0
	Max      uint64 // a maximum number of blocks per request
}

// Size is the hinted number of blocks, 0 if the provider gave no number.
func (h RangeHint) Size() uint64 {
	if h.To != 0 && h.To >= h.From {
		return h.To - h.From + 1
	}
	return h.Max
}

// RPCError is a failed request after classification.
type RPCError struct {
	Method   string
	Endpoint string // the endpoint's name (never a URL with credentials)
	Class    ErrorClass
	Code     int // HTTP status or JSON-RPC error code, 0 if none
	Hint     RangeHint
	Err      error
}

func (e *RPCError) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("call %s on %s: %s (%d): %v", e.Method, e.Endpoint, e.Class, e.Code, e.Err)
	}
	return fmt.Sprintf("call %s on %s: %s: %v", e.Method, e.Endpoint, e.Class, e.Err)
}

func (e *RPCError) Unwrap() error { return e.Err }

// Is lets callers test errors.Is(err, ErrRangeCap) and errors.Is(err, ethereum.NotFound).
func (e *RPCError) Is(target error) bool {
	switch target {
	case ErrRangeCap:
		return e.Class == ClassRangeCap
	case ethereum.NotFound:
		return e.Class == ClassNotFound
	}
	return false
}

// Label is the metrics code of the error: the class, with the HTTP or JSON-RPC code when known.
func (e *RPCError) Label() string {
	if e.Code != 0 {
		return string(e.Class) + "_" + strconv.Itoa(e.Code)
	}
	return string(e.Class)
}

// Classify turns an error from a JSON-RPC call into an *RPCError (nil for nil). ctx is the
// caller's context, to tell its cancellation from a per-request timeout.
func Classify(ctx context.Context, method, endpoint string, err error) *RPCError {
	if err == nil {
		return nil
	}
	var already *RPCError
	if errors.As(err, &already) {
		return already
	}
	e := &RPCError{Method: method, Endpoint: endpoint, Class: ClassOther, Err: err}
	var httpErr rpc.HTTPError
	var rpcErr rpc.Error
	var netErr net.Error
	switch {
	case ctx.Err() != nil:
		e.Class = ClassCanceled
	case errors.Is(err, ethereum.NotFound):
		e.Class = ClassNotFound
	case errors.Is(err, context.DeadlineExceeded):
		e.Class = ClassTimeout
	case errors.As(err, &httpErr):
		e.Code = httpErr.StatusCode
		body := string(httpErr.Body)
		switch {
		case httpErr.StatusCode == 429:
			e.Class = ClassRateLimit
		case httpErr.StatusCode >= 500:
			e.Class = ClassServer
		default:
			e.Class = ClassHTTP
		}
		// Some providers send the cap as an HTTP error with a JSON-RPC body.
		if hint, ok := parseRangeCap(body); ok && httpErr.StatusCode != 429 && !isRateLimit(body) {
			e.Class, e.Hint = ClassRangeCap, hint
		}
	case errors.As(err, &rpcErr):
		e.Code = rpcErr.ErrorCode()
		msg := rpcErr.Error()
		if d, ok := err.(rpc.DataError); ok && d.ErrorData() != nil {
			msg += " " + fmt.Sprint(d.ErrorData())
		}
		switch hint, capped := parseRangeCap(msg); {
		case isRateLimit(msg) || e.Code == 429:
			e.Class = ClassRateLimit
		case capped:
			e.Class, e.Hint = ClassRangeCap, hint
		case isNotFound(msg):
			e.Class = ClassNotFound
		default:
			e.Class = ClassRPC
		}
	case errors.As(err, &netErr) && netErr.Timeout():
		e.Class = ClassTimeout
	case errors.As(err, &netErr), isNetwork(err.Error()):
		e.Class = ClassNetwork
	}
	return e
}

var (
	// Alchemy: "... this block range should work: [0x1, 0x3e8]"; Infura: "... Try with this
	// block range [0x1, 0x1388]."
	reHintRange = regexp.MustCompile(`(?i)(?:range should work|with this block range)\D*\[\s*(0x[0-9a-f]+|\d+)\s*,\s*(0x[0-9a-f]+|\d+)\s*\]`)
	// "exceed maximum block range: 5000" (BSC-style geth forks), "exceed maximum block range
	// 5000" (geth's own limit), "block range is too wide (maximum 1024)" (Frontier), "range 5001
	// exceeds limit of 5000" (Infura), "eth_getLogs is limited to a 10,000 range" (QuickNode),
	// "ranges over 10000 blocks are not supported", "max block range 1000".
	reHintMax  = regexp.MustCompile(`(?i)(?:maximum block range|block range limit|exceeds limit of|max block range|limited to a|ranges over|range is limited to|\(maximum)\D{0,6}([0-9][0-9,_]*)`)
	capPhrases = []string{
		"block range is too wide", "block range too wide", "block range too large", "range too large",
		"exceed maximum block range", "exceeds maximum block range", "maximum block range",
		"max block range", "block range limit", "range limit exceeded",
		"limit exceeded", "query returned more than", "more than 10000 results", "response size exceeded",
		"response size should not greater than", "log response size exceeded", "too many logs",
		"query timeout exceeded", "ranges over", "is limited to a", "logs matched by query exceeds limit",
		"try with this block range", "this block range should work", "range should work",
		"exceeds the range limit", "requested too many blocks", "exceeds limit of",
		"eth_getlogs requests with up to",
	}
)

// parseRangeCap reports whether msg is a provider's range or result cap, with its hint.
func parseRangeCap(msg string) (RangeHint, bool) {
	low := strings.ToLower(msg)
	capped := false
	for _, p := range capPhrases {
		if strings.Contains(low, p) {
			capped = true
			break
		}
	}
	if !capped {
		return RangeHint{}, false
	}
	var h RangeHint
	if m := reHintRange.FindStringSubmatch(msg); m != nil {
		from, err1 := parseNum(m[1])
		to, err2 := parseNum(m[2])
		if err1 == nil && err2 == nil && to >= from {
			h.From, h.To = from, to
			return h, true
		}
	}
	if m := reHintMax.FindStringSubmatch(msg); m != nil {
		if n, err := parseNum(strings.NewReplacer(",", "", "_", "").Replace(m[1])); err == nil && n > 0 {
			h.Max = n
		}
	}
	return h, true
}

func parseNum(s string) (uint64, error) {
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		return strconv.ParseUint(s[2:], 16, 64)
	}
	return strconv.ParseUint(s, 10, 64)
}

func isNotFound(msg string) bool {
	low := strings.ToLower(msg)
	for _, p := range []string{"unknown block", "header not found", "block not found", "not found"} {
		if strings.Contains(low, p) {
			return true
		}
	}
	return false
}

func isRateLimit(msg string) bool {
	low := strings.ToLower(msg)
	for _, p := range []string{"rate limit", "rate-limit", "too many requests", "request count exceeded", "exceeded its compute units", "capacity exceeded", "throughput"} {
		if strings.Contains(low, p) {
			return true
		}
	}
	return false
}

func isNetwork(msg string) bool {
	low := strings.ToLower(msg)
	for _, p := range []string{"connection refused", "connection reset", "broken pipe", "eof", "no such host", "server closed"} {
		if strings.Contains(low, p) {
			return true
		}
	}
	return false
}
