package revocation_test

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apptest"
)

// BR §7.2.2 (revokedCertificates): an entry stays until it "has appeared
// on at least one regularly scheduled CRL beyond the revoked Certificate's
// validity period"; a CRL published early because of a revocation does
// not count (br.CRLEntryRemovable). Here the only CRL published after the
// certificate expired, before the next scheduled one, is one that another
// certificate's revocation in the same shard triggered; the scheduled CRL
// after it must still list the entry.
func TestExpiredEntryStaysUntilAScheduledCRL(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		// Two certificates in one shard: the other one's revocation
		// publishes the shard early.
		type issued struct {
			serial string
			cert   *x509.Certificate
		}
		seen := map[string]issued{}
		var serial, other string
		var cert *x509.Certificate
		for i := 0; other == ""; i++ {
			if i == 40 {
				t.Fatal("no two certificates in one shard")
			}
			sn, p := f.Issue(site)
			c := parse(t, p)
			if prev, ok := seen[c.CRLDistributionPoints[0]]; ok {
				serial, cert, other = prev.serial, prev.cert, sn
			}
			seen[c.CRLDistributionPoints[0]] = issued{sn, c}
		}
		f.Clock.Advance(time.Minute)
		if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		// A scheduled CRL an hour before expiry lists the entry.
		f.Clock.Advance(cert.NotAfter.Sub(f.Clock.Now()) - time.Hour)
		if ok, _ := onCRL(t, f, cert); !ok {
			t.Fatal("the revoked certificate is not on its CRL before expiry")
		}
		// An hour after expiry, the other certificate's revocation
		// publishes the shard early; that CRL lists the entry.
		f.Clock.Advance(2 * time.Hour)
		if r := f.Do("POST", "/api/v1/certificates/"+other+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		if ok, _ := onCRL(t, f, cert); !ok {
			t.Fatal("the early CRL after the other revocation does not list the entry")
		}
		// The next regularly scheduled CRL is the first scheduled one
		// beyond the certificate's validity: it must list the entry.
		f.Clock.Advance(4 * 24 * time.Hour)
		if ok, _ := onCRL(t, f, cert); !ok {
			t.Fatal("BR §7.2.2: the entry left the CRLs before it appeared on a regularly scheduled CRL beyond the certificate's validity period; only a revocation-triggered CRL listed it after expiry")
		}
		// Listed on that scheduled CRL, it leaves the CRLs after it.
		f.Clock.Advance(4 * 24 * time.Hour)
		if ok, _ := onCRL(t, f, cert); ok {
			t.Fatal("the entry stays after a regularly scheduled CRL beyond the validity period listed it")
		}
	})
}
