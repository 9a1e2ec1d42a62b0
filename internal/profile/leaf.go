// Package profile is vetca's certificate profiles: the versioned OV TLS
// subscriber ("leaf") profile, the root and issuing CA profiles, the subject
// encoding of BR §7.1.4.2, and the lint-then-sign discipline of
// docs/design.md §6 (Prepare, then (*Prepared).Sign).
//
// Everything that reaches a certificate is an explicit field of Params; the
// profile adds only constants that belong to the profile version. Linting is
// done by a Linter (internal/lint provides it) on a copy of the certificate
// signed by a throwaway key under a throwaway issuer that carries the real
// issuer's name and key identifier, so the linted TBSCertificate is byte for
// byte the one the real key signs. Sign refuses to let the real key sign any
// other bytes.
//
// Subject key identifier: a leaf built here carries none. BR §7.1.2.7.6 lists
// subjectKeyIdentifier as NOT RECOMMENDED for subscriber certificates, while
// RFC 5280 §4.2.1.2 says SHOULD. zlint therefore always warns one way or the
// other; vetca takes the CABF side, and the warning that remains,
// w_ext_subject_key_identifier_missing_sub_cert, is the documented
// unavoidable one (see internal/lint).
package profile

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/apperr"
)

// Name is the name of the OV TLS subscriber certificate profile. An order
// pins Name and Version; a change to what the profile puts in a certificate
// needs a new Version.
const Name = "ov-tls-leaf"

// Version is the version of the OV TLS subscriber certificate profile
// implemented by Template.
const Version = 1

// OIDs the profile uses, as dotted strings (parse with x509.ParseOID).
const (
	// OIDOrganizationValidated is the CA/Browser Forum reserved policy
	// identifier for OV certificates (BR §7.1.6.1); it is required in OV
	// subscriber certificates (BR §7.1.2.7.9).
	OIDOrganizationValidated = "2.23.140.1.2.2"
	// OIDAnyPolicy is anyPolicy (RFC 5280 §4.2.1.4); BR §7.1.2.7.9 forbids it
	// in subscriber certificates.
	OIDAnyPolicy = "2.5.29.32.0"
	// cabfPolicyArc is the arc of the CA/Browser Forum reserved identifiers.
	cabfPolicyArc = "2.23.140.1."
)

// Serial number bounds (BR §7.1.2.7, package serial): positive, at most 20
// octets (less than 2^159 so the DER INTEGER stays positive within 20
// octets), and at least 64 bits long, since a shorter number cannot hold the
// 64 bits of CSPRNG output BR §7.1 requires.
const (
	MaxSerialBits = 159
	MinSerialBits = 64
)

// Params is everything that reaches an OV TLS subscriber certificate. It is
// what an order's snapshot pins, plus the issuance-time values (serial,
// issuer URLs).
type Params struct {
	// Subject comes from the verified organization version; CommonName, if
	// set, must be one of DNSNames (BR §7.1.4.3). BR §7.1.2.7.4 makes
	// commonName NOT RECOMMENDED and zlint warns about it
	// (w_subject_common_name_included); that warning is avoidable and so is
	// not tolerated by internal/lint: leave CommonName empty for leaves.
	Subject Subject
	// DNSNames are the subjectAltName dNSName values, lower-case A-labels,
	// wildcards as "*.example.com". The order of the slice is kept.
	DNSNames []string
	// PublicKey is the subscriber's key: ECDSA P-256/P-384 or RSA >= 2048
	// bits (BR §6.1.5). Weak-key and blocklist checks are done by the caller.
	PublicKey crypto.PublicKey
	// Serial is the certificate serial number (see MinSerialBits).
	Serial *big.Int
	// NotBefore and NotAfter are truncated to whole seconds, in UTC. Use
	// br.NotAfter to get a period of a whole number of days; zlint warns
	// from 200 days on (w_server_cert_valid_time_longer_than_199_days, BR
	// §6.3.2 SHOULD NOT) even where 200 is the MUST NOT limit.
	NotBefore, NotAfter time.Time
	// Issuer is the issuing CA certificate; it supplies the issuer name,
	// the authority key identifier and the signature algorithm.
	Issuer *x509.Certificate
	// CRLDistributionPoint is the http URL of the CRL shard that will list
	// this certificate (BR §7.1.2.11.2). Required.
	CRLDistributionPoint string
	// CAIssuersURL is the http URL of the issuer certificate (BR §7.1.2.7.7).
	// Required.
	CAIssuersURL string
	// OCSPServer is the optional http URL of the OCSP responder.
	OCSPServer string
	// CPSPolicyOID is an optional CA-defined policy OID added after the OV
	// policy (dotted form).
	CPSPolicyOID string
}

