package cpr_test

import (
	"context"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/cpr"
)

// BR §4.9.5 gives 24 hours: a preliminary report sent at the 24th hour is
// in time (the desk counts it met), so a watch pass in that same second
// must not put a breach on the record of a case that then meets it.
func TestPreliminaryReportAtExactly24HoursIsNoBreach(t *testing.T) {
	each(t, func(t *testing.T, d *desk) {
		ctx := context.Background()
		serial := issue(t, d.OrderFixture, apptest.Key(t))
		id := report(t, d, map[string]any{"reporterEmail": "rp@example.org", "category": "misissuance",
			"description": "the locality is wrong", "serials": []string{serial}})
		v, err := d.App.CPR.Get(ctx, d.Compliance, id)
		if err != nil {
			t.Fatal(err)
		}
		d.Clock.Set(v.PreliminaryReportDue)
		tick(t, d)
		if _, err := d.App.CPR.SendPreliminaryReport(ctx, d.Compliance, id, cpr.PreliminaryInput{Findings: "we are looking", To: cpr.ToAll}); err != nil {
			t.Fatal(err)
		}
		d.Deliver()
		d.Clock.Advance(time.Minute)
		tick(t, d)
		obs, err := d.App.CPR.Obligations(ctx, d.Clock.Now())
		if err != nil || len(obs) != 0 {
			t.Fatalf("obligations %+v (%v): the report at the 24th hour met BR §4.9.5", obs, err)
		}
		if n := breaches(t, d, id); n != 0 {
			t.Fatalf("%d breaches recorded for a preliminary report sent at the 24th hour, in time", n)
		}
	})
}

// Every replica serves /metrics, and an alert on
// vetca_cpr_obligations_breached may read any of them. A replica whose
// lease another replica took over must not go on reporting the breach it
// last saw once the obligation is met: its gauges follow the obligations
// too, not its last pass as holder.
func TestGaugesOfAReplicaWithoutTheLeaseFollowTheObligations(t *testing.T) {
	each(t, func(t *testing.T, d *desk) {
		ctx := context.Background()
		b := d.Replica()
		serial := issue(t, d.OrderFixture, apptest.Key(t))
		id := report(t, d, map[string]any{"reporterEmail": "rp@example.org", "category": "misissuance",
			"description": "the locality is wrong", "serials": []string{serial}})
		step := func(dt time.Duration) { d.Clock.Advance(dt); b.Clock.Advance(dt) }
		step(25 * time.Hour)
		if _, ok, err := d.App.CPRWatch.RunOnce(ctx); err != nil || !ok {
			t.Fatalf("replica a: ok %v, %v", ok, err)
		}
		if _, _, br := d.App.CPRWatch.Gauges(); gauge(br) != 1 {
			t.Fatalf("replica a's breached gauge %v, want 1", gauge(br))
		}
		step(time.Hour) // a's pass outlived its lease: b takes over
		if _, ok, err := b.App.CPRWatch.RunOnce(ctx); err != nil || !ok {
			t.Fatalf("replica b: ok %v, %v", ok, err)
		}
		if _, err := d.App.CPR.SendPreliminaryReport(ctx, d.Compliance, id, cpr.PreliminaryInput{Findings: "we are looking", To: cpr.ToAll}); err != nil {
			t.Fatal(err)
		}
		d.Deliver()
		for _, r := range []struct {
			name string
			w    interface {
				RunOnce(context.Context) (cpr.TickResult, bool, error)
			}
		}{{"b", b.App.CPRWatch}, {"a", d.App.CPRWatch}} {
			if _, _, err := r.w.RunOnce(ctx); err != nil {
				t.Fatalf("replica %s: %v", r.name, err)
			}
		}
		if open, _, br := d.App.CPRWatch.Gauges(); gauge(br) != 0 || gauge(open) != 0 {
			t.Fatalf("replica a (without the lease) reports %v open, %v breached after the report was sent", gauge(open), gauge(br))
		}
	})
}
