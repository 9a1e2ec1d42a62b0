package revocation_test

import (
	"context"
	"crypto"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/vetca/vetca/internal/apptest"
)

// A certificate may be valid until its issuing CA expires (the engine
// refuses only one that would outlive it), and BR §4.9.10 asks for its
// status until it expires. In the issuing CA's last days, less than the
// configured validity interval before its notAfter, its responses are
// still signed: nextUpdate stops at the CA's notAfter (a response is
// never valid past its signer's certificate), the interval kept at least
// 8 hours (BR §4.9.9). (The fixture cannot issue years later, its
// organization's verification long past reuse, so the certificate's
// status is that of one issued to expire an hour before its CA.)
func TestOCSPAnswersInTheIssuingCAsLastDays(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		iss := f.IssuerCertificate()
		serial, _ := f.Issue(site)
		st, err := f.App.Revocations.StatusOf(ctx, f.App.DB, serial)
		if err != nil {
			t.Fatal(err)
		}
		st.NotAfter = iss.NotAfter.Add(-time.Hour)
		for _, left := range []time.Duration{2 * 24 * time.Hour, 9 * time.Hour} {
			f.Clock.Set(iss.NotAfter.Add(-left))
			if ok, err := f.App.OCSP.StoreAsOf(ctx, st, st.IssuerID, serial, crypto.SHA256); err != nil || !ok {
				t.Fatalf("%v before the CA expires: sign: %v (stored %v)", left, err, ok)
			}
			r := cachedByHash(t, f, serial)["sha256"]
			if r == nil || r.Status != ocsp.Good || r.NextUpdate.After(iss.NotAfter) || r.NextUpdate.Sub(r.ThisUpdate) < 8*time.Hour {
				t.Fatalf("%v before the CA expires: stored %s, nextUpdate %s (CA until %s)", left, describe(r), r.NextUpdate, iss.NotAfter)
			}
		}
	})
}
