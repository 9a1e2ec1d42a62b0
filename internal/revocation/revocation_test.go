package revocation_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/atonce"
	"github.com/vetca/vetca/internal/br"
	vlint "github.com/vetca/vetca/internal/lint"
	"github.com/vetca/vetca/internal/revocation"
)

const site = "shop.acme-widgets.com"

func each(t *testing.T, fn func(t *testing.T, f *apptest.OrderFixture)) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			dns, opt := apptest.WithDNS(t)
			e := apptest.New(t, b, opt)
			f := apptest.NewOrderFixture(t, e, dns, site)
			if _, err := e.App.CRLs.PublishDue(context.Background()); err != nil {
				t.Fatal(err)
			}
			fn(t, f)
		})
	}
}

func parse(t *testing.T, p string) *x509.Certificate {
	b, _ := pem.Decode([]byte(p))
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func errOf(r apptest.Response) (field, code string) { return r.ErrField() }

// fetch GETs a URL that a certificate names, from the test server.
func fetch(t *testing.T, f *apptest.OrderFixture, u string) []byte {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(f.Server.URL + pu.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return b
}

// BR §7.2.2, MRSP §6.1.1: the subscriber's reason list
// is exactly {none, keyCompromise, affiliationChanged, superseded,
// cessationOfOperation}; certificateHold and cACompromise are refused
// naming reason; privilegeWithdrawn is the CA's.
func TestSubscriberReasons(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		for _, tc := range []struct {
			reason string
			status int
			code   string
		}{
			{"certificateHold", 400, "reason_forbidden"}, // BR §7.2.2: MUST NOT
			{"cACompromise", 400, "reason_forbidden"},    // not for subscriber certificates
			{"removeFromCRL", 400, "reason_forbidden"},
			{"bogus", 400, "unknown_reason"},
			{"privilegeWithdrawn", 403, "reason_ca_only"}, // BR §7.2.2: SHOULD NOT be offered to subscribers
		} {
			serial, _ := f.Issue(site)
			r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": tc.reason})
			field, code := errOf(r)
			if r.Status != tc.status || field != "reason" || code != tc.code {
				t.Errorf("%s: %d %s", tc.reason, r.Status, r.Raw)
			}
		}
		allowed := []string{"unspecified", "keyCompromise", "affiliationChanged", "superseded", "cessationOfOperation"}
		for _, reason := range allowed {
			serial, _ := f.Issue(site)
			r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": reason})
			if r.Status != 200 || r.Body["status"] != "revoked" || r.Body["reason"] != reason || r.Body["revokedAt"] == nil {
				t.Errorf("%q: %d %s", reason, r.Status, r.Raw)
			}
		}
		// Revoking cannot be undone: a request that gives no reason is
		// refused, never taken as unspecified (docs/api.md).
		serial, _ := f.Issue(site)
		for _, body := range []any{nil, map[string]any{}, map[string]any{"reason": ""}, map[string]any{"reason": " "}} {
			r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, body)
			if field, code := errOf(r); r.Status != 400 || field != "reason" || code != "missing_field" {
				t.Errorf("no reason (%v): %d %s", body, r.Status, r.Raw)
			}
		}
		if r := f.Do("GET", "/api/v1/certificates/"+serial, f.AccTok, nil); r.Body["status"] != "valid" {
			t.Errorf("a request without a reason revoked the certificate: %s", r.Raw)
		}
		var subs []string
		for _, r := range br.SubscriberReasons() {
			subs = append(subs, r.String())
		}
		if strings.Join(subs, ",") != "unspecified,keyCompromise,affiliationChanged,superseded,cessationOfOperation" {
			t.Fatalf("subscriber reasons: %v", subs)
		}
	})
}

