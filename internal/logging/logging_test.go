package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestNewWritesJSONWithService(t *testing.T) {
	var buf bytes.Buffer
	log := New(Config{Level: "warn", Format: "auto"}, &buf, "indexer")
	log.Info().Msg("hidden")
	log.Warn().Msg("shown")
	var line map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(buf.Bytes()), &line); err != nil {
		t.Fatalf("not one JSON line: %q", buf.String())
	}
	if line["service"] != "indexer" || line["message"] != "shown" || line["time"] == nil {
		t.Fatalf("%v", line)
	}
}

func TestValidate(t *testing.T) {
	if err := (Config{Level: "loud", Format: "xml"}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "log.level") || !strings.Contains(err.Error(), "log.format") {
		t.Fatalf("%v", err)
	}
	if err := (Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
}
