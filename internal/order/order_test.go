package order_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/issuance"
	vlint "github.com/vetca/vetca/internal/lint"
	"github.com/vetca/vetca/internal/profile"
)

const site = "shop.acme-widgets.com"

func each(t *testing.T, fn func(t *testing.T, f *apptest.OrderFixture)) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			dns, opt := apptest.WithDNS(t)
			e := apptest.New(t, b, opt)
			fn(t, apptest.NewOrderFixture(t, e, dns, site, "www.acme-widgets.com"))
		})
	}
}

func errOf(r apptest.Response) map[string]any {
	m, _ := r.Body["error"].(map[string]any)
	return m
}

// An order whose subject or CSR subject differs from
// the vetted version in any attribute is refused, naming the attribute with
// vetted and requested values.
func TestSubjectMustEqualVettedVersion(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		key := apptest.Key(t)
		cases := []struct {
			name      string
			csr       pkix.Name
			subject   map[string]any
			field     string
			vetted    string
			requested string
		}{
			{"CSR O differs (seed 1535735)", pkix.Name{Organization: []string{"Subcontractor Services LLC"}}, nil, "organizationName", "Acme Widgets Inc.", "Subcontractor Services LLC"},
			{"CSR C differs (seed 1559376)", pkix.Name{Country: []string{"AD"}}, nil, "countryName", "US", "AD"},
			{"CSR ST differs", pkix.Name{Province: []string{"CA"}}, nil, "stateOrProvinceName", "California", "CA"},
			{"CSR L differs", pkix.Name{Locality: []string{"Oakland"}}, nil, "localityName", "San Francisco", "Oakland"},
			{"CSR street differs", pkix.Name{StreetAddress: []string{"2 Market Street"}}, nil, "streetAddress", "1 Market Street", "2 Market Street"},
			{"CSR postal code differs", pkix.Name{PostalCode: []string{"94106"}}, nil, "postalCode", "94105", "94106"},
			{"body O differs", pkix.Name{}, map[string]any{"organizationName": "Acme Widgets"}, "organizationName", "Acme Widgets Inc.", "Acme Widgets"},
			{"body C differs", pkix.Name{}, map[string]any{"countryName": "AD"}, "countryName", "US", "AD"},
		}
		for _, tc := range cases {
			body := map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, key, tc.csr, site)}
			if tc.subject != nil {
				body["subject"] = tc.subject
			}
			r := f.PlaceOrder(body)
			e := errOf(r)
			if r.Status != 400 || e["field"] != tc.field || e["vetted"] != tc.vetted || e["requested"] != tc.requested {
				t.Errorf("%s: %d %s", tc.name, r.Status, r.Raw)
			}
		}
		for _, tc := range []struct {
			name  string
			csr   pkix.Name
			field string
		}{
			{"OU, which the version lacks", pkix.Name{OrganizationalUnit: []string{"IT"}}, "organizationalUnitName"},
			{"CN not among dnsNames", pkix.Name{CommonName: "other.example.org"}, "commonName"},
			{"serialNumber, which the version lacks", pkix.Name{SerialNumber: "123"}, "serialNumber"},
		} {
			r := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, key, tc.csr, site)})
			if r.Status != 400 || errOf(r)["field"] != tc.field {
				t.Errorf("%s: %d %s", tc.name, r.Status, r.Raw)
			}
		}
	})
}

