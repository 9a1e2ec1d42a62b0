package acme

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/vetca/vetca/internal/apperr"
)

// maxBody bounds a JWS request body (a CSR of 100 names and an RSA-4096
// key is well below it).
const maxBody = 64 << 10

// signingAlgs are the JWS algorithms accepted for account and certificate
// keys (RFC 8555 §6.2: asymmetric only; never "none" or a MAC).
var signingAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}

// flattened is the RFC 7515 §7.2.2 flattened JSON serialization, with the
// members RFC 8555 §6.2 forbids kept so they can be refused.
type flattened struct {
	Protected  string          `json:"protected"`
	Payload    *string         `json:"payload"`
	Signature  string          `json:"signature"`
	Header     json.RawMessage `json:"header"`
	Signatures json.RawMessage `json:"signatures"`
}

// protectedHeader is what RFC 8555 §6.2 puts in the protected header.
type protectedHeader struct {
	Alg   string          `json:"alg"`
	Nonce string          `json:"nonce"`
	URL   string          `json:"url"`
	KID   string          `json:"kid"`
	JWK   json.RawMessage `json:"jwk"`
}

// signed is a request whose JWS verified: its payload, and either the
// account its kid named or the key its jwk carried.
type signed struct {
	url     string
	payload []byte
	header  protectedHeader
	account *Account         // kid requests
	jwk     *jose.JSONWebKey // jwk requests
}

// postAsGet reports whether the payload is empty (RFC 8555 §6.3).
func (r *signed) postAsGet() bool { return len(r.payload) == 0 }

// decode unmarshals the payload into v, refusing unknown trailing data.
func (r *signed) decode(v any) error {
	if r.postAsGet() {
		return malformed("the request needs a JSON payload")
	}
	dec := json.NewDecoder(bytes.NewReader(r.payload))
	if err := dec.Decode(v); err != nil {
		return malformed("the payload is not the JSON object expected: %v", err)
	}
	if dec.More() {
		return malformed("the payload has data after its JSON object")
	}
	return nil
}

// keyMode is which key a request must be signed with.
type keyMode int

const (
	byKID    keyMode = iota // an existing account (kid)
	byJWK                   // a key in the request (newAccount)
	byEither                // revokeCert: the account, or the certificate's key
)

// readJWS reads and parses a request's body as a flattened JWS.
func readJWS(r *http.Request) ([]byte, flattened, protectedHeader, error) {
	var f flattened
	var h protectedHeader
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "application/jose+json" {
		p := malformed("the Content-Type must be application/jose+json (RFC 8555 §6.2)")
		p.Status = http.StatusUnsupportedMediaType
		return nil, f, h, p
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, f, h, malformed("the request body could not be read: %v", err)
	}
	if len(body) > maxBody {
		p := malformed("the request body is larger than %d bytes", maxBody)
		p.Status = http.StatusRequestEntityTooLarge
		return nil, f, h, p
	}
	if err := exactMembers(body); err != nil {
		return nil, f, h, err
	}
	if err := json.Unmarshal(body, &f); err != nil {
		return nil, f, h, malformed("the body is not a JWS in flattened JSON serialization: %v", err)
	}
	switch {
	case len(f.Signatures) > 0:
		return nil, f, h, malformed("the JWS must have one signature, in the flattened JSON serialization (RFC 8555 §6.2)")
	case len(f.Header) > 0:
		return nil, f, h, malformed("the JWS must not have an unprotected header (RFC 8555 §6.2)")
	case f.Protected == "" || f.Signature == "" || f.Payload == nil:
		return nil, f, h, malformed("the JWS needs protected, payload and signature (an empty payload is \"\")")
	}
	hb, err := base64.RawURLEncoding.DecodeString(f.Protected)
	if err != nil {
		return nil, f, h, malformed("the protected header is not base64url: %v", err)
	}
	if err := exactMembers(hb); err != nil {
		return nil, f, h, err
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, f, h, malformed("the protected header is not a JSON object: %v", err)
	}
	return body, f, h, nil
}

// checkAlg refuses algorithms outside signingAlgs.
func checkAlg(alg string) error {
	for _, a := range signingAlgs {
		if string(a) == alg {
			return nil
		}
	}
	names := make([]string, len(signingAlgs))
	for i, a := range signingAlgs {
		names[i] = string(a)
	}
	return badSignatureAlgorithm(names, "the JWS algorithm %q is not accepted; use one of %s", alg, strings.Join(names, ", "))
}

