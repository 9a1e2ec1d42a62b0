package revocation_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/store"
)

// issueWithKey issues a certificate for site with key, as Issue does.
func issueWithKey(t *testing.T, f *apptest.OrderFixture, key crypto.Signer) (string, *x509.Certificate) {
	t.Helper()
	r := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, key, pkix.Name{}, site)})
	if r.Status != 201 {
		t.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
	for _, tok := range []string{f.Bob, f.Carol} {
		if a := f.Do("POST", "/api/v1/orders/"+id+"/approve", tok, map[string]any{"snapshotHash": hash}); a.Status != 200 {
			t.Fatalf("approve: %d %s", a.Status, a.Raw)
		}
	}
	fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil)
	if fin.Status != 200 {
		t.Fatalf("finalize: %d %s", fin.Status, fin.Raw)
	}
	return fin.Body["serial"].(string), parse(t, fin.Body["certificate"].(string))
}

// onCRL reports whether cert is on its shard's CRL once the publisher has
// run, and with which reasonCode.
func onCRL(t *testing.T, f *apptest.OrderFixture, cert *x509.Certificate) (bool, int) {
	t.Helper()
	if _, err := f.App.CRLs.PublishDue(context.Background()); err != nil {
		t.Fatalf("publish CRLs: %v", err)
	}
	rl, err := x509.ParseRevocationList(fetch(t, f, cert.CRLDistributionPoints[0]))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range rl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			return true, e.ReasonCode
		}
	}
	return false, 0
}

// BR §7.2.2 lets a keyCompromise backdate the revocationDate to the
// compromise (RFC 5280 §5.3.2 would put that time in invalidityDate
// instead), never before the certificate's notBefore: a first revocation
// and an upgrade of an existing one apply the same rule. A date before
// notBefore, even one RFC 5280 cannot encode (1900), becomes notBefore;
// the shard's CRL and the serial's OCSP still sign, and a later revocation
// in the shard still reaches the CRL.
func TestKeyCompromiseDateNeverBeforeNotBefore(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		in1900 := func(time.Time) time.Time { return time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC) }
		hourBefore := func(nb time.Time) time.Time { return nb.Add(-time.Hour) }
		for _, tc := range []struct {
			name   string
			first  string // the reason of a revocation before the keyCompromise, if any
			before func(notBefore time.Time) time.Time
		}{
			{"BR §7.2.2 first revocation, 1900", "", in1900},
			{"BR §7.2.2 first revocation, an hour before notBefore", "", hourBefore},
			{"BR §7.2.2 upgrade of cessationOfOperation, 1900", "cessationOfOperation", in1900},
			{"BR §7.2.2 upgrade of superseded, an hour before notBefore", "superseded", hourBefore},
		} {
			t.Run(tc.name, func(t *testing.T) {
				serial, certPEM := f.Issue(site)
				cert := parse(t, certPEM)
				f.Clock.Advance(time.Hour)
				if tc.first != "" {
					if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": tc.first}); r.Status != 200 {
						t.Fatalf("revoke: %d %s", r.Status, r.Raw)
					}
				}
				r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "keyCompromise", "compromisedAt": tc.before(cert.NotBefore)})
				if r.Status != 200 {
					t.Fatalf("keyCompromise: %d %s", r.Status, r.Raw)
				}
				ra, _ := r.Body["revokedAt"].(string)
				if at, err := time.Parse(time.RFC3339, ra); err != nil || !at.Equal(cert.NotBefore) {
					t.Fatalf("revocationDate %q, want notBefore %s", ra, cert.NotBefore.Format(time.RFC3339))
				}
				if o := f.AskOCSP(cert, crypto.SHA256); o.Status != ocsp.Revoked || !o.RevokedAt.Equal(cert.NotBefore) || o.RevocationReason != ocsp.KeyCompromise {
					t.Fatalf("OCSP: status %d at %s reason %d", o.Status, o.RevokedAt, o.RevocationReason)
				}
				if ok, code := onCRL(t, f, cert); !ok || code != br.KeyCompromise.Code() {
					t.Fatalf("CRL: listed %v, reasonCode %d", ok, code)
				}
				// The shard still publishes what comes after.
				next, nextPEM := f.Issue(site)
				f.Clock.Advance(time.Minute)
				if r := f.Do("POST", "/api/v1/certificates/"+next+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
					t.Fatalf("revoke: %d %s", r.Status, r.Raw)
				}
				if ok, _ := onCRL(t, f, parse(t, nextPEM)); !ok {
					t.Fatalf("a later revocation did not reach the CRL")
				}
			})
		}
	})
}

