package cpr_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/cpr"
)

// FuzzParseEvidence feeds the evidence parser what a mail or a form may
// carry: blobs (split at "\x00\x00") of PEM or DER keys, certificates and
// CSRs, or anything else. It must never panic; a refusal is a 400 naming
// "attachments"; every key it accepts signs for its own public key and
// every CSR it accepts verifies.
func FuzzParseEvidence(f *testing.F) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	p8, _ := x509.MarshalPKCS8PrivateKey(k)
	s1, _ := x509.MarshalECPrivateKey(k)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "k"}}, k)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}))
	f.Add(append(append(s1, 0, 0), csr...))
	f.Add([]byte("text before\n" + string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr})) + "after"))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ev, err := cpr.ParseEvidence(bytes.Split(data, []byte{0, 0}))
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.KindInvalid || e.Field != "attachments" {
				t.Fatalf("refusal %v is not a 400 naming attachments", err)
			}
			return
		}
		for _, k := range ev.Keys {
			if _, err := x509.MarshalPKIXPublicKey(k.Public()); err != nil {
				t.Fatalf("accepted a key whose public half does not encode: %v", err)
			}
		}
		for _, c := range ev.CSRs {
			if err := c.CheckSignature(); err != nil {
				t.Fatalf("accepted a CSR whose signature does not verify: %v", err)
			}
		}
	})
}

// FuzzFromMail feeds FromMail what a mail's text may hold: any bytes,
// pasted PEM blocks whole or broken. It must never panic; the description
// is valid UTF-8 without a NUL, at most MaxDescription bytes and never
// empty when the mail had text, and no private key block that decodes is
// left in it (a private key is never stored).
func FuzzFromMail(f *testing.F) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	p8, _ := x509.MarshalPKCS8PrivateKey(k)
	key := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}))
	f.Add("subject", "the key:\n"+key+"thanks")
	f.Add("", key+key)
	f.Add("x\x00", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n\xff")
	f.Fuzz(func(t *testing.T, subject, body string) {
		sub := cpr.FromMail("finder@example.org", subject, body, nil)
		d := sub.Description
		if !utf8.ValidString(d) || strings.Contains(d, "\x00") || len(d) > cpr.MaxDescription {
			t.Fatalf("description of %d bytes, valid %v: %.200q", len(d), utf8.ValidString(d), d)
		}
		if strings.TrimSpace(d) == "" && strings.TrimSpace(subject+body) != "" {
			t.Fatalf("empty description of a mail with text %q %q", subject, body)
		}
		for rest := []byte(d); ; {
			var blk *pem.Block
			if blk, rest = pem.Decode(rest); blk == nil {
				break
			}
			if strings.HasSuffix(blk.Type, "PRIVATE KEY") {
				if _, err := x509.ParsePKCS8PrivateKey(blk.Bytes); err == nil {
					t.Fatalf("a private key left in the description: %.200q", d)
				}
			}
		}
	})
}