// The issued certificate's subject equals the
// verified version attribute for attribute, in BR §7.1.4.2 order, and no
// CSR subject string appears in its DER.
func TestIssuedSubjectComesFromVettedVersion(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		key := apptest.Key(t)
		csrSubject := pkix.Name{CommonName: site, Organization: []string{"Acme Widgets Inc."}, Country: []string{"US"}}
		csrPEM := apptest.CSR(t, key, csrSubject, site)
		blk, _ := pem.Decode([]byte(csrPEM))
		if blk == nil {
			t.Fatal("apptest.CSR returned no PEM block")
		}
		csr, err := x509.ParseCertificateRequest(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		r := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": csrPEM, "subject": map[string]any{"localityName": "San Francisco"}})
		if r.Status != 201 || r.Body["status"] != "pending_approval" || r.Body["organizationVersion"].(float64) != 1 {
			t.Fatalf("order: %d %s", r.Status, r.Raw)
		}
		id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
		for _, tok := range []string{f.Bob, f.Carol} {
			f.Do("POST", "/api/v1/orders/"+id+"/approve", tok, map[string]any{"snapshotHash": hash})
		}
		fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil)
		if fin.Status != 200 {
			t.Fatalf("finalize: %d %s", fin.Status, fin.Raw)
		}
		cb, _ := pem.Decode([]byte(fin.Body["certificate"].(string)))
		cert, err := x509.ParseCertificate(cb.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		attrs, err := profile.DecodeName(cert.RawSubject)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range attrs {
			got = append(got, a.OID.String()+"="+a.Value)
		}
		want := []string{"2.5.4.6=US", "2.5.4.8=California", "2.5.4.7=San Francisco", "2.5.4.17=94105", "2.5.4.9=1 Market Street", "2.5.4.10=Acme Widgets Inc."}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("subject %v, want %v", got, want)
		}
		if bytes.Contains(cert.Raw, csr.RawSubject) {
			t.Fatal("the CSR's subject bytes appear in the certificate")
		}
		if cert.Subject.CommonName != "" {
			t.Fatal("commonName copied from the CSR")
		}
		if len(cert.DNSNames) != 1 || cert.DNSNames[0] != site || !cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
			t.Fatalf("SANs %v or key differ", cert.DNSNames)
		}
		if s := fin.Body["serial"].(string); s == "" || strings.HasPrefix(s, "00") || s != strings.ToLower(s) {
			t.Fatalf("serial %q not in the API's serial form", s)
		}
		// The inventory knows it, with its chain of evidence.
		rec := f.Do("GET", "/api/v1/certificates/"+fin.Body["serial"].(string), f.Auditor, nil)
		if rec.Status != 200 || rec.Body["orderId"] != id || rec.Body["organizationVersion"].(float64) != 1 || rec.Body["status"] != "valid" {
			t.Fatalf("certificate record: %d %s", rec.Status, rec.Raw)
		}
		ev := rec.Body["evidence"].(map[string]any)
		if len(ev["approvals"].([]any)) != 2 || ev["intent"].(map[string]any)["status"] != "issued" {
			t.Fatalf("evidence: %s", rec.Raw)
		}
		if dv, _ := ev["domainValidations"].([]any); len(dv) != 1 {
			t.Errorf("domain validation evidence missing: %v", ev["domainValidations"])
		}
		if caa, _ := ev["caa"].([]any); len(caa) != 1 {
			t.Errorf("CAA evidence missing: %v", ev["caa"])
		}
		if rep, err := f.App.VerifyAudit(context.Background(), ""); err != nil || !rep.OK {
			t.Fatalf("audit: %v %+v", err, rep.Findings)
		}
	})
}

// The requester's approval is refused, and so is the
// same approver twice; a third verifier's approval of an old hash gets
// snapshot_mismatch.
func TestApprovalRules(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		csr := apptest.CSR(t, apptest.Key(t), pkix.Name{}, site)
		r := f.Do("POST", "/api/v1/orders", f.Alice, map[string]any{"accountId": f.AccountID, "organizationId": f.OrgID, "dnsNames": []string{site}, "csr": csr})
		if r.Status != 201 {
			t.Fatalf("staff order: %d %s", r.Status, r.Raw)
		}
		id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
		approve := func(tok, h string) apptest.Response {
			return f.Do("POST", "/api/v1/orders/"+id+"/approve", tok, map[string]any{"snapshotHash": h})
		}
		if a := approve(f.Alice, hash); a.Status != 403 || errOf(a)["code"] != "self_approval" {
			t.Fatalf("requester approved: %d %s", a.Status, a.Raw)
		}
		if a := approve(f.Bob, hash); a.Status != 200 {
			t.Fatalf("bob: %d %s", a.Status, a.Raw)
		}
		if a := approve(f.Bob, hash); a.Status != 409 || errOf(a)["code"] != "already_approved" {
			t.Fatalf("bob twice: %d %s", a.Status, a.Raw)
		}
		if a := approve(f.Auditor, hash); a.Status != 403 {
			t.Fatalf("an auditor approved: %d", a.Status)
		}
		// The organization changes (a new version is verified); the hash bob approved is now old.
		if p := f.Do("POST", "/api/v1/organizations/"+f.OrgID+"/versions", f.Alice, map[string]any{"localityName": "Oakland"}); p.Status != 201 {
			t.Fatalf("propose: %d %s", p.Status, p.Raw)
		}
		f.VerifyVersion(2, f.Bob, f.Carol)
		a := approve(f.Dave, hash)
		if a.Status != 409 || errOf(a)["code"] != "snapshot_mismatch" {
			t.Fatalf("third verifier's approval of the old hash: %d %s", a.Status, a.Raw)
		}
		g := f.Do("GET", "/api/v1/orders/"+id, f.Bob, nil)
		if g.Body["snapshotHash"] == hash || len(g.Body["approvals"].([]any)) != 0 || g.Body["organizationVersion"].(float64) != 2 {
			t.Fatalf("after the change the old approvals must not count: %s", g.Raw)
		}
		if !strings.Contains(string(g.Raw), `"localityName":"Oakland"`) {
			t.Fatalf("the snapshot should now hold version 2: %s", g.Raw)
		}
	})
}

