package userop

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// UserOperation is an EntryPoint v0.6 user operation. Nil quantities count as zero.
type UserOperation struct {
	Sender               common.Address
	Nonce                *big.Int
	InitCode             []byte
	CallData             []byte
	CallGasLimit         *big.Int
	VerificationGasLimit *big.Int
	PreVerificationGas   *big.Int
	MaxFeePerGas         *big.Int
	MaxPriorityFeePerGas *big.Int
	PaymasterAndData     []byte
	Signature            []byte
}

// Wire is the JSON-RPC form of a v0.6 user operation (field names as bundlers use them).
type Wire struct {
	Sender               common.Address `json:"sender"`
	Nonce                *hexutil.Big   `json:"nonce"`
	InitCode             hexutil.Bytes  `json:"initCode"`
	CallData             hexutil.Bytes  `json:"callData"`
	CallGasLimit         *hexutil.Big   `json:"callGasLimit"`
	VerificationGasLimit *hexutil.Big   `json:"verificationGasLimit"`
	PreVerificationGas   *hexutil.Big   `json:"preVerificationGas"`
	MaxFeePerGas         *hexutil.Big   `json:"maxFeePerGas"`
	MaxPriorityFeePerGas *hexutil.Big   `json:"maxPriorityFeePerGas"`
	PaymasterAndData     hexutil.Bytes  `json:"paymasterAndData"`
	Signature            hexutil.Bytes  `json:"signature"`
}

// wireFields lists every field of the wire form, in struct order.
var wireFields = []string{"sender", "nonce", "initCode", "callData", "callGasLimit",
	"verificationGasLimit", "preVerificationGas", "maxFeePerGas", "maxPriorityFeePerGas",
	"paymasterAndData", "signature"}

func big0(b *big.Int) *big.Int {
	if b == nil {
		return new(big.Int)
	}
	return b
}

func bytes0(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Copy returns a deep copy of op.
func (op *UserOperation) Copy() *UserOperation {
	cp := func(b *big.Int) *big.Int { return new(big.Int).Set(big0(b)) }
	cb := func(b []byte) []byte { return append([]byte{}, b...) }
	return &UserOperation{
		Sender: op.Sender, Nonce: cp(op.Nonce), InitCode: cb(op.InitCode), CallData: cb(op.CallData),
		CallGasLimit: cp(op.CallGasLimit), VerificationGasLimit: cp(op.VerificationGasLimit),
		PreVerificationGas: cp(op.PreVerificationGas), MaxFeePerGas: cp(op.MaxFeePerGas),
		MaxPriorityFeePerGas: cp(op.MaxPriorityFeePerGas), PaymasterAndData: cb(op.PaymasterAndData),
		Signature: cb(op.Signature),
	}
}

// ToWire returns the JSON-RPC form.
func (op *UserOperation) ToWire() Wire {
	h := func(b *big.Int) *hexutil.Big { return (*hexutil.Big)(new(big.Int).Set(big0(b))) }
	return Wire{
		Sender: op.Sender, Nonce: h(op.Nonce), InitCode: bytes0(op.InitCode), CallData: bytes0(op.CallData),
		CallGasLimit: h(op.CallGasLimit), VerificationGasLimit: h(op.VerificationGasLimit),
		PreVerificationGas: h(op.PreVerificationGas), MaxFeePerGas: h(op.MaxFeePerGas),
		MaxPriorityFeePerGas: h(op.MaxPriorityFeePerGas), PaymasterAndData: bytes0(op.PaymasterAndData),
		Signature: bytes0(op.Signature),
	}
}

// FromWire converts the JSON-RPC form. Missing quantities become zero.
func FromWire(w Wire) *UserOperation {
	b := func(h *hexutil.Big) *big.Int {
		if h == nil {
			return new(big.Int)
		}
		return new(big.Int).Set((*big.Int)(h))
	}
	return &UserOperation{
		Sender: w.Sender, Nonce: b(w.Nonce), InitCode: bytes0(w.InitCode), CallData: bytes0(w.CallData),
		CallGasLimit: b(w.CallGasLimit), VerificationGasLimit: b(w.VerificationGasLimit),
		PreVerificationGas: b(w.PreVerificationGas), MaxFeePerGas: b(w.MaxFeePerGas),
		MaxPriorityFeePerGas: b(w.MaxPriorityFeePerGas), PaymasterAndData: bytes0(w.PaymasterAndData),
		Signature: bytes0(w.Signature),
	}
}

// MarshalJSON writes the wire form.
func (op UserOperation) MarshalJSON() ([]byte, error) { return json.Marshal(op.ToWire()) }

// UnmarshalJSON reads the wire form strictly (see [Decode]).
func (op *UserOperation) UnmarshalJSON(b []byte) error {
	v, err := Decode(b)
	if err != nil {
		return err
	}
	*op = *v
	return nil
}

// FieldError reports the fields of a wire user operation that are missing or malformed.
// Its message names every bad field.
type FieldError struct {
	// Fields maps a field name ("" for the object itself) to what is wrong with it.
	Fields map[string]string
}

func (e *FieldError) Error() string {
	names := make([]string, 0, len(e.Fields))
	for n := range e.Fields {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		if n == "" {
			parts = append(parts, e.Fields[n])
			continue
		}
		parts = append(parts, n+": "+e.Fields[n])
	}
	return "invalid user operation: " + strings.Join(parts, "; ")
}

// ErrInvalid is matched by every decoding error ([FieldError] wraps it).
var ErrInvalid = errors.New("invalid user operation")

// Is makes errors.Is(err, ErrInvalid) true for a FieldError.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

var maxU256 = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))

