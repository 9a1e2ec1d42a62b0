package app_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/atonce"
)

// Replicas deployed together start together: each records the
// installation's settings as serve starts, and the first time there are
// none, both find none and both write. Neither may fail, and above all
// neither may report the other's fresh row as an integrity violation
// (a row read as absent, then its insert event seen by the next statement).
func TestReplicasRecordASettingAtOnce(t *testing.T) {
	e := apptest.New(t, apptest.Postgres)
	ctx := context.Background()
	replicas := []*app.App{e.App, e.Replica().App}
	for i := 0; i < 60; i++ {
		id := fmt.Sprintf("test_setting_%d", i)
		errs := make([]error, len(replicas))
		atonce.Each(len(replicas), func(r int) {
			errs[r] = replicas[r].SetSetting(ctx, actor.SystemActor(replicas[r].Replica), id, "same value")
		})
		for r, err := range errs {
			if err != nil {
				t.Fatalf("setting %s, replica %d: %v", id, r, err)
			}
		}
	}
	if rep, err := e.App.VerifyAudit(ctx, ""); err != nil || !rep.OK {
		t.Fatalf("verify: %v %+v", err, rep)
	}
}