// Template builds the certificate template of profile Name/Version from p:
// subject in BR §7.1.4.2 order (RawSubject), policies 2.23.140.1.2.2 first
// plus the CPS OID if set, extKeyUsage serverAuth only, keyUsage
// digitalSignature (ECDSA) or digitalSignature+keyEncipherment (RSA), AIA
// caIssuers (+ OCSP if set), one CRL distribution point, SAN dNSNames, the
// authority key identifier of the issuer, no subject key identifier and no
// basicConstraints (BR §7.1.2.7). The signature algorithm follows the
// issuer's key (BR §7.1.3.2): ECDSA with SHA-256 for P-256, SHA-384 for P-384,
// and RSA PKCS#1 v1.5 with SHA-256. The template's PublicKey field is set to
// p.PublicKey. Bad input is an *apperr.Error naming the field.
func Template(p Params) (*x509.Certificate, error) {
	raw, err := leafSubject(p)
	if err != nil {
		return nil, err
	}
	if err := checkSerial(p.Serial); err != nil {
		return nil, err
	}
	ku, err := leafKeyUsage(p.PublicKey)
	if err != nil {
		return nil, err
	}
	sigAlg, err := SignatureAlgorithmFor(issuerKey(p.Issuer))
	if err != nil {
		return nil, err
	}
	if err := checkIssuer(p.Issuer); err != nil {
		return nil, err
	}
	nb, na, err := checkValidity(p.NotBefore, p.NotAfter)
	if err != nil {
		return nil, err
	}
	t := &x509.Certificate{
		SerialNumber:          new(big.Int).Set(p.Serial),
		RawSubject:            raw,
		NotBefore:             nb,
		NotAfter:              na,
		PublicKey:             p.PublicKey,
		SignatureAlgorithm:    sigAlg,
		KeyUsage:              ku,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: false,
		DNSNames:              append([]string(nil), p.DNSNames...),
		AuthorityKeyId:        append([]byte(nil), p.Issuer.SubjectKeyId...),
	}
	if err := setDistribution(t, p.CRLDistributionPoint, p.CAIssuersURL, p.OCSPServer, p.CPSPolicyOID); err != nil {
		return nil, err
	}
	return t, nil
}

// setDistribution checks and sets what a TLS certificate points to and
// asserts, the same for leaves and subordinate CAs: one CRL distribution
// point and AIA caIssuers (both required), the optional AIA OCSP URL, and
// the policies 2.23.140.1.2.2 plus the CA's own CPS OID if set (BR
// §7.1.2.7.7-9, §7.1.2.10.3-7).
func setDistribution(t *x509.Certificate, crlDP, caIssuers, ocspServer, cpsOID string) error {
	if err := checkHTTPURL("crlDistributionPoint", crlDP, true); err != nil {
		return err
	}
	if err := checkHTTPURL("caIssuersURL", caIssuers, true); err != nil {
		return err
	}
	if err := checkHTTPURL("ocspServer", ocspServer, false); err != nil {
		return err
	}
	policies, err := leafPolicies(cpsOID)
	if err != nil {
		return err
	}
	t.Policies = policies
	t.CRLDistributionPoints = []string{crlDP}
	t.IssuingCertificateURL = []string{caIssuers}
	if ocspServer != "" {
		t.OCSPServer = []string{ocspServer}
	}
	return nil
}

func leafSubject(p Params) ([]byte, error) {
	s := p.Subject
	// BR §7.1.2.7.4 (OV): countryName and organizationName MUST be present,
	// and stateOrProvinceName or localityName (at least one).
	if s.CountryName == "" {
		return nil, apperr.Invalid(apperr.CodeMissingAttribute, "countryName", "countryName is required in an OV certificate (BR §7.1.2.7.4)")
	}
	if s.OrganizationName == "" {
		return nil, apperr.Invalid(apperr.CodeMissingAttribute, "organizationName", "organizationName is required in an OV certificate (BR §7.1.2.7.4)")
	}
	if s.StateOrProvinceName == "" && s.LocalityName == "" {
		return nil, apperr.Invalid(apperr.CodeMissingAttribute, "localityName",
			"an OV certificate needs stateOrProvinceName or localityName (BR §7.1.2.7.4)")
	}
	if len(p.DNSNames) == 0 {
		return nil, apperr.Invalid(apperr.CodeMissingDNSNames, "dnsNames", "at least one DNS name is required (BR §7.1.2.7.12)")
	}
	seen := make(map[string]bool, len(p.DNSNames))
	for _, n := range p.DNSNames {
		if err := checkDNSName(n); err != nil {
			return nil, err
		}
		if seen[n] {
			return nil, apperr.Invalid(apperr.CodeDuplicateDNSName, "dnsNames", "DNS name %q appears twice", n)
		}
		seen[n] = true
	}
	// BR §7.1.4.3: if present, commonName holds exactly one of the SAN values.
	if s.CommonName != "" && !seen[s.CommonName] {
		return nil, apperr.Invalid(apperr.CodeCommonNameNotInSAN, "commonName",
			"commonName %q is not one of dnsNames (BR §7.1.4.3)", s.CommonName)
	}
	return EncodeSubject(s)
}

