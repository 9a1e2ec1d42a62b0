// RSA keys under 1024 bits are refused by crypto/rsa unless this is set
// (Go 1.24): the tests must be able to offer such an account key, which
// vetca's own key policy refuses.
//go:debug rsa1024min=0

package acme_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/acme/acmetest"
)

// RFC 8555 §11.1: "when a server receives a finalize request, it MUST
// verify that the public key in a CSR is not the same as the public key
// of the account key pair used to authenticate that request". vetca
// refuses any ACME account's key: badCSR, the order stays ready, nothing
// is written or issued.
func TestFinalizeRefusesAccountKeyAsCertificateKey(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		other := f.another(t)
		o := readyOrder(t, f.c, "www.acme-widgets.com")
		for name, k := range map[string]crypto.Signer{"the key of the account that signs the finalize": f.c.Key, "another ACME account's key": other.Key} {
			before := f.events(t)
			fin := f.c.Post(o.Body["finalize"].(string), map[string]any{"csr": csr(t, k, "www.acme-widgets.com")}, acmetest.Opts{})
			if fin.Status != 400 || fin.Type() != probNS+"badCSR" || !strings.Contains(fin.Detail(), "must be different than account key") {
				t.Fatalf("RFC 8555 §11.1: a CSR for %s: want 400 badCSR, got %d %s", name, fin.Status, fin.Raw)
			}
			if after := f.events(t); after != before {
				t.Fatalf("RFC 8555 §11.1: the refused finalize wrote %d audit events", after-before)
			}
			if g := f.c.Post(o.Location, nil, acmetest.Opts{}); g.Body["status"] != "ready" {
				t.Fatalf("a CSR for %s left the order %s, not ready: %s", name, g.Body["status"], g.Raw)
			}
		}
		fin := f.c.Post(o.Body["finalize"].(string), map[string]any{"csr": csr(t, key(t), "www.acme-widgets.com")}, acmetest.Opts{})
		if fin.Status != 200 || fin.Body["status"] != "valid" {
			t.Fatalf("a CSR with a key of its own: %d %s", fin.Status, fin.Raw)
		}
	})
}

// BR §4.9.1.1(3), §6.1.1.3(4): a key reported compromised (here by
// revokeCert signed with it, RFC 8555 §7.6) is on the blocklist, and an
// ACME account whose key it is authenticates no more: every request it
// signs is 401 unauthorized naming the blocklist, and newAccount with the
// key is badPublicKey. Other accounts are untouched.
func TestBlockedAccountKeyAuthenticatesNobody(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		loose := key(t)
		cert, _ := f.issue(t, loose, "www.acme-widgets.com")
		// The certificate's key is also registered as an account key, as
		// a client that reuses its keys would.
		acct := acmetest.New(t, f.Server.URL, f.Cfg.PublicURL, loose)
		kid, hk := f.newEAB(t)
		if r := acct.Register(kid, hk); r.Status != 201 {
			t.Fatalf("register: %d %s", r.Status, r.Raw)
		}
		o := readyOrder(t, acct, "api.acme-widgets.com")
		rev := acct.Post(acct.URL("revokeCert"), map[string]any{"certificate": base64.RawURLEncoding.EncodeToString(cert.Raw)}, acmetest.Opts{EmbedJWK: true})
		if rev.Status != 200 {
			t.Fatalf("revoke with the certificate key: %d %s", rev.Status, rev.Raw)
		}
		for name, do := range map[string]func() acmetest.Response{
			"POST-as-GET of the account": func() acmetest.Response { return acct.Post(acct.KID, nil, acmetest.Opts{}) },
			"newOrder": func() acmetest.Response {
				return acct.Post(acct.URL("newOrder"), map[string]any{"identifiers": ids("www.acme-widgets.com")}, acmetest.Opts{})
			},
			"finalize with a fresh key": func() acmetest.Response {
				return acct.Post(o.Body["finalize"].(string), map[string]any{"csr": csr(t, key(t), "api.acme-widgets.com")}, acmetest.Opts{})
			},
		} {
			if r := do(); r.Status != 401 || r.Type() != probNS+"unauthorized" || !strings.Contains(r.Detail(), "compromised-key blocklist") {
				t.Fatalf("BR §4.9.1.1(3), §6.1.1.3(4): %s signed by a blocked account key: want 401 unauthorized naming the blocklist, got %d %s", name, r.Status, r.Raw)
			}
		}
		again := acct.Post(acct.URL("newAccount"), map[string]any{"onlyReturnExisting": true}, acmetest.Opts{EmbedJWK: true})
		fresh := acmetest.New(t, f.Server.URL, f.Cfg.PublicURL, loose)
		kid2, hk2 := f.newEAB(t)
		for name, r := range map[string]acmetest.Response{"newAccount for the existing account": again, "newAccount with a new EAB key": fresh.Register(kid2, hk2)} {
			if r.Status != 400 || r.Type() != probNS+"badPublicKey" || !strings.Contains(r.Detail(), "compromised-key blocklist") {
				t.Fatalf("BR §6.1.1.3(4): %s with a blocked key: want 400 badPublicKey, got %d %s", name, r.Status, r.Raw)
			}
		}
		if r := f.c.Post(f.c.KID, nil, acmetest.Opts{}); r.Status != 200 || r.Body["status"] != "valid" {
			t.Fatalf("an account whose key is not blocked is untouched: %d %s", r.Status, r.Raw)
		}
		if st, why := staffStatus(t, f, acct.KID); st != "revoked" || !strings.Contains(why, "compromised-key blocklist") {
			t.Errorf("staff see the account with a blocked key as %q (%q), want revoked naming the blocklist", st, why)
		}
		if st, _ := staffStatus(t, f, f.c.KID); st != "valid" {
			t.Errorf("staff see the account whose key is not blocked as %q", st)
		}
	})
}