// Every BR §4.9.1.1 trigger maps to its reason and
// deadline (MRSP §6.1.1), and a staff revocation for "not issued in
// accordance with the BR" (#12) carries superseded with a 5-day deadline.
func TestTriggers(t *testing.T) {
	want := map[int]struct {
		reason br.Reason
		within time.Duration
	}{
		1: {br.Unspecified, 24 * time.Hour}, 2: {br.PrivilegeWithdrawn, 24 * time.Hour}, 3: {br.KeyCompromise, 24 * time.Hour},
		4: {br.KeyCompromise, 24 * time.Hour}, 5: {br.Superseded, 24 * time.Hour}, 6: {br.Superseded, 120 * time.Hour},
		7: {br.PrivilegeWithdrawn, 120 * time.Hour}, 8: {br.PrivilegeWithdrawn, 120 * time.Hour}, 9: {br.CessationOfOperation, 120 * time.Hour},
		10: {br.PrivilegeWithdrawn, 120 * time.Hour}, 11: {br.PrivilegeWithdrawn, 120 * time.Hour}, 12: {br.Superseded, 120 * time.Hour},
		13: {br.PrivilegeWithdrawn, 120 * time.Hour}, 14: {br.Unspecified, 120 * time.Hour}, 15: {br.Unspecified, 120 * time.Hour},
		16: {br.KeyCompromise, 120 * time.Hour},
	}
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	staff := actor.Actor{Kind: actor.Staff, Name: "carol", Roles: []actor.Role{actor.Compliance}}
	for n, w := range want {
		d, err := revocation.Decide(staff, revocation.Input{Trigger: "4.9.1.1#" + strconv.Itoa(n), Evidence: "scan finding"}, now)
		if err != nil {
			t.Fatalf("#%d: %v", n, err)
		}
		if d.Reason != w.reason || d.Deadline == nil || !d.Deadline.Equal(now.Add(w.within)) {
			t.Errorf("BR §4.9.1.1 #%d: reason %s deadline %v, want %s within %v", n, d.Reason, d.Deadline, w.reason, w.within)
		}
	}
	for _, bad := range []string{"4.9.1.1#0", "4.9.1.1#17", "4.9.1.2#1", "12"} {
		if _, err := revocation.Decide(staff, revocation.Input{Trigger: bad, Evidence: "x"}, now); err == nil {
			t.Errorf("trigger %q accepted", bad)
		}
	}
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		serial, _ := f.Issue(site)
		r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.Carol, map[string]any{"trigger": "4.9.1.1#12", "evidence": "issued with a wrong country"})
		rv, _ := r.Body["revocation"].(map[string]any)
		if r.Status != 200 || r.Body["reason"] != "superseded" || rv["trigger"] != "4.9.1.1#12" || rv["deadline"] == nil {
			t.Fatalf("trigger revocation: %d %s", r.Status, r.Raw)
		}
		if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"trigger": "4.9.1.1#3"}); r.Status != 403 {
			t.Fatalf("a subscriber used a trigger: %d", r.Status)
		}
	})
}

// After a revocation the certificate's own CRL
// distribution point serves a CRL that lists it, with the right reason, a
// strictly greater CRLNumber and nextUpdate <= 10 days; the CRL verifies
// and passes zlint's CRL lints. Revoking with no reason puts no reasonCode.
func TestCRLAfterRevocation(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		l, err := vlint.New()
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			reason string
			code   int
		}{{"keyCompromise", 1}, {"unspecified", 0}, {"superseded", 4}} {
			serial, certPEM := f.Issue(site)
			cert := parse(t, certPEM)
			dp := cert.CRLDistributionPoints[0]
			before, err := x509.ParseRevocationList(fetch(t, f, dp))
			if err != nil {
				t.Fatal(err)
			}
			f.Clock.Advance(time.Minute)
			if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": tc.reason}); r.Status != 200 {
				t.Fatalf("revoke: %d %s", r.Status, r.Raw)
			}
			if _, err := f.App.CRLs.PublishDue(ctx); err != nil { // the publisher job's next run
				t.Fatal(err)
			}
			der := fetch(t, f, dp)
			rl, err := x509.ParseRevocationList(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := rl.CheckSignatureFrom(f.IssuerCertificate()); err != nil {
				t.Fatalf("CRL signature: %v", err)
			}
			if rl.Number.Cmp(before.Number) <= 0 {
				t.Fatalf("CRLNumber %v not above %v", rl.Number, before.Number)
			}
			if rl.NextUpdate.Sub(rl.ThisUpdate) > 10*24*time.Hour {
				t.Fatalf("nextUpdate %v after thisUpdate %v", rl.NextUpdate, rl.ThisUpdate)
			}
			found := false
			for _, e := range rl.RevokedCertificateEntries {
				if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
					found = true
					if e.ReasonCode != tc.code {
						t.Errorf("%q: reasonCode %d, want %d", tc.reason, e.ReasonCode, tc.code)
					}
					for _, ext := range e.Extensions {
						if tc.code == 0 && ext.Id.String() == "2.5.29.21" {
							t.Error("unspecified carries a reasonCode extension")
						}
					}
				}
			}
			if !found {
				t.Fatalf("revoked %s not on its shard's CRL", serial)
			}
			rep, err := l.LintCRL(der)
			if err != nil || rep.Err() != nil {
				t.Fatalf("zlint CRL lints: %v %v", err, rep.Err())
			}
		}
	})
}

