package order_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"slices"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/dnsname"
	"github.com/vetca/vetca/internal/keypolicy"
	"github.com/vetca/vetca/internal/order"
)

// FuzzParseCSR feeds POST /orders "csr" values through what the order
// service does with untrusted CSRs: ParseCSR, the key policy, and the
// comparison of the CSR's subject with the verified organization. Every
// refusal is a 400 naming a field; an accepted CSR has proven possession
// of its key, asks only for dNSNames, and round-trips through PEM; a CSR
// whose subject passes the comparison carries only verified values.
//
// der, when not empty, is wrapped in a CERTIFICATE REQUEST block and put
// before text, so that the fuzzer can mutate the DER directly as well as
// the PEM armour around it.
func FuzzParseCSR(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{Country: []string{"US"}, Organization: []string{"Acme Widgets Inc."}, CommonName: "shop.acme-widgets.com"},
		DNSNames: []string{"shop.acme-widgets.com"},
	}, key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("", der)
	f.Add(string(pem.EncodeToMemory(&pem.Block{Type: "NEW CERTIFICATE REQUEST", Bytes: der})), []byte(nil))
	f.Add("-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n", []byte(nil))
	f.Add("\n-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n", der)

	vetted := order.SnapshotSubject{CountryName: "US", StateOrProvinceName: "California",
		LocalityName: "San Francisco", OrganizationName: "Acme Widgets Inc."}
	keys := keypolicy.NewChecker(keypolicy.Options{})
	f.Fuzz(func(t *testing.T, text string, der []byte) {
		if len(der) > 0 {
			text = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})) + text
		}
		csr, err := order.ParseCSR(text)
		if err != nil {
			wantFieldError(t, err, "csr")
			return
		}
		if err := csr.CheckSignature(); err != nil {
			t.Fatalf("accepted a CSR whose signature does not verify: %v", err)
		}
		if len(csr.IPAddresses)+len(csr.EmailAddresses)+len(csr.URIs) > 0 {
			t.Fatalf("accepted a CSR asking for IP, email or URI names")
		}
		again, err := order.ParseCSR(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr.Raw})))
		if err != nil || !bytes.Equal(again.Raw, csr.Raw) {
			t.Fatalf("accepted CSR does not round-trip through PEM: %v", err)
		}

		if err := keys.Check(context.Background(), csr.PublicKey); err != nil {
			wantFieldError(t, err, keypolicy.Field)
		}

		// The order's dnsNames are the CSR's, as a careful client sends.
		var names []string
		for _, n := range csr.DNSNames {
			if norm, err := dnsname.Normalize(n, true); err == nil {
				names = append(names, norm)
			}
		}
		if err := order.CheckSubjects(vetted, names, nil, csr); err != nil {
			e := wantFieldError(t, err, "")
			if e.Code == "subject_mismatch" && (!e.HasCmp || e.Requested == e.Vetted) {
				t.Fatalf("mismatch without the two values: %#v", e)
			}
			return
		}
		for _, atv := range csr.Subject.Names {
			v, _ := atv.Value.(string)
			switch atv.Type.String() {
			case "2.5.4.6":
				if v != vetted.CountryName {
					t.Fatalf("accepted countryName %q", v)
				}
			case "2.5.4.10":
				if v != vetted.OrganizationName {
					t.Fatalf("accepted organizationName %q", v)
				}
			case "2.5.4.3":
				if !slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, v) }) {
					t.Fatalf("accepted commonName %q, not one of %q", v, names)
				}
			}
		}
	})
}

// wantFieldError fails unless err is a 400 *apperr.Error with a code that
// names field (any field when field is "").
func wantFieldError(t *testing.T, err error, field string) *apperr.Error {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.KindInvalid || e.Code == "" || e.Field == "" || (field != "" && e.Field != field) {
		t.Fatalf("want a 400 *apperr.Error naming %q, got %#v", field, err)
	}
	return e
}
