package revocation_test

import (
	"context"
	"crypto"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/br"
)

// A certificate revoked after it expired (its subscriber may still ask,
// and a keyCompromise must still be recorded) is answered revoked on
// OCSP, so its CRL must list it too: RFC 5280 §3.3 lets an entry leave
// the CRL only once it "appears on one regularly scheduled CRL issued
// beyond the revoked certificate's validity period", and the API
// contract has a revocation appear in its shard within two minutes. The build left
// off every certificate that expired before the previous CRL, so this
// entry was never published on any CRL while OCSP said revoked.
func TestRevocationAfterExpiryIsListedOnce(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		serial, certPEM := f.Issue(site)
		cert := parse(t, certPEM)
		f.Clock.Advance(cert.NotAfter.Sub(f.Clock.Now()) + 48*time.Hour)
		if _, err := f.App.CRLs.PublishDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.Clock.Advance(time.Minute)
		if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		if o := f.AskOCSP(cert, crypto.SHA256); o.Status != ocsp.Revoked || o.RevocationReason != ocsp.Superseded {
			t.Fatalf("OCSP: status %d reason %d", o.Status, o.RevocationReason)
		}
		if ok, code := onCRL(t, f, cert); !ok || code != br.Superseded.Code() {
			t.Fatalf("RFC 5280 §3.3: the revocation of the expired certificate never reached a CRL (listed %v, reasonCode %d) while OCSP answers it revoked", ok, code)
		}
		if rep, err := f.App.VerifyAudit(context.Background(), ""); err != nil || !rep.OK {
			t.Fatalf("verify: %v %+v", err, rep)
		}
		// Listed beyond its validity, it leaves the CRLs after that.
		for i := 0; i < 2; i++ {
			f.Clock.Advance(4 * 24 * time.Hour) // past the scheduled republication
			onCRL(t, f, cert)
		}
		if ok, _ := onCRL(t, f, cert); ok {
			t.Fatalf("the expired certificate's entry stays on the CRL")
		}
	})
}
