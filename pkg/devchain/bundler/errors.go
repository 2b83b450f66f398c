package bundler

import "fmt"

// JSON-RPC error codes of ERC-7769 (bundler RPC).
const (
	CodeInvalidFields      = -32602
	CodeSimulateValidation = -32500
	CodePaymaster          = -32501
	CodeOpcode             = -32502
	CodeTimeRange          = -32503
	CodeSignature          = -32507
	CodeExecutionReverted  = -32521
	CodeInternal           = -32603
)

// Error is a bundler JSON-RPC error: its code and message reach the client unchanged.
type Error struct {
	Code    int
	Message string
	Data    any
}

func (e *Error) Error() string { return e.Message }

// ErrorCode implements go-ethereum's rpc.Error.
func (e *Error) ErrorCode() int { return e.Code }

// ErrorData implements go-ethereum's rpc.DataError.
func (e *Error) ErrorData() any { return e.Data }

func rpcErr(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}
