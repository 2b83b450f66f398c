package bundler

import (
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/keywarden/keywarden/pkg/userop"
)

// opABI has the field names go-ethereum's abi package maps to the UserOperation tuple.
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

func toABI(op *userop.UserOperation) opABI { return opABI(*op.Copy()) }

func fromABI(o opABI) *userop.UserOperation {
	op := userop.UserOperation(o)
	return op.Copy()
}
