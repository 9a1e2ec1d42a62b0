package ocspresp_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"

	"github.com/vetca/vetca/internal/revocation/ocspresp"
)

// TestSignParsesBack signs good and revoked responses (every BR §7.2.2
// reason) with the issuer key and with a delegated responder, for both key
// types and both CertID hashes, and reads them back with
// ocsp.ParseResponseForCert, which checks the signature (and, for a
// delegated responder, that the issuer signed its certificate and that it
// has id-kp-OCSPSigning).
func TestSignParsesBack(t *testing.T) {
	type variant struct {
		status ocspresp.Status
		reason int
	}
	variants := []variant{{ocspresp.Good, 0}, {ocspresp.Revoked, 0}, {ocspresp.Revoked, 1}, {ocspresp.Revoked, 3}, {ocspresp.Revoked, 4}, {ocspresp.Revoked, 5}, {ocspresp.Revoked, 9}}
	for _, st := range setups() {
		signer, err := ocspresp.NewSigner(st.cfg)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		cert := leaf(st.ca, big.NewInt(0x5eed1234abcd))
		for _, v := range variants {
			for _, h := range []crypto.Hash{0, crypto.SHA1, crypto.SHA256} {
				t.Run(fmt.Sprintf("%s/status=%d/reason=%d/hash=%v", st.name, v.status, v.reason, h), func(t *testing.T) {
					r := goodResponse(cert.SerialNumber)
					r.IssuerHash = h
					r.ThisUpdate = t0.Add(-90 * time.Second)
					r.ProducedAt = t0
					if v.status == ocspresp.Revoked {
						r.Status, r.Reason, r.RevokedAt = ocspresp.Revoked, v.reason, t0.Add(-48*time.Hour)
					}
					der, err := signer.Sign(r)
					if err != nil {
						t.Fatal(err)
					}
					got, err := ocsp.ParseResponseForCert(der, cert, st.ca.cert)
					if err != nil {
						t.Fatalf("ParseResponseForCert: %v", err)
					}
					if got.Status != int(v.status) || got.SerialNumber.Cmp(cert.SerialNumber) != 0 {
						t.Errorf("status %d serial %x", got.Status, got.SerialNumber)
					}
					if v.status == ocspresp.Revoked && (!got.RevokedAt.Equal(r.RevokedAt) || got.RevocationReason != v.reason) {
						t.Errorf("revoked at %v reason %d, want %v %d", got.RevokedAt, got.RevocationReason, r.RevokedAt, v.reason)
					}
					if !got.ThisUpdate.Equal(r.ThisUpdate) || !got.NextUpdate.Equal(r.NextUpdate) || !got.ProducedAt.Equal(r.ProducedAt) {
						t.Errorf("times %v %v %v", got.ThisUpdate, got.NextUpdate, got.ProducedAt)
					}
					// BR §4.9.9: 8 h <= nextUpdate - thisUpdate <= 10 days.
					if d := got.NextUpdate.Sub(got.ThisUpdate); d < 8*time.Hour || d > 10*24*time.Hour {
						t.Errorf("validity %v", d)
					}
					wantHash := h
					if wantHash == 0 {
						wantHash = crypto.SHA1
					}
					if got.IssuerHash != wantHash {
						t.Errorf("CertID hash %v, want %v", got.IssuerHash, wantHash)
					}
					// BR §7.3.2: no reasonCode (or anything else) in singleExtensions.
					if len(got.Extensions) != 0 {
						t.Errorf("singleExtensions present: %v", got.Extensions)
					}
					// RFC 5019 §2.2.2: responder identified byKey.
					signing := st.ca.cert
					if st.cfg.Responder != nil {
						signing = st.cfg.Responder
						if got.Certificate == nil || !bytes.Equal(got.Certificate.Raw, st.cfg.Responder.Raw) {
							t.Error("delegated responder certificate not included (RFC 5019 §2.2.2)")
						}
					} else if got.Certificate != nil {
						t.Error("issuer-signed response carries a certificate")
					}
					if len(got.RawResponderName) != 0 || !bytes.Equal(got.ResponderKeyHash, keyHash(t, signing)) {
						t.Errorf("responderID is not byKey of the signing certificate")
					}
					if hasRevocationReason(t, der) != (v.status == ocspresp.Revoked && v.reason != 0) {
						t.Errorf("revocationReason presence wrong for reason %d", v.reason)
					}
				})
			}
		}
	}
}

func keyHash(t *testing.T, c *x509.Certificate) []byte {
	var spki struct {
		Algo asn1.RawValue
		Key  asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
		t.Fatal(err)
	}
	s := sha1.Sum(spki.Key.RightAlign())
	return s[:]
}

