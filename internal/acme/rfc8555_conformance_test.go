package acme_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/acme/acmetest"
)

// splice re-sends a captured JWS (signature over its own protected header)
// with a second, unsigned protected header under a case variant of the
// member name "protected": the header the server reads is not the header
// the signature covers.
func splice(t *testing.T, c *acmetest.Client, captured []byte, url string) []byte {
	t.Helper()
	var f map[string]string
	if err := json.Unmarshal(captured, &f); err != nil {
		t.Fatal(err)
	}
	h, _ := json.Marshal(map[string]string{"alg": "ES256", "kid": c.KID, "nonce": c.Nonce(), "url": url})
	// Member order matters: encoding/json keeps the last case-insensitive
	// match, go-jose reads only the exact, lower-case "protected".
	return []byte(`{"protected":"` + f["protected"] + `","payload":"` + f["payload"] + `","signature":"` + f["signature"] +
		`","Protected":"` + base64.RawURLEncoding.EncodeToString(h) + `"}`)
}

// RFC 8555 §6.4, §6.5: a JWS is bound to one URL and one nonce. A JWS the
// account signed once (here, deactivating an authorization) must not be
// replayable, with a fresh nonce, to another URL (here, its account URL).
func TestSignedRequestCannotBeReplayedWithAnUnsignedHeader(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		o := readyOrder(t, f.c, "www.acme-widgets.com")
		az := authzURL(t, o)
		captured := f.c.Sign(az, map[string]any{"status": "deactivated"}, acmetest.Opts{})
		if d := f.c.PostRaw(az, captured); d.Status != 200 {
			t.Fatalf("deactivate authz: %d %s", d.Status, d.Raw)
		}
		// Same JWS, same URL, a fresh nonce in an unsigned header: a replay.
		if r := f.c.PostRaw(az, splice(t, f.c, captured, az)); r.Status < 400 {
			t.Errorf("RFC 8555 §6.5: a replayed JWS was accepted at its own URL: %d %s", r.Status, r.Raw)
		}
		// Same JWS sent to the account URL: deactivates the account.
		r := f.c.PostRaw(f.c.KID, splice(t, f.c, captured, f.c.KID))
		if r.Status < 400 {
			t.Errorf("RFC 8555 §6.4/§6.5: a JWS signed for %s was executed at %s: %d %s", az, f.c.KID, r.Status, r.Raw)
		}
		if g := f.c.Post(f.c.KID, nil, acmetest.Opts{}); g.Status != 200 {
			t.Errorf("the account no longer works after the replay: %d %s", g.Status, g.Raw)
		}
	})
}

// RFC 8555 §7.3.6: "If the server receives a POST or POST-as-GET from a
// deactivated account, it MUST return an error response with status code
// 401 (Unauthorized) and type urn:ietf:params:acme:error:unauthorized."
// newAccount signed with the deactivated account's key (jwk) is such a
// POST; it must not answer 200 as for a usable account.
func TestNewAccountWithADeactivatedAccountsKeyIsUnauthorized(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		if r := deactivate(f.c, f.c.KID); r.Status != 200 {
			t.Fatalf("deactivate: %d %s", r.Status, r.Raw)
		}
		for _, p := range []map[string]any{{"onlyReturnExisting": true}, {"termsOfServiceAgreed": true}} {
			r := f.c.Post(f.c.URL("newAccount"), p, acmetest.Opts{EmbedJWK: true})
			if r.Status != 401 || r.Type() != probNS+"unauthorized" {
				t.Errorf("RFC 8555 §7.3.6: newAccount %v with a deactivated account's key: want 401 unauthorized, got %d %s", p, r.Status, r.Raw)
			}
		}
	})
}

// RFC 8555 §7.6: "If a request contains a disallowed reasonCode, then the
// server MUST reject it with the error type badRevocationReason." vetca
// disallows 6 (certificateHold) when an account signs; signed with the
// certificate's key the same reason must be refused too, not accepted
// and replaced with keyCompromise.
func TestRevokeByCertificateKeyRefusesADisallowedReason(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		k := key(t)
		cert, _ := f.issue(t, k, "www.acme-widgets.com")
		body := map[string]any{"certificate": base64.RawURLEncoding.EncodeToString(cert.Raw), "reason": 6}
		byAcct := f.c.Post(f.c.URL("revokeCert"), body, acmetest.Opts{})
		if byAcct.Type() != probNS+"badRevocationReason" {
			t.Fatalf("by account, reason 6: %d %s", byAcct.Status, byAcct.Raw)
		}
		byKey := f.c.Post(f.c.URL("revokeCert"), body, acmetest.Opts{EmbedJWK: true, Key: k})
		if byKey.Status != 400 || byKey.Type() != probNS+"badRevocationReason" {
			t.Fatalf("RFC 8555 §7.6: by the certificate key, reason 6 (disallowed): want 400 badRevocationReason, got %d %s (revocation reason now %q)",
				byKey.Status, byKey.Raw, f.revocationReason(t, cert))
		}
	})
}

