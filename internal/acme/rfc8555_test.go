package acme_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/acme/acmetest"
)

const probNS = "urn:ietf:params:acme:error:"

// authzURL is the URL of an order's first authorization.
func authzURL(t *testing.T, order acmetest.Response) string {
	t.Helper()
	as, _ := order.Body["authorizations"].([]any)
	if len(as) == 0 {
		t.Fatalf("the order has no authorizations: %s", order.Raw)
	}
	return as[0].(string)
}

// readyOrder places an order for names and requires it ready at once (the
// fixture's portal validation of acme-widgets.com is reused).
func readyOrder(t *testing.T, c *acmetest.Client, names ...string) acmetest.Response {
	t.Helper()
	o := c.Post(c.URL("newOrder"), map[string]any{"identifiers": ids(names...)}, acmetest.Opts{})
	if o.Status != 201 || o.Body["status"] != "ready" {
		t.Fatalf("new order for %v: %d %s", names, o.Status, o.Raw)
	}
	return o
}

func deactivate(c *acmetest.Client, url string) acmetest.Response {
	return c.Post(url, map[string]any{"status": "deactivated"}, acmetest.Opts{})
}

// RFC 8555 §7.1.6: an order whose authorization enters a final state other
// than valid (here deactivated, §7.5.2) is invalid, whether it was pending
// or ready, and cannot be finalized; a deactivated authorization is not
// used again, neither by the other orders it stood for nor by new ones.
func TestDeactivatedAuthorizationStopsIssuance(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		first := readyOrder(t, f.c, "www.acme-widgets.com")
		second := readyOrder(t, f.c, "www.acme-widgets.com")
		other := readyOrder(t, f.c, "shop.acme-widgets.com")

		d := deactivate(f.c, authzURL(t, first))
		if d.Status != 200 || d.Body["status"] != "deactivated" {
			t.Fatalf("RFC 8555 §7.5.2: deactivate: %d %s", d.Status, d.Raw)
		}
		for name, o := range map[string]acmetest.Response{"the order of the authorization": first, "another order resting on the same authorization": second} {
			g := f.c.Post(o.Location, nil, acmetest.Opts{})
			if g.Body["status"] != "invalid" {
				t.Fatalf("RFC 8555 §7.1.6: %s must be invalid once its authorization is deactivated: %s", name, g.Raw)
			}
			fin := f.c.Post(o.Body["finalize"].(string), map[string]any{"csr": csr(t, key(t), "www.acme-widgets.com")}, acmetest.Opts{})
			if fin.Status != 403 || fin.Type() != probNS+"orderNotReady" {
				t.Fatalf("RFC 8555 §7.1.6: finalize of %s must be refused: %d %s", name, fin.Status, fin.Raw)
			}
		}
		// Another name's order is untouched.
		if g := f.c.Post(other.Location, nil, acmetest.Opts{}); g.Body["status"] != "ready" {
			t.Fatalf("an order for another name changed: %s", g.Raw)
		}
		// RFC 8555 §7.5.2: the deactivated authorization is not reused.
		again := f.newOrder(t, "www.acme-widgets.com")
		if again.Status != 201 || again.Body["status"] != "pending" {
			t.Fatalf("RFC 8555 §7.5.2: a new order must not reuse the deactivated authorization: %d %s", again.Status, again.Raw)
		}
		if a := f.c.Post(authzURL(t, again), nil, acmetest.Opts{}); a.Body["status"] != "pending" {
			t.Fatalf("the new authorization is not pending: %s", a.Raw)
		}
		var issued int
		if err := f.App.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM acme_orders WHERE serial <> ''`).Scan(&issued); err != nil {
			t.Fatal(err)
		}
		if issued != 0 {
			t.Fatalf("%d certificates were issued", issued)
		}
	})
}

// RFC 8555 §7.5.2 with a finalize racing the deactivation: a certificate
// is never issued after the deactivation committed. Either the
// deactivation comes first and the finalize is refused, or the finalize
// comes first and the deactivation is refused while the order is
// processing (or lands after the certificate was issued).
func TestConcurrentDeactivateAndFinalize(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		ctx := context.Background()
		for round := 0; round < 4; round++ {
			name := []string{"www.acme-widgets.com", "api.acme-widgets.com", "mail.acme-widgets.com", "shop.acme-widgets.com"}[round]
			o := readyOrder(t, f.c, name)
			az := authzURL(t, o)
			body := map[string]any{"csr": csr(t, key(t), name)}
			var fin, deact acmetest.Response
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); fin = f.c.Post(o.Body["finalize"].(string), body, acmetest.Opts{}) }()
			go func() { defer wg.Done(); deact = deactivate(f.c, az) }()
			wg.Wait()
			issued := fin.Status == 200 && fin.Body["status"] == "valid"
			deactivated := deact.Status == 200
			switch {
			case issued && deactivated:
				// Only if the deactivation came after the issuance.
				orderID := o.Location[strings.LastIndex(o.Location, "/")+1:]
				authzID := az[strings.LastIndex(az, "/")+1:]
				var validSeq, deactSeq int64
				if err := f.App.DB.QueryRow(ctx, `SELECT seq FROM audit_events WHERE entity_id = ? AND action = 'acme_order.valid'`, orderID).Scan(&validSeq); err != nil {
					t.Fatal(err)
				}
				if err := f.App.DB.QueryRow(ctx, `SELECT seq FROM audit_events WHERE entity_id = ? AND action = 'acme_authorization.deactivated'`, authzID).Scan(&deactSeq); err != nil {
					t.Fatal(err)
				}
				if deactSeq < validSeq {
					t.Fatalf("round %d: a certificate was issued after the deactivation committed", round)
				}
			case issued:
				if deact.Status < 400 {
					t.Fatalf("round %d: deactivation answered %d %s", round, deact.Status, deact.Raw)
				}
			case deactivated:
				if fin.Type() != probNS+"orderNotReady" {
					t.Fatalf("round %d: finalize after deactivation: %d %s", round, fin.Status, fin.Raw)
				}
			default:
				t.Fatalf("round %d: neither happened: finalize %d %s; deactivate %d %s", round, fin.Status, fin.Raw, deact.Status, deact.Raw)
			}
		}
	})
}

// RFC 8555 §7.1.6: finalize checks again, under the order's lock, that
// every authorization of the order is still valid; one that expired while
// the order was ready makes the order invalid, and nothing is placed.
func TestFinalizeRechecksAuthorizations(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		probe := readyOrder(t, f.c, "www.acme-widgets.com")
		a := f.c.Post(authzURL(t, probe), nil, acmetest.Opts{})
		expires, err := time.Parse(time.RFC3339, a.Body["expires"].(string))
		if err != nil {
			t.Fatalf("authorization expires: %s", a.Raw)
		}
		f.Clock.Advance(expires.Sub(f.Clock.Now()) - 2*24*time.Hour)
		o := readyOrder(t, f.c, "api.acme-widgets.com")
		if oe, _ := time.Parse(time.RFC3339, o.Body["expires"].(string)); !oe.After(expires.Add(24 * time.Hour)) {
			t.Fatalf("the order expires at %s, not after its authorization (%s)", oe, expires)
		}
		f.Clock.Advance(3 * 24 * time.Hour)
		fin := f.c.Post(o.Body["finalize"].(string), map[string]any{"csr": csr(t, key(t), "api.acme-widgets.com")}, acmetest.Opts{})
		if fin.Status != 403 || fin.Type() != probNS+"orderNotReady" || !strings.Contains(fin.Detail(), "expired") {
			t.Fatalf("RFC 8555 §7.1.6: finalize with an expired authorization: want 403 orderNotReady, got %d %s", fin.Status, fin.Raw)
		}
		g := f.c.Post(o.Location, nil, acmetest.Opts{})
		if perr, _ := g.Body["error"].(map[string]any); g.Body["status"] != "invalid" || !strings.Contains(perr["detail"].(string), "expired") {
			t.Fatalf("RFC 8555 §7.1.6: the order must be invalid, naming its expired authorization: %s", g.Raw)
		}
		var placed int
		if err := f.App.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM acme_orders WHERE order_id <> ''`).Scan(&placed); err != nil {
			t.Fatal(err)
		}
		if placed != 0 {
			t.Fatalf("%d vetca orders were placed", placed)
		}
	})
}