// checkDNSName accepts lower-case LDH A-labels, optionally with a leading
// "*." wildcard label (BR §7.1.2.7.12), at most 253 octets with labels of at
// most 63.
func checkDNSName(n string) error {
	bad := func(why string) error {
		return apperr.Invalid(apperr.CodeInvalidDNSName, "dnsNames", "DNS name %q is invalid: %s", n, why)
	}
	if n == "" || len(n) > 253 {
		return bad("empty or longer than 253 octets")
	}
	labels := strings.Split(n, ".")
	if len(labels) < 2 {
		return bad("not a fully-qualified domain name")
	}
	for i, l := range labels {
		if l == "*" && i == 0 {
			continue
		}
		if l == "" || len(l) > 63 {
			return bad("empty label or label longer than 63 octets")
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return bad("label starts or ends with a hyphen")
		}
		for j := 0; j < len(l); j++ {
			c := l[j]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return bad("only lower-case letters, digits and hyphens are allowed (use A-labels)")
			}
		}
	}
	return nil
}

func checkSerial(s *big.Int) error {
	if s == nil || s.Sign() <= 0 {
		return apperr.Invalid(apperr.CodeInvalidSerial, "serial", "the serial number must be positive (BR §7.1.2.7)")
	}
	if s.BitLen() > MaxSerialBits {
		return apperr.Invalid(apperr.CodeInvalidSerial, "serial", "the serial number has %d bits; at most %d fit in 20 octets", s.BitLen(), MaxSerialBits)
	}
	if s.BitLen() < MinSerialBits {
		return apperr.Invalid(apperr.CodeInvalidSerial, "serial", "the serial number has %d bits; it cannot hold 64 bits of CSPRNG output (BR §7.1)", s.BitLen())
	}
	return nil
}

func checkValidity(nb, na time.Time) (time.Time, time.Time, error) {
	if nb.IsZero() || na.IsZero() {
		return time.Time{}, time.Time{}, apperr.Invalid(apperr.CodeInvalidValidity, "validity", "notBefore and notAfter are required")
	}
	nb = nb.UTC().Truncate(time.Second)
	na = na.UTC().Truncate(time.Second)
	if !na.After(nb) {
		return time.Time{}, time.Time{}, apperr.Invalid(apperr.CodeInvalidValidity, "validity", "notAfter %s is not after notBefore %s", na.Format(time.RFC3339), nb.Format(time.RFC3339))
	}
	return nb, na, nil
}

