package revocation_test

import (
	"bytes"
	"context"
	"crypto"
	"io"
	"net/http"
	"testing"

	"github.com/vetca/vetca/internal/apptest"
	"golang.org/x/crypto/ocsp"
)

// As TestDeletedRevocationFailsClosed, but the insider also breaks the
// signature of the revocation's latest event. The read took the row for
// one that never existed (an event whose signature does not verify was
// ignored) and answered "not revoked": a fresh OCSP response said good.
// An unauthentic latest event for a missing row now fails the read.
func TestDeletedRevocationWithABrokenEventFailsClosed(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		serial, certPEM := f.Issue(site)
		cert := parse(t, certPEM)
		if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		for _, q := range []string{
			`DELETE FROM revocations WHERE serial = ?`,
			`DELETE FROM ocsp_responses WHERE serial = ?`,
			`UPDATE audit_events SET sig = 'AAAA' WHERE entity_type = 'revocations' AND entity_id = 'rev_' || ?`,
		} {
			if _, err := f.App.DB.Exec(ctx, q, serial); err != nil {
				t.Fatal(err)
			}
		}
		if st, err := f.App.Revocations.StatusOf(ctx, f.App.DB, serial); err == nil {
			t.Errorf("the status of the certificate whose revocation was deleted: %+v, want an integrity error", st)
		}
		iss := f.IssuerCertificate()
		req, err := ocsp.CreateRequest(cert, iss, &ocsp.RequestOptions{Hash: crypto.SHA256})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(f.Server.URL+"/ocsp", "application/ocsp-request", bytes.NewReader(req))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if r, err := ocsp.ParseResponse(body, iss); err == nil && r.Status == ocsp.Good {
			t.Errorf("OCSP answers good for the revoked certificate")
		}
	})
}
