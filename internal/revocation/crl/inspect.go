package crl

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// ErrMalformed is wrapped by Inspect and Verify errors for a CRL that does
// not parse or breaks the vetca shard profile (BR §7.2, §7.2.2, §7.2.2.1).
var ErrMalformed = errors.New("crl: CRL does not meet the shard profile")

// ErrSignature is wrapped when the CRL is not signed by the given issuer.
var ErrSignature = errors.New("crl: CRL signature does not verify under the issuer")

// ErrMismatch is wrapped by Verify when a valid CRL is not the one expected:
// another URL, a CRLNumber that did not increase, or outside its validity.
var ErrMismatch = errors.New("crl: CRL is not the expected one")

// Info is what Inspect reads from a valid shard CRL.
type Info struct {
	// URL is the Issuing Distribution Point's fullName URI.
	URL string
	// Number is the CRLNumber.
	Number *big.Int
	// ThisUpdate and NextUpdate are the CRL's validity bounds, in UTC.
	ThisUpdate, NextUpdate time.Time
	// Entries maps SerialHex(serial) to the entry. Reason is 0 where the
	// entry has no reasonCode. Check leaves it nil.
	Entries map[string]Entry
	// Count is the number of entries.
	Count int
}

// SerialHex formats a serial the way the API writes serials: lower-case
// hex, no colons, no leading zeros. It is the key of Info.Entries.
func SerialHex(serial *big.Int) string { return serial.Text(16) }

var (
	asn1OIDAKI       = asn1.ObjectIdentifier{2, 5, 29, 35}
	asn1OIDCRLNumber = asn1.ObjectIdentifier{2, 5, 29, 20}
	asn1OIDIDP       = asn1.ObjectIdentifier{2, 5, 29, 28}
	asn1OIDReason    = asn1.ObjectIdentifier{2, 5, 29, 21}
)

