package devchain

import (
	"fmt"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/keywarden/keywarden/contracts"
)

type artifact struct {
	abi      abi.ABI
	bytecode []byte
}

// loadArtifact returns a stand-in's embedded artifact, or the EntryPoint v0.6 artifact that
// `make contracts` copies out of the pinned npm package (read at run time, never embedded).
func loadArtifact(name string) (artifact, error) {
	var (
		a    abi.ABI
		code []byte
		err  error
	)
	if name == "EntryPoint" {
		a, code, err = contracts.EntryPoint()
	} else {
		a, code, err = contracts.Artifact(name)
	}
	if err != nil {
		return artifact{}, fmt.Errorf("load %s artifact: %w", name, err)
	}
	return artifact{abi: a, bytecode: code}, nil
}