// RFC 8555 §7.3.6: a request signed by a deactivated account is refused
// with 401 Unauthorized and type unauthorized; a valid account acting on
// another account's resource stays 403.
func TestDeactivatedAccountIsRefusedWith401(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		other := f.another(t)
		if r := other.Post(f.c.KID, nil, acmetest.Opts{}); r.Status != 403 || r.Type() != probNS+"unauthorized" {
			t.Fatalf("another account's resource: want 403 unauthorized, got %d %s", r.Status, r.Raw)
		}
		if r := deactivate(f.c, f.c.KID); r.Status != 200 || r.Body["status"] != "deactivated" {
			t.Fatalf("RFC 8555 §7.3.6: deactivate: %d %s", r.Status, r.Raw)
		}
		for name, do := range map[string]func() acmetest.Response{
			"POST-as-GET of the account": func() acmetest.Response { return f.c.Post(f.c.KID, nil, acmetest.Opts{}) },
			"newOrder": func() acmetest.Response {
				return f.c.Post(f.c.URL("newOrder"), map[string]any{"identifiers": ids("www.acme-widgets.com")}, acmetest.Opts{})
			},
			"deactivating again": func() acmetest.Response { return deactivate(f.c, f.c.KID) },
		} {
			if r := do(); r.Status != 401 || r.Type() != probNS+"unauthorized" {
				t.Fatalf("RFC 8555 §7.3.6: %s by a deactivated account: want 401 unauthorized, got %d %s", name, r.Status, r.Raw)
			}
		}
	})
}

