package devchain

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/keywarden/keywarden/pkg/userop"
)

// opABI is the field layout go-ethereum's abi package packs as the EntryPoint's
// UserOperation tuple (fields matched by name).
type opABI struct {
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

func opTuple(op *userop.UserOperation) opABI {
	w := op.Copy()
	return opABI(*w)
}