// docs/design.md §15: an ACME account exists only through its EAB key, so
// revoking a bound key cuts off the ACME account it bound: every request
// it signs is 401 unauthorized naming the key (RFC 8555 §7.3.6, as for a
// deactivated account), and newAccount for its key no longer returns it.
func TestRevokedEABKeyCutsOffItsAccount(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		other := f.another(t)
		o := readyOrder(t, f.c, "www.acme-widgets.com")
		if r := f.Do("POST", "/api/v1/accounts/"+f.AccountID+"/eab-keys/"+f.kid+"/revoke", f.Carol, nil); r.Status != 200 || r.Body["status"] != "revoked" {
			t.Fatalf("revoke the bound EAB key: %d %s", r.Status, r.Raw)
		}
		for name, do := range map[string]func() acmetest.Response{
			"POST-as-GET of the account": func() acmetest.Response { return f.c.Post(f.c.KID, nil, acmetest.Opts{}) },
			"newOrder":                   func() acmetest.Response { return f.newOrder(t, "www.acme-widgets.com") },
			"finalize": func() acmetest.Response {
				return f.c.Post(o.Body["finalize"].(string), map[string]any{"csr": csr(t, key(t), "www.acme-widgets.com")}, acmetest.Opts{})
			},
			"newAccount for its key": func() acmetest.Response {
				return f.c.Post(f.c.URL("newAccount"), map[string]any{"onlyReturnExisting": true}, acmetest.Opts{EmbedJWK: true})
			},
		} {
			if r := do(); r.Status != 401 || r.Type() != probNS+"unauthorized" || !strings.Contains(r.Detail(), f.kid) || !strings.Contains(r.Detail(), "revoked") {
				t.Fatalf("docs/design.md §15: %s by an account whose EAB key was revoked: want 401 unauthorized naming %s, got %d %s", name, f.kid, r.Status, r.Raw)
			}
		}
		if r := other.Post(other.KID, nil, acmetest.Opts{}); r.Status != 200 || r.Body["status"] != "valid" {
			t.Fatalf("an account bound by another EAB key is untouched: %d %s", r.Status, r.Raw)
		}
		if st, why := staffStatus(t, f, f.c.KID); st != "revoked" || !strings.Contains(why, f.kid) {
			t.Errorf("staff see the cut-off account as %q (%q), want revoked naming %s", st, why, f.kid)
		}
		if st, why := staffStatus(t, f, other.KID); st != "valid" || why != "" {
			t.Errorf("staff see the account bound by another key as %q (%q)", st, why)
		}
	})
}

// staffStatus is how staff see the ACME account kid names, in the list of
// the vetca account's ACME accounts and on its own page (statusNow,
// cutOff), which must agree.
func staffStatus(t *testing.T, f *fixture, kid string) (string, string) {
	t.Helper()
	id := kid[strings.LastIndex(kid, "/")+1:]
	one := f.Do("GET", "/api/v1/acme-accounts/"+id+"/orders", f.Carol, nil)
	a, _ := one.Body["acmeAccount"].(map[string]any)
	st, _ := a["statusNow"].(string)
	why, _ := a["cutOff"].(string)
	list := f.Do("GET", "/api/v1/accounts/"+f.AccountID+"/acme-accounts", f.Carol, nil)
	items, _ := list.Body["acmeAccounts"].([]any)
	for _, it := range items {
		if m := it.(map[string]any); m["id"] == id && (m["statusNow"] != st || m["status"] != "valid") {
			t.Errorf("the list shows %s as %v/%v, its page as %s", id, m["status"], m["statusNow"], st)
		}
	}
	return st, why
}

