package actions

// entryPointGetUserOpHash encodes EntryPoint.getUserOpHash(op) for the end-to-end tests.
func EntryPointGetUserOpHashCall(op *UserOperation) ([]byte, error) {
	return entryPointABI.Pack("getUserOpHash", *op.Copy())
}