// Decode parses the JSON-RPC form of a user operation. Every field must be present, no
// other field may be, quantities must be hex numbers up to 2^256-1 and byte strings
// 0x-prefixed even-length hex. All problems are reported together in a *FieldError.
func Decode(data []byte) (*UserOperation, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		return nil, &FieldError{Fields: map[string]string{"": "not a JSON object"}}
	}
	bad := map[string]string{}
	for k := range raw {
		if !contains(wireFields, k) {
			bad[k] = "unknown field"
		}
	}
	var w Wire
	for _, name := range wireFields {
		v, ok := raw[name]
		if !ok || bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			bad[name] = "missing"
			continue
		}
		var err error
		switch name {
		case "sender":
			var s string
			if err = json.Unmarshal(v, &s); err == nil {
				if !common.IsHexAddress(s) || !strings.HasPrefix(s, "0x") || len(s) != 42 {
					err = errors.New("not a 20-byte hex address")
				} else {
					w.Sender = common.HexToAddress(s)
				}
			}
		case "nonce", "callGasLimit", "verificationGasLimit", "preVerificationGas", "maxFeePerGas", "maxPriorityFeePerGas":
			var h hexutil.Big
			if err = json.Unmarshal(v, &h); err == nil && (*big.Int)(&h).Cmp(maxU256) > 0 {
				err = errors.New("above 2^256-1")
			}
			if err == nil {
				p := &h
				switch name {
				case "nonce":
					w.Nonce = p
				case "callGasLimit":
					w.CallGasLimit = p
				case "verificationGasLimit":
					w.VerificationGasLimit = p
				case "preVerificationGas":
					w.PreVerificationGas = p
				case "maxFeePerGas":
					w.MaxFeePerGas = p
				case "maxPriorityFeePerGas":
					w.MaxPriorityFeePerGas = p
				}
			}
		default:
			var b hexutil.Bytes
			if err = json.Unmarshal(v, &b); err == nil {
				switch name {
				case "initCode":
					w.InitCode = b
				case "callData":
					w.CallData = b
				case "paymasterAndData":
					w.PaymasterAndData = b
				case "signature":
					w.Signature = b
				}
			}
		}
		if err != nil {
			bad[name] = cleanErr(err)
		}
	}
	if len(bad) > 0 {
		return nil, &FieldError{Fields: bad}
	}
	return FromWire(w), nil
}

func cleanErr(err error) string {
	s := err.Error()
	// encoding/json prefixes type errors with Go type names; keep the message short.
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s, "json: ") {
		return s[i+2:]
	}
	return s
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// String describes op without its signature bytes.
func (op *UserOperation) String() string {
	return fmt.Sprintf("userop{sender=%s nonce=%s callData=%d bytes initCode=%d bytes}",
		op.Sender.Hex(), big0(op.Nonce), len(op.CallData), len(op.InitCode))
}
