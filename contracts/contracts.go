package contracts

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// Names of the embedded artifacts (stable: other packages refer to them).
const (
	SessionKeyPlugin      = "SessionKeyPlugin"
	MultiOwnerPlugin      = "MultiOwnerPlugin"
	ModularAccount        = "ModularAccount"
	ModularAccountFactory = "ModularAccountFactory"
	TestERC20             = "TestERC20"
	TestTarget            = "TestTarget"
)

// Names lists every embedded artifact.
var Names = []string{SessionKeyPlugin, MultiOwnerPlugin, ModularAccount, ModularAccountFactory, TestERC20, TestTarget}

// EntryPointArtifactEnv names an environment variable that, when set, is the path of the EntryPoint artifact
// JSON (a Hardhat artifact or build/entrypoint/EntryPoint.json).
const EntryPointArtifactEnv = "KEYWARDEN_ENTRYPOINT_ARTIFACT"

// ErrUnknownArtifact is returned by Artifact for a name that is not embedded.
var ErrUnknownArtifact = errors.New("unknown contract artifact")

// ErrEntryPointMissing is returned by EntryPoint when no EntryPoint artifact can be found.
var ErrEntryPointMissing = errors.New("EntryPoint v0.6.0 artifact not found: run `make deps` and `make contracts` (or set " + EntryPointArtifactEnv + ")")

//go:embed build/*.json
var buildFS embed.FS

type rawArtifact struct {
	ABI              json.RawMessage `json:"abi"`
	Bytecode         string          `json:"bytecode"`
	DeployedBytecode string          `json:"deployedBytecode"`
}

// Artifact returns the ABI and creation bytecode of the embedded contract `name` (one of Names).
func Artifact(name string) (abi.ABI, []byte, error) {
	b, err := buildFS.ReadFile("build/" + name + ".json")
	if err != nil {
		return abi.ABI{}, nil, fmt.Errorf("read artifact %s: %w", name, ErrUnknownArtifact)
	}
	return parseArtifact(name, b)
}

// DeployedBytecode returns the runtime bytecode of the embedded contract `name`.
func DeployedBytecode(name string) ([]byte, error) {
	b, err := buildFS.ReadFile("build/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("read artifact %s: %w", name, ErrUnknownArtifact)
	}
	var raw rawArtifact
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("decode artifact %s: %w", name, err)
	}
	code, err := hexutil.Decode(raw.DeployedBytecode)
	if err != nil {
		return nil, fmt.Errorf("decode deployed bytecode of %s: %w", name, err)
	}
	return code, nil
}

// ABI returns the ABI of the embedded contract `name`.
func ABI(name string) (abi.ABI, error) {
	a, _, err := Artifact(name)
	return a, err
}

// EntryPoint returns the ABI and creation bytecode of the EntryPoint v0.6.0. It reads, in order: the file named
// by $KEYWARDEN_ENTRYPOINT_ARTIFACT; contracts/build/entrypoint/EntryPoint.json (written by `make contracts`);
// contracts/node_modules/@account-abstraction/contracts/artifacts/EntryPoint.json (installed by `make deps`),
// locating contracts/ from the module root found by walking up from the working directory to go.mod.
func EntryPoint() (abi.ABI, []byte, error) {
	path, err := entryPointPath()
	if err != nil {
		return abi.ABI{}, nil, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return abi.ABI{}, nil, fmt.Errorf("read EntryPoint artifact %s: %w", path, err)
	}
	return parseArtifact("EntryPoint", b)
}

func entryPointPath() (string, error) {
	if p := os.Getenv(EntryPointArtifactEnv); p != "" {
		return p, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", fmt.Errorf("locate module root: %w (%w)", err, ErrEntryPointMissing)
	}
	for _, p := range []string{
		filepath.Join(root, "contracts", "build", "entrypoint", "EntryPoint.json"),
		filepath.Join(root, "contracts", "node_modules", "@account-abstraction", "contracts", "artifacts", "EntryPoint.json"),
	} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", ErrEntryPointMissing
}

// moduleRoot walks up from the working directory to the directory holding keywarden's go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			strings.Contains(string(b), "module github.com/keywarden/keywarden") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no keywarden go.mod above the working directory")
		}
		dir = parent
	}
}

func parseArtifact(name string, b []byte) (abi.ABI, []byte, error) {
	var raw rawArtifact
	if err := json.Unmarshal(b, &raw); err != nil {
		return abi.ABI{}, nil, fmt.Errorf("decode artifact %s: %w", name, err)
	}
	a, err := abi.JSON(strings.NewReader(string(raw.ABI)))
	if err != nil {
		return abi.ABI{}, nil, fmt.Errorf("parse ABI of %s: %w", name, err)
	}
	code, err := hexutil.Decode(raw.Bytecode)
	if err != nil {
		return abi.ABI{}, nil, fmt.Errorf("decode bytecode of %s: %w", name, err)
	}
	if len(code) == 0 {
		return abi.ABI{}, nil, fmt.Errorf("artifact %s has no bytecode", name)
	}
	return a, code, nil
}