// OCSP answers good for an issued certificate and
// revoked with the reason for a revoked one; a serial never issued never
// gets good; every response verifies with 8h <= nextUpdate - thisUpdate <= 10 days.
func TestOCSP(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		iss := f.IssuerCertificate()
		goodSerial, goodPEM := f.Issue(site)
		revSerial, revPEM := f.Issue(site)
		if r := f.Do("POST", "/api/v1/certificates/"+revSerial+"/revoke", f.AccTok, map[string]any{"reason": "cessationOfOperation"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		ask := func(cert *x509.Certificate, post bool, h crypto.Hash) *ocsp.Response {
			req, err := ocsp.CreateRequest(cert, iss, &ocsp.RequestOptions{Hash: h})
			if err != nil {
				t.Fatal(err)
			}
			var resp *http.Response
			if post {
				resp, err = http.Post(f.Server.URL+"/ocsp", "application/ocsp-request", bytes.NewReader(req))
			} else {
				resp, err = http.Get(f.Server.URL + "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(req)))
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			r, err := ocsp.ParseResponseForCert(body, cert, iss)
			if err != nil {
				t.Fatalf("OCSP response for %s: %v (%d)", cert.SerialNumber, err, resp.StatusCode)
			}
			if d := r.NextUpdate.Sub(r.ThisUpdate); d < 8*time.Hour || d > 10*24*time.Hour {
				t.Fatalf("validity interval %v outside BR §4.9.9 bounds", d)
			}
			return r
		}
		for _, post := range []bool{false, true} {
			for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
				if r := ask(parse(t, goodPEM), post, h); r.Status != ocsp.Good {
					t.Fatalf("issued certificate (post=%v): status %d", post, r.Status)
				}
				r := ask(parse(t, revPEM), post, h)
				if r.Status != ocsp.Revoked || r.RevocationReason != ocsp.CessationOfOperation {
					t.Fatalf("revoked certificate: status %d reason %d", r.Status, r.RevocationReason)
				}
			}
		}
		// A serial vetca never issued: a certificate that looks like ours.
		forged := parse(t, goodPEM)
		forged.SerialNumber.SetBytes(append([]byte{0x10}, bytes.Repeat([]byte{0x42}, 16)...))
		req, err := ocsp.CreateRequest(forged, iss, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(f.Server.URL+"/ocsp", "application/ocsp-request", bytes.NewReader(req))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ocsp.ParseResponse(body, iss); err == nil || !strings.Contains(err.Error(), "unauthorized") {
			t.Fatalf("never-issued serial: %v", err)
		}
		// The answers above were about the certificates issued, by serial.
		if sn := parse(t, goodPEM).SerialNumber.Text(16); !strings.EqualFold(strings.TrimLeft(goodSerial, "0"), sn) {
			t.Fatalf("finalize reported serial %s for a certificate with serial %s", goodSerial, sn)
		}
	})
}

// `crl verify` fails when a revoked certificate is
// missing from its shard, as when its entry is deleted.
func TestCoverageCatchesMissingEntry(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		serial, _ := f.Issue(site)
		f.Clock.Advance(time.Minute)
		if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		if _, err := f.App.CRLs.PublishDue(ctx); err != nil {
			t.Fatal(err)
		}
		if fs, err := f.App.CRLs.VerifyCoverage(ctx, nil); err != nil || len(fs) != 0 {
			t.Fatalf("clean coverage: %v %+v", err, fs)
		}
		// Someone deletes the revocation row; the next CRL omits the entry.
		if _, err := f.App.DB.Exec(ctx, `DELETE FROM revocations WHERE serial = ?`, serial); err != nil {
			t.Fatal(err)
		}
		targets, err := f.App.CRLs.Targets(ctx)
		if err != nil || len(targets) == 0 {
			t.Fatalf("CRL targets: %v %v", targets, err)
		}
		for _, tg := range targets {
			if _, err := f.App.CRLs.Publish(ctx, tg); err != nil {
				t.Fatal(err)
			}
		}
		fs, err := f.App.CRLs.VerifyCoverage(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, fd := range fs {
			found = found || (fd.Serial == serial && strings.Contains(fd.Message, "missing"))
		}
		if !found {
			t.Fatalf("coverage did not name %s: %+v", serial, fs)
		}
	})
}

// BR §6.1.1.3(4): the key on a keyCompromise
// revocation is blocked for future orders.
func TestKeyCompromiseBlocksKey(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		key := apptest.Key(t)
		csr := apptest.CSR(t, key, pkix.Name{}, site)
		r := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": csr})
		id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
		for _, tok := range []string{f.Bob, f.Carol} {
			f.Do("POST", "/api/v1/orders/"+id+"/approve", tok, map[string]any{"snapshotHash": hash})
		}
		fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil)
		serial := fin.Body["serial"].(string)
		past := f.Clock.Now().Add(-time.Minute)
		if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "keyCompromise", "compromisedAt": past}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		r = f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, key, pkix.Name{}, site)})
		if field, _ := r.ErrField(); r.Status != 400 || field != "publicKey" {
			t.Fatalf("order with a compromised key: %d %s", r.Status, r.Raw)
		}
		// A fresh key still works.
		if r := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, site)}); r.Status != 201 {
			t.Fatalf("fresh key: %d %s", r.Status, r.Raw)
		}
	})
}

