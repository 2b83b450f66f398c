package actions

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/ethereum/go-ethereum/common"
)

// Sentinels callers branch on with errors.Is. Errors about a user operation that got a hash
// are *OpError values that wrap one of these and carry the hash.
var (
	// ErrRejected: the bundler or the EntryPoint refused the user operation before inclusion
	// for a reason that is not an ERC-4337 AAxx code (bad params, unsupported entry point...).
	ErrRejected = errors.New("user operation rejected")
	// ErrTimeout: no receipt before the deadline; the operation may still land.
	ErrTimeout = errors.New("user operation receipt timed out")
	// ErrDropped: the bundler no longer knows the operation and no receipt exists.
	ErrDropped = errors.New("user operation dropped")
	// ErrReverted: the operation was included but its callData reverted (success=false); the
	// nonce is consumed and gas paid.
	ErrReverted = errors.New("user operation reverted")
	// ErrKeyNotFound: the session key is not on the account's list.
	ErrKeyNotFound = errors.New("session key not found")
	// ErrGuardRefused: the signing guard refused to sign (see Guard).
	ErrGuardRefused = errors.New("signing guard refused")
)

// AAError is an ERC-4337 failure with its code ("AA23", "AA24", "AA25" ...), as returned by a
// bundler or by the EntryPoint's FailedOp revert.
type AAError struct {
	Code       string      // "AA24"
	Reason     string      // the full reason, "AA24 signature error"
	UserOpHash common.Hash // zero when the operation never got as far as a hash
	// Detail is extra revert data the bundler or EntryPoint returned, if any.
	Detail string
}

func (e *AAError) Error() string {
	s := fmt.Sprintf("user operation %s: %s", e.UserOpHash.Hex(), e.Reason)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Well-known codes.
const (
	AAInitCodeFailed      = "AA13"
	AASenderNotDeployed   = "AA20"
	AAPrefundNotPaid      = "AA21"
	AAExpiredOrNotDue     = "AA22"
	AAValidationReverted  = "AA23"
	AASignatureError      = "AA24"
	AAInvalidNonce        = "AA25"
	AAOverVerificationGas = "AA40"
)

var aaCodeRe = regexp.MustCompile(`AA[0-9]{2}`)

// parseAA finds an "AAxx ..." reason in msg; ok is false when there is none.
func parseAA(msg string, hash common.Hash, detail string) (*AAError, bool) {
	loc := aaCodeRe.FindStringIndex(msg)
	if loc == nil {
		return nil, false
	}
	// Bundlers wrap the reason ("FailedOp(0, AA24 signature error)"): drop closing
	// characters that do not belong to the reason itself.
	reason := strings.TrimRight(msg[loc[0]:], `"' `)
	for strings.HasSuffix(reason, ")") && strings.Count(reason, ")") > strings.Count(reason, "(") {
		reason = strings.TrimRight(strings.TrimSuffix(reason, ")"), `"' `)
	}
	return &AAError{Code: msg[loc[0]:loc[1]], Reason: reason, UserOpHash: hash, Detail: detail}, true
}

// OpError is a failure of a user operation that is not an AAxx code: it wraps ErrRejected,
// ErrTimeout, ErrDropped or ErrReverted and carries the user operation hash.
type OpError struct {
	Kind       error // one of the sentinels above
	UserOpHash common.Hash
	Reason     string
	// RevertData is the callData's revert reason for ErrReverted (UserOperationRevertReason).
	RevertData []byte
}

func (e *OpError) Error() string {
	s := fmt.Sprintf("user operation %s: %v", e.UserOpHash.Hex(), e.Kind)
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}

func (e *OpError) Unwrap() error { return e.Kind }

// UserOpHashOf returns the hash carried by an *AAError or *OpError in err's chain.
func UserOpHashOf(err error) (common.Hash, bool) {
	var aa *AAError
	if errors.As(err, &aa) {
		return aa.UserOpHash, true
	}
	var oe *OpError
	if errors.As(err, &oe) {
		return oe.UserOpHash, true
	}
	return common.Hash{}, false
}

// IsAA reports whether err carries the AA code code.
func IsAA(err error, code string) bool {
	var aa *AAError
	return errors.As(err, &aa) && aa.Code == code
}
