package apptest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"io"
	"net/http"

	"golang.org/x/crypto/ocsp"
)

// IssuerCertificate returns the active issuing CA's certificate.
func (e *Env) IssuerCertificate() *x509.Certificate {
	e.T.Helper()
	iss, _, err := e.App.Engine.ActiveIssuer(context.Background(), e.App.DB)
	if err != nil {
		e.T.Fatal(err)
	}
	c, err := iss.Certificate()
	if err != nil {
		e.T.Fatal(err)
	}
	return c
}

// AskOCSP posts an OCSP request for cert's serial (its CertID hashed with
// h) to the test server and returns the response, verified against the
// active issuer. cert needs only its SerialNumber when the certificate
// itself is not at hand.
func (e *Env) AskOCSP(cert *x509.Certificate, h crypto.Hash) *ocsp.Response {
	e.T.Helper()
	r, err := ocsp.ParseResponseForCert(e.PostOCSP(cert, h), cert, e.IssuerCertificate())
	if err != nil {
		e.T.Fatalf("OCSP response for %x: %v", cert.SerialNumber, err)
	}
	return r
}

// PostOCSP posts an OCSP request for cert's serial (its CertID hashed with
// h, under the active issuer) to the test server and returns the answer's
// body unparsed, whatever its HTTP status: for a test that expects no
// good answer rather than a particular one.
func (e *Env) PostOCSP(cert *x509.Certificate, h crypto.Hash) []byte {
	e.T.Helper()
	req, err := ocsp.CreateRequest(cert, e.IssuerCertificate(), &ocsp.RequestOptions{Hash: h})
	if err != nil {
		e.T.Fatal(err)
	}
	resp, err := http.Post(e.Server.URL+"/ocsp", "application/ocsp-request", bytes.NewReader(req))
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.T.Fatal(err)
	}
	return body
}