// BR §4.9.1.1(3): once the CA has evidence that a key is compromised,
// every certificate with that key is revoked, with keyCompromise (BR
// §7.2.2), not only the one the evidence came with. Whether the
// keyCompromise is a first revocation, an upgrade, or made in a caller's
// transaction (RevokeInTx, as problem reports and incidents do), the other
// certificate with the key is revoked in the same commit, says why, and is
// re-signed on OCSP and listed on its CRL; a certificate with another key
// is untouched, and the trail verifies.
func TestKeyCompromiseRevokesEveryCertificateWithTheKey(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		for _, path := range []string{"first revocation", "upgrade", "RevokeInTx"} {
			t.Run(path, func(t *testing.T) {
				key := apptest.Key(t)
				serial, _ := issueWithKey(t, f, key)
				otherSerial, other := issueWithKey(t, f, key)
				unrelatedSerial, _ := f.Issue(site)
				if o := f.AskOCSP(other, crypto.SHA256); o.Status != ocsp.Good { // a cached good to replace
					t.Fatalf("before: status %d", o.Status)
				}
				f.Clock.Advance(time.Minute)
				switch path {
				case "first revocation":
					if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "keyCompromise"}); r.Status != 200 {
						t.Fatalf("revoke: %d %s", r.Status, r.Raw)
					}
				case "upgrade":
					if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "cessationOfOperation"}); r.Status != 200 {
						t.Fatalf("revoke: %d %s", r.Status, r.Raw)
					}
					if r := f.Do("GET", "/api/v1/certificates/"+otherSerial, f.AccTok, nil); r.Body["status"] != "valid" {
						t.Fatalf("cessationOfOperation revoked the other certificate with the key: %s", r.Raw)
					}
					f.Clock.Advance(time.Minute)
					if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "keyCompromise"}); r.Status != 200 {
						t.Fatalf("upgrade: %d %s", r.Status, r.Raw)
					}
				case "RevokeInTx":
					by := f.Staff("carol-intx", actor.Compliance)
					t3, _ := br.TriggerByNumber(3)
					now := f.Clock.Now()
					d := revocation.Decision{Reason: br.KeyCompromise, Trigger: &t3, Source: revocation.SourceStaff, EvidenceAt: now}
					var rev revocation.Revocation
					err := f.App.DB.InTx(ctx, func(tx *store.Tx) error {
						cert, err := issuance.GetCertificate(ctx, f.App.Recorder, tx, serial)
						if err != nil {
							return err
						}
						rev, err = f.App.Revocations.RevokeInTx(ctx, tx, by, cert, d, revocation.Input{Evidence: "key posted publicly"})
						return err
					})
					if err != nil {
						t.Fatal(err)
					}
					if len(rev.SameKey()) != 1 || rev.SameKey()[0].Serial != otherSerial {
						t.Fatalf("SameKey: %+v", rev.SameKey())
					}
					f.App.Revocations.Published(ctx, rev)
				}
				got, ok, err := f.App.Revocations.Find(ctx, otherSerial)
				if err != nil || !ok {
					t.Fatalf("BR §4.9.1.1(3): the other certificate with the key is not revoked (%v)", err)
				}
				if got.Reason != "keyCompromise" || got.Source != revocation.SourceSameKey || got.Trigger != "4.9.1.1#3" ||
					!strings.Contains(got.Evidence, serial) || got.Deadline == nil || got.Deadline.Sub(got.EvidenceAt) != 24*time.Hour {
					t.Fatalf("revocation of the other certificate: %+v", got)
				}
				if st := cachedStatus(t, f, otherSerial); len(st) == 0 || st[0] != "revoked" {
					t.Fatalf("the other certificate's OCSP was not re-signed: %v", st)
				}
				if o := f.AskOCSP(other, crypto.SHA256); o.Status != ocsp.Revoked || o.RevocationReason != ocsp.KeyCompromise {
					t.Fatalf("OCSP of the other certificate: status %d reason %d", o.Status, o.RevocationReason)
				}
				if ok, code := onCRL(t, f, other); !ok || code != br.KeyCompromise.Code() {
					t.Fatalf("CRL: listed %v, reasonCode %d", ok, code)
				}
				if r := f.Do("GET", "/api/v1/certificates/"+unrelatedSerial, f.AccTok, nil); r.Body["status"] != "valid" {
					t.Fatalf("a certificate with another key was revoked: %s", r.Raw)
				}
			})
		}
		if rep, err := f.App.VerifyAudit(ctx, ""); err != nil || !rep.OK {
			t.Fatalf("verify: %v %+v", err, rep)
		}
	})
}

