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

// TEMPORARY until the contracts Go package lands: read contracts/build from the module root.
func findUp(rel string) (string, error) {
	dir, _ := os.Getwd()
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("%s not found above the working directory", rel)
		}
		dir = parent
	}
}

func readArtifact(path string) (artifact, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return artifact{}, err
	}
	var raw struct {
		ABI      json.RawMessage `json:"abi"`
		Bytecode string          `json:"bytecode"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return artifact{}, fmt.Errorf("read %s: %w", path, err)
	}
	a, err := abi.JSON(strings.NewReader(string(raw.ABI)))
	if err != nil {
		return artifact{}, fmt.Errorf("read %s: %w", path, err)
	}
	if !strings.HasPrefix(raw.Bytecode, "0x") {
		raw.Bytecode = "0x" + raw.Bytecode
	}
	code, err := hexutil.Decode(raw.Bytecode)
	if err != nil {
		return artifact{}, fmt.Errorf("read %s: %w", path, err)
	}
	return artifact{abi: a, bytecode: code}, nil
}

func loadArtifact(name string) (artifact, error) {
	rel := "contracts/build/" + name + ".json"
	if name == "EntryPoint" {
		rel = "contracts/build/entrypoint/EntryPoint.json"
	}
	p, err := findUp(rel)
	if err != nil {
		return artifact{}, fmt.Errorf("load %s artifact: %w", name, err)
	}
	return readArtifact(p)
}
