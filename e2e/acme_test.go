package e2e

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-acme/lego/v5/acme"
	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/go-acme/lego/v5/certificate"
	"github.com/go-acme/lego/v5/challenge"
	"github.com/go-acme/lego/v5/challenge/dns01"
	"github.com/go-acme/lego/v5/challenge/http01"
	"github.com/go-acme/lego/v5/lego"
	"github.com/go-acme/lego/v5/registration"

	"github.com/vetca/vetca/internal/dnstest"
	"github.com/vetca/vetca/internal/serial"
)

// acmeCA is a served instance whose account has an approved template
// for acme-widgets.com and its subdomains and an EAB key, and nothing
// validated yet: the ACME clients validate through challenges. Staff
// roles are apart as dual control asks: alice creates the organization
// and the template, bob and carol verify and approve, dave creates the
// EAB key.
type acmeCA struct {
	*Instance
	dns          *dnstest.Server
	httpPort     string
	orgID, acc   string
	bob, carol   string
	dave         string
	tmplID       string
	kid, hmacKey string
	directory    string
}

func freePort(t *testing.T) string {
	t.Helper()
	_, port, err := net.SplitHostPort(freeAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// setupACME serves an instance. With tls, its public URL is a TLS
// front on loopback (RFC 8555 §6.1 requires HTTPS, and lego insists), as
// a TLS-terminating proxy would be in production; the front's client
// trusts it.
func setupACME(t *testing.T, backend string, tls bool) (*acmeCA, *http.Client) {
	t.Helper()
	var in *Instance
	var front *httptest.Server
	if tls {
		frontAddr := freeAddr(t)
		in = newInstance(t, backend, nil, "https://"+frontAddr)
		l, err := net.Listen("tcp", frontAddr)
		if err != nil {
			t.Fatal(err)
		}
		front = httptest.NewUnstartedServer(nil)
		front.Listener = l
	} else {
		in = NewOnLoopback(t, backend)
	}
	c := &acmeCA{Instance: in, dns: dnstest.New(t), httpPort: freePort(t)}
	in.Serve("--dns-resolver", c.dns.Addr(), "--caa-identity", "pki.vetca-test.com", "--http-validation-port", c.httpPort, "--allow-private-validation-targets")
	alice := in.User("alice", "verifier")
	c.bob, c.carol, c.dave = in.User("bob", "verifier"), in.User("carol", "verifier", "compliance"), in.User("dave", "verifier")
	c.orgID, c.acc, _ = vettedAccount(t, in, alice, in.AdminToken, map[string]any{"organizationName": "Acme Widgets Inc.", "countryName": "US",
		"stateOrProvinceName": "California", "localityName": "San Francisco", "streetAddress": "1 Market Street", "postalCode": "94105"}, c.bob, c.carol)
	r := in.Do("POST", "/api/v1/templates", alice, map[string]any{"accountId": c.acc, "organizationId": c.orgID,
		"dnsNames": []string{"acme-widgets.com", "*.acme-widgets.com"}, "keyTypes": []string{"ecdsa-p256", "rsa-2048"}, "maxValidityDays": 90})
	if r.Status != 201 {
		t.Fatalf("template: %d %s", r.Status, r.Raw)
	}
	c.tmplID = r.Body["id"].(string)
	for _, tok := range []string{c.bob, c.carol} {
		if a := in.Do("POST", "/api/v1/templates/"+c.tmplID+"/approve", tok, map[string]any{"templateHash": r.Body["templateHash"]}); a.Status != 200 {
			t.Fatalf("approve template: %d %s", a.Status, a.Raw)
		}
	}
	c.kid, c.hmacKey = c.newEAB(t)
	c.directory = in.URL + "/acme/directory"
	if front == nil {
		return c, http.DefaultClient
	}
	target, _ := url.Parse(in.URL)
	front.Config.Handler = httputil.NewSingleHostReverseProxy(target)
	front.StartTLS()
	t.Cleanup(front.Close)
	c.directory = in.PublicURL + "/acme/directory"
	return c, front.Client()
}

func (c *acmeCA) newEAB(t *testing.T) (string, string) {
	t.Helper()
	r := c.Do("POST", "/api/v1/accounts/"+c.acc+"/eab-keys", c.dave, nil)
	if r.Status != 201 {
		t.Fatalf("eab key: %d %s", r.Status, r.Raw)
	}
	return r.Body["kid"].(string), r.Body["hmacKey"].(string)
}

// checkOV checks that a certificate carries the verified organization
// version as its subject and the names asked, and that no person
// approved its order: the vetca order was placed under the template.
func (c *acmeCA) checkOV(t *testing.T, pemChain []byte, names ...string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode(pemChain)
	if b == nil {
		t.Fatalf("no certificate in %q", pemChain)
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	s := cert.Subject
	if strings.Join(s.Organization, "") != "Acme Widgets Inc." || strings.Join(s.Country, "") != "US" || strings.Join(s.Province, "") != "California" ||
		strings.Join(s.Locality, "") != "San Francisco" || strings.Join(s.StreetAddress, "") != "1 Market Street" || strings.Join(s.PostalCode, "") != "94105" {
		t.Fatalf("subject %v is not the verified organization version", s)
	}
	for _, n := range names {
		if err := cert.VerifyHostname(strings.Replace(n, "*", "x", 1)); err != nil {
			t.Fatalf("the certificate does not name %s: %v", n, err)
		}
	}
	rec := c.Do("GET", "/api/v1/certificates/"+serial.Hex(cert.SerialNumber), c.bob, nil)
	if rec.Status != 200 {
		t.Fatalf("certificate %s: %d %s", serial.Hex(cert.SerialNumber), rec.Status, rec.Raw)
	}
	orderID, _ := rec.Body["orderId"].(string)
	o := c.Do("GET", "/api/v1/orders/"+orderID, c.bob, nil)
	tmpl, _ := o.Body["template"].(map[string]any)
	if o.Status != 200 || len(o.Body["approvals"].([]any)) != 0 || tmpl["templateId"] != c.tmplID {
		t.Fatalf("the order was not placed under the template without per-order approval: %s", o.Raw)
	}
	return cert
}

type legoUser struct {
	key crypto.Signer
	reg *acme.ExtendedAccount
}

func (u *legoUser) GetEmail() string                       { return "ops@acme-widgets.com" }
func (u *legoUser) GetRegistration() *acme.ExtendedAccount { return u.reg }
func (u *legoUser) GetPrivateKey() crypto.Signer           { return u.key }

// dnsProvider publishes dns-01 records in the test's DNS server, which is
// vetca's resolver.
type dnsProvider struct{ dns *dnstest.Server }

func (p dnsProvider) Present(ctx context.Context, domain, _, keyAuth string) error {
	info := dns01.GetChallengeInfo(ctx, domain, keyAuth)
	p.dns.AddTXT(strings.TrimSuffix(info.EffectiveFQDN, "."), info.Value)
	return nil
}

func (p dnsProvider) CleanUp(context.Context, string, string, string) error { return nil }

// Timeout keeps lego from sleeping its default polling interval.
func (p dnsProvider) Timeout() (time.Duration, time.Duration) {
	return 10 * time.Second, 50 * time.Millisecond
}

// lego (as a library) registers with EAB, gets an OV certificate through
// http-01 and another through dns-01, renews the first (RFC 9773 replaces),
// and revokes it, against `vetca serve` on loopback, with no per-order
// approval: the approved template covers them.
func TestLegoObtainsRenewsAndRevokes(t *testing.T) {
	t.Setenv("LEGO_DISABLE_CNAME_SUPPORT", "true")
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			c, httpClient := setupACME(t, backend, true)
			ctx := context.Background()
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			u := &legoUser{key: key}
			cfg := lego.NewConfig(u)
			cfg.CADirURL = c.directory
			cfg.HTTPClient = httpClient
			client, err := lego.NewClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if u.reg, err = client.Registration.RegisterWithExternalAccountBinding(ctx, registration.RegisterEABOptions{
				TermsOfServiceAgreed: true, Kid: c.kid, HmacEncoded: c.hmacKey}); err != nil {
				t.Fatalf("register with EAB: %v", err)
			}

			// http-01: lego's own server on the validation port.
			c.dns.AddA("www.acme-widgets.com", "127.0.0.1")
			if err := client.Challenge.SetHTTP01Provider(http01.NewProviderServer("127.0.0.1", c.httpPort)); err != nil {
				t.Fatal(err)
			}
			res, err := client.Certificate.Obtain(ctx, certificate.ObtainRequest{Domains: []string{"www.acme-widgets.com"}, Bundle: true, KeyType: certcrypto.EC256})
			if err != nil {
				t.Fatalf("obtain through http-01: %v", err)
			}
			first := c.checkOV(t, res.Certificate, "www.acme-widgets.com")
			// RFC 9773: a healthy certificate is not due for renewal yet.
			if info, err := client.Certificate.GetRenewalInfo(ctx, first); err != nil {
				t.Fatalf("renewal info: %v", err)
			} else if at := info.ShouldRenewAt(time.Now(), 0); at != nil {
				t.Fatalf("a new certificate is not due for renewal: window %+v", info.SuggestedWindow)
			}

			// dns-01 for a wildcard: only dns-01 is offered for it.
			client.Challenge.Remove(challenge.HTTP01)
			if err := client.Challenge.SetDNS01Provider(dnsProvider{c.dns}, dns01.PropagationWait(0, true)); err != nil {
				t.Fatal(err)
			}
			wild, err := client.Certificate.Obtain(ctx, certificate.ObtainRequest{Domains: []string{"*.api.acme-widgets.com"}, Bundle: true, KeyType: certcrypto.EC256})
			if err != nil {
				t.Fatalf("obtain through dns-01: %v", err)
			}
			c.checkOV(t, wild.Certificate, "*.api.acme-widgets.com")

			// Renewal reuses the validation of www (BR §4.2.1).
			renewed, err := client.Certificate.Renew(ctx, *res, &certificate.RenewOptions{Bundle: true, UseARICertID: true, KeyType: certcrypto.EC256})
			if err != nil {
				t.Fatalf("renew: %v", err)
			}
			second := c.checkOV(t, renewed.Certificate, "www.acme-widgets.com")
			if second.SerialNumber.Cmp(first.SerialNumber) == 0 {
				t.Fatal("the renewal is the same certificate")
			}

			reason := uint(4) // superseded
			if err := client.Certificate.RevokeWithReason(ctx, res.Certificate, &reason); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			rec := c.Do("GET", "/api/v1/certificates/"+serial.Hex(first.SerialNumber), c.carol, nil)
			if rev, _ := rec.Body["revocation"].(map[string]any); rev["reason"] != "superseded" {
				t.Fatalf("revocation through lego: %s", rec.Raw)
			}
			// A revoked certificate is due for renewal at once.
			if info, err := client.Certificate.GetRenewalInfo(ctx, first); err != nil {
				t.Fatalf("renewal info: %v", err)
			} else if at := info.ShouldRenewAt(time.Now(), 0); at == nil {
				t.Fatalf("a revoked certificate is due for renewal now: window %+v", info.SuggestedWindow)
			}
			if out, _, code := c.CLI("audit", "verify"); code != 0 {
				t.Fatalf("audit verify after ACME issuance: %s", out)
			}
		})
	}
}