// BR §7.2.2: a later keyCompromise upgrades an existing entry's reason
// and backdates its revocationDate; any other second revocation is refused.
func TestKeyCompromiseUpgrade(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		serial, certPEM := f.Issue(site)
		f.Clock.Advance(time.Hour)
		if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "cessationOfOperation"}); r.Status != 409 {
			t.Fatalf("second non-keyCompromise revocation: %d %s", r.Status, r.Raw)
		}
		compromised := parse(t, certPEM).NotBefore.Add(10 * time.Minute)
		r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.Carol, map[string]any{"reason": "keyCompromise", "compromisedAt": compromised, "evidence": "key posted publicly"})
		revokedAt, _ := r.Body["revokedAt"].(string)
		at, err := time.Parse(time.RFC3339, revokedAt)
		if err != nil || r.Status != 200 || r.Body["reason"] != "keyCompromise" || !at.Equal(compromised) {
			t.Fatalf("upgrade: %d %s", r.Status, r.Raw)
		}
		var n int
		if err := f.App.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM blocked_keys`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("%d blocked keys", n)
		}
	})
}

// Revocations of one certificate at once (its subscriber and the CA, on
// PostgreSQL concurrently) take turns on the certificate: each is
// answered as if it came alone (200, or 409 for a reason change BR §7.2.2
// does not allow), never a server error from a second revocation row; one
// revocation remains, at its strongest reason, and the trail verifies.
func TestConcurrentRevocationsOfOneCertificate(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		for round := 0; round < 6; round++ {
			serial, _ := f.Issue(site)
			reqs := []struct {
				tok    string
				reason string
			}{{f.AccTok, "superseded"}, {f.Carol, "keyCompromise"}, {f.AccTok, "keyCompromise"}, {f.AdminToken, "keyCompromise"}}
			codes := make([]int, len(reqs))
			raws := make([]string, len(reqs))
			atonce.Each(len(reqs), func(i int) {
				r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", reqs[i].tok, map[string]any{"reason": reqs[i].reason, "evidence": "key posted publicly"})
				codes[i], raws[i] = r.Status, string(r.Raw)
			})
			for i, c := range codes {
				if c != 200 && !(c == 409 && reqs[i].reason == "superseded") {
					t.Fatalf("round %d: revocation %d (%s) answered %d: %s", round, i, reqs[i].reason, c, raws[i])
				}
			}
			var n int
			var reason string
			if err := f.App.DB.QueryRow(context.Background(), `SELECT COUNT(*), MAX(reason) FROM revocations WHERE serial = ?`, serial).Scan(&n, &reason); err != nil {
				t.Fatal(err)
			}
			if n != 1 || reason != "keyCompromise" {
				t.Fatalf("round %d: %d revocations, reason %q", round, n, reason)
			}
		}
		if rep, err := f.App.VerifyAudit(context.Background(), ""); err != nil || !rep.OK {
			t.Fatalf("verify: %v %+v", err, rep)
		}
	})
}

// A signer that read a serial's status before a change of its revocation
// (a superseded revocation upgraded to keyCompromise, BR §7.2.2) and
// stores after the change's own re-signing must not put its older
// response back: the store is refused, and the one stored stays the
// keyCompromise one. Concurrent revocations hit this (each re-signs after
// its commit, in whatever order). With the current status it stores.
func TestOCSPStoreOfAnOlderStatusIsRefused(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		serial, _ := f.Issue(site)
		if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		before, err := f.App.Revocations.StatusOf(ctx, f.App.DB, serial)
		if err != nil {
			t.Fatal(err)
		}
		f.Clock.Advance(time.Minute)
		if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.Carol, map[string]any{"reason": "keyCompromise", "evidence": "key posted publicly"}); r.Status != 200 {
			t.Fatalf("upgrade: %d %s", r.Status, r.Raw)
		}
		stored, err := f.App.OCSP.StoreAsOf(ctx, before, before.IssuerID, serial, crypto.SHA256)
		if err != nil || stored {
			t.Fatalf("a response for the older status: stored %v (%v)", stored, err)
		}
		if rep, err := f.App.VerifyAudit(ctx, ""); err != nil || !rep.OK {
			t.Fatalf("verify: %v %+v", err, rep)
		}
		now, err := f.App.Revocations.StatusOf(ctx, f.App.DB, serial)
		if err != nil || now.Reason != br.KeyCompromise {
			t.Fatalf("status now: %+v (%v)", now, err)
		}
		if stored, err := f.App.OCSP.StoreAsOf(ctx, now, now.IssuerID, serial, crypto.SHA256); err != nil || !stored {
			t.Fatalf("a response for the current status: stored %v (%v)", stored, err)
		}
	})
}