// RFC 8555 §6.3: a GET (or any other method) to a resource that only
// takes POST is 405 Method Not Allowed, type malformed, with Allow; the
// directory and newNonce take POST-as-GET as well as GET (§7.1.1, §7.2).
func TestMethodNotAllowedAndPostAsGet(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		acct := strings.TrimPrefix(f.c.KID, f.c.Public)
		cases := []struct{ method, path, allow string }{
			{"GET", acct, "POST"},
			{"GET", acct + "/orders", "POST"},
			{"GET", "/acme/new-account", "POST"},
			{"GET", "/acme/new-order", "POST"},
			{"GET", "/acme/revoke-cert", "POST"},
			{"GET", "/acme/order/x", "POST"},
			{"GET", "/acme/order/x/finalize", "POST"},
			{"GET", "/acme/authz/x", "POST"},
			{"GET", "/acme/chall/x", "POST"},
			{"GET", "/acme/cert/x", "POST"},
			{"PUT", "/acme/directory", "GET, HEAD, POST"},
			{"DELETE", "/acme/new-nonce", "GET, HEAD, POST"},
			{"POST", "/acme/renewal-info/x", "GET, HEAD"},
		}
		for _, tc := range cases {
			req, _ := http.NewRequest(tc.method, f.Server.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var p struct{ Type string }
			_ = json.NewDecoder(resp.Body).Decode(&p)
			resp.Body.Close()
			if resp.StatusCode != http.StatusMethodNotAllowed || p.Type != probNS+"malformed" || resp.Header.Get("Allow") != tc.allow {
				t.Fatalf("RFC 8555 §6.3: %s %s: want 405 malformed with Allow %q, got %d %q Allow %q", tc.method, tc.path, tc.allow, resp.StatusCode, p.Type, resp.Header.Get("Allow"))
			}
		}
		if resp, err := http.Get(f.Server.URL + "/acme/nothing-here"); err != nil || resp.StatusCode != 404 {
			t.Fatalf("an unknown resource is still 404: %v %v", resp, err)
		}
		d := f.c.Post(f.c.Public+"/acme/directory", nil, acmetest.Opts{})
		if d.Status != 200 || d.Body["newOrder"] != f.c.URL("newOrder") {
			t.Fatalf("RFC 8555 §6.3: POST-as-GET of the directory: %d %s", d.Status, d.Raw)
		}
		n := f.c.Post(f.c.URL("newNonce"), nil, acmetest.Opts{})
		if n.Status != 200 || n.Header.Get("Replay-Nonce") == "" {
			t.Fatalf("RFC 8555 §6.3, §7.2: POST-as-GET of newNonce: %d %s", n.Status, n.Raw)
		}
	})
}