// Debian's certbot registers with --server, --eab-kid and --eab-hmac-key
// and gets an OV certificate answering http-01 with --standalone on the
// validation port, another through dns-01 (--manual with an auth hook),
// renews the first, and revokes the renewed one with its own key
// (certbot revoke --key-path): keyCompromise.
func TestCertbotObtainsAndRevokes(t *testing.T) {
	bin, err := exec.LookPath("certbot")
	if err != nil {
		if os.Getenv("VETCA_TEST_REQUIRE_ALL") != "" {
			t.Fatalf("certbot is required (.ci/run installs it): %v", err)
		}
		t.Skip("certbot is not installed (.ci/run installs it)")
	}
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			c, _ := setupACME(t, backend, false)
			dir := t.TempDir()
			c.dns.AddA("shop.acme-widgets.com", "127.0.0.1")
			common := []string{"--server", c.directory, "--config-dir", filepath.Join(dir, "config"), "--work-dir", filepath.Join(dir, "work"),
				"--logs-dir", filepath.Join(dir, "logs"), "--non-interactive"}
			run := func(args ...string) string {
				t.Helper()
				cmd := exec.Command(bin, append(args, common...)...)
				start := time.Now()
				out, err := cmd.CombinedOutput()
				t.Logf("certbot %s: %s", args[0], time.Since(start).Round(time.Millisecond))
				if err != nil {
					t.Fatalf("certbot %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				return string(out)
			}
			run("certonly", "--standalone", "--http-01-port", c.httpPort, "--http-01-address", "127.0.0.1", "--agree-tos", "-m", "ops@acme-widgets.com",
				"--eab-kid", c.kid, "--eab-hmac-key="+c.hmacKey, // a base64url key may begin with "-"
				"--key-type", "ecdsa", "--elliptic-curve", "secp256r1", "-d", "shop.acme-widgets.com")
			live := filepath.Join(dir, "config", "live", "shop.acme-widgets.com")
			chain, err := os.ReadFile(filepath.Join(live, "fullchain.pem"))
			if err != nil {
				t.Fatal(err)
			}
			first := c.checkOV(t, chain, "shop.acme-widgets.com")

			// dns-01 through --manual with an auth hook that publishes the
			// TXT record in the test's DNS server (through a loopback
			// endpoint of this test).
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.dns.AddTXT("_acme-challenge."+strings.TrimPrefix(r.URL.Query().Get("d"), "*."), r.URL.Query().Get("v"))
			}))
			defer hook.Close()
			script := filepath.Join(dir, "auth-hook")
			if err := os.WriteFile(script, []byte("#!/usr/bin/env python3\nimport os, urllib.parse, urllib.request\n"+
				"urllib.request.urlopen('"+hook.URL+"/?' + urllib.parse.urlencode({'d': os.environ['CERTBOT_DOMAIN'], 'v': os.environ['CERTBOT_VALIDATION']})).read()\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			run("certonly", "--manual", "--preferred-challenges", "dns", "--manual-auth-hook", script, "--key-type", "ecdsa",
				"--elliptic-curve", "secp256r1", "-d", "*.api.acme-widgets.com", "--cert-name", "api-wildcard")
			wild, err := os.ReadFile(filepath.Join(dir, "config", "live", "api-wildcard", "fullchain.pem"))
			if err != nil {
				t.Fatal(err)
			}
			c.checkOV(t, wild, "*.api.acme-widgets.com")

			// Renewal, forced now: the validation of shop is reused.
			run("renew", "--cert-name", "shop.acme-widgets.com", "--force-renewal", "--no-random-sleep-on-renew", "--http-01-port", c.httpPort, "--http-01-address", "127.0.0.1")
			renewed, err := os.ReadFile(filepath.Join(live, "fullchain.pem"))
			if err != nil {
				t.Fatal(err)
			}
			cert := c.checkOV(t, renewed, "shop.acme-widgets.com")
			if cert.SerialNumber.Cmp(first.SerialNumber) == 0 {
				t.Fatal("certbot renew kept the same certificate")
			}
			run("revoke", "--cert-path", filepath.Join(live, "cert.pem"), "--key-path", filepath.Join(live, "privkey.pem"), "--no-delete-after-revoke")
			rec := c.Do("GET", "/api/v1/certificates/"+serial.Hex(cert.SerialNumber), c.carol, nil)
			if rev, _ := rec.Body["revocation"].(map[string]any); rev["reason"] != "keyCompromise" {
				t.Fatalf("a revocation signed by the certificate key is keyCompromise: %s", rec.Raw)
			}
		})
	}
}
