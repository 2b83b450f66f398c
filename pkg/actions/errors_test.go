package actions

import (
	"testing"

	"github.com/ethereum/go-ethereum/common"
)

func TestParseAA(t *testing.T) {
	cases := map[string]struct{ code, reason string }{
		"FailedOp(0, AA24 signature error)":             {"AA24", "AA24 signature error"},
		`FailedOp(0, "AA23 reverted (or OOG)")`:         {"AA23", "AA23 reverted (or OOG)"},
		"AA23 reverted (or OOG)":                        {"AA23", "AA23 reverted (or OOG)"},
		"validation failed: AA25 invalid account nonce": {"AA25", "AA25 invalid account nonce"},
		"AA21 didn't pay prefund":                       {"AA21", "AA21 didn't pay prefund"},
	}
	for msg, want := range cases {
		aa, ok := parseAA(msg, common.Hash{1}, "")
		if !ok || aa.Code != want.code || aa.Reason != want.reason || aa.UserOpHash != (common.Hash{1}) {
			t.Errorf("%q: %+v", msg, aa)
		}
	}
	if _, ok := parseAA("execution reverted", common.Hash{}, ""); ok {
		t.Error("no code parsed as AA")
	}
}