// Bugzilla 1559376: an order approved before an
// organization change is verified is refused at finalize with
// snapshot_mismatch; it goes back to pending_approval; no certificate or
// signature exists for it.
func TestFinalizeRefusesChangedSnapshot(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		r := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, site)})
		id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
		for _, tok := range []string{f.Bob, f.Carol} {
			f.Do("POST", "/api/v1/orders/"+id+"/approve", tok, map[string]any{"snapshotHash": hash})
		}
		if g := f.Do("GET", "/api/v1/orders/"+id, f.Bob, nil); g.Body["status"] != "approved" {
			t.Fatalf("not approved: %s", g.Raw)
		}
		// The "fix" lands after approval: a new country is verified.
		f.Do("POST", "/api/v1/organizations/"+f.OrgID+"/versions", f.Alice, map[string]any{"countryName": "MM", "stateOrProvinceName": "Yangon", "localityName": "Yangon",
			"streetAddress": "", "postalCode": "", "sanctionsReview": map[string]any{"reference": "LEGAL-1", "decision": "approved"}})
		f.VerifyVersion(2, f.Bob, f.Carol)
		fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil)
		if fin.Status != 409 || errOf(fin)["code"] != "snapshot_mismatch" {
			t.Fatalf("finalize: %d %s", fin.Status, fin.Raw)
		}
		g := f.Do("GET", "/api/v1/orders/"+id, f.Bob, nil)
		if g.Body["status"] != "pending_approval" || len(g.Body["approvals"].([]any)) != 0 || g.Body["serial"] != nil {
			t.Fatalf("after mismatch: %s", g.Raw)
		}
		ctx := context.Background()
		var certs, intents int
		if err := f.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM certificates WHERE order_id = ?`, id).Scan(&certs); err != nil {
			t.Fatal(err)
		}
		if err := f.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM issuance_intents WHERE order_id = ?`, id).Scan(&intents); err != nil {
			t.Fatal(err)
		}
		if certs != 0 || intents != 0 {
			t.Fatalf("%d certificates, %d intents exist for the refused order", certs, intents)
		}
		evs, err := audit.List(ctx, f.App.DB, audit.Filter{EntityType: "orders", EntityID: id, Action: "order.snapshot_mismatch"})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || !strings.Contains(*evs[0].Content, hash) {
			t.Fatalf("order.snapshot_mismatch with both hashes: %+v", evs)
		}
		// Re-approved on the new snapshot, it issues with the new country.
		newHash := g.Body["snapshotHash"].(string)
		for _, tok := range []string{f.Bob, f.Dave} {
			if a := f.Do("POST", "/api/v1/orders/"+id+"/approve", tok, map[string]any{"snapshotHash": newHash}); a.Status != 200 {
				t.Fatalf("re-approve: %d %s", a.Status, a.Raw)
			}
		}
		fin = f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil)
		if fin.Status != 200 {
			t.Fatalf("finalize after re-approval: %d %s", fin.Status, fin.Raw)
		}
		cb, _ := pem.Decode([]byte(fin.Body["certificate"].(string)))
		if cb == nil {
			t.Fatalf("finalize returned no PEM certificate: %s", fin.Raw)
		}
		cert, err := x509.ParseCertificate(cb.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if len(cert.Subject.Country) != 1 || cert.Subject.Country[0] != "MM" {
			t.Fatalf("country %v", cert.Subject.Country)
		}
	})
}