// BR §4.9.1.1(3), §7.2.2: a certificate with the compromised key that was
// revoked before for another reason (here superseded) has its entry
// upgraded to keyCompromise when the key's compromise is revoked on
// another certificate, so relying parties reading its OCSP response or
// CRL entry learn that its key is compromised; it was skipped as
// "already revoked" before.
func TestKeyCompromiseUpgradesASameKeyCertificateRevokedBefore(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		key := apptest.Key(t)
		serial, _ := issueWithKey(t, f, key)
		otherSerial, other := issueWithKey(t, f, key)
		f.Clock.Advance(time.Minute)
		if r := f.Do("POST", "/api/v1/certificates/"+otherSerial+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		f.Clock.Advance(time.Minute)
		r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "keyCompromise"})
		if r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		got, ok, err := f.App.Revocations.Find(context.Background(), otherSerial)
		if err != nil || !ok {
			t.Fatalf("find: %v %v", ok, err)
		}
		if got.Reason != "keyCompromise" || got.Trigger != "4.9.1.1#3" || !strings.Contains(got.Evidence, serial) {
			t.Fatalf("BR §7.2.2: the superseded entry of the other certificate with the key was not upgraded: %+v", got)
		}
		if o := f.AskOCSP(other, crypto.SHA256); o.Status != ocsp.Revoked || o.RevocationReason != ocsp.KeyCompromise {
			t.Fatalf("OCSP of the other certificate: status %d reason %d", o.Status, o.RevocationReason)
		}
		if ok, code := onCRL(t, f, other); !ok || code != br.KeyCompromise.Code() {
			t.Fatalf("CRL: listed %v, reasonCode %d", ok, code)
		}
		if rep, err := f.App.VerifyAudit(context.Background(), ""); err != nil || !rep.OK {
			t.Fatalf("verify: %v %+v", err, rep)
		}
	})
}

// A compromised key's blocklist row retyped as a blob on SQLite keeps its
// row hash while a text comparison no longer finds it, so the key could be
// certified again. The blocklist lookup finds it all the same
// (store.TextIs) and fails closed on it, so no order with the key is
// placed, and audit verify reports the row (docs/design.md §7).
func TestBlockedKeyHiddenByRetypingIsReported(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		key := apptest.Key(t)
		serial, _ := issueWithKey(t, f, key)
		if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "keyCompromise"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		retype := `UPDATE blocked_keys SET spki_sha256 = CAST(spki_sha256 AS BLOB)`
		if f.App.DB.Dialect() == store.Postgres {
			// A PostgreSQL TEXT column holds text only: the bytea becomes
			// its text form ('\x…'), an edited key that the lookup misses
			// as any edited key (docs/design.md §7) and verify reports.
			retype = `UPDATE blocked_keys SET spki_sha256 = CAST(spki_sha256 AS BYTEA)`
		}
		if _, err := f.App.DB.Exec(ctx, retype); err != nil {
			t.Fatal(err)
		}
		rep, err := f.App.VerifyAudit(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, fd := range rep.Findings {
			found = found || fd.Table == "blocked_keys" && fd.Field == "spki_sha256"
		}
		if rep.OK || !found {
			t.Fatalf("a blocklist row hidden from lookups is not reported: %+v", rep)
		}
		if f.App.DB.Dialect() == store.Postgres {
			return
		}
		r := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, key, pkix.Name{}, site)})
		if f, code := r.ErrField(); r.Status != 500 || code != "integrity_violation" {
			t.Fatalf("BR §6.1.1.3(4): an order for the compromised key after its blocklist row was retyped: %d %s %s", r.Status, f, r.Raw)
		}
	})
}