// hasRevocationReason walks a response with cryptobyte down to the
// SingleResponse's certStatus and reports whether a RevokedInfo holds a
// revocationReason.
func hasRevocationReason(t *testing.T, der []byte) bool {
	t.Helper()
	in := cryptobyte.String(der)
	var resp, rbWrap, rb, octets, basic, tbs, responses, single, status cryptobyte.String
	var st int
	var tag cbasn1.Tag
	ok := in.ReadASN1(&resp, cbasn1.SEQUENCE) && resp.ReadASN1Enum(&st) &&
		resp.ReadASN1(&rbWrap, cbasn1.Tag(0).ContextSpecific().Constructed()) &&
		rbWrap.ReadASN1(&rb, cbasn1.SEQUENCE) && rb.SkipASN1(cbasn1.OBJECT_IDENTIFIER) &&
		rb.ReadASN1(&octets, cbasn1.OCTET_STRING) && octets.ReadASN1(&basic, cbasn1.SEQUENCE) &&
		basic.ReadASN1(&tbs, cbasn1.SEQUENCE) &&
		tbs.SkipASN1(cbasn1.Tag(2).ContextSpecific().Constructed()) && // responderID byKey
		tbs.SkipASN1(cbasn1.GeneralizedTime) &&
		tbs.ReadASN1(&responses, cbasn1.SEQUENCE) && responses.ReadASN1(&single, cbasn1.SEQUENCE) &&
		single.SkipASN1(cbasn1.SEQUENCE) && single.ReadAnyASN1(&status, &tag)
	if !ok {
		t.Fatal("cannot walk the response")
	}
	if tag != cbasn1.Tag(1).ContextSpecific().Constructed() {
		return false
	}
	if !status.SkipASN1(cbasn1.GeneralizedTime) {
		t.Fatal("RevokedInfo without revocationTime")
	}
	return !status.Empty()
}

