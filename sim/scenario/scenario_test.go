package scenario

import (
	"encoding/json"
	"testing"
)

func TestRun_Default(t *testing.T) {
	cfg := Default()
	res, err := Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	t.Logf("%s", b)
	if !res.OK {
		t.Fatal("not ok")
	}
}