// Inspect parses a shard CRL, checks that issuer signed it, checks that it
// follows the profile Build writes, and returns its contents. It refuses:
// a CRL that is not v2, whose issuer name is not byte for byte the issuer's
// subject, or that fails the signature check; a missing or out-of-range
// CRLNumber; an authorityKeyIdentifier other than the issuer's
// subjectKeyIdentifier; a missing nextUpdate or one more than 10 days after
// thisUpdate; any CRL extension besides those three and a critical Issuing
// Distribution Point holding exactly one URI and onlyContainsUserCerts; and
// entries with a non-positive serial, a repeated serial, a revocation date
// after thisUpdate, a critical or explicit-unspecified reasonCode, a code
// BR §7.2.2 does not allow, or any other entry extension.
func Inspect(der []byte, issuer *x509.Certificate) (*Info, error) {
	if issuer == nil {
		return nil, errors.New("crl: Inspect needs the issuer certificate")
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if len(rl.Raw) != len(der) {
		return nil, fmt.Errorf("%w: %d bytes of trailing data", ErrMalformed, len(der)-len(rl.Raw))
	}
	if !bytes.Equal(rl.RawIssuer, issuer.RawSubject) {
		return nil, fmt.Errorf("%w: the CRL issuer name is not byte for byte the issuer certificate's subject", ErrMalformed)
	}
	if err := rl.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	if v, err := tbsVersion(rl.RawTBSRevocationList); err != nil || v != 1 {
		return nil, fmt.Errorf("%w: not an X.509 v2 CRL (RFC 5280 §5.1.2.1)", ErrMalformed)
	}

	info := &Info{
		Number:     rl.Number,
		ThisUpdate: rl.ThisUpdate.UTC(),
		NextUpdate: rl.NextUpdate.UTC(),
	}
	if info.Number == nil || info.Number.Sign() < 0 || info.Number.Cmp(maxCRLNumber) >= 0 {
		return nil, fmt.Errorf("%w: CRLNumber missing or outside [0, 2^159) (BR §7.2)", ErrMalformed)
	}
	if !bytes.Equal(rl.AuthorityKeyId, issuer.SubjectKeyId) || len(rl.AuthorityKeyId) == 0 {
		return nil, fmt.Errorf("%w: authorityKeyIdentifier does not match the issuer's subjectKeyIdentifier (BR §7.2)", ErrMalformed)
	}
	if info.NextUpdate.IsZero() || !info.NextUpdate.After(info.ThisUpdate) {
		return nil, fmt.Errorf("%w: nextUpdate missing or not after thisUpdate (BR §7.2)", ErrMalformed)
	}
	if info.NextUpdate.Sub(info.ThisUpdate) > MaxValidity {
		return nil, fmt.Errorf("%w: nextUpdate is %s after thisUpdate, more than 10 days (BR §4.9.7)", ErrMalformed, info.NextUpdate.Sub(info.ThisUpdate))
	}

	var sawAKI, sawNumber, sawIDP bool
	seenExt := make(map[string]bool, len(rl.Extensions))
	for _, ext := range rl.Extensions {
		id := ext.Id.String()
		if seenExt[id] {
			return nil, fmt.Errorf("%w: CRL extension %s appears twice (RFC 5280 §4.2)", ErrMalformed, id)
		}
		seenExt[id] = true
		switch {
		case ext.Id.Equal(asn1OIDAKI):
			sawAKI = !ext.Critical
		case ext.Id.Equal(asn1OIDCRLNumber):
			sawNumber = !ext.Critical
		case ext.Id.Equal(asn1OIDIDP):
			if !ext.Critical {
				return nil, fmt.Errorf("%w: the Issuing Distribution Point is not critical (BR §7.2.2.1)", ErrMalformed)
			}
			u, err := ParseIssuingDistributionPoint(ext.Value)
			if err != nil {
				return nil, err
			}
			info.URL, sawIDP = u, true
		default:
			return nil, fmt.Errorf("%w: unexpected CRL extension %v (BR §7.2.2)", ErrMalformed, ext.Id)
		}
	}
	if !sawAKI || !sawNumber || !sawIDP {
		return nil, fmt.Errorf("%w: needs non-critical authorityKeyIdentifier and cRLNumber and a critical Issuing Distribution Point", ErrMalformed)
	}

	info.Entries = make(map[string]Entry, len(rl.RevokedCertificateEntries))
	for i := range rl.RevokedCertificateEntries {
		rc := &rl.RevokedCertificateEntries[i]
		if rc.SerialNumber == nil || rc.SerialNumber.Sign() <= 0 {
			return nil, fmt.Errorf("%w: entry %d has a non-positive serial", ErrMalformed, i)
		}
		key := SerialHex(rc.SerialNumber)
		if rc.RevocationTime.After(info.ThisUpdate) {
			return nil, fmt.Errorf("%w: serial %s revoked at %s, after thisUpdate (RFC 5280 §5.1.2.6)", ErrMalformed, key, rc.RevocationTime.UTC().Format(time.RFC3339))
		}
		for _, ext := range rc.Extensions {
			if !ext.Id.Equal(asn1OIDReason) {
				return nil, fmt.Errorf("%w: serial %s has an unexpected entry extension %v", ErrMalformed, key, ext.Id)
			}
			if ext.Critical {
				return nil, fmt.Errorf("%w: serial %s has a critical reasonCode (BR §7.2.2)", ErrMalformed, key)
			}
			if rc.ReasonCode == 0 {
				return nil, fmt.Errorf("%w: serial %s has an explicit unspecified reasonCode; BR §7.2.2 requires omitting it", ErrMalformed, key)
			}
		}
		if !ReasonAllowed(rc.ReasonCode) {
			return nil, fmt.Errorf("%w: serial %s has reason code %d, not permitted (BR §7.2.2)", ErrMalformed, key, rc.ReasonCode)
		}
		if _, dup := info.Entries[key]; dup {
			return nil, fmt.Errorf("%w: serial %s is listed twice", ErrMalformed, key)
		}
		info.Entries[key] = Entry{Serial: rc.SerialNumber, RevokedAt: rc.RevocationTime.UTC(), Reason: rc.ReasonCode}
	}
	info.Count = len(info.Entries)
	return info, nil
}

// Expect is what Verify checks a shard CRL against.
type Expect struct {
	// URL is the shard URL the CRL must name in its Issuing Distribution
	// Point, byte for byte. Required.
	URL string
	// Now, if set, must fall within [ThisUpdate, NextUpdate].
	Now time.Time
	// NumberAbove, if set, is the CRLNumber of the previously published CRL
	// of the shard; the CRL's number must be strictly greater (BR §7.2).
	NumberAbove *big.Int
}

// Verify is Inspect plus the checks that tie a CRL to its place: the URL,
// freshness at a given time and an increasing CRLNumber. Failures of those
// wrap ErrMismatch.
func Verify(der []byte, issuer *x509.Certificate, want Expect) (*Info, error) {
	if want.URL == "" {
		return nil, errors.New("crl: Verify needs the expected shard URL")
	}
	info, err := Inspect(der, issuer)
	if err != nil {
		return nil, err
	}
	if err := checkExpected(info, want); err != nil {
		return nil, err
	}
	return info, nil
}

// tbsVersion reads the optional version INTEGER at the start of a
// TBSCertList; -1 means absent (v1).
func tbsVersion(tbs []byte) (int, error) {
	in := cryptobyte.String(tbs)
	var body cryptobyte.String
	if !in.ReadASN1(&body, cbasn1.SEQUENCE) {
		return 0, errors.New("bad TBSCertList")
	}
	if !body.PeekASN1Tag(cbasn1.INTEGER) {
		return -1, nil
	}
	var v int
	if !body.ReadASN1Integer(&v) {
		return 0, errors.New("bad version")
	}
	return v, nil
}

// ParseIssuingDistributionPoint parses the value of an Issuing Distribution
// Point extension in the exact form IssuingDistributionPoint writes and
// returns its URI. Anything else (no or several names, a relative name, a
// non-URI name, onlyContainsUserCerts absent or FALSE, any other field)
// is refused: BR §7.2.2.1 forbids indirectCRL and onlyContainsAttributeCerts
// and vetca never uses the others.
func ParseIssuingDistributionPoint(value []byte) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w: Issuing Distribution Point %s", ErrMalformed, why)
	}
	in := cryptobyte.String(value)
	var idp, dpName, fullName, uri cryptobyte.String
	if !in.ReadASN1(&idp, cbasn1.SEQUENCE) || !in.Empty() {
		return bad("is not a single SEQUENCE")
	}
	if !idp.ReadASN1(&dpName, tagContext0Constructed) {
		return bad("has no distributionPoint")
	}
	if !dpName.ReadASN1(&fullName, tagContext0Constructed) || !dpName.Empty() {
		return bad("distributionPoint is not a fullName")
	}
	if !fullName.ReadASN1(&uri, tagURIGeneralNamePrimitive) {
		return bad("fullName does not start with a uniformResourceIdentifier")
	}
	if !fullName.Empty() {
		return bad("fullName has more than one name")
	}
	var only cryptobyte.String
	if !idp.ReadASN1(&only, tagContext1Primitive) || len(only) != 1 || only[0] != 0xff {
		return bad("does not assert onlyContainsUserCerts TRUE (DER)")
	}
	if !idp.Empty() {
		return bad("has fields other than distributionPoint and onlyContainsUserCerts (BR §7.2.2.1)")
	}
	u := string(uri)
	if err := CheckURL(u); err != nil {
		return "", fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return u, nil
}
