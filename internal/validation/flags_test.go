package validation_test

import (
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/validation"
)

// A method version flagged as no longer to be relied on is not relied on
// for new issuance (BR §3.2.2.4): RequireValidated refuses the names only
// its validations cover, and ReusableFor (ACME authorization reuse) does
// not offer them, while the validations themselves are still listed.
func TestFlaggedMethodVersionIsNotReliedOn(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		v, err := w.App.Domains.Start(ctx, w.Sub, w.AccID, "acme-widgets.com", "")
		if err != nil {
			t.Fatal(err)
		}
		w.DNS.AddTXT(v.RecordName, v.RandomValue)
		if a, err := w.App.Domains.Validate(ctx, w.Sub, w.AccID, v.ID); err != nil || a.Status != "valid" {
			t.Fatalf("validate: %v %+v", err, a)
		}
		now := w.Clock.Now()
		if _, err := w.App.Domains.RequireValidated(ctx, w.App.DB, w.AccID, []string{"www.acme-widgets.com"}, now); err != nil {
			t.Fatalf("before the flag: %v", err)
		}
		carol := actor.Actor{Kind: actor.Staff, ID: "usr_carol", Name: "carol", Roles: []actor.Role{actor.Compliance}}
		if _, err := w.App.Domains.FlagMethodVersion(ctx, carol, validation.FlagInput{Method: "dns-change", Version: "1", Reason: "flawed"}); err != nil {
			t.Fatal(err)
		}
		_, err = w.App.Domains.RequireValidated(ctx, w.App.DB, w.AccID, []string{"www.acme-widgets.com"}, now)
		wantErr(t, err, apperr.KindInvalid, validation.FieldDNSNames, validation.CodeNotValidated)
		if _, ok, err := w.App.Domains.ReusableFor(ctx, w.App.DB, w.AccID, "www.acme-widgets.com", now); err != nil || ok {
			t.Fatalf("ReusableFor offered a validation of a flagged method version: %v %v", ok, err)
		}
	})
}
