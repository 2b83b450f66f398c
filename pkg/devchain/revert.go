package devchain

import (
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// dataError is what go-ethereum's RPC errors carrying revert data implement.
type dataError interface {
	error
	ErrorData() interface{}
}

// revertData extracts revert bytes and a readable reason from a call error.
func revertData(err error) ([]byte, string) {
	var de dataError
	if !errors.As(err, &de) {
		return nil, err.Error()
	}
	var data []byte
	switch v := de.ErrorData().(type) {
	case string:
		data, _ = hexutil.Decode(v)
	case []byte:
		data = v
	}
	if reason, uerr := abi.UnpackRevert(data); uerr == nil {
		return data, reason
	}
	return data, fmt.Sprintf("%s (data %s)", err.Error(), hexutil.Encode(data))
}

// explain adds the revert data to an estimation or call error.
func (c *Chain) explain(err error) error {
	data, reason := revertData(err)
	if len(data) == 0 {
		return err
	}
	if name := c.abis.errorName(data); name != "" {
		return fmt.Errorf("%w: %s", err, name)
	}
	return fmt.Errorf("%s: %w", reason, err)
}
