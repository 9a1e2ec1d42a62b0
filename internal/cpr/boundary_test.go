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