// TestSignMatchesCreateResponse is a differential test against
// ocsp.CreateResponse: for the same inputs, both parse to the same status,
// serial, reason, times and CertID.
func TestSignMatchesCreateResponse(t *testing.T) {
	ca := ecdsaCA()
	cert := leaf(ca, big.NewInt(0xabcdef))
	r := goodResponse(cert.SerialNumber)
	r.Status, r.Reason, r.RevokedAt = ocspresp.Revoked, 4, t0.Add(-time.Hour)
	ours, err := ocspresp.Sign(ocspresp.Params{SignerConfig: ocspresp.SignerConfig{Issuer: ca.cert, Key: ca.key}, Response: r})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := ocsp.CreateResponse(ca.cert, ca.cert, ocsp.Response{
		Status: ocsp.Revoked, SerialNumber: r.Serial, RevokedAt: r.RevokedAt, RevocationReason: 4,
		ThisUpdate: r.ThisUpdate, NextUpdate: r.NextUpdate,
	}, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ocsp.ParseResponseForCert(ours, cert, ca.cert)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ocsp.ParseResponseForCert(theirs, cert, ca.cert)
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != b.Status || a.SerialNumber.Cmp(b.SerialNumber) != 0 || a.RevocationReason != b.RevocationReason ||
		!a.RevokedAt.Equal(b.RevokedAt) || !a.ThisUpdate.Equal(b.ThisUpdate) || !a.NextUpdate.Equal(b.NextUpdate) ||
		a.IssuerHash != b.IssuerHash || a.SignatureAlgorithm != b.SignatureAlgorithm {
		t.Errorf("differs from ocsp.CreateResponse:\n ours %+v\n  std %+v", a, b)
	}
}

// TestSignRefuses tries to break each rule Sign and NewSigner enforce.
func TestSignRefuses(t *testing.T) {
	ca := ecdsaCA()
	rc, rk := delegated(ca, t0.AddDate(0, 1, 0))
	direct := ocspresp.SignerConfig{Issuer: ca.cert, Key: ca.key}
	viaResponder := ocspresp.SignerConfig{Issuer: ca.cert, Key: rk, Responder: rc}
	revoked := func(reason int) func(*ocspresp.Params) {
		return func(p *ocspresp.Params) {
			p.Status, p.Reason, p.RevokedAt = ocspresp.Revoked, reason, t0.Add(-time.Hour)
		}
	}
	tests := []struct {
		name   string
		mutate func(p *ocspresp.Params)
	}{
		{"validity 8h - 1s (BR §4.9.9 >= 8h)", func(p *ocspresp.Params) { p.NextUpdate = p.ThisUpdate.Add(8*time.Hour - time.Second) }},
		{"validity 10 days + 1 s (BR §4.9.9 <= 10 days, inclusive)", func(p *ocspresp.Params) { p.NextUpdate = p.ThisUpdate.Add(10 * 24 * time.Hour) }},
		{"validity 30 days", func(p *ocspresp.Params) { p.NextUpdate = p.ThisUpdate.Add(30 * 24 * time.Hour) }},
		{"nextUpdate before thisUpdate", func(p *ocspresp.Params) { p.NextUpdate = p.ThisUpdate.Add(-9 * time.Hour) }},
		{"thisUpdate after producedAt (RFC 6960 §2.4)", func(p *ocspresp.Params) { p.ThisUpdate, p.NextUpdate = t0.Add(time.Second), t0.Add(24*time.Hour) }},
		{"producedAt missing", func(p *ocspresp.Params) { p.ProducedAt = time.Time{} }},
		{"thisUpdate missing", func(p *ocspresp.Params) { p.ThisUpdate = time.Time{} }},
		{"reason 2 cACompromise (BR §7.3)", revoked(2)},
		{"reason 6 certificateHold (BR §4.9.13)", revoked(6)},
		{"reason 8 removeFromCRL", revoked(8)},
		{"reason 10 aACompromise", revoked(10)},
		{"reason -1", revoked(-1)},
		{"revoked without a time", func(p *ocspresp.Params) { p.Status, p.Reason = ocspresp.Revoked, 1 }},
		{"revoked after thisUpdate", func(p *ocspresp.Params) {
			p.Status, p.Reason, p.RevokedAt = ocspresp.Revoked, 1, t0.Add(time.Second)
		}},
		{"good with a reason", func(p *ocspresp.Params) { p.Reason = 1 }},
		{"good with a revocation time", func(p *ocspresp.Params) { p.RevokedAt = t0 }},
		{"status unknown", func(p *ocspresp.Params) { p.Status = ocspresp.Status(ocsp.Unknown) }},
		{"serial 0", func(p *ocspresp.Params) { p.Serial = big.NewInt(0) }},
		{"serial negative", func(p *ocspresp.Params) { p.Serial = big.NewInt(-7) }},
		{"serial nil", func(p *ocspresp.Params) { p.Serial = nil }},
		{"serial 160 bits", func(p *ocspresp.Params) { p.Serial = new(big.Int).Lsh(big.NewInt(1), 159) }},
		{"CertID hash MD5", func(p *ocspresp.Params) { p.IssuerHash = crypto.MD5 }},
		{"nextUpdate after the issuer expires (MRSP §6)", func(p *ocspresp.Params) {
			p.ThisUpdate = ca.cert.NotAfter.Add(-24 * time.Hour)
			p.ProducedAt, p.NextUpdate = p.ThisUpdate, p.ThisUpdate.Add(48*time.Hour)
		}},
		{"nextUpdate after the responder expires (MRSP §6)", func(p *ocspresp.Params) {
			p.SignerConfig = viaResponder
			p.ThisUpdate = rc.NotAfter.Add(-24 * time.Hour)
			p.ProducedAt, p.NextUpdate = p.ThisUpdate, p.ThisUpdate.Add(48*time.Hour)
		}},
		{"responder not yet valid", func(p *ocspresp.Params) {
			p.SignerConfig = viaResponder
			p.ThisUpdate = rc.NotBefore.Add(-2 * time.Hour)
			p.ProducedAt, p.NextUpdate = p.ThisUpdate.Add(time.Hour), p.ThisUpdate.Add(24*time.Hour)
		}},
		{"issuer key with responder certificate", func(p *ocspresp.Params) { p.Key = ca.key; p.Responder = rc }},
		{"responder key without its certificate", func(p *ocspresp.Params) { p.Key = rk }},
		{"no key", func(p *ocspresp.Params) { p.Key = nil }},
		{"no issuer", func(p *ocspresp.Params) { p.Issuer = nil }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := ocspresp.Params{SignerConfig: direct, Response: goodResponse(big.NewInt(0x1234567890abcdef))}
			tc.mutate(&p)
			der, err := ocspresp.Sign(p)
			if err == nil {
				t.Fatalf("Sign accepted it (%d bytes)", len(der))
			}
			if !errors.Is(err, ocspresp.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

// TestSignBoundaries checks the values right at the BR §4.9.9 limits pass.
func TestSignBoundaries(t *testing.T) {
	ca := ecdsaCA()
	cfg := ocspresp.SignerConfig{Issuer: ca.cert, Key: ca.key}
	for _, d := range []time.Duration{8 * time.Hour, 7 * 24 * time.Hour, 10*24*time.Hour - time.Second} {
		r := goodResponse(big.NewInt(99))
		r.NextUpdate = r.ThisUpdate.Add(d)
		if _, err := ocspresp.Sign(ocspresp.Params{SignerConfig: cfg, Response: r}); err != nil {
			t.Errorf("nextUpdate - thisUpdate = %v: %v", d, err)
		}
	}
}

// TestNewSignerRefusesBadResponders checks the delegated responder rules of
// BR §7.1.2.8 and RFC 6960 §4.2.2.2, and the issuer's own key usage.
func TestNewSignerRefusesBadResponders(t *testing.T) {
	ca := ecdsaCA()
	other := rsaCA()
	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	issue := func(issuer *testCA, mutate func(*x509.Certificate)) *x509.Certificate {
		tmpl := must(ocspresp.ResponderTemplate(ca.cert, key.Public(), new(big.Int).Lsh(big.NewInt(3), 70), t0.Add(-time.Hour), t0.AddDate(0, 1, 0)))
		mutate(tmpl)
		return must(x509.ParseCertificate(must(x509.CreateCertificate(rand.Reader, tmpl, issuer.cert, key.Public(), issuer.key))))
	}
	tests := []struct {
		name string
		cert *x509.Certificate
	}{
		{"issued by another CA", issue(other, func(*x509.Certificate) {})},
		{"no id-pkix-ocsp-nocheck (BR §7.1.2.8.6)", issue(ca, func(c *x509.Certificate) { c.ExtraExtensions = nil })},
		{"critical id-pkix-ocsp-nocheck", issue(ca, func(c *x509.Certificate) { c.ExtraExtensions[0].Critical = true })},
		{"serverAuth as well (BR §7.1.2.8.5)", issue(ca, func(c *x509.Certificate) {
			c.ExtKeyUsage = append(c.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
		})},
		{"no OCSPSigning", issue(ca, func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} })},
		{"no digitalSignature (BR §7.1.2.8.7)", issue(ca, func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageKeyEncipherment })},
		{"a CA", issue(ca, func(c *x509.Certificate) { c.IsCA = true })},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ocspresp.NewSigner(ocspresp.SignerConfig{Issuer: ca.cert, Key: key, Responder: tc.cert}); !errors.Is(err, ocspresp.ErrInvalid) {
				t.Fatalf("NewSigner: %v, want ErrInvalid", err)
			}
		})
	}
	t.Run("issuer without digitalSignature signing directly (BR §7.1.2.10.7)", func(t *testing.T) {
		k := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
		noDS := newCA("noDS", k, x509.KeyUsageCertSign|x509.KeyUsageCRLSign)
		if _, err := ocspresp.NewSigner(ocspresp.SignerConfig{Issuer: noDS.cert, Key: k}); !errors.Is(err, ocspresp.ErrInvalid) {
			t.Fatalf("NewSigner: %v, want ErrInvalid", err)
		}
		// ...but it may delegate.
		rc, rk := delegated(noDS, t0.AddDate(0, 1, 0))
		if _, err := ocspresp.NewSigner(ocspresp.SignerConfig{Issuer: noDS.cert, Key: rk, Responder: rc}); err != nil {
			t.Fatalf("delegation refused: %v", err)
		}
	})
}

func TestResponderTemplateRefuses(t *testing.T) {
	ca := ecdsaCA()
	key := must(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	good := new(big.Int).Lsh(big.NewInt(1), 70)
	for name, f := range map[string]func() (*x509.Certificate, error){
		"short serial (BR §7.1: 64 bits)": func() (*x509.Certificate, error) {
			return ocspresp.ResponderTemplate(ca.cert, key.Public(), big.NewInt(12345), t0, t0.Add(time.Hour))
		},
		"inverted validity": func() (*x509.Certificate, error) {
			return ocspresp.ResponderTemplate(ca.cert, key.Public(), good, t0, t0.Add(-time.Hour))
		},
		"P-224 key": func() (*x509.Certificate, error) {
			return ocspresp.ResponderTemplate(ca.cert, must(ecdsa.GenerateKey(elliptic.P224(), rand.Reader)).Public(), good, t0, t0.Add(time.Hour))
		},
	} {
		if _, err := f(); !errors.Is(err, ocspresp.ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestMatchesIssuer(t *testing.T) {
	a, b := ecdsaCA(), rsaCA()
	cert := leaf(a, big.NewInt(77))
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		der, err := ocsp.CreateRequest(cert, a.cert, &ocsp.RequestOptions{Hash: h})
		if err != nil {
			t.Fatal(err)
		}
		req, err := ocsp.ParseRequest(der)
		if err != nil {
			t.Fatal(err)
		}
		if !ocspresp.MatchesIssuer(req, a.cert) {
			t.Errorf("%v: request does not match its issuer", h)
		}
		if ocspresp.MatchesIssuer(req, b.cert) {
			t.Errorf("%v: request matches another issuer", h)
		}
	}
	if ocspresp.MatchesIssuer(nil, a.cert) {
		t.Error("nil request matched")
	}
}
