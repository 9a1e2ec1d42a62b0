package acme

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/dnsname"
)

// wantProblem fails unless err is a *Problem with a 4xx status: bad
// outside input is always the client's error, never a panic or a 500.
func wantProblem(t *testing.T, in any, err error) {
	t.Helper()
	var p *Problem
	if !errors.As(err, &p) || p.Status < 400 || p.Status > 499 || !strings.HasPrefix(p.Type, errNS) {
		t.Fatalf("%q: want a 4xx RFC 8555 problem, got %v", in, err)
	}
}

// FuzzReadJWS: every request body reaches readJWS. It accepts only a
// flattened JWS with a protected header that is a JSON object, and
// refuses the rest with a 4xx problem.
func FuzzReadJWS(f *testing.F) {
	for _, s := range []string{
		`{"protected":"eyJhbGciOiJFUzI1NiJ9","payload":"","signature":"c2ln"}`,
		`{"protected":"eyJhbGciOiJFUzI1NiJ9","payload":"e30","signature":"c2ln","header":{"kid":"x"}}`,
		`{"signatures":[{}],"payload":""}`,
		`{"protected":"!!","payload":"","signature":"x"}`,
		`{"protected":"bnVsbA","payload":"","signature":"x"}`,
		`[]`, ``, `{"protected":"eyJ9","signature":"x"}`,
		`{"protected":"eyJhbGciOiJFUzI1NiJ9","payload":"","signature":"c2ln","Protected":"eyJhbGciOiJFUzI1NiJ9"}`,
		`{"protected":"eyJhbGciOiJFUzI1NiIsIlVSTCI6IngifQ","payload":"","signature":"c2ln"}`,
	} {
		f.Add(s, "application/jose+json")
	}
	f.Add(`{}`, "application/json")
	f.Fuzz(func(t *testing.T, body, ctype string) {
		r, _ := http.NewRequest("POST", "http://ca.example/acme/new-order", strings.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		_, fl, h, err := readJWS(r)
		if err != nil {
			wantProblem(t, body, err)
			return
		}
		if fl.Protected == "" || fl.Signature == "" || fl.Payload == nil || len(fl.Header) > 0 || len(fl.Signatures) > 0 {
			t.Fatalf("%q: accepted a JWS RFC 8555 §6.2 refuses", body)
		}
		_ = h
	})
}

// FuzzOrderNames: newOrder identifiers come from the client. Accepted
// names are normalized dns names, without repeats; anything else is a
// 4xx problem.
func FuzzOrderNames(f *testing.F) {
	for _, s := range []string{
		`[{"type":"dns","value":"www.example.com"}]`,
		`[{"type":"dns","value":"*.Example.COM."},{"type":"dns","value":"*.example.com"}]`,
		`[{"type":"ip","value":"192.0.2.1"}]`,
		`[{"type":"dns","value":"exa mple.com"}]`, `[]`,
		`[{"type":"dns","value":"xn--nxasmq6b.example"}]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, js string) {
		var ids []Identifier
		if json.Unmarshal([]byte(js), &ids) != nil {
			return
		}
		names, err := orderNames(ids)
		if err != nil {
			wantProblem(t, js, err)
			return
		}
		seen := map[string]bool{}
		for _, n := range names {
			norm, err := dnsname.Normalize(n, true)
			if err != nil || norm != n || seen[n] {
				t.Fatalf("%q: accepted %q, which is not a normalized, unrepeated name (%v)", js, n, err)
			}
			seen[n] = true
		}
	})
}

// FuzzParseOrderCSR: the finalize CSR comes from the client. An accepted
// CSR verifies and names exactly the order's names.
func FuzzParseOrderCSR(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, names := range [][]string{{"www.example.com"}, {"www.example.com", "example.com"}, {"other.example.net"}} {
		der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: names}, k)
		f.Add(base64.RawURLEncoding.EncodeToString(der))
	}
	f.Add("")
	f.Add("MIIB")
	f.Fuzz(func(t *testing.T, b64 string) {
		csr, err := parseOrderCSR(b64, []string{"www.example.com"})
		if err != nil {
			wantProblem(t, b64, err)
			return
		}
		if csr.CheckSignature() != nil {
			t.Fatalf("%q: accepted a CSR whose signature does not verify", b64)
		}
		for _, n := range csr.DNSNames {
			if !strings.EqualFold(strings.TrimSuffix(n, "."), "www.example.com") {
				t.Fatalf("%q: accepted a CSR naming %q", b64, n)
			}
		}
	})
}

// FuzzCheckNonce: the nonce header comes from the client. Only a nonce
// made with the key and not yet expired passes; a bit flipped anywhere
// fails.
func FuzzCheckNonce(f *testing.F) {
	key := bytes.Repeat([]byte{7}, 32)
	now := time.Unix(1_800_000_000, 0)
	raw := make([]byte, nonceRawLen)
	raw[7] = 0xff
	copy(raw[24:], nonceMAC(key, raw[:24]))
	f.Add(base64.RawURLEncoding.EncodeToString(raw))
	f.Add("")
	f.Add("AAAA")
	f.Fuzz(func(t *testing.T, nonce string) {
		exp, err := checkNonce(key, nonce, now)
		if err != nil {
			wantProblem(t, nonce, err)
			return
		}
		raw, _ := base64.RawURLEncoding.DecodeString(nonce)
		if !now.Before(exp) || !bytes.Equal(nonceMAC(key, raw[:24]), raw[24:]) {
			t.Fatalf("%q: accepted a nonce that is expired or not MACed with the key", nonce)
		}
		if base64.RawURLEncoding.EncodeToString(raw) != nonce {
			t.Fatalf("%q: accepted a spelling of a nonce other than the one issued (RFC 8555 §6.5: one use)", nonce)
		}
	})
}

// RFC 8555 §6.5: used nonces are recorded by their string, so checkNonce
// accepts only the spelling issue makes. The 15 other last characters of
// a 40-byte nonce (4 unused low bits) and line breaks, which a lenient
// base64url decoder reads as the same bytes, are badNonce.
func TestCheckNonceAcceptsOnlyTheIssuedSpelling(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	now := time.Unix(1_800_000_000, 0)
	n := &nonces{keys: fixedKey(key), clk: clock.NewFake(now)}
	nonce, err := n.issue(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkNonce(key, nonce, now); err != nil {
		t.Fatalf("the nonce as issued: %v", err)
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, nonce[len(nonce)-1])
	variants := []string{nonce[:10] + "\n" + nonce[10:], nonce + "\r\n", "\r" + nonce}
	for low := 0; low < 16; low++ {
		if v := last&^15 | low; v != last {
			variants = append(variants, nonce[:len(nonce)-1]+string(alphabet[v]))
		}
	}
	for _, v := range variants {
		raw, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil || base64.RawURLEncoding.EncodeToString(raw) != nonce {
			t.Fatalf("%q is not a variant of %q", v, nonce)
		}
		_, err = checkNonce(key, v, now)
		if p, ok := err.(*Problem); !ok || p.Type != ProbBadNonce {
			t.Fatalf("RFC 8555 §6.5: variant %q of nonce %q: want badNonce, got %v", v, nonce, err)
		}
	}
}

type fixedKey []byte

func (k fixedKey) DerivedKey(context.Context, string) ([]byte, error) { return k, nil }

// FuzzCheckContacts: contacts come from the client; accepted ones are
// mailto: URLs of one address.
func FuzzCheckContacts(f *testing.F) {
	for _, s := range []string{"mailto:ops@example.com", "mailto:a@b.c,d@e.f", "tel:+1555", "mailto:", "mailto:Ops <ops@example.com>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, c string) {
		out, err := checkContacts([]string{c})
		if err != nil {
			wantProblem(t, c, err)
			return
		}
		if len(out) != 1 || !strings.HasPrefix(out[0], "mailto:") || strings.ContainsAny(out[0], ",?<> ") {
			t.Fatalf("%q: accepted %q", c, out)
		}
	})
}

// FuzzParseCertID: the renewalInfo path and a new order's replaces field
// carry an RFC 9773 certificate identifier from the client. An accepted
// one names a positive serial in vetca's form and a non-empty key
// identifier, and CertID gives the same text back.
func FuzzParseCertID(f *testing.F) {
	for _, s := range []string{
		"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", "aYhba4dGQEHhs3uEe6CuLN4ByNQ.h2VDIQ", "YQ.AQ", "YQ.AA", "YQ.gA",
		"YQ.AIA", "YQ.AAE", ".AQ", "YQ.", "YQ", "YQ==.AQ", "Y+.AQ", "YQ.AQ.AQ", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseCertID(s)
		if err != nil {
			return
		}
		n, perr := new(big.Int).SetString(id.Serial, 16)
		if !perr || n.Sign() <= 0 || len(id.AKI) == 0 {
			t.Fatalf("%q: accepted %+v", s, id)
		}
		if back := CertID(id.AKI, n); back != s {
			t.Fatalf("%q: parsed to %+v, which is %q", s, id, back)
		}
	})
}

// TestParseCertID is RFC 9773 §4.1: the serial is the DER INTEGER's
// content octets, so a leading 00 belongs before a high bit and nowhere
// else.
func TestParseCertID(t *testing.T) {
	for _, c := range []struct {
		in, serial string
	}{
		{"aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", "87654321"}, // RFC 9773 §4.1's example
		{"YQ.AQ", "01"},
		{"YQ.fw", "7f"},
		{"YQ.AIA", "80"},
		{"YQ.gA", ""},    // negative
		{"YQ.AAE", ""},   // not minimal
		{"YQ.AA", ""},    // zero
		{"YQ==.AQ", ""},  // padded
		{".AQ", ""},      // no key identifier
		{"YQ.AQ.AQ", ""}, // a third part
		{"YQ", ""},       // no dot
		{strings.Repeat("Y", 300) + ".AQ", ""},
	} {
		id, err := parseCertID(c.in)
		if c.serial == "" {
			if err == nil {
				t.Errorf("%q: accepted as %+v", c.in, id)
			}
			continue
		}
		if err != nil || id.Serial != c.serial {
			t.Errorf("%q: got %+v, %v; want serial %s", c.in, id, err, c.serial)
		}
	}
}