// checkHTTPURL enforces BR §7.1.2.11.2 / §7.1.2.7.7: plain http URLs with a
// host.
func checkHTTPURL(field, s string, required bool) error {
	if s == "" {
		if required {
			return apperr.Invalid(apperr.CodeMissingURL, field, "%s is required", field)
		}
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.Host == "" || u.User != nil || u.Fragment != "" {
		return apperr.Invalid(apperr.CodeInvalidURL, field, "%s must be an http:// URL with a host, got %q", field, s)
	}
	return nil
}

func leafPolicies(cps string) ([]x509.OID, error) {
	ov, err := x509.ParseOID(OIDOrganizationValidated)
	if err != nil {
		return nil, fmt.Errorf("profile: %w", err)
	}
	out := []x509.OID{ov}
	if cps == "" {
		return out, nil
	}
	if strings.HasPrefix(cps, cabfPolicyArc) || cps == OIDAnyPolicy {
		return nil, apperr.Invalid(apperr.CodeInvalidPolicyOID, "cpsPolicyOID",
			"%s is a reserved or anyPolicy identifier; the CPS OID must be the CA's own (BR §7.1.2.7.9)", cps)
	}
	oid, err := x509.ParseOID(cps)
	if err != nil {
		return nil, apperr.Invalid(apperr.CodeInvalidPolicyOID, "cpsPolicyOID", "%q is not a dotted OID", cps)
	}
	return append(out, oid), nil
}

// leafKeyUsage checks the subscriber key (BR §6.1.5) and returns the key
// usage of BR §7.1.2.7.11 for its type.
func leafKeyUsage(pub crypto.PublicKey) (x509.KeyUsage, error) {
	if err := CheckPublicKey(pub); err != nil {
		return 0, err
	}
	if _, ok := pub.(*rsa.PublicKey); ok {
		return x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, nil
	}
	return x509.KeyUsageDigitalSignature, nil
}

// CheckPublicKey accepts the key types and sizes of BR §6.1.5 and §6.1.6:
// ECDSA on P-256 or P-384, or RSA with a modulus of at least 2048 bits that
// is a multiple of 8 and an odd public exponent of at least 3. The error is
// an *apperr.Error naming publicKey. It does not look for weak or blocked
// keys.
func CheckPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return apperr.Invalid(apperr.CodeUnsupportedKey, "publicKey", "ECDSA keys must be on P-256 or P-384 (BR §6.1.5)")
		}
		return nil
	case *rsa.PublicKey:
		bits := k.N.BitLen()
		if bits < 2048 || bits%8 != 0 {
			return apperr.Invalid(apperr.CodeWeakKey, "publicKey", "RSA modulus of %d bits; BR §6.1.5 needs at least 2048 and a multiple of 8", bits)
		}
		if k.E < 3 || k.E%2 == 0 {
			return apperr.Invalid(apperr.CodeWeakKey, "publicKey", "RSA public exponent %d must be odd and at least 3 (BR §6.1.6)", k.E)
		}
		return nil
	case nil:
		return apperr.Invalid(apperr.CodeMissingKey, "publicKey", "a public key is required")
	default:
		return apperr.Invalid(apperr.CodeUnsupportedKey, "publicKey", "unsupported key type %T; use ECDSA P-256/P-384 or RSA (BR §6.1.5)", pub)
	}
}

// SignatureAlgorithmFor returns the signature algorithm vetca uses with an
// issuer key (BR §7.1.3.2): ECDSA P-256 with SHA-256, P-384 with SHA-384,
// RSA PKCS#1 v1.5 with SHA-256.
func SignatureAlgorithmFor(issuerPub crypto.PublicKey) (x509.SignatureAlgorithm, error) {
	switch k := issuerPub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return x509.ECDSAWithSHA256, nil
		case elliptic.P384():
			return x509.ECDSAWithSHA384, nil
		}
	case *rsa.PublicKey:
		if k.N.BitLen() >= 2048 {
			return x509.SHA256WithRSA, nil
		}
	case nil:
		return 0, apperr.Invalid(apperr.CodeMissingIssuer, "issuer", "an issuer certificate with a public key is required")
	}
	return 0, apperr.Invalid(apperr.CodeUnsupportedIssuerKey, "issuer", "issuer key %T is not ECDSA P-256/P-384 or RSA >= 2048", issuerPub)
}

func issuerKey(c *x509.Certificate) crypto.PublicKey {
	if c == nil {
		return nil
	}
	return c.PublicKey
}

func checkIssuer(c *x509.Certificate) error {
	if c == nil {
		return apperr.Invalid(apperr.CodeMissingIssuer, "issuer", "an issuer certificate is required")
	}
	if !c.IsCA || !c.BasicConstraintsValid {
		return apperr.Invalid(apperr.CodeIssuerNotCA, "issuer", "the issuer certificate is not a CA certificate")
	}
	if len(c.SubjectKeyId) == 0 {
		return apperr.Invalid(apperr.CodeIssuerWithoutSKI, "issuer",
			"the issuer certificate has no subjectKeyIdentifier, so no authorityKeyIdentifier can be made (BR §7.1.2.11.1)")
	}
	if len(c.RawSubject) == 0 {
		return apperr.Invalid(apperr.CodeIssuerWithoutSubject, "issuer", "the issuer certificate has no subject")
	}
	if c.KeyUsage != 0 && c.KeyUsage&x509.KeyUsageCertSign == 0 {
		return apperr.Invalid(apperr.CodeIssuerCannotSign, "issuer", "the issuer certificate's key usage lacks keyCertSign")
	}
	return nil
}
