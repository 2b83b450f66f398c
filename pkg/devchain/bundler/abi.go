package bundler

import "github.com/keywarden/keywarden/pkg/userop"

// go-ethereum's abi package maps the EntryPoint's UserOperation tuple to a struct by field
// name, and userop.UserOperation has exactly those fields; Copy turns nil quantities into 0.

func toABI(op *userop.UserOperation) userop.UserOperation { return *op.Copy() }

func fromABI(o userop.UserOperation) *userop.UserOperation { return o.Copy() }
