package acme_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/acme/acmetest"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/dnstest"
)

// fixture is a vetted organization with an account whose domain
// acme-widgets.com was validated through the portal (dns-change), an
// approved template for it (created by alice, approved by bob and dave),
// an EAB key (created by carol) and an ACME client not yet registered.
type fixture struct {
	*apptest.OrderFixture
	tmplID, tmplHash string
	kid, hmacKey     string
	c                *acmetest.Client
}

func each(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) { fn(t, setup(t, b)) })
	}
}

func setup(t *testing.T, backend string, opts ...apptest.Option) *fixture {
	t.Helper()
	dns, opt := apptest.WithDNS(t)
	return setupOn(t, apptest.New(t, backend, append([]apptest.Option{opt}, opts...)...), dns)
}

// setupOn is setup on an Env already opened: an approved template of the
// account for the demo domains, an EAB key and a client with a new key.
func setupOn(t *testing.T, e *apptest.Env, dns *dnstest.Server) *fixture {
	t.Helper()
	f := &fixture{OrderFixture: apptest.NewOrderFixture(t, e, dns, "acme-widgets.com")}
	r := f.Do("POST", "/api/v1/templates", f.Alice, map[string]any{"accountId": f.AccountID, "organizationId": f.OrgID,
		"dnsNames": []string{"acme-widgets.com", "*.acme-widgets.com", "acme-gadgets.com", "*.acme-gadgets.com"}, "keyTypes": []string{"ecdsa-p256"}, "maxValidityDays": 90})
	if r.Status != 201 {
		t.Fatalf("template: %d %s", r.Status, r.Raw)
	}
	f.tmplID, f.tmplHash = r.Body["id"].(string), r.Body["templateHash"].(string)
	f.approveTemplate(t)
	f.kid, f.hmacKey = f.newEAB(t)
	f.c = acmetest.New(t, e.Server.URL, e.Cfg.PublicURL, key(t))
	return f
}

func (f *fixture) approveTemplate(t *testing.T) {
	t.Helper()
	g := f.Do("GET", "/api/v1/templates/"+f.tmplID, f.Bob, nil)
	f.tmplHash = g.Body["templateHash"].(string)
	for _, tok := range []string{f.Bob, f.Dave} {
		if r := f.Do("POST", "/api/v1/templates/"+f.tmplID+"/approve", tok, map[string]any{"templateHash": f.tmplHash}); r.Status != 200 {
			t.Fatalf("approve template: %d %s", r.Status, r.Raw)
		}
	}
}

func (f *fixture) newEAB(t *testing.T) (string, string) {
	t.Helper()
	r := f.Do("POST", "/api/v1/accounts/"+f.AccountID+"/eab-keys", f.Carol, nil)
	if r.Status != 201 {
		t.Fatalf("eab key: %d %s", r.Status, r.Raw)
	}
	return r.Body["kid"].(string), r.Body["hmacKey"].(string)
}

func key(t testing.TB) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// events counts the audit trail: a refused request must not add to it.
func (f *fixture) events(t *testing.T) int {
	t.Helper()
	var n int
	if err := f.App.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM audit_events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *fixture) register(t *testing.T) {
	t.Helper()
	if r := f.c.Register(f.kid, f.hmacKey); r.Status != 201 {
		t.Fatalf("register: %d %s", r.Status, r.Raw)
	}
}

// another registers a second ACME account of the same vetca account, with
// a key and an EAB key of its own.
func (f *fixture) another(t *testing.T) *acmetest.Client {
	t.Helper()
	other := acmetest.New(t, f.Server.URL, f.Cfg.PublicURL, key(t))
	kid, hk := f.newEAB(t)
	if r := other.Register(kid, hk); r.Status != 201 {
		t.Fatalf("register: %d %s", r.Status, r.Raw)
	}
	return other
}

func ids(names ...string) []map[string]string {
	var out []map[string]string
	for _, n := range names {
		out = append(out, map[string]string{"type": "dns", "value": n})
	}
	return out
}

func (f *fixture) newOrder(t *testing.T, names ...string) acmetest.Response {
	t.Helper()
	return f.c.Post(f.c.URL("newOrder"), map[string]any{"identifiers": ids(names...)}, acmetest.Opts{})
}

func csr(t *testing.T, k crypto.Signer, names ...string) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: names}, k)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(der)
}