// RFC 8555 §6.3, §7.4.2, §7.1.2.1: the certificate and the orders list are
// fetched with POST-as-GET (an empty payload), as vetca already insists
// for orders, the directory and newNonce; a POST with a JSON payload is
// not a POST-as-GET and must be refused (malformed), not answered.
func TestCertificateAndOrdersListArePostAsGetOnly(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		_, fin := f.issue(t, key(t), "www.acme-widgets.com")
		for name, url := range map[string]string{"certificate": fin.Body["certificate"].(string), "orders list": f.c.KID + "/orders"} {
			r := f.c.Post(url, map[string]any{"anything": 1}, acmetest.Opts{})
			if r.Status != 400 || r.Type() != probNS+"malformed" {
				t.Errorf("RFC 8555 §6.3: %s with a non-empty payload: want 400 malformed, got %d %s", name, r.Status, r.Header.Get("Content-Type"))
			}
		}
	})
}

// RFC 8555 §6.2: the signature is checked before anything the account
// says is acted on. A request naming a deactivated account by kid but
// signed by another key, or with its signature broken, is refused for
// its signature, as any unverified request is: only the holder of the
// account's key learns that the account is deactivated (§7.3.6, 401).
func TestAccountStatusIsToldOnlyToItsKey(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		if r := deactivate(f.c, f.c.KID); r.Status != 200 {
			t.Fatalf("deactivate: %d %s", r.Status, r.Raw)
		}
		url := f.c.URL("newOrder")
		body := map[string]any{"identifiers": ids("www.acme-widgets.com")}
		for name, o := range map[string]acmetest.Opts{"signed by another key": {Key: key(t)}, "with a broken signature": {Tamper: true}} {
			r := f.c.Post(url, body, o)
			if r.Status != 400 || r.Type() != probNS+"malformed" || strings.Contains(r.Detail(), "deactivated") {
				t.Errorf("RFC 8555 §6.2: a request for a deactivated account %s: want 400 malformed for the signature, got %d %s", name, r.Status, r.Raw)
			}
		}
		if r := f.c.Post(url, body, acmetest.Opts{}); r.Status != 401 || r.Type() != probNS+"unauthorized" || !strings.Contains(r.Detail(), "deactivated") {
			t.Errorf("RFC 8555 §7.3.6: a request signed by the deactivated account's key: want 401 unauthorized, got %d %s", r.Status, r.Raw)
		}
	})
}

// RFC 8555 §7.1.6: expired is a final state of an authorization; a client
// deactivates a pending or valid one (§7.5.2). Deactivating one past its
// expiry is refused, and it stays expired.
func TestExpiredAuthorizationCannotBeDeactivated(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		url := authzURL(t, readyOrder(t, f.c, "www.acme-widgets.com"))
		a := f.c.Post(url, nil, acmetest.Opts{})
		expires, err := time.Parse(time.RFC3339, a.Body["expires"].(string))
		if err != nil {
			t.Fatalf("authorization expires: %s", a.Raw)
		}
		f.Clock.Advance(expires.Sub(f.Clock.Now()) + time.Hour)
		if d := deactivate(f.c, url); d.Status != 403 || d.Type() != probNS+"unauthorized" || !strings.Contains(d.Detail(), "expired") {
			t.Errorf("RFC 8555 §7.1.6: deactivating an expired authorization: want 403 unauthorized, got %d %s", d.Status, d.Raw)
		}
		if g := f.c.Post(url, nil, acmetest.Opts{}); g.Body["status"] != "expired" {
			t.Errorf("RFC 8555 §7.1.6: the expired authorization must stay expired: %s", g.Raw)
		}
	})
}

