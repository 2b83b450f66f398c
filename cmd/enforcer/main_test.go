package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCheckConfigRedactsSecrets(t *testing.T) {
	t.Chdir("../..")
	t.Setenv("KEYWARDEN_WEBHOOK_SECRET", "whsec-topsecret")
	t.Setenv("KEYWARDEN_NATS_PASSWORD", "nats-topsecret")
	var out, errOut bytes.Buffer
	if code := run([]string{"-config", "config/enforcer.example.yaml", "-check-config"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if strings.Contains(out.String(), "topsecret") || !strings.Contains(out.String(), "policies loaded") {
		t.Fatalf("output:\n%s", out.String())
	}
	out.Reset()
	errOut.Reset()
	t.Setenv("KEYWARDEN_WEBHOOK_SECRET", "")
	code := run([]string{"-config", "config/enforcer.example.yaml", "-check-config", "-mode", "yolo"}, &out, &errOut)
	// Both problems are reported at once.
	if code != 2 || !strings.Contains(errOut.String(), `mode "yolo"`) || !strings.Contains(errOut.String(), "webhook") {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
}
