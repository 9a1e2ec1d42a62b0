package revocation_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/store"
)

func cachedStatus(t *testing.T, f *apptest.OrderFixture, serial string) []string {
	t.Helper()
	rows, err := f.App.DB.Query(context.Background(), `SELECT status FROM ocsp_responses WHERE serial = ? ORDER BY hash_alg`, serial)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// BR §4.9.10: OCSP information for a revoked certificate is updated at
// once. A `good` answer cached before the revocation is re-signed by the
// revocation itself (the stored rows say revoked before anyone asks), and
// the next answer is revoked.
func TestCachedGoodReplacedByRevocation(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		serial, certPEM := f.Issue(site)
		cert := parse(t, certPEM)
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
			if r := f.AskOCSP(cert, h); r.Status != ocsp.Good {
				t.Fatalf("before revocation: status %d", r.Status)
			}
		}
		if got := cachedStatus(t, f, serial); len(got) != 2 || got[0] != "good" || got[1] != "good" {
			t.Fatalf("cache before revocation: %v", got)
		}
		f.Clock.Advance(time.Minute)
		if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		if got := cachedStatus(t, f, serial); len(got) != 2 || got[0] != "revoked" || got[1] != "revoked" {
			t.Fatalf("cache right after revocation: %v (the revocation did not re-sign the cached answers)", got)
		}
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
			if r := f.AskOCSP(cert, h); r.Status != ocsp.Revoked || r.RevocationReason != ocsp.Superseded {
				t.Fatalf("after revocation: status %d reason %d", r.Status, r.RevocationReason)
			}
		}
	})
}

