package bench

import (
	"context"
	"testing"
	"time"
)

func TestCRLPhases(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	r, err := CRL(context.Background(), "sqlite:x", 300000)
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r.Notes, time.Duration(0))
}