// A TBS that fails any lint (forced through a
// test-only lint) is never signed by the real key, and the failure names
// the lint.
func TestLintFailureIsNeverSigned(t *testing.T) {
	for _, backend := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			dns, opt := apptest.WithDNS(t)
			e := apptest.NewWithLints(t, backend, []vlint.Option{vlint.WithExtraLints(forcedFailure())}, opt)
			f := apptest.NewOrderFixture(t, e, dns, site)
			r := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, site)})
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
			if fin.Status < 400 || errOf(fin)["code"] != "lint_failed" || !strings.Contains(errOf(fin)["message"].(string), "e_test_forced_failure") {
				t.Fatalf("finalize: %d %s", fin.Status, fin.Raw)
			}
			ctx := context.Background()
			var intents, certs int
			if err := e.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM issuance_intents`).Scan(&intents); err != nil {
				t.Fatal(err)
			}
			if err := e.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM certificates`).Scan(&certs); err != nil {
				t.Fatal(err)
			}
			if intents != 0 || certs != 0 {
				t.Fatalf("a failed lint left %d intents and %d certificates", intents, certs)
			}
			g := f.Do("GET", "/api/v1/orders/"+id, f.Bob, nil)
			if g.Body["status"] != "failed" || !strings.Contains(g.Body["failure"].(string), "e_test_forced_failure") {
				t.Fatalf("order after lint failure: %s", g.Raw)
			}
		})
	}
}

func forcedFailure() *lint.CertificateLint {
	return &lint.CertificateLint{
		LintMetadata: lint.LintMetadata{Name: "e_test_forced_failure", Source: vlint.Source, Citation: "test hook"},
		Lint:         func() lint.CertificateLintInterface { return alwaysFail{} },
	}
}

type alwaysFail struct{}

func (alwaysFail) CheckApplies(*zx509.Certificate) bool { return true }
func (alwaysFail) Execute(*zx509.Certificate) *lint.LintResult {
	return &lint.LintResult{Status: lint.Error, Details: "forced failure"}
}

// Every issued certificate passes zlint with no error
// or warning (except the documented one) and verifies with openssl against
// the chain.
func TestIssuedCertificatesLintCleanAndVerify(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		_, certPEM := f.Issue(site, "www.acme-widgets.com")
		cb, _ := pem.Decode([]byte(certPEM))
		l, err := vlint.New()
		if err != nil {
			t.Fatal(err)
		}
		rep, err := l.LintCertificate(cb.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if err := rep.Err(); err != nil {
			t.Fatalf("zlint: %v", err)
		}
		for _, fd := range rep.Findings {
			if fd.Status == lint.Warn && fd.Tolerated == "" {
				t.Errorf("warning %s", fd.Lint)
			}
		}
		issuers, err := issuance.ListIssuers(context.Background(), f.App.Recorder, f.App.DB)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		write := func(name, body string) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}
		root, inter := write("root.pem", issuers[0].CertPEM), write("inter.pem", issuers[1].CertPEM)
		leaf := write("leaf.pem", certPEM)
		out, err := exec.Command("openssl", "verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", root, "-untrusted", inter, leaf).CombinedOutput()
		if err != nil || !strings.Contains(string(out), ": OK") {
			t.Fatalf("openssl verify: %v %s", err, out)
		}
	})
}

// CAA through orders (BR §3.2.2.8): finalize refuses a SAN
// whose CAA forbids vetca, naming it, and keeps the CAA evidence of the
// refusal.
func TestFinalizeRefusesCAAAndKeepsEvidence(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		r := f.PlaceOrder(map[string]any{"dnsNames": []string{site, "www.acme-widgets.com"}, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, site, "www.acme-widgets.com")})
		id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
		for _, tok := range []string{f.Bob, f.Carol} {
			f.Do("POST", "/api/v1/orders/"+id+"/approve", tok, map[string]any{"snapshotHash": hash})
		}
		f.DNS.AddCAA("www.acme-widgets.com", 0, "issue", "other-ca.example")
		fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil)
		e := errOf(fin)
		if fin.Status != 403 || e["code"] != "caa_forbidden" || e["field"] != "dnsNames" || !strings.Contains(e["message"].(string), "www.acme-widgets.com") {
			t.Fatalf("finalize: %d %s", fin.Status, fin.Raw)
		}
		checks, err := f.App.Domains.CAAChecksForOrder(context.Background(), f.App.DB, id)
		if err != nil || len(checks) != 2 {
			t.Fatalf("CAA evidence of the refusal: %v %+v", err, checks)
		}
		var refused int
		for _, c := range checks {
			if !c.Permitted {
				refused++
			}
		}
		if refused != 1 {
			t.Fatalf("%d refused results, want 1", refused)
		}
		if g := f.Do("GET", "/api/v1/orders/"+id, f.Bob, nil); g.Body["status"] != "approved" {
			t.Fatalf("a CAA refusal should leave the order approved for a retry: %s", g.Raw)
		}
	})
}

