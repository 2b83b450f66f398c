package devchain

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestParseScenario(t *testing.T) {
	sc, err := ParseScenario("accounts=3,keys=2,mix=add:5,update:3,rotate:1,remove:1,events=500,rate=0,batch=7,seed=9")
	if err != nil {
		t.Fatal(err)
	}
	if sc.Accounts != 3 || sc.Keys != 2 || sc.Events != 500 || sc.Batch != 7 || sc.Seed != 9 ||
		sc.Mix[OpAdd] != 5 || sc.Mix[OpUpdate] != 3 || sc.Mix[OpRotate] != 1 || sc.Mix[OpRemove] != 1 {
		t.Fatalf("parsed %+v", sc)
	}
	back, err := ParseScenario(sc.String())
	if err != nil || back.String() != sc.String() {
		t.Fatalf("round trip %q -> %v", sc.String(), err)
	}
	_, err = ParseScenario("accounts=x,mix=add:1,jump:2,color=red")
	for _, want := range []string{"accounts", "jump", "color"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
	if _, err := ParseScenario("mix=add:0"); err == nil {
		t.Error("an all-zero mix was accepted")
	}
}

// TestScenarioSmall runs a small scenario and checks the event count against the chain.
func TestScenarioSmall(t *testing.T) {
	c := startChain(t, Options{NoBundler: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sc, _ := ParseScenario("accounts=3,keys=2,events=300,batch=20")
	st, err := c.RunScenario(ctx, sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Events < 300 || st.SetupEvents != 3*2*2 {
		t.Fatalf("stats %+v", st)
	}
	// The local key lists must match the chain: every rotate/remove predecessor was right
	// (else a transaction would have failed), and the count of logs equals the stats.
	logs, err := c.Client().FilterLogs(ctx, filterAll(c.Addresses.SessionKeyPlugin))
	if err != nil {
		t.Fatal(err)
	}
	if len(logs) != st.Events {
		t.Fatalf("%d plugin logs on chain, stats say %d", len(logs), st.Events)
	}
}