func rsaKey(t *testing.T, bits int) crypto.Signer {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// An account key is held to the key policy for certificate keys (BR
// §6.1.5 sizes): newAccount with a weak one is badPublicKey naming why,
// before its JWS is verified, so nothing is written and the EAB key stays
// usable. Keys RFC 8555 §6.2 allows for accounts though the BR do not for
// certificates (Ed25519, P-521) are accepted.
func TestWeakAccountKeysAreRefused(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		kid, hk := f.newEAB(t)
		for _, tc := range []struct {
			name, rule, code string
			key              crypto.Signer
		}{
			{"RSA-512", "BR §6.1.5", "rsa_key_too_small", rsaKey(t, 512)},
			{"RSA-1024", "BR §6.1.5", "rsa_key_too_small", rsaKey(t, 1024)},
		} {
			c := acmetest.New(t, f.Server.URL, f.Cfg.PublicURL, tc.key)
			before := f.events(t)
			if r := c.Register(kid, hk); r.Status != 400 || r.Type() != probNS+"badPublicKey" || !strings.Contains(r.Detail(), tc.code) {
				t.Fatalf("%s: an %s account key: want 400 badPublicKey naming %s, got %d %s", tc.rule, tc.name, tc.code, r.Status, r.Raw)
			}
			if after := f.events(t); after != before {
				t.Fatalf("%s: the refused newAccount wrote %d audit events", tc.rule, after-before)
			}
		}
		_, ed, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		p521, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		for name, k := range map[string]crypto.Signer{"RSA-2048": rsaKey(t, 2048), "Ed25519": ed, "P-521": p521} {
			c := acmetest.New(t, f.Server.URL, f.Cfg.PublicURL, k)
			if name == "RSA-2048" {
				// The EAB key the refusals left unbound.
				if r := c.Register(kid, hk); r.Status != 201 {
					t.Fatalf("RFC 8555 §7.3: an RSA-2048 account key: %d %s", r.Status, r.Raw)
				}
				continue
			}
			k2, h2 := f.newEAB(t)
			if r := c.Register(k2, h2); r.Status != 201 {
				t.Fatalf("RFC 8555 §6.2: an %s account key: %d %s", name, r.Status, r.Raw)
			}
			readyOrder(t, c, "www.acme-widgets.com")
		}
	})
}

// nonceVariants are the other spellings of nonce that a lenient base64url
// decoder reads as the same bytes: the last character with other unused
// low bits (a 40-byte nonce leaves 4), and a line break inside.
func nonceVariants(t *testing.T, nonce string) []string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, nonce[len(nonce)-1])
	if last < 0 || len(nonce) != 54 {
		t.Fatalf("nonce %q is not 54 base64url characters", nonce)
	}
	var out []string
	for low := 0; low < 16; low++ {
		if v := last&^15 | low; v != last {
			out = append(out, nonce[:len(nonce)-1]+string(alphabet[v]))
		}
	}
	return append(out, nonce[:20]+"\n"+nonce[20:], nonce+"\r\n")
}

// RFC 8555 §6.5: a nonce is used once. Its variants, spellings that
// decode to the same bytes, are refused badNonce: that of a used nonce
// (which would be a second use) and that of an unused one, which stays
// usable as issued.
func TestNonceVariantsAreRefused(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		get := func(nonce string) acmetest.Response { return f.c.Post(f.c.KID, nil, acmetest.Opts{Nonce: nonce}) }
		used := f.c.Nonce()
		if r := get(used); r.Status != 200 {
			t.Fatalf("the nonce as issued: %d %s", r.Status, r.Raw)
		}
		unused := f.c.Nonce()
		for _, tc := range []struct{ name, nonce string }{{"a used nonce", used}, {"an unused nonce", unused}} {
			name := tc.name
			for _, v := range nonceVariants(t, tc.nonce) {
				if r := get(v); r.Status != 400 || r.Type() != probNS+"badNonce" {
					t.Fatalf("RFC 8555 §6.5: variant %q of %s: want 400 badNonce, got %d %s", v, name, r.Status, r.Raw)
				}
			}
		}
		if r := get(unused); r.Status != 200 {
			t.Fatalf("RFC 8555 §6.5: the unused nonce as issued, after its variants were refused: %d %s", r.Status, r.Raw)
		}
		if r := get(unused); r.Type() != probNS+"badNonce" {
			t.Fatalf("RFC 8555 §6.5: the nonce used twice: %d %s", r.Status, r.Raw)
		}
	})
}
