// Package acmetest is a minimal RFC 8555 client for tests of the ACME
// server: it signs exactly what a test asks, including what a real client
// never would (a tampered signature, a replayed nonce, a wrong EAB MAC),
// so every refusal can be provoked.
package acmetest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// Client talks to one ACME server. Requests go to Base (the loopback
// test server) with the URL the server names rewritten from Public.
type Client struct {
	T      testing.TB
	Base   string // where requests are sent, e.g. the httptest server URL
	Public string // the server's public URL, as its ACME URLs carry it
	Key    crypto.Signer
	KID    string // the account URL, once registered
	HTTP   *http.Client
	Dir    map[string]any
}

// Response is an ACME response.
type Response struct {
	Status   int
	Header   http.Header
	Raw      []byte
	Body     map[string]any
	Location string
}

// Type is the problem type of an error response, or "".
func (r Response) Type() string { s, _ := r.Body["type"].(string); return s }

// Detail is the problem detail of an error response, or "".
func (r Response) Detail() string { s, _ := r.Body["detail"].(string); return s }

// New returns a client with key, and reads the directory.
func New(t testing.TB, base, public string, key crypto.Signer) *Client {
	c := &Client{T: t, Base: strings.TrimSuffix(base, "/"), Public: strings.TrimSuffix(public, "/"), Key: key, HTTP: &http.Client{}}
	r := c.raw("GET", c.Public+"/acme/directory", "", nil)
	if r.Status != 200 {
		t.Fatalf("directory: %d %s", r.Status, r.Raw)
	}
	c.Dir = r.Body
	return c
}

// URL is the directory entry name.
func (c *Client) URL(name string) string { s, _ := c.Dir[name].(string); return s }

func (c *Client) raw(method, url, ctype string, body []byte) Response {
	c.T.Helper()
	target := strings.Replace(url, c.Public, c.Base, 1)
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		c.T.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.T.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := Response{Status: resp.StatusCode, Header: resp.Header, Raw: raw, Location: resp.Header.Get("Location")}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// Nonce gets a fresh nonce.
func (c *Client) Nonce() string {
	c.T.Helper()
	r := c.raw("HEAD", c.URL("newNonce"), "", nil)
	n := r.Header.Get("Replay-Nonce")
	if n == "" {
		c.T.Fatalf("no nonce: %d", r.Status)
	}
	return n
}

// Opts adjusts one signed request.
type Opts struct {
	Nonce    string // default: a fresh one
	URL      string // the url header; default the URL posted to
	EmbedJWK bool   // sign with jwk instead of kid
	Key      crypto.Signer
	Alg      jose.SignatureAlgorithm
	Tamper   bool // flip a bit of the signature
}

// Sign returns the flattened JWS of payload (nil: POST-as-GET).
func (c *Client) Sign(url string, payload any, o Opts) []byte {
	c.T.Helper()
	key := o.Key
	if key == nil {
		key = c.Key
	}
	alg := o.Alg
	if alg == "" {
		alg = AlgOf(key)
	}
	nonce := o.Nonce
	if nonce == "" {
		nonce = c.Nonce()
	}
	hdrURL := o.URL
	if hdrURL == "" {
		hdrURL = url
	}
	opts := (&jose.SignerOptions{EmbedJWK: o.EmbedJWK || c.KID == ""}).WithHeader("nonce", nonce).WithHeader("url", hdrURL)
	if !opts.EmbedJWK {
		opts.WithHeader("kid", c.KID)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		c.T.Fatal(err)
	}
	var body []byte
	if payload != nil {
		if b, ok := payload.([]byte); ok {
			body = b
		} else if body, err = json.Marshal(payload); err != nil {
			c.T.Fatal(err)
		}
	}
	jws, err := signer.Sign(body)
	if err != nil {
		c.T.Fatal(err)
	}
	out := []byte(jws.FullSerialize())
	var f map[string]string
	_ = json.Unmarshal(out, &f)
	if _, ok := f["payload"]; !ok {
		// go-jose leaves an empty payload out; RFC 7515 §7.2.2 and every
		// ACME client send "payload": "" for POST-as-GET.
		f["payload"] = ""
		out, _ = json.Marshal(f)
	}
	if o.Tamper {
		sig, _ := base64.RawURLEncoding.DecodeString(f["signature"])
		sig[len(sig)/2] ^= 1
		f["signature"] = base64.RawURLEncoding.EncodeToString(sig)
		out, _ = json.Marshal(f)
	}
	return out
}

// Post signs payload and posts it to url.
func (c *Client) Post(url string, payload any, o Opts) Response {
	c.T.Helper()
	return c.PostRaw(url, c.Sign(url, payload, o))
}

// PostRaw posts a JWS as it is.
func (c *Client) PostRaw(url string, jws []byte) Response {
	c.T.Helper()
	return c.raw("POST", url, "application/jose+json", jws)
}

// AlgOf is the JWS algorithm of a key.
func AlgOf(k crypto.Signer) jose.SignatureAlgorithm {
	switch p := k.Public().(type) {
	case *rsa.PublicKey:
		return jose.RS256
	case ed25519.PublicKey:
		return jose.EdDSA
	case *ecdsa.PublicKey:
		switch p.Curve.Params().BitSize {
		case 384:
			return jose.ES384
		case 521:
			return jose.ES512
		}
	}
	return jose.ES256
}

// JWK is the public JWK of key, as JSON.
func JWK(t testing.TB, key crypto.Signer) []byte {
	b, err := (&jose.JSONWebKey{Key: key.Public()}).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Thumbprint is the RFC 7638 thumbprint of key, base64url.
func Thumbprint(t testing.TB, key crypto.Signer) string {
	b, err := (&jose.JSONWebKey{Key: key.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// EAB is an RFC 8555 §7.3.4 binding of the client's key, MACed with
// hmacKey (base64url, as vetca hands it out) under kid, for url.
func (c *Client) EAB(kid, hmacKey, url string) json.RawMessage {
	c.T.Helper()
	key, err := base64.RawURLEncoding.DecodeString(hmacKey)
	if err != nil {
		c.T.Fatalf("hmac key: %v", err)
	}
	prot, _ := json.Marshal(map[string]string{"alg": "HS256", "kid": kid, "url": url})
	p64 := base64.RawURLEncoding.EncodeToString(prot)
	pl64 := base64.RawURLEncoding.EncodeToString(JWK(c.T, c.Key))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(p64 + "." + pl64))
	b, _ := json.Marshal(map[string]string{"protected": p64, "payload": pl64, "signature": base64.RawURLEncoding.EncodeToString(m.Sum(nil))})
	return b
}

// Register creates the account with an EAB binding and keeps its URL.
func (c *Client) Register(kid, hmacKey string) Response {
	c.T.Helper()
	url := c.URL("newAccount")
	r := c.Post(url, map[string]any{"termsOfServiceAgreed": true, "contact": []string{"mailto:ops@acme-widgets.com"},
		"externalAccountBinding": c.EAB(kid, hmacKey, url)}, Opts{EmbedJWK: true})
	if r.Status == 201 || r.Status == 200 {
		c.KID = r.Location
	}
	return r
}
