package order

import (
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"strings"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
)

// ParseCSR parses a PEM certificate request and checks its signature
// (proof of possession of the key). Errors name "csr".
func ParseCSR(text string) (*x509.CertificateRequest, error) {
	if strings.TrimSpace(text) == "" {
		return nil, apperr.Invalid(apperr.CodeMissingField, "csr", "csr is required (a PEM CERTIFICATE REQUEST)")
	}
	if len(text) > 64<<10 {
		return nil, apperr.Invalid(apperr.CodeInvalidCSR, "csr", "csr is larger than 64 KiB")
	}
	b, rest := pem.Decode([]byte(text))
	if b == nil || (b.Type != "CERTIFICATE REQUEST" && b.Type != "NEW CERTIFICATE REQUEST") {
		return nil, apperr.Invalid(apperr.CodeInvalidCSR, "csr", "csr is not a PEM CERTIFICATE REQUEST")
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, apperr.Invalid(apperr.CodeInvalidCSR, "csr", "csr holds more than one PEM block")
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, apperr.Invalid(apperr.CodeInvalidCSR, "csr", "csr does not parse: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, apperr.Invalid(apperr.CodeInvalidCSRSignature, "csr", "the CSR's signature does not verify with its own key (no proof of possession): %v", err)
	}
	if len(csr.IPAddresses) > 0 || len(csr.EmailAddresses) > 0 || len(csr.URIs) > 0 {
		return nil, apperr.Invalid(apperr.CodeInvalidCSR, "csr", "the CSR asks for IP, email or URI names; OV TLS certificates carry only dNSName SANs")
	}
	return csr, nil
}

// attributeNames maps subject attribute OIDs to the API's / RFC 4519 names.
var attributeNames = map[string]string{
	"2.5.4.6":                    "countryName",
	"2.5.4.8":                    "stateOrProvinceName",
	"2.5.4.7":                    "localityName",
	"2.5.4.17":                   "postalCode",
	"2.5.4.9":                    "streetAddress",
	"2.5.4.10":                   "organizationName",
	"2.5.4.11":                   "organizationalUnitName",
	"2.5.4.3":                    "commonName",
	"2.5.4.5":                    "serialNumber",
	"2.5.4.4":                    "surname",
	"2.5.4.42":                   "givenName",
	"2.5.4.15":                   "businessCategory",
	"0.9.2342.19200300.100.1.25": "domainComponent",
	"1.2.840.113549.1.9.1":       "emailAddress",
	"1.3.6.1.4.1.311.60.2.1.3":   "jurisdictionCountryName",
	"1.3.6.1.4.1.311.60.2.1.2":   "jurisdictionStateOrProvinceName",
	"1.3.6.1.4.1.311.60.2.1.1":   "jurisdictionLocalityName",
}

func attributeName(oid asn1.ObjectIdentifier) string {
	if n, ok := attributeNames[oid.String()]; ok {
		return n
	}
	if n := br.AttributeName(oid.String()); n != "" {
		return n
	}
	return oid.String()
}

// compareAttribute checks one requested subject attribute against the
// verified version (docs/design.md §1): the subject always comes from the
// version; a different value, or an attribute the version lacks, is
// refused naming the attribute.
func compareAttribute(vetted SnapshotSubject, dnsNames []string, field, requested string) error {
	if field == "commonName" {
		for _, n := range dnsNames {
			if strings.EqualFold(n, requested) {
				return nil
			}
		}
		return apperr.Invalid(apperr.CodeInvalidCommonName, "commonName", "commonName %q is not one of dnsNames (BR §7.1.4.3); the certificate carries the names as SANs only", requested)
	}
	v, known := vetted.ProfileSubject().Get(field)
	if !known || v == "" {
		return apperr.Invalid(apperr.CodeAttributeNotVetted, field, "the verified organization version has no %s; certificates carry only verified attributes (BR §7.1.2.7.4)", field)
	}
	if v != requested {
		return apperr.Mismatch(field, v, requested)
	}
	return nil
}

// CheckSubjects compares the request body's subject object and the CSR's
// subject with the verified version.
func CheckSubjects(vetted SnapshotSubject, dnsNames []string, body map[string]string, csr *x509.CertificateRequest) error {
	for _, field := range []string{"countryName", "stateOrProvinceName", "localityName", "postalCode", "streetAddress", "organizationName", "commonName"} {
		if v, ok := body[field]; ok {
			if err := compareAttribute(vetted, dnsNames, field, v); err != nil {
				return err
			}
		}
	}
	for field, v := range body {
		switch field {
		case "countryName", "stateOrProvinceName", "localityName", "postalCode", "streetAddress", "organizationName", "commonName":
		default:
			if err := compareAttribute(vetted, dnsNames, field, v); err != nil {
				return err
			}
		}
	}
	if csr != nil {
		for _, atv := range csr.Subject.Names {
			val, ok := atv.Value.(string)
			if !ok {
				return apperr.Invalid(apperr.CodeInvalidCSR, attributeName(atv.Type), "the CSR's %s is not a string", attributeName(atv.Type))
			}
			if err := compareAttribute(vetted, dnsNames, attributeName(atv.Type), val); err != nil {
				return err
			}
		}
		names := map[string]bool{}
		for _, n := range dnsNames {
			names[n] = true
		}
		for _, n := range csr.DNSNames {
			if !names[strings.ToLower(strings.TrimSuffix(n, "."))] {
				return apperr.Invalid(apperr.CodeCSRNameNotRequested, "dnsNames", "the CSR names %q, which is not in dnsNames", n)
			}
		}
	}
	return nil
}