// eabWithAlg is the client's EAB binding with alg in its protected header
// (its MAC no longer matters: the algorithm is refused first).
func eabWithAlg(t *testing.T, c *acmetest.Client, kid, hmacKey, url, alg string) json.RawMessage {
	t.Helper()
	var f map[string]string
	if err := json.Unmarshal(c.EAB(kid, hmacKey, url), &f); err != nil {
		t.Fatal(err)
	}
	h, err := base64.RawURLEncoding.DecodeString(f["protected"])
	if err != nil {
		t.Fatal(err)
	}
	f["protected"] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(h), `"alg":"HS256"`, `"alg":"`+alg+`"`, 1)))
	b, _ := json.Marshal(f)
	return b
}

// RFC 8555 §6.2, §7.3.4: vetca's EAB keys are 256-bit HMAC keys, so it
// accepts HS256 only (RFC 7518 §3.2: HS384 and HS512 want a key as long
// as their hash). A binding MACed with another algorithm is
// badSignatureAlgorithm, not malformed.
func TestEABWithAnotherAlgorithmIsBadSignatureAlgorithm(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		c := acmetest.New(t, f.Server.URL, f.Cfg.PublicURL, key(t))
		url := c.URL("newAccount")
		for _, alg := range []string{"HS384", "HS512", "ES256", "none"} {
			eab := eabWithAlg(t, c, f.kid, f.hmacKey, url, alg)
			r := c.Post(url, map[string]any{"termsOfServiceAgreed": true, "externalAccountBinding": eab}, acmetest.Opts{EmbedJWK: true})
			if r.Status != 400 || r.Type() != probNS+"badSignatureAlgorithm" || !strings.Contains(r.Detail(), "HS256") {
				t.Errorf("RFC 8555 §6.2: an EAB with alg %s: want 400 badSignatureAlgorithm naming HS256, got %d %s", alg, r.Status, r.Raw)
			}
		}
		if r := c.Register(f.kid, f.hmacKey); r.Status != 201 {
			t.Fatalf("register with HS256: %d %s", r.Status, r.Raw)
		}
	})
}

// RFC 9110 §15.5.14: a request body over the ACME limit (64 KiB) is 413
// Content Too Large, as a problem document (RFC 8555 §6.7: malformed).
func TestOversizedRequestBodyIs413(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		url := f.c.URL("newOrder")
		r := f.c.PostRaw(url, []byte(`{"protected":"`+strings.Repeat("A", 64<<10)+`"}`))
		if r.Status != 413 || r.Type() != probNS+"malformed" || r.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("a body over 64 KiB: want 413 malformed as application/problem+json, got %d %s", r.Status, r.Header.Get("Content-Type"))
		}
		if r := f.c.Post(url, map[string]any{"identifiers": ids("www.acme-widgets.com")}, acmetest.Opts{}); r.Status != 201 {
			t.Errorf("a request within the limit: %d %s", r.Status, r.Raw)
		}
	})
}

// RFC 8555 §6.2: a badSignatureAlgorithm problem document must carry an
// "algorithms" array of the "alg" values the server supports: for the
// request's JWS the asymmetric algorithms vetca accepts, for an
// externalAccountBinding HS256 only (§7.3.4). Other problems have none.
func TestBadSignatureAlgorithmListsTheAcceptedAlgorithms(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		algorithms := func(r acmetest.Response) []string {
			var out []string
			for _, a := range r.Body["algorithms"].([]any) {
				out = append(out, a.(string))
			}
			return out
		}
		c := acmetest.New(t, f.Server.URL, f.Cfg.PublicURL, key(t))
		url := c.URL("newAccount")
		payload := map[string]any{"termsOfServiceAgreed": true, "externalAccountBinding": c.EAB(f.kid, f.hmacKey, url)}
		for _, alg := range []string{"HS256", "none", "PS256"} {
			r := c.PostRaw(url, withAlg(t, c.Sign(url, payload, acmetest.Opts{EmbedJWK: true}), alg))
			want := []string{"RS256", "ES256", "ES384", "ES512", "EdDSA"}
			if _, ok := r.Body["algorithms"].([]any); r.Type() != probNS+"badSignatureAlgorithm" || !ok || !slices.Equal(algorithms(r), want) {
				t.Errorf("RFC 8555 §6.2: a JWS with alg %s: want badSignatureAlgorithm with algorithms %v, got %d %s", alg, want, r.Status, r.Raw)
			}
		}
		eab := eabWithAlg(t, c, f.kid, f.hmacKey, url, "HS512")
		r := c.Post(url, map[string]any{"termsOfServiceAgreed": true, "externalAccountBinding": eab}, acmetest.Opts{EmbedJWK: true})
		if _, ok := r.Body["algorithms"].([]any); r.Type() != probNS+"badSignatureAlgorithm" || !ok || !slices.Equal(algorithms(r), []string{"HS256"}) {
			t.Errorf("RFC 8555 §6.2, §7.3.4: an EAB with alg HS512: want badSignatureAlgorithm with algorithms [HS256], got %d %s", r.Status, r.Raw)
		}
		if r := c.Post(url, payload, acmetest.Opts{EmbedJWK: true, Tamper: true}); r.Type() != probNS+"malformed" || r.Body["algorithms"] != nil {
			t.Errorf("a bad signature is malformed, without algorithms: %d %s", r.Status, r.Raw)
		}
	})
}

