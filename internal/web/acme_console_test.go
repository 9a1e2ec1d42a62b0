package web_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/acme/acmetest"
	"github.com/vetca/vetca/internal/apptest"
)

// The ACME side of an account, in the API and the console: the ACME
// accounts its EAB keys bound and their orders, each with the template it
// matched, the vetca order finalize placed and the certificate. Staff and
// the account's own subscriber read them; another account's subscriber
// does not.
func TestACMEAccountsAndOrders(t *testing.T) {
	for _, backend := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			dns, opt := apptest.WithDNS(t)
			e := apptest.New(t, backend, opt)
			f := apptest.NewOrderFixture(t, e, dns, "acme-widgets.com")
			r := e.Do("POST", "/api/v1/templates", f.Alice, map[string]any{"accountId": f.AccountID, "organizationId": f.OrgID,
				"dnsNames": []string{"*.acme-widgets.com"}, "keyTypes": []string{"ecdsa-p256"}, "maxValidityDays": 90})
			tmplID, hash := r.Body["id"].(string), r.Body["templateHash"].(string)
			for _, tok := range []string{f.Bob, f.Dave} {
				if r := e.Do("POST", "/api/v1/templates/"+tmplID+"/approve", tok, map[string]any{"templateHash": hash}); r.Status != 200 {
					t.Fatalf("approve: %d %s", r.Status, r.Raw)
				}
			}
			k := e.Do("POST", "/api/v1/accounts/"+f.AccountID+"/eab-keys", f.Carol, nil)
			kid := k.Body["kid"].(string)
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			c := acmetest.New(t, e.Server.URL, e.Cfg.PublicURL, key)
			reg := c.Register(kid, k.Body["hmacKey"].(string))
			if reg.Status != 201 {
				t.Fatalf("register: %d %s", reg.Status, reg.Raw)
			}
			o := c.Post(c.URL("newOrder"), map[string]any{"identifiers": []map[string]string{{"type": "dns", "value": "www.acme-widgets.com"}}}, acmetest.Opts{})
			if o.Status != 201 || o.Body["status"] != "ready" {
				t.Fatalf("order: %d %s", o.Status, o.Raw)
			}
			certKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // never the account key (RFC 8555 §11.1)
			csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{"www.acme-widgets.com"}}, certKey)
			fin := c.Post(o.Body["finalize"].(string), map[string]any{"csr": base64.RawURLEncoding.EncodeToString(csr)}, acmetest.Opts{})
			if fin.Body["status"] != "valid" {
				t.Fatalf("finalize: %d %s", fin.Status, fin.Raw)
			}

			other := e.Do("POST", "/api/v1/accounts", e.AdminToken, map[string]any{"name": "Someone Else", "organizations": []string{f.OrgID}})
			otherTok := other.Body["token"].(string)
			for _, tok := range []string{f.Bob, f.Auditor, f.AccTok} {
				l := e.Do("GET", "/api/v1/accounts/"+f.AccountID+"/acme-accounts", tok, nil)
				accts, _ := l.Body["acmeAccounts"].([]any)
				if l.Status != 200 || len(accts) != 1 || accts[0].(map[string]any)["eabKid"] != kid {
					t.Fatalf("acme accounts: %d %s", l.Status, l.Raw)
				}
			}
			l := e.Do("GET", "/api/v1/accounts/"+f.AccountID+"/acme-accounts", f.AccTok, nil)
			acmeID := l.Body["acmeAccounts"].([]any)[0].(map[string]any)["id"].(string)
			ol := e.Do("GET", "/api/v1/acme-accounts/"+acmeID+"/orders", f.Bob, nil)
			orders, _ := ol.Body["orders"].([]any)
			if ol.Status != 200 || len(orders) != 1 {
				t.Fatalf("acme orders: %d %s", ol.Status, ol.Raw)
			}
			ord := orders[0].(map[string]any)
			serial, _ := ord["serial"].(string)
			if ord["statusNow"] != "valid" || ord["templateId"] != tmplID || serial == "" || !strings.HasPrefix(ord["orderId"].(string), "ord") {
				t.Fatalf("an issued ACME order names its template, vetca order and certificate: %s", ol.Raw)
			}
			for _, path := range []string{"/api/v1/accounts/" + f.AccountID + "/acme-accounts", "/api/v1/acme-accounts/" + acmeID + "/orders"} {
				if r := e.Do("GET", path, otherTok, nil); r.Status != 403 && r.Status != 404 {
					t.Fatalf("another account's subscriber read %s: %d %s", path, r.Status, r.Raw)
				}
			}

			cc := newConsoleClient(t, e, "127.0.0.1")
			bob := cc.mustSignIn("bob", f.Bob)
			p := cc.do("GET", "/console/accounts/"+f.AccountID+"/acme", nil, bob)
			for _, want := range []string{acmeID, kid, "Acme Widgets"} {
				if p.status != 200 || !strings.Contains(p.body, want) {
					t.Fatalf("ACME accounts page lacks %q: %d\n%s", want, p.status, p.body)
				}
			}
			p = cc.do("GET", "/console/acme-accounts/"+acmeID, nil, bob)
			for _, want := range []string{`id="acme-order-` + ord["id"].(string) + `"`, "www.acme-widgets.com", "/console/templates/" + tmplID, "/console/certificates/" + serial, ">valid<"} {
				if p.status != 200 || !strings.Contains(p.body, want) {
					t.Fatalf("ACME account page lacks %q: %d\n%s", want, p.status, p.body)
				}
			}
			sub := newConsoleClient(t, e, "127.0.0.2")
			own := sub.mustSignIn(f.AccountID, f.AccTok)
			if p := sub.do("GET", "/console/acme-accounts/"+acmeID, nil, own); p.status != 200 || !strings.Contains(p.body, acmeID) {
				t.Fatalf("the subscriber reads its own ACME account: %d\n%s", p.status, p.body)
			}
			stranger := newConsoleClient(t, e, "127.0.0.3")
			st := stranger.mustSignIn(other.Body["id"].(string), otherTok)
			if p := stranger.do("GET", "/console/acme-accounts/"+acmeID, nil, st); p.status == 200 || strings.Contains(p.body, kid) {
				t.Fatalf("another account's subscriber read the ACME account: %d\n%s", p.status, p.body)
			}
		})
	}
}

// A certificate's console page opens by its serial as the API's does,
// whatever the case of its hex digits (openssl prints them upper-case):
// GET /api/v1/certificates/{serial} lower-cases it, and so does the page.
func TestConsoleCertificatePageSerialCase(t *testing.T) {
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.SQLite, opt)
	f := apptest.NewOrderFixture(t, e, dns, "shop.acme-widgets.com")
	serial, _ := f.Issue("shop.acme-widgets.com")
	upper := strings.ToUpper(serial)
	if r := e.Do("GET", "/api/v1/certificates/"+upper, f.Bob, nil); r.Status != 200 {
		t.Fatalf("API, upper-case serial: %d %s", r.Status, r.Raw)
	}
	c := newConsoleClient(t, e, "127.0.0.1")
	bob := c.mustSignIn("bob", f.Bob)
	if p := c.do("GET", "/console/certificates/"+upper, nil, bob); p.status != 200 || !strings.Contains(p.body, serial) {
		t.Fatalf("console, upper-case serial: %d\n%.400s", p.status, p.body)
	}
}