// secondSubscriber is another vetca account of the same organization that
// validated acme-widgets.com itself, with its own approved template and a
// registered ACME client.
func (f *fixture) secondSubscriber(t *testing.T) *acmetest.Client {
	t.Helper()
	r := f.Do("POST", "/api/v1/accounts", f.AdminToken, map[string]any{"name": "Widgets Hosting", "organizations": []string{f.OrgID}})
	if r.Status != 201 {
		t.Fatalf("account: %d %s", r.Status, r.Raw)
	}
	accID, tok := r.Body["id"].(string), r.Body["token"].(string)
	v := f.Do("POST", "/api/v1/accounts/"+accID+"/domains", tok, map[string]any{"domain": "acme-widgets.com", "method": "dns-change"})
	if v.Status != 201 {
		t.Fatalf("start validation: %d %s", v.Status, v.Raw)
	}
	f.DNS.AddTXT(v.Body["recordName"].(string), v.Body["value"].(string))
	if d := f.Do("POST", "/api/v1/accounts/"+accID+"/domains/"+v.Body["id"].(string)+"/validate", tok, nil); d.Status != 200 || d.Body["status"] != "valid" {
		t.Fatalf("validate: %d %s", d.Status, d.Raw)
	}
	tm := f.Do("POST", "/api/v1/templates", f.Alice, map[string]any{"accountId": accID, "organizationId": f.OrgID,
		"dnsNames": []string{"acme-widgets.com", "*.acme-widgets.com"}, "keyTypes": []string{"ecdsa-p256"}, "maxValidityDays": 90})
	if tm.Status != 201 {
		t.Fatalf("template: %d %s", tm.Status, tm.Raw)
	}
	for _, tk := range []string{f.Bob, f.Dave} {
		if a := f.Do("POST", "/api/v1/templates/"+tm.Body["id"].(string)+"/approve", tk, map[string]any{"templateHash": tm.Body["templateHash"]}); a.Status != 200 {
			t.Fatalf("approve: %d %s", a.Status, a.Raw)
		}
	}
	e := f.Do("POST", "/api/v1/accounts/"+accID+"/eab-keys", f.Carol, nil)
	if e.Status != 201 {
		t.Fatalf("eab key: %d %s", e.Status, e.Raw)
	}
	c := acmetest.New(t, f.Server.URL, f.Cfg.PublicURL, key(t))
	if r := c.Register(e.Body["kid"].(string), e.Body["hmacKey"].(string)); r.Status != 201 {
		t.Fatalf("register: %d %s", r.Status, r.Raw)
	}
	return c
}

func (f *fixture) revocationReason(t *testing.T, cert *x509.Certificate) string {
	t.Helper()
	c := f.Do("GET", "/api/v1/certificates/"+strings.ToLower(cert.SerialNumber.Text(16)), f.Carol, nil)
	rev, _ := c.Body["revocation"].(map[string]any)
	s, _ := rev["reason"].(string)
	return s
}

// RFC 8555 §7.6: revokeCert signed by an account that is not the
// certificate's but holds valid, unexpired authorizations for every one of
// its identifiers is accepted (as cessationOfOperation: the requester is
// not the subscriber). An authorization for the base domain does not cover
// a wildcard, which needs a wildcard authorization (§7.1.3); a
// deactivated authorization counts for nothing (§7.5.2).
func TestRevokeCertByAuthorizationHolder(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		both, _ := f.issue(t, key(t), "www.acme-widgets.com", "acme-widgets.com")
		wild, _ := f.issue(t, key(t), "*.acme-widgets.com")
		api, _ := f.issue(t, key(t), "api.acme-widgets.com")
		b := f.secondSubscriber(t)
		revoke := func(cert *x509.Certificate, reason int) acmetest.Response {
			return b.Post(b.URL("revokeCert"), map[string]any{"certificate": base64.RawURLEncoding.EncodeToString(cert.Raw), "reason": reason}, acmetest.Opts{})
		}

		readyOrder(t, b, "www.acme-widgets.com")
		if r := revoke(both, 4); r.Status != 403 || r.Type() != probNS+"unauthorized" {
			t.Fatalf("RFC 8555 §7.6: authorizations for some of the names only: want 403 unauthorized, got %d %s", r.Status, r.Raw)
		}
		o := readyOrder(t, b, "api.acme-widgets.com")
		if d := deactivate(b, authzURL(t, o)); d.Status != 200 {
			t.Fatalf("deactivate: %d %s", d.Status, d.Raw)
		}
		if r := revoke(api, 4); r.Status != 403 || r.Type() != probNS+"unauthorized" {
			t.Fatalf("RFC 8555 §7.5.2: a deactivated authorization must not authorize revocation: %d %s", r.Status, r.Raw)
		}
		readyOrder(t, b, "acme-widgets.com")
		if r := revoke(wild, 4); r.Status != 403 {
			t.Fatalf("RFC 8555 §7.1.3: an authorization for acme-widgets.com does not cover *.acme-widgets.com: %d %s", r.Status, r.Raw)
		}
		if r := revoke(both, 6); r.Type() != probNS+"badRevocationReason" {
			t.Fatalf("BR §7.2.2: certificateHold: %d %s", r.Status, r.Raw)
		}
		if r := revoke(both, 1); r.Status != 200 {
			t.Fatalf("RFC 8555 §7.6: an account holding authorizations for every name may revoke: %d %s", r.Status, r.Raw)
		}
		if got := f.revocationReason(t, both); got != "cessationOfOperation" {
			t.Fatalf("a revocation by another authorized account is cessationOfOperation, got %q", got)
		}
		readyOrder(t, b, "*.acme-widgets.com")
		if r := revoke(wild, 0); r.Status != 200 {
			t.Fatalf("RFC 8555 §7.1.3, §7.6: a wildcard authorization covers the wildcard: %d %s", r.Status, r.Raw)
		}
		if r := revoke(wild, 0); r.Type() != probNS+"alreadyRevoked" {
			t.Fatalf("RFC 8555 §7.6: %d %s", r.Status, r.Raw)
		}
		if got := f.revocationReason(t, api); got != "" {
			t.Fatalf("the certificate whose authorization was deactivated was revoked (%s)", got)
		}
	})
}