// RFC 8555 §6.2: a request that does not verify is answered alike
// whatever the key of the account its kid names. An algorithm that does
// not fit that key is a signature that cannot verify: refusing it as
// such, not as an algorithm that does not fit a key of some type, keeps
// the type of an account's key from anyone without the key.
func TestUnverifiedRequestDoesNotTellTheAccountKeyType(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		_, ed, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		edAcct := acmetest.New(t, f.Server.URL, f.Cfg.PublicURL, ed)
		if kid, hk := f.newEAB(t); edAcct.Register(kid, hk).Status != 201 {
			t.Fatal("register an Ed25519 account")
		}
		p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		_, stranger, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys := map[string]crypto.Signer{"P-256": key(t), "P-384": p384, "Ed25519": stranger, "RSA-2048": rsaKey(t, 2048)}
		body := map[string]any{"identifiers": ids("www.acme-widgets.com")}
		var first acmetest.Response
		for acctName, acct := range map[string]*acmetest.Client{"P-256 account": f.c, "Ed25519 account": edAcct} {
			for keyName, k := range keys {
				r := acct.Post(acct.URL("newOrder"), body, acmetest.Opts{Key: k})
				if r.Status != 400 || r.Type() != probNS+"malformed" {
					t.Errorf("RFC 8555 §6.2: the %s signed by another %s key: want 400 malformed, got %d %s", acctName, keyName, r.Status, r.Raw)
				}
				if first.Status == 0 {
					first = r
				}
				if r.Status != first.Status || r.Type() != first.Type() || r.Detail() != first.Detail() {
					t.Errorf("RFC 8555 §6.2: the %s signed by another %s key is answered %d %s, another unverified request %d %s", acctName, keyName, r.Status, r.Raw, first.Status, first.Raw)
				}
			}
		}
	})
}

// RFC 8555 §7.1.6: expired is a final state. Deactivating a valid
// authorization deactivates the account's others for the same name on
// the same domain validation (§7.5.2), but one of them that expired
// meanwhile, though stored valid, stays expired.
func TestDeactivationLeavesAnExpiredSiblingExpired(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		// The challenge's authorization lives as long as its order; the
		// next order reuses its validation for the BR §4.2.1 period.
		o := f.newOrder(t, "acme-gadgets.com")
		short, ch := f.challengeOf(t, o, "dns-01")
		f.DNS.AddTXT("_acme-challenge.acme-gadgets.com", digest(ch["token"].(string)+"."+acmetest.Thumbprint(t, f.c.Key)))
		if done := f.c.Post(ch["url"].(string), map[string]any{}, acmetest.Opts{}); done.Body["status"] != "valid" {
			t.Fatalf("challenge: %d %s", done.Status, done.Raw)
		}
		long := authzURL(t, readyOrder(t, f.c, "acme-gadgets.com"))
		a := f.c.Post(short, nil, acmetest.Opts{})
		expires, err := time.Parse(time.RFC3339, a.Body["expires"].(string))
		if err != nil {
			t.Fatalf("authorization expires: %s", a.Raw)
		}
		f.Clock.Advance(expires.Sub(f.Clock.Now()) + time.Hour)
		if g := f.c.Post(short, nil, acmetest.Opts{}); g.Body["status"] != "expired" {
			t.Fatalf("the challenge's authorization past its expiry: %s", g.Raw)
		}
		if d := deactivate(f.c, long); d.Status != 200 || d.Body["status"] != "deactivated" {
			t.Fatalf("RFC 8555 §7.5.2: deactivate the reused authorization: %d %s", d.Status, d.Raw)
		}
		if g := f.c.Post(short, nil, acmetest.Opts{}); g.Body["status"] != "expired" {
			t.Errorf("RFC 8555 §7.1.6: an expired authorization must stay expired when its sibling is deactivated: %s", g.Raw)
		}
	})
}