// BR §7.2.2: "The CA SHOULD update the revocation date in a CRL entry when
// it is determined that the private key of the Certificate was compromised
// prior to the revocation date". The compromise time is the key's, so it
// applies to every certificate with the key: one already revoked with
// keyCompromise, but after the time now shown for the compromise, has its
// revocationDate moved back to it as the certificate the evidence came with
// does, on its OCSP response and CRL entry alike. It was skipped as
// already revoked with keyCompromise, keeping its later date.
func TestKeyCompromiseTimeBackdatesASameKeyCertificateRevokedLater(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		key := apptest.Key(t)
		serial, cert := issueWithKey(t, f, key)
		otherSerial, other := issueWithKey(t, f, key)
		compromised := f.Clock.Now().Add(30 * time.Minute).UTC().Truncate(time.Second)
		f.Clock.Advance(2 * time.Hour)
		if r := f.Do("POST", "/api/v1/certificates/"+otherSerial+"/revoke", f.AccTok, map[string]any{"reason": "keyCompromise"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		f.Clock.Advance(time.Hour)
		r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "keyCompromise", "compromisedAt": compromised})
		if r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		if o := f.AskOCSP(cert, crypto.SHA256); o.Status != ocsp.Revoked || !o.RevokedAt.Equal(compromised) {
			t.Fatalf("OCSP of the certificate revoked: status %d at %s", o.Status, o.RevokedAt)
		}
		got, ok, err := f.App.Revocations.Find(context.Background(), otherSerial)
		if err != nil || !ok {
			t.Fatalf("find: %v %v", ok, err)
		}
		if got.Reason != "keyCompromise" || !got.RevokedAt.Equal(compromised) {
			t.Fatalf("BR §7.2.2: the other certificate with the key keeps revocationDate %s, after the compromise at %s", got.RevokedAt, compromised)
		}
		if o := f.AskOCSP(other, crypto.SHA256); o.Status != ocsp.Revoked || !o.RevokedAt.Equal(compromised) || o.RevocationReason != ocsp.KeyCompromise {
			t.Fatalf("OCSP of the other certificate: status %d at %s reason %d", o.Status, o.RevokedAt, o.RevocationReason)
		}
		if ok, code := onCRL(t, f, other); !ok || code != br.KeyCompromise.Code() {
			t.Fatalf("CRL: listed %v, reasonCode %d", ok, code)
		}
		if rep, err := f.App.VerifyAudit(context.Background(), ""); err != nil || !rep.OK {
			t.Fatalf("verify: %v %+v", err, rep)
		}
	})
}

// A keyCompromise's compromisedAt moves the revocationDate back (BR
// §7.2.2), so a time that is no compromise time is refused naming the
// field, and nothing is revoked, as evidenceAt's zero time is: the zero
// time (0001-01-01T00:00:00Z, what a client sends for an unset time) was
// taken silently as "not known", so the entry kept the time of revocation
// while the request asked for another one, and the recorded evidence
// named a compromise in year 1.
func TestKeyCompromiseZeroCompromisedAtIsRefused(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		serial, _ := f.Issue(site)
		f.Clock.Advance(time.Hour)
		r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "keyCompromise", "compromisedAt": "0001-01-01T00:00:00Z"})
		if field, code := r.ErrField(); r.Status != 400 || field != "compromisedAt" || code != "invalid_compromise_at" {
			t.Fatalf("zero compromisedAt: %d %s", r.Status, r.Raw)
		}
		if g := f.Do("GET", "/api/v1/certificates/"+serial, f.AccTok, nil); g.Body["status"] != "valid" {
			t.Fatalf("a refused revocation revoked the certificate: %s", g.Raw)
		}
	})
}

// MRSP §6.1.1 (keyCompromise rules): a subscriber that asks for
// keyCompromise without demonstrating possession of the key gets its own
// certificates with that key revoked, but the CA "MUST NOT assume that it
// has evidence of private key compromise for the purposes of revoking the
// certificates of other subscribers". Once staff revoke with evidence (BR
// §4.9.1.1(3)), every account's certificate with the key is revoked.
func TestSubscriberKeyCompromiseRevokesOnlyItsOwnCertificates(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		key := apptest.Key(t)
		serial, _ := issueWithKey(t, f, key)
		ownSerial, _ := issueWithKey(t, f, key)
		r := f.Do("POST", "/api/v1/accounts", f.AdminToken, map[string]any{"name": "Other Subscriber", "organizations": []string{f.OrgID}})
		if r.Status != 201 {
			t.Fatalf("second account: %d %s", r.Status, r.Raw)
		}
		other := *f
		other.AccountID, other.AccTok = r.Body["id"].(string), r.Body["token"].(string)
		other.ValidateDomain(site)
		otherSerial, _ := issueWithKey(t, &other, key)
		f.Clock.Advance(time.Minute)
		if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "keyCompromise"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		status := func(sn string) any { return f.Do("GET", "/api/v1/certificates/"+sn, f.Carol, nil).Body["status"] }
		if st := status(ownSerial); st != "revoked" {
			t.Fatalf("the subscriber's own other certificate with the key: %v", st)
		}
		if st := status(otherSerial); st != "valid" {
			t.Fatalf("a subscriber's unproven keyCompromise revoked another subscriber's certificate: %v", st)
		}
		f.Clock.Advance(time.Minute)
		if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.Carol, map[string]any{"trigger": "4.9.1.1#3", "evidence": "the private key was posted publicly"}); r.Status != 200 {
			t.Fatalf("staff keyCompromise with evidence: %d %s", r.Status, r.Raw)
		}
		got, ok, err := f.App.Revocations.Find(context.Background(), otherSerial)
		if err != nil || !ok || got.Reason != "keyCompromise" || got.Source != revocation.SourceSameKey {
			t.Fatalf("BR §4.9.1.1(3): with evidence, the other subscriber's certificate: %+v %v %v", got, ok, err)
		}
	})
}