// Someone with database access puts back an older, validly signed `good`
// OCSP response and an older CRL after a revocation. The server still
// answers revoked and serves a CRL at least as new as the newest recorded
// (BR §4.9.7, §4.9.10), and audit verify reports both replays.
func TestReplayedStatusIsNeverServed(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		serial, certPEM := f.Issue(site)
		cert := parse(t, certPEM)
		dp := cert.CRLDistributionPoints[0]
		if r := f.AskOCSP(cert, crypto.SHA256); r.Status != ocsp.Good {
			t.Fatalf("before revocation: status %d", r.Status)
		}
		var oldOCSP, oldStatus, oldCRL string
		var oldNumber int64
		if err := f.App.DB.QueryRow(ctx, `SELECT der, status FROM ocsp_responses WHERE serial = ? AND hash_alg = 'sha256'`, serial).Scan(&oldOCSP, &oldStatus); err != nil {
			t.Fatal(err)
		}
		if err := f.App.DB.QueryRow(ctx, `SELECT der, number FROM crl_files WHERE url = ?`, dp).Scan(&oldCRL, &oldNumber); err != nil {
			t.Fatal(err)
		}

		f.Clock.Advance(time.Minute)
		if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "cessationOfOperation"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		if _, err := f.App.CRLs.PublishDue(ctx); err != nil {
			t.Fatal(err)
		}
		newest, err := x509.ParseRevocationList(fetch(t, f, dp))
		if err != nil {
			t.Fatal(err)
		}
		if rep, err := f.App.Audit.Verify(ctx, actor.CLIActor("test"), ""); err != nil || !rep.OK {
			t.Fatalf("verify before the replay: %v %+v", err, rep)
		}

		// The replay, by SQL, once the revocation's re-sign window has
		// passed (within it, verify waits for the re-sign:
		// TestVerifyDuringARevocationsResignFindsNothing).
		f.Clock.Advance(2 * time.Minute)
		if _, err := f.App.DB.Exec(ctx, `UPDATE ocsp_responses SET der = ?, status = ? WHERE serial = ?`, oldOCSP, oldStatus, serial); err != nil {
			t.Fatal(err)
		}
		if _, err := f.App.DB.Exec(ctx, `UPDATE crl_files SET der = ?, number = ? WHERE url = ?`, oldCRL, oldNumber, dp); err != nil {
			t.Fatal(err)
		}

		rep, err := f.App.Audit.Verify(ctx, actor.CLIActor("test"), "")
		if err != nil {
			t.Fatal(err)
		}
		var sawOCSP, sawCRL bool
		for _, fd := range rep.Findings {
			sawOCSP = sawOCSP || (fd.Table == "ocsp_responses" && strings.HasPrefix(fd.RowID, serial) && strings.Contains(fd.Message, "revoked"))
			sawCRL = sawCRL || (fd.Table == "crl_files" && fd.RowID == dp)
		}
		if rep.OK || !sawOCSP || !sawCRL {
			t.Fatalf("audit verify did not report both replays (ocsp %v, crl %v): %+v", sawOCSP, sawCRL, rep.Findings)
		}

		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA1} {
			if r := f.AskOCSP(cert, h); r.Status != ocsp.Revoked || r.RevocationReason != ocsp.CessationOfOperation {
				t.Fatalf("replayed good served: status %d reason %d", r.Status, r.RevocationReason)
			}
		}
		served, err := x509.ParseRevocationList(fetch(t, f, dp))
		if err != nil {
			t.Fatal(err)
		}
		for _, action := range []string{"ocsp.replay_refused", "crl.replay_refused"} {
			var n int
			if err := f.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE action = ?`, action).Scan(&n); err != nil || n == 0 {
				t.Errorf("no %s event recorded (%v)", action, err)
			}
		}
		if served.Number.Cmp(newest.Number) < 0 {
			t.Fatalf("served CRL number %v, older than the newest recorded %v", served.Number, newest.Number)
		}
		listed := false
		for _, e := range served.RevokedCertificateEntries {
			listed = listed || e.SerialNumber.Cmp(cert.SerialNumber) == 0
		}
		if !listed {
			t.Fatalf("served CRL %v does not list revoked %s", served.Number, serial)
		}
	})
}

// A revocation row deleted by SQL does not turn a revoked certificate back
// to good: the lookup goes through the row's id, and the audit trail says
// the row exists. The second insider also breaks the signature of the
// revocation's latest event: the read took the row for one that never
// existed (an event whose signature does not verify was ignored) and a
// fresh OCSP response said good; an unauthentic latest event for a missing
// row now fails the read too.
func TestDeletedRevocationFailsClosed(t *testing.T) {
	for _, c := range []struct{ also, want string }{
		{"", "deleted outside vetca"},
		{`UPDATE audit_events SET sig = 'AAAA' WHERE entity_type = 'revocations' AND entity_id = 'rev_' || ?`, "does not verify"},
	} {
		each(t, func(t *testing.T, f *apptest.OrderFixture) {
			ctx := context.Background()
			serial, certPEM := f.Issue(site)
			cert := parse(t, certPEM)
			if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
				t.Fatalf("revoke: %d %s", r.Status, r.Raw)
			}
			for _, q := range []string{`DELETE FROM revocations WHERE serial = ?`, `DELETE FROM ocsp_responses WHERE serial = ?`, c.also} {
				if q == "" {
					continue
				}
				if _, err := f.App.DB.Exec(ctx, q, serial); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := f.App.Revocations.StatusOf(ctx, f.App.DB, serial); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("status of a serial whose revocation was deleted: %v, want %q", err, c.want)
			}
			iss := f.IssuerCertificate()
			if r, err := ocsp.ParseResponse(f.PostOCSP(cert, crypto.SHA1), iss); err == nil && r.Status == ocsp.Good {
				t.Fatal("a certificate whose revocation row was deleted answered good")
			}
		})
	}
}

// Who may revoke (BR §4.9.2: the subscriber, or the CA on its own
// initiative): compliance and admin staff, and the subscriber for its own
// certificates. Every other role is refused, and nothing is revoked.
func TestRevokeRoles(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		other := f.Do("POST", "/api/v1/accounts", f.AdminToken, map[string]any{"name": "Other Co", "organizations": []string{f.OrgID}})
		if other.Status != 201 {
			t.Fatalf("other account: %d %s", other.Status, other.Raw)
		}
		for _, tc := range []struct {
			who   string
			token string
			want  int
		}{
			{"admin", f.AdminToken, 200},
			{"compliance only", f.User("cora", actor.Compliance), 200},
			{"verifier", f.Alice, 403},
			{"auditor", f.Auditor, 403},
			{"the certificate's own account", f.AccTok, 200},
			{"another account", other.Body["token"].(string), 404},
			{"no token", "", 401},
			{"unknown token", "vetca_bogus", 401},
		} {
			serial, _ := f.Issue(site)
			body := map[string]any{"reason": "superseded"}
			if tc.token != f.AccTok && tc.token != other.Body["token"] {
				body = map[string]any{"reason": "superseded", "evidence": "role test"}
			}
			r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", tc.token, body)
			if r.Status != tc.want {
				t.Errorf("%s: %d %s, want %d", tc.who, r.Status, r.Raw, tc.want)
			}
			_, revoked, err := f.App.Revocations.Get(context.Background(), f.App.DB, serial)
			if err != nil {
				t.Fatal(err)
			}
			if revoked != (tc.want == 200) {
				t.Errorf("%s: revoked=%v after %d", tc.who, revoked, r.Status)
			}
		}
	})
}

// An https --public-url (a CA behind a TLS proxy) still puts plain http
// CRL, OCSP and caIssuers URLs on the same host into certificates, as
// BR §7.1.2.7.7 and §7.1.2.11.2 require, and those URLs are served.
func TestHTTPSPublicURLPutsHTTPStatusURLs(t *testing.T) {
	for _, backend := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			dns, opt := apptest.WithDNS(t)
			e := apptest.New(t, backend, opt, func(c *app.Config) { c.PublicURL = "https://pki.vetca-test.com" })
			f := apptest.NewOrderFixture(t, e, dns, site)
			if _, err := e.App.CRLs.PublishDue(context.Background()); err != nil {
				t.Fatal(err)
			}
			_, certPEM := f.Issue(site)
			cert := parse(t, certPEM)
			urls := append(append(append([]string{}, cert.CRLDistributionPoints...), cert.OCSPServer...), cert.IssuingCertificateURL...)
			if len(urls) != 3 {
				t.Fatalf("status URLs %v", urls)
			}
			for _, u := range urls {
				if !strings.HasPrefix(u, "http://pki.vetca-test.com/") {
					t.Errorf("status URL %q is not http on the public host", u)
				}
			}
			if _, err := x509.ParseRevocationList(fetch(t, f, cert.CRLDistributionPoints[0])); err != nil {
				t.Fatalf("CRL at %s: %v", cert.CRLDistributionPoints[0], err)
			}
		})
	}
}

// A revocation re-signs its serial's OCSP responses just after it commits.
// audit verify running in between sees a stored `good` for a revoked
// serial; that is no replay, and must not be reported as one: the
// response is read again a moment later, when the re-sign has landed. (A
// response that stays put back is still reported:
// TestReplayedStatusIsNeverServed.)
func TestVerifyDuringARevocationsResignFindsNothing(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		serial, certPEM := f.Issue(site)
		cert := parse(t, certPEM)
		if r := f.AskOCSP(cert, crypto.SHA256); r.Status != ocsp.Good {
			t.Fatalf("before revocation: status %d", r.Status)
		}
		var good, goodStatus string
		if err := f.App.DB.QueryRow(ctx, `SELECT der, status FROM ocsp_responses WHERE serial = ? AND hash_alg = 'sha256'`, serial).Scan(&good, &goodStatus); err != nil {
			t.Fatal(err)
		}
		if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		rev, ok, err := f.App.Revocations.Find(ctx, serial)
		if err != nil || !ok {
			t.Fatalf("revocation: %v %v", ok, err)
		}
		// The moment between the commit and the re-sign: the stored
		// response is still the good one, and the re-sign lands while
		// verify runs.
		if _, err := f.App.DB.Exec(ctx, `UPDATE ocsp_responses SET der = ?, status = ? WHERE serial = ? AND hash_alg = 'sha256'`, good, goodStatus, serial); err != nil {
			t.Fatal(err)
		}
		resigned := make(chan struct{})
		go func() {
			defer close(resigned)
			time.Sleep(300 * time.Millisecond)
			f.App.OCSP.Revoked(ctx, rev)
		}()
		rep, err := f.App.Audit.Verify(ctx, actor.CLIActor("test"), "")
		<-resigned
		if err != nil || !rep.OK {
			t.Fatalf("verify during a revocation's re-sign: %v %+v", err, rep)
		}
	})
}

// A CRL publication writes the shard's audited record and its file in one
// transaction; the check audit verify runs (and the serving path) reads
// both in one snapshot, so publications beside it are never taken for a
// replaced file.
func TestCRLCheckBesidePublicationsFindsNothing(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		f.Issue(site)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		targets, err := f.App.CRLs.Targets(ctx)
		if err != nil || len(targets) == 0 {
			t.Fatalf("targets: %v", err)
		}
		if _, err := f.App.CRLs.Publish(ctx, targets[0]); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			for ctx.Err() == nil {
				if _, err := f.App.CRLs.Publish(ctx, targets[0]); err != nil && ctx.Err() == nil && !strings.Contains(err.Error(), "concurrently") {
					done <- err
					return
				}
			}
			done <- nil
		}()
		for i := 0; i < 40; i++ {
			fs, err := f.App.CRLs.CheckFiles(ctx)
			if err != nil || len(fs) > 0 {
				cancel()
				t.Fatalf("check %d beside publications: %v %+v", i, err, fs)
			}
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// cachedByHash returns the stored responses of serial by CertID hash
// algorithm (hash_alg), parsed.
func cachedByHash(t *testing.T, f *apptest.OrderFixture, serial string) map[string]*ocsp.Response {
	t.Helper()
	rows, err := f.App.DB.Query(context.Background(), `SELECT hash_alg, der FROM ocsp_responses WHERE serial = ?`, serial)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]*ocsp.Response{}
	for rows.Next() {
		var alg, enc string
		if err := rows.Scan(&alg, &enc); err != nil {
			t.Fatal(err)
		}
		der, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ocsp.ParseResponse(der, f.IssuerCertificate())
		if err != nil {
			t.Fatalf("stored %s response: %v", alg, err)
		}
		out[alg] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// allHashes are the CertID hash algorithms the responder answers (RFC
// 6960 allows any; clients send SHA-1, SHA-256, and some SHA-384/512).
var allHashes = []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512}

// A revocation re-signs every stored response of its certificate, whatever
// CertID hash algorithm it was asked and stored under, not only SHA-1 and
// SHA-256: a stored SHA-384 or SHA-512 `good` left behind would be taken
// by audit verify for an older response put back (a false tamper alarm),
// and answered by signing afresh on every request.
func TestRevocationResignsEveryStoredHash(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		serial, certPEM := f.Issue(site)
		cert := parse(t, certPEM)
		for _, h := range allHashes {
			if r := f.AskOCSP(cert, h); r.Status != ocsp.Good {
				t.Fatalf("%v before revocation: status %d", h, r.Status)
			}
		}
		if got := cachedByHash(t, f, serial); len(got) != len(allHashes) {
			t.Fatalf("stored before revocation: %d responses, want %d", len(got), len(allHashes))
		}
		f.Clock.Advance(time.Minute)
		if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		got := cachedByHash(t, f, serial)
		for _, alg := range []string{"sha1", "sha256", "sha384", "sha512"} {
			if r, ok := got[alg]; !ok {
				t.Errorf("no stored %s response after the revocation", alg)
			} else if r.Status != ocsp.Revoked || r.RevocationReason != ocsp.Superseded {
				t.Errorf("stored %s response right after the revocation: status %d reason %d, want revoked, superseded (the revocation did not re-sign it)", alg, r.Status, r.RevocationReason)
			}
		}
		// Past the re-sign window, so that verify reports at once
		// whatever still disagrees instead of waiting for a re-sign.
		f.Clock.Advance(2 * time.Minute)
		if rep, err := f.App.Audit.Verify(ctx, actor.CLIActor("test"), ""); err != nil || !rep.OK {
			t.Errorf("verify after the revocation of a certificate with stored SHA-384/512 responses: %v %+v", err, rep.Findings)
		}
		for _, h := range allHashes {
			if r := f.AskOCSP(cert, h); r.Status != ocsp.Revoked || r.RevocationReason != ocsp.Superseded {
				t.Fatalf("%v after revocation: status %d reason %d", h, r.Status, r.RevocationReason)
			}
		}
	})
}

// A response asked for under a new CertID hash algorithm (SHA-384) while
// the certificate is being revoked. The signer read the status before the
// revocation; its store comes after the revocation committed and after
// the revocation's re-sign listed the serial's stored responses. The
// store's guard refuses it, and the signer signs the revoked status.
func TestGoodStoredAfterARevocationsResignIsRefused(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		serial, _ := f.Issue(site)
		before, err := f.App.Revocations.StatusOf(ctx, f.App.DB, serial)
		if err != nil || before.Revoked {
			t.Fatalf("status before: %+v (%v)", before, err)
		}
		if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		for _, h := range []crypto.Hash{crypto.SHA384, crypto.SHA512} {
			if stored, err := f.App.OCSP.StoreAsOf(ctx, before, before.IssuerID, serial, h); err != nil || stored {
				t.Fatalf("%v response for the status before the revocation: stored %v (%v)", h, stored, err)
			}
			if _, err := f.App.OCSP.Sign(ctx, before.IssuerID, serial, h); err != nil {
				t.Fatal(err)
			}
		}
		for alg, r := range cachedByHash(t, f, serial) {
			if r.Status != ocsp.Revoked {
				t.Errorf("stored %s response: status %d after the revocation", alg, r.Status)
			}
		}
		f.Clock.Advance(2 * time.Minute)
		if rep, err := f.App.Audit.Verify(ctx, actor.CLIActor("test"), ""); err != nil || !rep.OK {
			t.Fatalf("verify: %v %+v", err, rep.Findings)
		}
	})
}

// The same race, in the order only PostgreSQL allows: the store's guard
// passed before the revocation committed, and the store itself becomes
// visible only after the revocation's re-sign listed the serial's stored
// responses, so that re-sign does not see it. The signer reads its guard
// again after the store, finds the revocation, and signs again: the
// stored response says revoked. (The revocation is made here without its
// re-sign, which is what a re-sign that did not see the row amounts to.)
func TestGoodStoredUnseenByARevocationsResignIsResigned(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		serial, _ := f.Issue(site)
		st, err := f.App.Revocations.StatusOf(ctx, f.App.DB, serial)
		if err != nil {
			t.Fatal(err)
		}
		revoked := false
		f.App.OCSP.AfterNextStore(func() {
			err := f.App.DB.InTx(ctx, func(tx *store.Tx) error {
				cert, err := issuance.GetCertificate(ctx, f.App.Recorder, tx, serial)
				if err != nil {
					return err
				}
				d := revocation.Decision{Reason: br.Superseded, Source: revocation.SourceStaff, EvidenceAt: f.Clock.Now()}
				_, err = f.App.Revocations.RevokeInTx(ctx, tx, actor.SystemActor("test"), cert, d, revocation.Input{Evidence: "race test"})
				return err
			})
			if err != nil {
				t.Errorf("revoke: %v", err)
			}
			revoked = true
		})
		der, err := f.App.OCSP.Sign(ctx, st.IssuerID, serial, crypto.SHA384)
		if err != nil || !revoked {
			t.Fatalf("sign: %v (revoked meanwhile: %v)", err, revoked)
		}
		if r, err := ocsp.ParseResponse(der, f.IssuerCertificate()); err != nil || r.Status != ocsp.Revoked {
			t.Errorf("answered %s (%v), want revoked", describe(r), err)
		}
		if r := cachedByHash(t, f, serial)["sha384"]; r == nil || r.Status != ocsp.Revoked {
			t.Errorf("stored sha384 response after a revocation its re-sign did not see: %s, want revoked", describe(r))
		}
		f.Clock.Advance(2 * time.Minute)
		if rep, err := f.App.Audit.Verify(ctx, actor.CLIActor("test"), ""); err != nil || !rep.OK {
			t.Fatalf("verify: %v %+v", err, rep.Findings)
		}
	})
}

// The refresher re-signs each stored response under its own CertID hash
// algorithm: a SHA-384 or SHA-512 response is refreshed as itself (BR
// §4.9.9), not re-signed as SHA-1 while it goes stale.
func TestRefreshResignsEveryStoredHash(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		serial, certPEM := f.Issue(site)
		cert := parse(t, certPEM)
		for _, h := range allHashes {
			f.AskOCSP(cert, h)
		}
		before := cachedByHash(t, f, serial)
		f.Clock.Advance(4 * 24 * time.Hour)
		if n, err := f.App.OCSP.Refresh(ctx); err != nil || n != len(allHashes) {
			t.Fatalf("refresh: %d responses (%v), want %d", n, err, len(allHashes))
		}
		after := cachedByHash(t, f, serial)
		for i, alg := range []string{"sha1", "sha256", "sha384", "sha512"} {
			r := after[alg]
			if r == nil || !r.ThisUpdate.After(before[alg].ThisUpdate) || r.IssuerHash != allHashes[i] {
				t.Errorf("stored %s response after the refresh: %v, want one signed now under %v", alg, describe(r), allHashes[i])
			}
		}
	})
}

func describe(r *ocsp.Response) string {
	if r == nil {
		return "none"
	}
	return fmt.Sprintf("status %d, CertID hash %v, thisUpdate %s", r.Status, r.IssuerHash, r.ThisUpdate.Format(time.RFC3339))
}

// Once a certificate has expired, the refresher no longer re-signs its
// stored responses every few days for good (BR §4.9.10 requires status
// answers only until expiry), and removes them once stale; a request for
// one still gets a current answer, signed on demand.
func TestRefreshLeavesExpiredCertificates(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		serial, certPEM := f.Issue(site)
		cert := parse(t, certPEM)
		f.AskOCSP(cert, crypto.SHA256)
		f.Clock.Set(cert.NotAfter.Add(time.Hour))
		if n, err := f.App.OCSP.Refresh(ctx); err != nil || n != 0 {
			t.Fatalf("refresh after expiry: %d responses re-signed (%v), want none", n, err)
		}
		if got := cachedStatus(t, f, serial); len(got) != 0 {
			t.Fatalf("stale responses of an expired certificate kept: %v", got)
		}
		r := f.AskOCSP(cert, crypto.SHA256)
		if r.Status != ocsp.Good || r.ThisUpdate.Before(cert.NotAfter) || !r.NextUpdate.After(f.Clock.Now()) {
			t.Fatalf("asked after expiry: %s, next update %s, want a current answer", describe(r), r.NextUpdate)
		}
		// Signed on demand, it is stored and answered until stale, not
		// refreshed ahead of time (a live one is due for a refresh at
		// half its validity).
		f.Clock.Advance(f.App.Cfg.OCSPValidity * 3 / 4)
		if n, err := f.App.OCSP.Refresh(ctx); err != nil || n != 0 {
			t.Fatalf("refresh of an on-demand answer after expiry: %d re-signed (%v), want none", n, err)
		}
		if got := cachedStatus(t, f, serial); len(got) != 1 {
			t.Fatalf("the current on-demand answer was removed: %v", got)
		}
		f.Clock.Advance(f.App.Cfg.OCSPValidity / 2)
		if _, err := f.App.OCSP.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if got := cachedStatus(t, f, serial); len(got) != 0 {
			t.Fatalf("a stale answer of an expired certificate kept: %v", got)
		}
		if rep, err := f.App.Audit.Verify(ctx, actor.CLIActor("test"), ""); err != nil || !rep.OK {
			t.Fatalf("verify: %v %+v", err, rep.Findings)
		}
	})
}

// One stored response that cannot be re-signed (its serial's revocation
// row was edited by SQL: its status read fails closed) does not stop the
// refresher from re-signing every other due response (BR §4.9.9), as one
// shard that cannot be built does not stop the other shards' CRLs. The
// unreadable one is reported, and is first in the refresher's order.
func TestRefreshGoesPastAResponseThatCannotBeSigned(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		bad, _ := f.Issue(site)
		serial, certPEM := f.Issue(site)
		if r := f.Do("POST", "/api/v1/certificates/"+bad+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		f.Clock.Advance(time.Minute)
		f.AskOCSP(parse(t, certPEM), crypto.SHA256)
		before := cachedByHash(t, f, serial)["sha256"]
		if _, err := f.App.DB.Exec(ctx, `UPDATE revocations SET evidence = 'edited' WHERE serial = ?`, bad); err != nil {
			t.Fatal(err)
		}
		f.Clock.Advance(4 * 24 * time.Hour)
		n, err := f.App.OCSP.Refresh(ctx)
		if err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("refresh: %v, want an error naming %s", err, bad)
		}
		after := cachedByHash(t, f, serial)["sha256"]
		if n != 1 || after == nil || !after.ThisUpdate.After(before.ThisUpdate) {
			t.Fatalf("refresh re-signed %d responses; %s's stored response: %s, want one signed now (BR §4.9.9)", n, serial, describe(after))
		}
	})
}
