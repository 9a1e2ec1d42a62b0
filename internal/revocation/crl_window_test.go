package revocation_test

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/apptest"
)

// RFC 5280 §5.1.2.5: a CRL's nextUpdate is the date by which the next CRL
// will be issued. With a republication interval barely shorter than the
// validity (the closest the configuration allows), the shard is
// republished at the latest an hour before its CRL's nextUpdate, so the
// CRL served is never past it, even when a pass comes late.
func TestCRLRepublishedBeforeItsNextUpdate(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			dns, opt := apptest.WithDNS(t)
			tight := func(c *app.Config) { c.CRLValidity, c.CRLRepublish = 48*time.Hour+30*time.Minute, 48*time.Hour }
			e := apptest.New(t, b, opt, tight)
			f := apptest.NewOrderFixture(t, e, dns, site)
			ctx := context.Background()
			_, certPEM := f.Issue(site)
			dp := parse(t, certPEM).CRLDistributionPoints[0]
			if _, err := e.App.CRLs.PublishDue(ctx); err != nil {
				t.Fatal(err)
			}
			first, err := x509.ParseRevocationList(fetch(t, f, dp))
			if err != nil {
				t.Fatal(err)
			}
			f.Clock.Set(first.NextUpdate.Add(-59 * time.Minute)) // the passes before were missed
			if _, err := e.App.CRLs.PublishDue(ctx); err != nil {
				t.Fatal(err)
			}
			rl, err := x509.ParseRevocationList(fetch(t, f, dp))
			if err != nil {
				t.Fatal(err)
			}
			if rl.Number.Cmp(first.Number) <= 0 || !rl.NextUpdate.After(f.Clock.Now().Add(time.Hour)) {
				t.Fatalf("an hour before nextUpdate %v the CRL served is number %v (first %v), next update %v",
					first.NextUpdate, rl.Number, first.Number, rl.NextUpdate)
			}
		})
	}
}

// Revoking a certificate that had already expired (allowed; its OCSP
// answer says revoked) leaves the CRL alone: such a revocation is on no
// CRL (BR §4.10.1). Before, the check for revocations a build missed
// counted it, so its shard was republished at every pass for five minutes,
// each time with a new CRL number.
func TestRevokingAnExpiredCertificateDoesNotChurnItsShard(t *testing.T) {
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.SQLite, opt)
	f := apptest.NewOrderFixture(t, e, dns, site)
	ctx := context.Background()
	serial, certPEM := f.Issue(site)
	cert := parse(t, certPEM)
	f.Clock.Set(cert.NotAfter.Add(20 * 24 * time.Hour))
	if _, err := e.App.CRLs.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(time.Minute)
	if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
		t.Fatalf("revoking the expired certificate: %d %s", r.Status, r.Raw)
	}
	if published := passesPublishing(t, f, cert.CRLDistributionPoints[0], 12); published > 1 {
		t.Fatalf("the shard was published %d times in six minutes of passes", published)
	}
}

// A certificate revoked a minute before it expires is listed on the next
// CRL (A); a CRL built after A (B, for another revocation of the shard)
// leaves it off, as BR §4.10.1 allows. The check for revocations a build
// missed counted it all the same, so the shard was due at every pass
// until the revocation left the five-minute window; it now asks what the
// next build lists.
func TestRevokingAnExpiringCertificateDoesNotChurnItsShard(t *testing.T) {
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.SQLite, opt, func(c *app.Config) { c.CRLShards = 1 })
	f := apptest.NewOrderFixture(t, e, dns, site)
	ctx := context.Background()
	serial, certPEM := f.Issue(site)
	serial2, _ := f.Issue(site)
	cert := parse(t, certPEM)
	url := cert.CRLDistributionPoints[0]
	if _, err := e.App.CRLs.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	f.Clock.Set(cert.NotAfter.Add(-time.Minute))
	if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
		t.Fatalf("revoke: %d %s", r.Status, r.Raw)
	}
	f.Clock.Advance(90 * time.Second) // A: after the certificate expired
	if _, err := e.App.CRLs.PublishDue(ctx); err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(30 * time.Second)
	if r := f.Do("POST", "/api/v1/certificates/"+serial2+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
		t.Fatalf("revoke 2: %d %s", r.Status, r.Raw)
	}
	if published := passesPublishing(t, f, url, 10); published > 1 {
		t.Fatalf("the shard was published %d times in five minutes of passes", published)
	}
}

// passesPublishing runs n passes of the CRL publisher, 30 seconds apart,
// and counts those that published the shard at url.
func passesPublishing(t *testing.T, f *apptest.OrderFixture, url string, n int) int {
	t.Helper()
	published := 0
	for i := 0; i < n; i++ {
		f.Clock.Advance(30 * time.Second)
		recs, err := f.App.CRLs.PublishDue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			if rec.URL == url {
				published++
			}
		}
	}
	return published
}
