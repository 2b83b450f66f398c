package devchain

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
)

// abis holds the ABIs the chain's helpers call.
type abis struct {
	entryPoint, account, factory, multiOwner, plugin, erc20, target abi.ABI
}

func (a *abis) all() []*abi.ABI {
	return []*abi.ABI{&a.entryPoint, &a.account, &a.factory, &a.multiOwner, &a.plugin, &a.erc20, &a.target}
}

// errorName names the custom error that data encodes, with its arguments, or "".
func (a *abis) errorName(data []byte) string {
	if a == nil || len(data) < 4 {
		return ""
	}
	for _, x := range a.all() {
		for _, e := range x.Errors {
			if bytes.Equal(e.ID[:4], data[:4]) {
				args, err := e.Inputs.Unpack(data[4:])
				if err != nil {
					return e.Name
				}
				parts := make([]string, len(args))
				for i, v := range args {
					parts[i] = fmt.Sprintf("%v", v)
					if b, ok := v.([]byte); ok {
						parts[i] = fmt.Sprintf("0x%x", b)
						if inner := a.errorName(b); inner != "" {
							parts[i] = inner
						}
					}
				}
				return e.Name + "(" + strings.Join(parts, ", ") + ")"
			}
		}
	}
	return ""
}

// mustPack packs a call whose arguments the caller built from Go types; a failure is a bug
// in this package, reported as an error all the same.
type abiLike = abi.ABI

func pack(a abi.ABI, method string, args ...any) ([]byte, error) {
	b, err := a.Pack(method, args...)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", method, err)
	}
	return b, nil
}

var installArgs = func() abi.Arguments {
	addrs, _ := abi.NewType("address[]", "", nil)
	tags, _ := abi.NewType("bytes32[]", "", nil)
	perms, _ := abi.NewType("bytes[][]", "", nil)
	return abi.Arguments{{Type: addrs}, {Type: tags}, {Type: perms}}
}()
