package actions

import (
	"fmt"
	"os"
	"strings"
)

// SignerSpec says where a private key comes from. It is what the CLI and the enforcer's
// configuration name; it never holds the key itself.
//
//	env:NAME          hex key in the environment variable NAME
//	file:PATH         hex key in the file PATH
//	keystore:PATH     encrypted keystore JSON; the password comes from PasswordFile or PasswordEnv
type SignerSpec struct {
	Source       string
	PasswordFile string // keystore password file (trailing new line ignored)
	PasswordEnv  string // or the environment variable holding it
}

// LoadSigner resolves spec into a signer.
func LoadSigner(spec SignerSpec) (*KeySigner, error) {
	// Never echo spec.Source whole: a person may paste a raw key there by mistake.
	kind, arg, ok := strings.Cut(spec.Source, ":")
	if !ok || arg == "" {
		return nil, fmt.Errorf("load signer: source must be env:NAME, file:PATH or keystore:PATH")
	}
	switch kind {
	case "env":
		return KeySignerFromEnv(arg)
	case "file":
		return KeySignerFromFile(arg)
	case "keystore":
		pw, err := keystorePassword(spec)
		if err != nil {
			return nil, fmt.Errorf("load signer from keystore %s: %w", arg, err)
		}
		return KeySignerFromKeystore(arg, pw)
	}
	return nil, fmt.Errorf("load signer: unknown source kind (want env, file or keystore)")
}

func keystorePassword(spec SignerSpec) (string, error) {
	switch {
	case spec.PasswordFile != "":
		b, err := os.ReadFile(spec.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("read password file: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	case spec.PasswordEnv != "":
		v, ok := os.LookupEnv(spec.PasswordEnv)
		if !ok {
			return "", fmt.Errorf("password env %s not set", spec.PasswordEnv)
		}
		return v, nil
	}
	return "", fmt.Errorf("keystore needs a password file or a password env variable")
}
