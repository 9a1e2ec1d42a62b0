package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/apptest"
)

// A replica's background loops stop (shutdown, a rolling restart): each
// leased loop gives its lease back, so another replica takes the work
// over at once (docs/architecture.md: "A loop that stops gives its lease
// back"). The scheduled audit verification kept its lease instead: the
// other replicas could not verify until it expired, --verify-every + 5
// min after the stopped replica's last run.
func TestStoppedReplicaGivesBackTheAuditVerifyLease(t *testing.T) {
	e := apptest.New(t, apptest.Postgres, func(c *app.Config) { c.CRLTick = 20 * time.Millisecond })
	b := e.Replica()
	ctx := context.Background()
	bg, err := e.App.StartBackground(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Each loop's first pass runs at once; the verification's takes a moment.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var holder string
		err := e.App.DB.QueryRow(ctx, `SELECT holder FROM leases WHERE name = ?`, app.LeaseAuditVerify).Scan(&holder)
		if err == nil && holder == e.App.Replica {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica A never took the audit-verify lease: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	bg.Stop() // replica A shuts down
	rows, err := e.App.DB.Query(ctx, `SELECT name, holder FROM leases`)
	if err != nil {
		t.Fatal(err)
	}
	held := map[string]string{}
	for rows.Next() {
		var n, h string
		if err := rows.Scan(&n, &h); err != nil {
			t.Fatal(err)
		}
		held[n] = h
	}
	rows.Close()
	t.Logf("leases after A stopped: %v (A is %s)", held, e.App.Replica)
	// Replica B, whose scheduled verification is due, a minute later.
	b.Clock.Advance(time.Minute)
	rep, err := b.App.AuditWatch.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep == nil {
		t.Fatalf("replica B may not run the scheduled audit verification after replica A stopped: A still holds the %q lease (until %v + 5 min after its last run); every other loop gave its lease back", app.LeaseAuditVerify, e.App.Cfg.VerifyEvery)
	}
}
