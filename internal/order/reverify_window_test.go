package order_test

import (
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/br"
)

// docs/design.md §2 and §4, BR §4.2.1: finalize refuses an identity past
// its reuse period. It was checked once, before the CAA lookups and the
// lint (which a subscriber's slow DNS can stretch), and not again when the
// intent is recorded: an identity whose period ended while CAA was looked
// up was still relied on, and the certificate signed after its end.
func TestIdentityLapsingDuringCAAIsRefused(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		f.Clock.Advance(398*24*time.Hour - time.Hour) // the identity verified at the start has an hour left
		f.ValidateDomain(site)
		id := approvedOrder(t, f, apptest.Key(t))
		fin := finalizeHeldOnCAA(t, f, id, func() { f.Clock.Advance(2 * time.Hour) })
		if _, code := fin.ErrField(); fin.Status != 409 || code != "reverification_required" {
			t.Fatalf("finalize across the end of the identity's reuse period: %d %s, want 409 reverification_required", fin.Status, fin.Raw)
		}
		nothingSigned(t, f, id)
	})
}

// The same window for the names, which was already closed (RecordIssuance
// checks each reliance again in the intent's transaction): the identity's
// check above now matches it.
func TestDomainValidationLapsingDuringCAAIsRefused(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		f.Clock.Advance(120 * 24 * time.Hour) // past 2027-03-15: the window crosses no BR §4.2.1 or §6.3.2 step
		f.ValidateDomain(site)
		end := br.DomainValidationReusableUntil(f.Clock.Now())
		f.Clock.Advance(end.Sub(f.Clock.Now()) - time.Hour)
		id := approvedOrder(t, f, apptest.Key(t))
		fin := finalizeHeldOnCAA(t, f, id, func() { f.Clock.Advance(2 * time.Hour) })
		if field, code := fin.ErrField(); fin.Status != 400 || code != "domain_not_validated" || field != "dnsNames" {
			t.Fatalf("finalize across the end of the domain validation's reuse period: %d %.400s, want 400 domain_not_validated naming dnsNames", fin.Status, fin.Raw)
		}
		nothingSigned(t, f, id)
	})
}