// RFC 8555 §7.4: a finalize CSR whose subject is not the vetted
// organization's, or carries an attribute it lacks, is badCSR like a CSR
// for the wrong names, and in every case the order stays ready for a
// corrected CSR.
func TestFinalizeCSRRefusalsLeaveOrderReady(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		o := readyOrder(t, f.c, "www.acme-widgets.com")
		k := key(t)
		cases := []struct {
			name, detail string
			subject      pkix.Name
			names        []string
		}{
			{"other names", "not", pkix.Name{}, []string{"web.acme-widgets.com"}},
			{"another organization", "verified organization", pkix.Name{Organization: []string{"Evil Corp"}, Country: []string{"GB"}}, []string{"www.acme-widgets.com"}},
			{"an organizationalUnitName", "organizationalUnitName", pkix.Name{OrganizationalUnit: []string{"IT"}}, []string{"www.acme-widgets.com"}},
		}
		for _, tc := range cases {
			der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: tc.subject, DNSNames: tc.names}, k)
			if err != nil {
				t.Fatal(err)
			}
			fin := f.c.Post(o.Body["finalize"].(string), map[string]any{"csr": base64.RawURLEncoding.EncodeToString(der)}, acmetest.Opts{})
			if fin.Status != 400 || fin.Type() != probNS+"badCSR" || !strings.Contains(fin.Detail(), tc.detail) {
				t.Fatalf("RFC 8555 §7.4: a CSR with %s: want 400 badCSR naming %q, got %d %s", tc.name, tc.detail, fin.Status, fin.Raw)
			}
			if g := f.c.Post(o.Location, nil, acmetest.Opts{}); g.Body["status"] != "ready" {
				t.Fatalf("a CSR with %s left the order %s, not ready for a corrected CSR: %s", tc.name, g.Body["status"], g.Raw)
			}
		}
		fin := f.c.Post(o.Body["finalize"].(string), map[string]any{"csr": csr(t, k, "www.acme-widgets.com")}, acmetest.Opts{})
		if fin.Status != 200 || fin.Body["status"] != "valid" {
			t.Fatalf("the corrected CSR: %d %s", fin.Status, fin.Raw)
		}
	})
}

// closePrimesKey is an RSA-2048 key whose primes are close enough for
// Fermat's method (BR §6.1.1.3(5)). crypto/rsa refuses to sign with such
// a key, so it signs with the bare RSA operation (RFC 8017 §8.2.1).
type closePrimesKey struct {
	pub rsa.PublicKey
	d   *big.Int
}