// issue orders names, finalizes with k and returns the leaf.
func (f *fixture) issue(t *testing.T, k crypto.Signer, names ...string) (*x509.Certificate, acmetest.Response) {
	t.Helper()
	o := f.newOrder(t, names...)
	if o.Status != 201 || o.Body["status"] != "ready" {
		t.Fatalf("new order: %d %s", o.Status, o.Raw)
	}
	fin := f.c.Post(o.Body["finalize"].(string), map[string]any{"csr": csr(t, k, names...)}, acmetest.Opts{})
	if fin.Status != 200 || fin.Body["status"] != "valid" {
		t.Fatalf("finalize: %d %s", fin.Status, fin.Raw)
	}
	cr := f.c.Post(fin.Body["certificate"].(string), nil, acmetest.Opts{})
	if cr.Status != 200 || cr.Header.Get("Content-Type") != "application/pem-certificate-chain" {
		t.Fatalf("certificate: %d %s", cr.Status, cr.Raw)
	}
	b, rest := pem.Decode(cr.Raw)
	if b == nil {
		t.Fatalf("no PEM certificate: %s", cr.Raw)
	}
	if iss, _ := pem.Decode(rest); iss == nil {
		t.Fatalf("the chain lacks the issuer: %s", cr.Raw)
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert, fin
}

// An ACME order that fits an approved template issues at once, with the
// subject of the organization's verified version and no per-order
// approval; the vetca order records the template it was placed under.
func TestIssuesUnderApprovedTemplate(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		if f.c.Dir["meta"].(map[string]any)["externalAccountRequired"] != true {
			t.Fatalf("RFC 8555 §7.3.4: the directory must say externalAccountRequired: %v", f.c.Dir)
		}
		f.register(t)
		cert, _ := f.issue(t, key(t), "www.acme-widgets.com", "acme-widgets.com")
		s := cert.Subject
		if s.Organization[0] != "Acme Widgets Inc." || s.Country[0] != "US" || s.Province[0] != "California" || s.Locality[0] != "San Francisco" ||
			s.StreetAddress[0] != "1 Market Street" || s.PostalCode[0] != "94105" {
			t.Fatalf("subject %v is not the verified organization version", s)
		}
		var orderID string
		if err := f.App.DB.QueryRow(context.Background(), `SELECT order_id FROM acme_orders WHERE serial <> ''`).Scan(&orderID); err != nil {
			t.Fatal(err)
		}
		v := f.Do("GET", "/api/v1/orders/"+orderID, f.Bob, nil)
		tmpl, _ := v.Body["template"].(map[string]any)
		if v.Status != 200 || v.Body["status"] != "issued" || len(v.Body["approvals"].([]any)) != 0 || tmpl["templateId"] != f.tmplID {
			t.Fatalf("the vetca order is not an issued order placed under the template without approvals: %s", v.Raw)
		}
	})
}

