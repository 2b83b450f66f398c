package schema

import (
	"regexp"
	"strings"
	"testing"
)

var quoted = regexp.MustCompile(`'[^']*'`)

func TestMigrationsParse(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Version != 1 {
		t.Fatalf("migrations = %+v", ms)
	}
	for _, m := range ms {
		for _, s := range m.Statements {
			if strings.Contains(s, ";") {
				t.Errorf("%s: statement holds a semicolon: %.80q", m.Name, s)
			}
			code := quoted.ReplaceAllString(s, "''")
			for _, banned := range []string{"DateTime64", "UInt256", "Map(", "TTL", "CODEC", "JSON", "LowCardinality", "Nullable", "PARTITION BY"} {
				if strings.Contains(code, banned) {
					t.Errorf("%s: uses %s", m.Name, banned)
				}
			}
		}
	}
}

func TestSplit(t *testing.T) {
	got := Split("-- a comment; with a semicolon\nCREATE TABLE a (x UInt8)\nENGINE = Memory;\n\n  -- x\nSELECT 1 ;\nSELECT 2")
	want := []string{"CREATE TABLE a (x UInt8)\nENGINE = Memory", "SELECT 1", "SELECT 2"}
	if len(got) != len(want) {
		t.Fatalf("Split = %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("statement %d = %q, want %q", i, got[i], want[i])
		}
	}
}
