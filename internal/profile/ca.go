package profile

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"github.com/vetca/vetca/internal/apperr"
)

// CAParams is everything that reaches a root or issuing (TLS subordinate) CA
// certificate.
type CAParams struct {
	// Subject of the CA: countryName, organizationName and commonName are
	// required (BR §7.1.2.10.2); stateOrProvinceName and localityName are
	// allowed, the other attributes are not used for CAs.
	Subject Subject
	// PublicKey is the CA's key (ECDSA P-256/P-384 or RSA >= 2048).
	PublicKey crypto.PublicKey
	// Serial: same rules as for subscriber certificates.
	Serial *big.Int
	// NotBefore and NotAfter are truncated to whole seconds, in UTC.
	NotBefore, NotAfter time.Time

	// The fields below are for IntermediateCATemplate only and describe the
	// parent: its CRL (BR §7.1.2.6: cRLDistributionPoints MUST), where its
	// certificate is published, and its optional OCSP responder.
	CRLDistributionPoint string
	CAIssuersURL         string
	OCSPServer           string
	// CPSPolicyOID is an optional CA-defined policy OID added after
	// 2.23.140.1.2.2 in the issuing CA's certificatePolicies.
	CPSPolicyOID string
}

// Maximum validity of a root CA certificate: BR §6.3.2 / §7.1.2.1.1 bound it
// to 9132 days (25 years).
const MaxRootValidityDays = 9132

// RootCATemplate builds a self-signed root CA certificate template (BR
// §7.1.2.1): basicConstraints cA=TRUE critical without pathLenConstraint,
// keyUsage keyCertSign+cRLSign+digitalSignature, a subjectKeyIdentifier, and
// no extKeyUsage, certificatePolicies, AIA or CRL distribution point. The
// signature algorithm follows the root's own key. The template's PublicKey
// field is set.
func RootCATemplate(p CAParams) (*x509.Certificate, error) {
	t, err := caBase(p)
	if err != nil {
		return nil, err
	}
	if p.CRLDistributionPoint != "" || p.CAIssuersURL != "" || p.OCSPServer != "" || p.CPSPolicyOID != "" {
		return nil, apperr.Invalid(apperr.CodeInvalidRoot, "root", "a root CA certificate carries no CRL, AIA or policy (BR §7.1.2.1)")
	}
	if days := validityDays(t.NotBefore, t.NotAfter); days > MaxRootValidityDays {
		return nil, apperr.Invalid(apperr.CodeValidityTooLong, "validity", "a root CA certificate may be valid for at most %d days (BR §7.1.2.1.1), got %d", MaxRootValidityDays, days)
	}
	sigAlg, err := SignatureAlgorithmFor(p.PublicKey)
	if err != nil {
		return nil, err
	}
	t.SignatureAlgorithm = sigAlg
	t.MaxPathLen = -1
	return t, nil
}

// IntermediateCATemplate builds the template of a TLS subordinate CA
// certificate issued by parent (BR §7.1.2.6, §7.1.2.10): basicConstraints
// cA=TRUE critical with pathLenConstraint 0, keyUsage
// keyCertSign+cRLSign+digitalSignature (the CA signs its own OCSP
// responses), extKeyUsage serverAuth only, certificatePolicies
// 2.23.140.1.2.2 (plus the CPS OID if set), AIA caIssuers (+ OCSP if set), a
// CRL distribution point, the authority key identifier of parent and a
// subjectKeyIdentifier. The signature algorithm follows the parent's key.
func IntermediateCATemplate(p CAParams, parent *x509.Certificate) (*x509.Certificate, error) {
	t, err := caBase(p)
	if err != nil {
		return nil, err
	}
	if err := checkIssuer(parent); err != nil {
		return nil, err
	}
	sigAlg, err := SignatureAlgorithmFor(parent.PublicKey)
	if err != nil {
		return nil, err
	}
	t.SignatureAlgorithm = sigAlg
	t.MaxPathLen = 0
	t.MaxPathLenZero = true
	t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if err := setDistribution(t, p.CRLDistributionPoint, p.CAIssuersURL, p.OCSPServer, p.CPSPolicyOID); err != nil {
		return nil, err
	}
	t.AuthorityKeyId = append([]byte(nil), parent.SubjectKeyId...)
	return t, nil
}

func caBase(p CAParams) (*x509.Certificate, error) {
	s := p.Subject
	// BR §7.1.2.10.2: countryName, organizationName and commonName MUST be
	// present in a CA certificate's subject.
	for _, req := range []struct{ field, v string }{
		{"countryName", s.CountryName}, {"organizationName", s.OrganizationName}, {"commonName", s.CommonName},
	} {
		if req.v == "" {
			return nil, apperr.Invalid(apperr.CodeMissingAttribute, req.field, "%s is required in a CA certificate (BR §7.1.2.10.2)", req.field)
		}
	}
	if s.PostalCode != "" || s.StreetAddress != "" {
		return nil, apperr.Invalid(apperr.CodeInvalidAttribute, "streetAddress", "CA subjects in this profile carry no street address or postal code")
	}
	raw, err := EncodeSubject(s)
	if err != nil {
		return nil, err
	}
	if err := CheckPublicKey(p.PublicKey); err != nil {
		return nil, err
	}
	if err := checkSerial(p.Serial); err != nil {
		return nil, err
	}
	nb, na, err := checkValidity(p.NotBefore, p.NotAfter)
	if err != nil {
		return nil, err
	}
	ski, err := SubjectKeyID(p.PublicKey)
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          new(big.Int).Set(p.Serial),
		RawSubject:            raw,
		NotBefore:             nb,
		NotAfter:              na,
		PublicKey:             p.PublicKey,
		BasicConstraintsValid: true,
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		SubjectKeyId:          ski,
	}, nil
}

// SubjectKeyID returns the key identifier of RFC 7093 §2 method 1: the
// leftmost 160 bits of the SHA-256 hash of the subjectPublicKey BIT STRING
// value.
func SubjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("profile: marshaling public key: %w", err)
	}
	var info struct {
		Algorithm asn1.RawValue
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil, fmt.Errorf("profile: parsing public key: %w", err)
	}
	sum := sha256.Sum256(info.PublicKey.Bytes)
	return sum[:20], nil
}

// validityDays is the BR §6.3.2 validity period in days: notBefore to
// notAfter inclusive, with any part of a day counting as a day.
func validityDays(nb, na time.Time) int64 {
	secs := int64(na.Sub(nb)/time.Second) + 1
	return (secs + 86399) / 86400
}
