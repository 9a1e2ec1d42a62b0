package ocspresp_test

import (
	"context"
	"crypto"
	"encoding/base64"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/revocation/ocspresp"
)

// BenchmarkSign compares Signer.Sign with the raw ocsp.CreateResponse for the
// same revoked response, per key type. "vetca" includes every BR check and
// the self-verification of the signature; compare ns/op with the "raw" row.
//
//	go test -run '^$' -bench Sign ./internal/revocation/ocspresp/
func BenchmarkSign(b *testing.B) {
	for _, ca := range []*testCA{ecdsaCA(), rsaCA()} {
		serial := big.NewInt(0x5eed)
		r := goodResponse(serial)
		r.Status, r.Reason, r.RevokedAt = ocspresp.Revoked, 1, t0.Add(-time.Hour)
		s, err := ocspresp.NewSigner(ocspresp.SignerConfig{Issuer: ca.cert, Key: ca.key})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(ca.name+"/vetca", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(r); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(ca.name+"/raw", func(b *testing.B) {
			b.ReportAllocs()
			tmpl := ocsp.Response{Status: ocsp.Revoked, SerialNumber: serial, RevokedAt: r.RevokedAt, RevocationReason: 1, ThisUpdate: r.ThisUpdate, NextUpdate: r.NextUpdate}
			for b.Loop() {
				if _, err := ocsp.CreateResponse(ca.cert, ca.cert, tmpl, ca.key); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

type fixedSource []byte

func (f fixedSource) Response(context.Context, *ocsp.Request) ([]byte, error) { return f, nil }

// BenchmarkHandlerGET measures the handler's own cost per GET request
// (decoding, parsing, header computation) over a pre-signed response,
// without the network.
func BenchmarkHandlerGET(b *testing.B) {
	ca := ecdsaCA()
	serial := big.NewInt(0x5eed)
	der, err := ocspresp.Sign(ocspresp.Params{SignerConfig: ocspresp.SignerConfig{Issuer: ca.cert, Key: ca.key}, Response: goodResponse(serial)})
	if err != nil {
		b.Fatal(err)
	}
	h, err := ocspresp.NewHandler(fixedSource(der), ocspresp.Options{Clock: clock.NewFake(t0)})
	if err != nil {
		b.Fatal(err)
	}
	reqDER, err := ocsp.CreateRequest(leaf(ca, serial), ca.cert, &ocsp.RequestOptions{Hash: crypto.SHA1})
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/ocsp/"+base64.StdEncoding.EncodeToString(reqDER), nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
