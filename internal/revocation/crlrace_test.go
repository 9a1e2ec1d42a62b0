package revocation_test

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apptest"
)

// A revocation whose transaction took its recorded_at before a CRL's
// thisUpdate but committed after that CRL's build read the shard is on
// neither side of "newer than the CRL": the shard must still be found due
// and republished with it, not left for the scheduled republication days
// later (BR §4.9.7: within 24 hours). The race's end state is made with the
// clock: the CRL is built at T, the revocation recorded at T minus a
// minute.
func TestRevocationCommittedAfterABuildsSnapshotIsPublished(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		serial, certPEM := f.Issue(site)
		cert := parse(t, certPEM)
		dp := cert.CRLDistributionPoints[0]
		f.Clock.Advance(10 * time.Minute)
		built := f.Clock.Now()
		targets, err := f.App.CRLs.Targets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		published := false
		for _, tg := range targets {
			if tg.URL == dp {
				if _, err := f.App.CRLs.Publish(ctx, tg); err != nil {
					t.Fatal(err)
				}
				published = true
			}
		}
		if !published {
			t.Fatalf("no CRL target %s", dp)
		}
		f.Clock.Set(built.Add(-time.Minute))
		if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		f.Clock.Set(built.Add(time.Minute))
		// Until the shard is republished, coverage does not call the
		// revocation missing: the shard is due, and the publisher has 24
		// hours (BR §4.9.7).
		if findings, err := f.App.CRLs.VerifyCoverage(ctx, nil); err != nil || len(findings) != 0 {
			t.Fatalf("coverage before the republication: %v %+v", err, findings)
		}
		for i := 0; i < 2; i++ { // the second pass finds nothing more to do
			if _, err := f.App.CRLs.PublishDue(ctx); err != nil {
				t.Fatal(err)
			}
		}
		rl, err := x509.ParseRevocationList(fetch(t, f, dp))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range rl.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				return
			}
		}
		t.Fatalf("revoked %s is not on its shard's CRL (number %v, thisUpdate %v)", serial, rl.Number, rl.ThisUpdate)
	})
}