func newClosePrimesKey(t *testing.T) closePrimesKey {
	t.Helper()
	one := big.NewInt(1)
	for {
		p, err := rand.Prime(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		q := new(big.Int).Add(p, new(big.Int).Lsh(one, 100))
		for !q.ProbablyPrime(20) {
			q.Add(q, one)
		}
		n := new(big.Int).Mul(p, q)
		phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
		d := new(big.Int).ModInverse(big.NewInt(65537), phi)
		if n.BitLen() == 2048 && d != nil {
			return closePrimesKey{pub: rsa.PublicKey{N: n, E: 65537}, d: d}
		}
	}
}

func (k closePrimesKey) Public() crypto.PublicKey { return &k.pub }

// Sign is RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2.1, §9.2).
func (k closePrimesKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts.HashFunc() != crypto.SHA256 {
		return nil, fmt.Errorf("only SHA-256, not %v", opts.HashFunc())
	}
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	size := (k.pub.N.BitLen() + 7) / 8
	em := make([]byte, size)
	em[1] = 1
	tLen := len(prefix) + len(digest)
	for i := 2; i < size-tLen-1; i++ {
		em[i] = 0xff
	}
	copy(em[size-tLen:], prefix)
	copy(em[size-len(digest):], digest)
	sig := new(big.Int).Exp(new(big.Int).SetBytes(em), k.d, k.pub.N)
	return sig.FillBytes(make([]byte, size)), nil
}

// RFC 8555 §7.4: a key the key policy refuses (here RSA with close primes,
// BR §6.1.1.3(5)) is badPublicKey, and the order stays ready.
func TestKeyPolicyRefusalIsBadPublicKey(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		o := readyOrder(t, f.c, "www.acme-widgets.com")
		before := f.events(t)
		fin := f.c.Post(o.Body["finalize"].(string), map[string]any{"csr": csr(t, newClosePrimesKey(t), "www.acme-widgets.com")}, acmetest.Opts{})
		if fin.Status != 400 || fin.Type() != probNS+"badPublicKey" {
			t.Fatalf("RFC 8555 §7.4: a key the key policy refuses: want 400 badPublicKey, got %d %s", fin.Status, fin.Raw)
		}
		if after := f.events(t); after != before {
			t.Fatalf("the refused finalize wrote %d audit events", after-before)
		}
		if g := f.c.Post(o.Location, nil, acmetest.Opts{}); g.Body["status"] != "ready" {
			t.Fatalf("the order is not ready: %s", g.Raw)
		}
	})
}

// RFC 8555 §7.3.4 (externalAccountRequired, 401 as docs/api.md says) and
// §6.5 (nonces, as docs/api.md says): a request refused before its JWS
// verified leaves its nonce unused; once the JWS verified the nonce is
// spent, whatever the handler refuses, a wrong EAB MAC included.
func TestNewAccountRefusalsAndTheirNonces(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		c := acmetest.New(t, f.Server.URL, f.Cfg.PublicURL, key(t))
		url := c.URL("newAccount")
		if r := c.Post(url, map[string]any{"termsOfServiceAgreed": true}, acmetest.Opts{EmbedJWK: true}); r.Status != 401 || r.Type() != probNS+"externalAccountRequired" {
			t.Fatalf("RFC 8555 §7.3.4: want 401 externalAccountRequired, got %d %s", r.Status, r.Raw)
		}
		_, otherHMAC := f.newEAB(t)
		n := c.Nonce()
		bad := map[string]any{"termsOfServiceAgreed": true, "externalAccountBinding": c.EAB(f.kid, otherHMAC, url)}
		if r := c.Post(url, bad, acmetest.Opts{EmbedJWK: true, Nonce: n}); r.Type() != probNS+"unauthorized" {
			t.Fatalf("wrong EAB MAC: %d %s", r.Status, r.Raw)
		}
		good := map[string]any{"termsOfServiceAgreed": true, "externalAccountBinding": c.EAB(f.kid, f.hmacKey, url)}
		if r := c.Post(url, good, acmetest.Opts{EmbedJWK: true, Nonce: n}); r.Type() != probNS+"badNonce" {
			t.Fatalf("RFC 8555 §6.5: the nonce of a verified request is spent: %d %s", r.Status, r.Raw)
		}
		m := c.Nonce()
		if r := c.Post(url, good, acmetest.Opts{EmbedJWK: true, Nonce: m, Tamper: true}); r.Type() != probNS+"malformed" {
			t.Fatalf("tampered signature: %d %s", r.Status, r.Raw)
		}
		if r := c.Post(url, good, acmetest.Opts{EmbedJWK: true, Nonce: m}); r.Status != 201 {
			t.Fatalf("RFC 8555 §6.5: a request refused before its JWS verified leaves its nonce unused: %d %s", r.Status, r.Raw)
		}
	})
}