// Bad input on the order endpoints: the docs/api.md error shape naming the
// field, nothing written (BR §6.1.5 for key sizes, §6.3.2 for validity).
func TestOrderBadInput(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		rsaKey, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		good := apptest.CSR(t, apptest.Key(t), pkix.Name{}, site)
		for _, tc := range []struct {
			name   string
			token  string
			body   any
			status int
			field  string
		}{
			{"missing auth", "", map[string]any{"organizationId": f.OrgID, "dnsNames": []string{site}, "csr": good}, 401, ""},
			{"unknown field", f.AccTok, map[string]any{"organizationId": f.OrgID, "dnsNames": []string{site}, "csr": good, "commonName": site}, 400, "commonName"},
			{"wrong type", f.AccTok, map[string]any{"organizationId": f.OrgID, "dnsNames": site, "csr": good}, 400, "dnsNames"},
			{"no names", f.AccTok, map[string]any{"organizationId": f.OrgID, "dnsNames": []string{}, "csr": good}, 400, "dnsNames"},
			{"IP address as a name", f.AccTok, map[string]any{"organizationId": f.OrgID, "dnsNames": []string{"192.0.2.1"}, "csr": good}, 400, "dnsNames"},
			{"name not validated", f.AccTok, map[string]any{"organizationId": f.OrgID, "dnsNames": []string{"other.acme-widgets.com"}, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, "other.acme-widgets.com")}, 400, "dnsNames"},
			{"garbage CSR", f.AccTok, map[string]any{"organizationId": f.OrgID, "dnsNames": []string{site}, "csr": "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}, 400, "csr"},
			{"RSA-1024 key (BR §6.1.5)", f.AccTok, map[string]any{"organizationId": f.OrgID, "dnsNames": []string{site}, "csr": apptest.CSR(t, rsaKey, pkix.Name{}, site)}, 400, "publicKey"},
			{"validity over the cap (BR §6.3.2)", f.AccTok, map[string]any{"organizationId": f.OrgID, "dnsNames": []string{site}, "csr": good, "validityDays": 398}, 400, "validityDays"},
			{"organization not linked", f.AccTok, map[string]any{"organizationId": "org_nope", "dnsNames": []string{site}, "csr": good}, 403, "organizationId"},
			{"other account", f.AccTok, map[string]any{"accountId": "acc_other", "organizationId": f.OrgID, "dnsNames": []string{site}, "csr": good}, 403, "accountId"},
		} {
			var before int
			if err := f.App.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_events`).Scan(&before); err != nil {
				t.Fatal(err)
			}
			r := f.Do("POST", "/api/v1/orders", tc.token, tc.body)
			field, _ := r.ErrField()
			if r.Status != tc.status || field != tc.field {
				t.Errorf("%s: %d %s", tc.name, r.Status, r.Raw)
			}
			var after int
			if err := f.App.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_events`).Scan(&after); err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Errorf("%s: a refused order wrote %d audit events", tc.name, after-before)
			}
		}
		if r := f.Do("POST", "/api/v1/orders/ord_nope/approve", f.Bob, map[string]any{"snapshotHash": "x"}); r.Status != 404 {
			t.Errorf("approve of an unknown order: %d", r.Status)
		}
		if r := f.Do("POST", "/api/v1/orders/ord_nope/finalize", f.AccTok, nil); r.Status != 404 {
			t.Errorf("finalize of an unknown order: %d", r.Status)
		}
	})
}

// An approval answers with the order as its transaction left it, built in
// that transaction rather than read again: it must be exactly what a read
// after the commit returns, for the first approval and for the one that
// approves the order.
func TestApproveAnswersWhatGetReads(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		r := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, site)})
		if r.Status != 201 {
			t.Fatalf("order: %d %s", r.Status, r.Raw)
		}
		id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
		for i, tok := range []string{f.Bob, f.Dave} {
			f.Clock.Advance(1500 * time.Millisecond) // a clock off the whole second
			a := f.Do("POST", "/api/v1/orders/"+id+"/approve", tok, map[string]any{"snapshotHash": hash})
			g := f.Do("GET", "/api/v1/orders/"+id, f.Carol, nil)
			if a.Status != 200 || string(a.Raw) != string(g.Raw) {
				t.Fatalf("approval %d answered\n%s\nbut the order reads\n%s", i+1, a.Raw, g.Raw)
			}
		}
		if g := f.Do("GET", "/api/v1/orders/"+id, f.Carol, nil); g.Body["status"] != "approved" || len(g.Body["approvals"].([]any)) != 2 {
			t.Fatalf("two approvals approve the order: %s", g.Raw)
		}
	})
}
