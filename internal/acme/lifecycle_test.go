package acme_test

import (
	"context"
	"encoding/base64"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/acme/acmetest"
	"github.com/vetca/vetca/internal/apptest"
)

// challengeOf returns the challenge of type typ of an order's first
// authorization.
func (f *fixture) challengeOf(t *testing.T, order acmetest.Response, typ string) (authzURL string, chall map[string]any) {
	t.Helper()
	authzURL = order.Body["authorizations"].([]any)[0].(string)
	a := f.c.Post(authzURL, nil, acmetest.Opts{})
	if a.Status != 200 || a.Body["status"] != "pending" {
		t.Fatalf("authorization: %d %s", a.Status, a.Raw)
	}
	for _, c := range a.Body["challenges"].([]any) {
		if m := c.(map[string]any); m["type"] == typ {
			return authzURL, m
		}
	}
	t.Fatalf("no %s challenge: %s", typ, a.Raw)
	return "", nil
}

// evidence reads the domain validation a challenge created: its method,
// BR section and the number of attempts stored.
func (f *fixture) evidence(t *testing.T, domain string) (method, section string, attempts int) {
	t.Helper()
	ctx := context.Background()
	var id string
	if err := f.App.DB.QueryRow(ctx, `SELECT id, method, method_section FROM domain_validations WHERE domain = ? AND status = 'valid'`, domain).Scan(&id, &method, &section); err != nil {
		t.Fatalf("no valid domain validation of %s: %v", domain, err)
	}
	if err := f.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM domain_validation_attempts WHERE validation_id = ?`, id).Scan(&attempts); err != nil {
		t.Fatal(err)
	}
	return method, section, attempts
}

// dns-01 (BR §3.2.2.4.7) and http-01 (BR §3.2.2.4.19) are domain
// validations like the portal's: checked through vetca's resolver,
// stored as evidence with the method and BR section, and then reusable.
// A wrong answer makes the challenge, the authorization and the order
// invalid, with an RFC 8555 problem.
func TestChallenges(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			var mu sync.Mutex
			served := map[string]string{}
			web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				defer mu.Unlock()
				body, ok := served[r.URL.Path]
				if !ok {
					http.NotFound(w, r)
					return
				}
				_, _ = w.Write([]byte(body + "\n"))
			}))
			defer web.Close()
			_, portStr, _ := net.SplitHostPort(strings.TrimPrefix(web.URL, "http://"))
			port, _ := strconv.Atoi(portStr)
			f := setup(t, b, apptest.WithHTTPValidationPort(port), apptest.WithPrivateValidationTargets())
			f.register(t)
			thumb := acmetest.Thumbprint(t, f.c.Key)
			cases := []struct {
				name, typ, domain, method, section string
				publish                            func(token string)
			}{
				{"dns-01, BR §3.2.2.4.7", "dns-01", "acme-gadgets.com", "acme-dns-01", "3.2.2.4.7", func(token string) {
					f.DNS.AddTXT("_acme-challenge.acme-gadgets.com", digest(token+"."+thumb))
				}},
				{"http-01, BR §3.2.2.4.19", "http-01", "shop.acme-gadgets.org", "acme-http-01", "3.2.2.4.19", func(token string) {
					f.DNS.AddA("shop.acme-gadgets.org", "127.0.0.1")
					mu.Lock()
					served["/.well-known/acme-challenge/"+token] = token + "." + thumb
					mu.Unlock()
				}},
			}
			// shop.acme-gadgets.org needs a template too.
			r := f.Do("POST", "/api/v1/templates", f.Alice, map[string]any{"accountId": f.AccountID, "organizationId": f.OrgID,
				"dnsNames": []string{"shop.acme-gadgets.org", "bad.acme-gadgets.org"}, "keyTypes": []string{"ecdsa-p256"}, "maxValidityDays": 90})
			if r.Status != 201 {
				t.Fatalf("template: %d %s", r.Status, r.Raw)
			}
			for _, tok := range []string{f.Bob, f.Dave} {
				if a := f.Do("POST", "/api/v1/templates/"+r.Body["id"].(string)+"/approve", tok, map[string]any{"templateHash": r.Body["templateHash"]}); a.Status != 200 {
					t.Fatalf("approve: %d %s", a.Status, a.Raw)
				}
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					o := f.newOrder(t, tc.domain)
					if o.Status != 201 || o.Body["status"] != "pending" {
						t.Fatalf("a name never validated starts pending: %d %s", o.Status, o.Raw)
					}
					_, ch := f.challengeOf(t, o, tc.typ)
					tc.publish(ch["token"].(string))
					done := f.c.Post(ch["url"].(string), map[string]any{}, acmetest.Opts{})
					if done.Status != 200 || done.Body["status"] != "valid" {
						t.Fatalf("challenge: %d %s", done.Status, done.Raw)
					}
					if m, sec, n := f.evidence(t, tc.domain); m != tc.method || sec != tc.section || n != 1 {
						t.Fatalf("evidence: method %s §%s with %d attempts; want %s §%s with 1", m, sec, n, tc.method, tc.section)
					}
					g := f.c.Post(o.Location, nil, acmetest.Opts{})
					if g.Body["status"] != "ready" {
						t.Fatalf("the order is not ready after its only challenge: %s", g.Raw)
					}
					// The validation is reused by the next order (BR §4.2.1).
					if again := f.newOrder(t, tc.domain); again.Body["status"] != "ready" {
						t.Fatalf("a reusable validation must make the next order ready at once: %s", again.Raw)
					}
				})
			}
			t.Run("a wrong key authorization", func(t *testing.T) {
				o := f.newOrder(t, "bad.acme-gadgets.org")
				_, ch := f.challengeOf(t, o, "http-01")
				f.DNS.AddA("bad.acme-gadgets.org", "127.0.0.1")
				mu.Lock()
				served["/.well-known/acme-challenge/"+ch["token"].(string)] = ch["token"].(string) + ".not-the-account-key-thumbprint-xxxxxxxxxxxx"
				mu.Unlock()
				done := f.c.Post(ch["url"].(string), map[string]any{}, acmetest.Opts{})
				perr, _ := done.Body["error"].(map[string]any)
				if done.Body["status"] != "invalid" || perr["type"] != "urn:ietf:params:acme:error:incorrectResponse" {
					t.Fatalf("RFC 8555 §8.3: a wrong body is incorrectResponse: %s", done.Raw)
				}
				if g := f.c.Post(o.Location, nil, acmetest.Opts{}); g.Body["status"] != "invalid" {
					t.Fatalf("RFC 8555 §7.1.6: the order is invalid: %s", g.Raw)
				}
				// Nothing was validated for it.
				if _, ok, _ := f.App.Domains.ReusableFor(context.Background(), f.App.DB, f.AccountID, "bad.acme-gadgets.org", f.Clock.Now()); ok {
					t.Fatal("a failed challenge left a reusable validation")
				}
			})
		})
	}
}

// A new verified organization version voids the template's approvals
// (docs/design.md §4): the next ACME order is refused until two verifiers
// approve the template again, and then it issues with the new subject.
func TestTemplateVoidedByNewOrganizationVersion(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		if cert, _ := f.issue(t, key(t), "www.acme-widgets.com"); cert.Subject.Locality[0] != "San Francisco" {
			t.Fatalf("locality %v", cert.Subject.Locality)
		}
		f.Clock.Advance(24 * time.Hour)
		if p := f.Do("POST", "/api/v1/organizations/"+f.OrgID+"/versions", f.Alice, map[string]any{"localityName": "Oakland"}); p.Status != 201 {
			t.Fatalf("propose: %d %s", p.Status, p.Raw)
		}
		f.Clock.Advance(time.Hour)
		f.VerifyVersion(2, f.Bob, f.Dave)
		f.Clock.Advance(time.Hour)
		r := f.newOrder(t, "www.acme-widgets.com")
		if r.Type() != "urn:ietf:params:acme:error:rejectedIdentifier" || !strings.Contains(r.Detail(), "waits for 2 independent approvals") {
			t.Fatalf("a template voided by a new organization version must refuse the order: %d %s", r.Status, r.Raw)
		}
		if g := f.Do("GET", "/api/v1/templates/"+f.tmplID, f.Bob, nil); g.Body["status"] != "pending_approval" {
			t.Fatalf("the template is not pending approval again: %s", g.Raw)
		}
		f.approveTemplate(t)
		cert, _ := f.issue(t, key(t), "www.acme-widgets.com")
		if cert.Subject.Locality[0] != "Oakland" {
			t.Fatalf("the certificate must carry the new verified version's locality, got %v", cert.Subject.Locality)
		}
	})
}

// revokeCert signed by the certificate's key proves that key is loose:
// keyCompromise, whatever reason was named, and the key is blocked, so an
// order finalized with it is refused (RFC 8555 §7.6; BR §4.9.1.1(3),
// §6.1.1.3(4)). Signed by the account, the subscriber's reason stands;
// revoking again is alreadyRevoked.
func TestRevokeCert(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		certKey := key(t)
		cert, _ := f.issue(t, certKey, "www.acme-widgets.com")
		der := base64.RawURLEncoding.EncodeToString(cert.Raw)
		stranger := acmetest.New(t, f.Server.URL, f.Cfg.PublicURL, key(t))
		if r := stranger.Post(stranger.URL("revokeCert"), map[string]any{"certificate": der}, acmetest.Opts{EmbedJWK: true}); r.Type() != "urn:ietf:params:acme:error:unauthorized" {
			t.Fatalf("a key that is neither the certificate's nor an account's: %d %s", r.Status, r.Raw)
		}
		holder := acmetest.New(t, f.Server.URL, f.Cfg.PublicURL, certKey)
		if r := holder.Post(holder.URL("revokeCert"), map[string]any{"certificate": der, "reason": 4}, acmetest.Opts{EmbedJWK: true}); r.Status != 200 {
			t.Fatalf("revoke with the certificate key: %d %s", r.Status, r.Raw)
		}
		serial := strings.ToLower(cert.SerialNumber.Text(16))
		c := f.Do("GET", "/api/v1/certificates/"+serial, f.Carol, nil)
		rev, _ := c.Body["revocation"].(map[string]any)
		if rev["reason"] != "keyCompromise" {
			t.Fatalf("BR §4.9.1.1(3): revoked with keyCompromise, got %s", c.Raw)
		}
		if r := holder.Post(holder.URL("revokeCert"), map[string]any{"certificate": der}, acmetest.Opts{EmbedJWK: true}); r.Type() != "urn:ietf:params:acme:error:alreadyRevoked" {
			t.Fatalf("RFC 8555 §7.6: %d %s", r.Status, r.Raw)
		}
		o := f.newOrder(t, "api.acme-widgets.com")
		fin := f.c.Post(o.Body["finalize"].(string), map[string]any{"csr": csr(t, certKey, "api.acme-widgets.com")}, acmetest.Opts{})
		if fin.Type() != "urn:ietf:params:acme:error:badPublicKey" || !strings.Contains(fin.Detail(), "compromised") {
			t.Fatalf("BR §6.1.1.3(4): a blocked key must be refused: %d %s", fin.Status, fin.Raw)
		}

		other, _ := f.issue(t, key(t), "www.acme-widgets.com")
		oder := base64.RawURLEncoding.EncodeToString(other.Raw)
		if r := f.c.Post(f.c.URL("revokeCert"), map[string]any{"certificate": oder, "reason": 6}, acmetest.Opts{}); r.Type() != "urn:ietf:params:acme:error:badRevocationReason" {
			t.Fatalf("BR §7.2.2: certificateHold is not a subscriber's reason: %d %s", r.Status, r.Raw)
		}
		if r := f.c.Post(f.c.URL("revokeCert"), map[string]any{"certificate": oder, "reason": 4}, acmetest.Opts{}); r.Status != 200 {
			t.Fatalf("revoke by the account: %d %s", r.Status, r.Raw)
		}
		c = f.Do("GET", "/api/v1/certificates/"+strings.ToLower(other.SerialNumber.Text(16)), f.Carol, nil)
		if rev, _ := c.Body["revocation"].(map[string]any); rev["reason"] != "superseded" {
			t.Fatalf("the subscriber's reason stands: %s", c.Raw)
		}
		if r := f.c.Post(f.c.URL("revokeCert"), map[string]any{"certificate": oder, "reason": 4}, acmetest.Opts{}); r.Type() != "urn:ietf:params:acme:error:alreadyRevoked" {
			t.Fatalf("RFC 8555 §7.6: %d %s", r.Status, r.Raw)
		}
	})
}
