package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestOptionsNeverShowThePassword(t *testing.T) {
	o := Options{Addrs: []string{"127.0.0.1:9000"}, Username: "kw", Password: "hunter2-secret"}
	j, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{fmt.Sprint(o), fmt.Sprintf("%+v", o), fmt.Sprintf("%#v", o), fmt.Sprintf("%v", &o), string(j)} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("password shown: %s", s)
		}
		if !strings.Contains(s, "127.0.0.1:9000") {
			t.Errorf("address missing: %s", s)
		}
	}
}
