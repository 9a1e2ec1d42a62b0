package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/apptest"
)

// serve --dev loads demo data (a certificate for a demo domain on a
// validation its own DNS answers, demo staff, rotated tokens, its own
// public URL). Into a real installation (VETCA_DB left exported, then
// `make run`) it went without a word; it is now refused there, and allowed
// on a database fresh from vetca init, which it marks as a demo one.
func TestDevDemoRefusesARealInstallation(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			ctx := context.Background()
			withOrg := func(e *apptest.Env) {
				t.Helper()
				if r := e.Do("POST", "/api/v1/organizations", e.User("alice", actor.Verifier), apptest.Acme); r.Status != 201 {
					t.Fatalf("create org: %d %s", r.Status, r.Raw)
				}
			}
			real := apptest.New(t, b)
			withOrg(real)
			err := app.RequireDevInstallation(ctx, real.App)
			if err == nil || !strings.Contains(err.Error(), "not a demo installation") {
				t.Fatalf("serve --dev on an installation with a real organization: %v", err)
			}
			fresh := apptest.New(t, b)
			if err := app.RequireDevInstallation(ctx, fresh.App); err != nil {
				t.Fatalf("serve --dev on a fresh installation: %v", err)
			}
			withOrg(fresh)
			if err := app.RequireDevInstallation(ctx, fresh.App); err != nil {
				t.Fatalf("serve --dev again on the demo installation it marked: %v", err)
			}
		})
	}
}