// verify checks a JWS request to url (RFC 8555 §6.2–6.5): the flattened
// serialization, an accepted algorithm, the url header, exactly one of
// jwk and kid as mode asks, the key or the account, the signature (an
// algorithm that does not fit the key is one that does not verify), and
// then the nonce, last, so a request refused for anything else leaves its
// nonce unused. A kid request's account must be valid (RFC 8555 §7.3.6:
// 401 unauthorized otherwise) and still one that may act (accountUsable),
// both checked once the signature verified, so that only the holder of
// its key learns its status or why it may not act (§6.2).
func (s *Service) verify(ctx context.Context, r *http.Request, url string, mode keyMode) (*signed, error) {
	body, _, h, err := readJWS(r)
	if err != nil {
		return nil, err
	}
	if err := checkAlg(h.Alg); err != nil {
		return nil, err
	}
	if h.URL != url {
		return nil, unauthorized("the JWS url header %q is not the URL requested, %s (RFC 8555 §6.4)", h.URL, url)
	}
	req := &signed{url: url, header: h}
	key, err := s.signingKey(ctx, req, mode)
	if err != nil {
		return nil, err
	}
	jws, err := jose.ParseSignedJSON(string(body), signingAlgs)
	if err != nil {
		return nil, malformed("the JWS does not parse: %v", err)
	}
	// An algorithm that does not fit the key is a signature that cannot
	// verify, and is answered as one: a caller without an account's key
	// does not learn its type (RFC 8555 §6.2).
	if !keyFitsAlg(key, h.Alg) {
		return nil, malformed("the JWS signature does not verify")
	}
	payload, err := jws.Verify(key)
	if err != nil {
		return nil, malformed("the JWS signature does not verify")
	}
	req.payload = payload
	if req.account != nil {
		if req.account.Status != StatusValid {
			return nil, unauthenticated("account %s is %s", req.account.ID, req.account.Status)
		}
		blocked, err := s.accountUsable(ctx, req.account)
		if blocked {
			s.log.Warn("acme request by an account whose key is blocked", "acmeAccount", req.account.ID, "account", req.account.AccountID)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := s.nonces.use(ctx, h.Nonce); err != nil {
		return nil, err
	}
	return req, nil
}

// signingKey finds the key req must be signed with, as mode asks: the
// jwk it carries or the account its kid names, and sets it on req. A
// newAccount jwk must be a key an account may have (accountKeyRefusal:
// badPublicKey otherwise); a revokeCert jwk is checked by revokeCert
// against the certificate, whose key may be blocked already.
func (s *Service) signingKey(ctx context.Context, req *signed, mode keyMode) (any, error) {
	h := req.header
	hasJWK, hasKID := len(h.JWK) > 0, h.KID != ""
	switch {
	case hasJWK == hasKID:
		return nil, malformed("the protected header must have exactly one of jwk and kid")
	case mode == byKID && hasJWK:
		return nil, malformed("this request must be signed by an account key named by kid, not a jwk")
	case mode == byJWK && hasKID:
		return nil, malformed("this request must carry its key as jwk, not kid")
	}
	if hasKID {
		acct, err := s.accountByKID(ctx, h.KID)
		if err != nil {
			return nil, err
		}
		req.account = acct
		return acct.key.Key, nil
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(h.JWK); err != nil {
		return nil, malformed("the jwk is not a JSON Web Key: %v", err)
	}
	if !jwk.Valid() || !jwk.IsPublic() {
		return nil, malformed("the jwk must be a valid public key")
	}
	if mode == byJWK {
		if why, _, err := s.accountKeyRefusal(ctx, jwk.Key); err != nil {
			return nil, err
		} else if why != "" {
			return nil, problem(ProbBadPublicKey, http.StatusBadRequest, "%s", why)
		}
	}
	req.jwk = &jwk
	return jwk.Key, nil
}

// keyFitsAlg reports whether alg can be used with key.
func keyFitsAlg(key any, alg string) bool {
	ok := false
	switch k := key.(type) {
	case *rsa.PublicKey:
		ok = alg == string(jose.RS256)
	case *ecdsa.PublicKey:
		switch k.Curve.Params().BitSize {
		case 256:
			ok = alg == string(jose.ES256)
		case 384:
			ok = alg == string(jose.ES384)
		case 521:
			ok = alg == string(jose.ES512)
		}
	case ed25519.PublicKey:
		ok = alg == string(jose.EdDSA)
	}
	return ok
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of a key, base64url.
func thumbprint(k *jose.JSONWebKey) (string, error) {
	b, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", malformed("the key has no thumbprint: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// verifyEAB checks the externalAccountBinding of a newAccount request
// (RFC 8555 §7.3.4): a flattened JWS with alg HS256, the EAB key id as
// kid, the newAccount URL, and the account's own key as payload, MACed
// with the EAB key. The MAC itself is checked by the EAB service, in
// constant time. It returns the kid.
func (s *Service) verifyEAB(ctx context.Context, raw json.RawMessage, accountKey *jose.JSONWebKey, url string) (string, error) {
	var f flattened
	if err := exactMembers(raw); err != nil {
		return "", err
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		return "", malformed("externalAccountBinding is not a JWS in flattened JSON serialization: %v", err)
	}
	if f.Protected == "" || f.Signature == "" || f.Payload == nil || len(f.Header) > 0 || len(f.Signatures) > 0 {
		return "", malformed("externalAccountBinding must be a flattened JWS with protected, payload and signature only")
	}
	hb, err := base64.RawURLEncoding.DecodeString(f.Protected)
	if err != nil {
		return "", malformed("externalAccountBinding's protected header is not base64url")
	}
	var h protectedHeader
	if err := exactMembers(hb); err != nil {
		return "", err
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return "", malformed("externalAccountBinding's protected header is not a JSON object")
	}
	switch {
	case h.Alg != string(jose.HS256):
		// EAB keys are 256-bit HMAC keys: HS384 and HS512 want a key as
		// long as their hash (RFC 7518 §3.2). An algorithm not accepted
		// is badSignatureAlgorithm (RFC 8555 §6.2).
		return "", badSignatureAlgorithm([]string{string(jose.HS256)}, "externalAccountBinding must be MACed with HS256, not %q: EAB keys are 256-bit HMAC-SHA256 keys", h.Alg)
	case h.KID == "":
		return "", malformed("externalAccountBinding needs the EAB key id as kid")
	case h.Nonce != "":
		return "", malformed("externalAccountBinding must not have a nonce (RFC 8555 §7.3.4)")
	case h.URL != url:
		return "", unauthorized("externalAccountBinding's url %q is not %s", h.URL, url)
	}
	if err := bindsAccountKey(*f.Payload, accountKey); err != nil {
		return "", err
	}
	mac, err := base64.RawURLEncoding.DecodeString(f.Signature)
	if err != nil {
		return "", malformed("externalAccountBinding's signature is not base64url")
	}
	if _, err := s.EAB.Verify(ctx, h.KID, []byte(f.Protected+"."+*f.Payload), mac); err != nil {
		if _, ok := apperr.As(err); ok {
			return "", err
		}
		return "", errors.Join(errors.New("acme: check the external account binding"), err)
	}
	return h.KID, nil
}

// bindsAccountKey checks that an externalAccountBinding's payload (still
// base64url) is the account's own key, the one that signed the request.
func bindsAccountKey(payload64 string, accountKey *jose.JSONWebKey) error {
	payload, err := base64.RawURLEncoding.DecodeString(payload64)
	if err != nil {
		return malformed("externalAccountBinding's payload is not base64url")
	}
	var bound jose.JSONWebKey
	if err := bound.UnmarshalJSON(payload); err != nil {
		return malformed("externalAccountBinding's payload is not a JSON Web Key: %v", err)
	}
	want, err := thumbprint(accountKey)
	if err != nil {
		return err
	}
	if got, err := thumbprint(&bound); err != nil || got != want {
		return unauthorized("externalAccountBinding binds another key than the one that signed the request")
	}
	return nil
}

// exactMembers refuses a JSON object with a repeated member name, or with
// a member name that differs only in case from another or from one vetca
// reads. encoding/json matches member names case-insensitively and keeps
// the last; go-jose, which verifies the signature, matches them exactly
// and refuses repeats. Without this, a body could carry the signed
// "protected" header for go-jose and an unsigned "Protected" one for
// vetca's url, nonce and kid checks (RFC 8555 §6.4, §6.5).
func exactMembers(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return malformed("not a JSON object")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return malformed("not a JSON object: %v", err)
		}
		name, _ := tok.(string)
		folded := strings.ToLower(strings.ToUpper(name)) // encoding/json folds U+017F to s, U+212A to k
		if seen[folded] {
			return malformed("the JSON object has member %q twice (names compared without case)", name)
		}
		seen[folded] = true
		switch folded {
		case "protected", "payload", "signature", "header", "signatures", "alg", "nonce", "url", "kid", "jwk":
			if name != folded {
				return malformed("the JSON member %q must be spelled %q", name, folded)
			}
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return malformed("not a JSON object: %v", err)
		}
	}
	return nil
}