// Every bad input gets its RFC 8555 problem type (§6.7), and a refused
// request adds nothing to the audit trail: nothing changed.
func TestRefusalsHaveTheirProblemTypeAndChangeNothing(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		other := acmetest.New(t, f.Server.URL, f.Cfg.PublicURL, key(t))
		type thunk = func() acmetest.Response
		now := func(fn thunk) func() thunk { return func() thunk { return fn } }
		cases := []struct {
			name, rule, typ, detail string
			// prep makes what the case needs (writes allowed) and returns
			// the request to refuse.
			prep func() thunk
		}{
			{"bad JWS signature", "RFC 8555 §6.2", "malformed", "signature", now(func() acmetest.Response {
				return f.c.Post(f.c.URL("newOrder"), map[string]any{"identifiers": ids("acme-widgets.com")}, acmetest.Opts{Tamper: true})
			})},
			{"JWS with a MAC algorithm", "RFC 8555 §6.2", "badSignatureAlgorithm", "HS256", now(func() acmetest.Response {
				b := f.c.Sign(f.c.URL("newOrder"), map[string]any{"identifiers": ids("acme-widgets.com")}, acmetest.Opts{})
				return f.c.PostRaw(f.c.URL("newOrder"), withAlg(t, b, "HS256"))
			})},
			{"url header of another resource", "RFC 8555 §6.4", "unauthorized", "url", now(func() acmetest.Response {
				return f.c.Post(f.c.URL("newOrder"), map[string]any{"identifiers": ids("acme-widgets.com")}, acmetest.Opts{URL: f.c.URL("revokeCert")})
			})},
			{"replayed nonce", "RFC 8555 §6.5", "badNonce", "used before", func() thunk {
				n := f.c.Nonce()
				if r := f.c.Post(f.c.URL("newOrder"), map[string]any{"identifiers": ids("nothing.example.org")}, acmetest.Opts{Nonce: n}); r.Type() == "" {
					t.Fatalf("setup: %s", r.Raw)
				}
				return func() acmetest.Response {
					return f.c.Post(f.c.URL("newOrder"), map[string]any{"identifiers": ids("acme-widgets.com")}, acmetest.Opts{Nonce: n})
				}
			}},
			{"no EAB", "RFC 8555 §7.3.4", "externalAccountRequired", "External Account Binding", now(func() acmetest.Response {
				return other.Post(other.URL("newAccount"), map[string]any{"termsOfServiceAgreed": true}, acmetest.Opts{EmbedJWK: true})
			})},
			{"wrong EAB MAC", "RFC 8555 §7.3.4", "unauthorized", "MAC", func() thunk {
				_, hk := f.newEAB(t)
				kid2, _ := f.newEAB(t)
				return func() acmetest.Response { return other.Register(kid2, hk) }
			}},
			{"reused EAB key", "RFC 8555 §7.3.4", "unauthorized", "bound", now(func() acmetest.Response {
				return other.Register(f.kid, f.hmacKey)
			})},
			{"expired EAB key", "RFC 8555 §7.3.4; docs/design.md: 30 days unused", "unauthorized", "expired", func() thunk {
				kid, hk := f.newEAB(t)
				f.Clock.Advance(31 * 24 * time.Hour)
				return func() acmetest.Response { return other.Register(kid, hk) }
			}},
			{"name outside the template", "RFC 8555 §7.4", "rejectedIdentifier", "elsewhere.example.net", now(func() acmetest.Response {
				return f.newOrder(t, "www.acme-widgets.com", "elsewhere.example.net")
			})},
			{"validity beyond the template", "RFC 8555 §7.4 notAfter", "unauthorized", "validityDays", now(func() acmetest.Response {
				return f.c.Post(f.c.URL("newOrder"), map[string]any{"identifiers": ids("acme-widgets.com"),
					"notAfter": f.Clock.Now().Add(120 * 24 * time.Hour).Format(time.RFC3339)}, acmetest.Opts{})
			})},
			{"key type outside the template", "RFC 8555 §7.4 finalize", "badPublicKey", "key type", func() thunk {
				o := f.newOrder(t, "api.acme-widgets.com")
				if o.Status != 201 {
					t.Fatalf("setup order: %s", o.Raw)
				}
				k384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
				return func() acmetest.Response {
					return f.c.Post(o.Body["finalize"].(string), map[string]any{"csr": csr(t, k384, "api.acme-widgets.com")}, acmetest.Opts{})
				}
			}},
			{"CSR for other names", "RFC 8555 §7.4", "badCSR", "not", func() thunk {
				o := f.newOrder(t, "mail.acme-widgets.com")
				if o.Status != 201 {
					t.Fatalf("setup order: %s", o.Raw)
				}
				return func() acmetest.Response {
					return f.c.Post(o.Body["finalize"].(string), map[string]any{"csr": csr(t, key(t), "web.acme-widgets.com")}, acmetest.Opts{})
				}
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				do := tc.prep()
				before := f.events(t)
				r := do()
				if after := f.events(t); after != before {
					t.Fatalf("%s: the refused request wrote %d audit events", tc.rule, after-before)
				}
				if r.Status < 400 || r.Type() != "urn:ietf:params:acme:error:"+tc.typ || !strings.Contains(r.Detail(), tc.detail) {
					t.Fatalf("%s: want %s naming %q, got %d %s", tc.rule, tc.typ, tc.detail, r.Status, r.Raw)
				}
				if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Fatalf("%s: Content-Type %q", tc.rule, ct)
				}
				if r.Header.Get("Replay-Nonce") == "" {
					t.Fatalf("RFC 8555 §6.5: an error response carries a fresh nonce")
				}
			})
		}
	})
}

// withAlg rewrites the alg of a JWS's protected header (the signature no
// longer matters: the algorithm is refused first).
func withAlg(t *testing.T, jws []byte, alg string) []byte {
	t.Helper()
	s := string(jws)
	i := strings.Index(s, `"protected":"`) + len(`"protected":"`)
	j := strings.Index(s[i:], `"`)
	h, err := base64.RawURLEncoding.DecodeString(s[i : i+j])
	if err != nil {
		t.Fatal(err)
	}
	h2 := strings.Replace(string(h), `"alg":"ES256"`, `"alg":"`+alg+`"`, 1)
	return []byte(s[:i] + base64.RawURLEncoding.EncodeToString([]byte(h2)) + s[i+j:])
}

// digest is the dns-01 TXT value of a key authorization (RFC 8555 §8.4).
func digest(keyAuth string) string {
	s := sha256.Sum256([]byte(keyAuth))
	return base64.RawURLEncoding.EncodeToString(s[:])
}
