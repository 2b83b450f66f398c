package devchain

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

type artifact struct {
	abi      abi.ABI
	bytecode []byte
}

// TEMPORARY until the contracts package lands: read the EntryPoint artifact from node_modules.
func entryPointArtifact() (artifact, error) {
	dir, _ := os.Getwd()
	for {
		p := filepath.Join(dir, "contracts/node_modules/@account-abstraction/contracts/artifacts/EntryPoint.json")
		if b, err := os.ReadFile(p); err == nil {
			var raw struct {
				ABI      json.RawMessage `json:"abi"`
				Bytecode string          `json:"bytecode"`
			}
			if err := json.Unmarshal(b, &raw); err != nil {
				return artifact{}, err
			}
			a, err := abi.JSON(strings.NewReader(string(raw.ABI)))
			if err != nil {
				return artifact{}, err
			}
			code, err := hexutil.Decode(raw.Bytecode)
			return artifact{abi: a, bytecode: code}, err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return artifact{}, fmt.Errorf("EntryPoint artifact not found")
		}
		dir = parent
	}
}
