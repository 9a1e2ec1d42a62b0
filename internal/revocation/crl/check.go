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

// Check is Verify for a shard CRL of any size: it checks everything
// Verify checks (the signature under issuer, the profile Inspect describes,
// and want's URL, freshness and increasing number) in one pass over der,
// without parsing the CRL into memory. Each entry is checked as it is read
// and then forgotten; visit, if not nil, sees it (serial as big-endian
// octets, valid only during the call). The returned Info has Count set and
// Entries nil.
//
// Check is stricter than Verify in two ways, both of which Stream and Build
// always satisfy for vetca's own CRLs: the entries must be in strictly
// ascending order of their serials' octets (the order Stream writes, and
// how a repeated serial is refused without remembering the serials), and
// the signature algorithm must be one vetca signs with (ECDSA with SHA-256,
// -384 or -512, or RSA PKCS #1 v1.5 with SHA-256).
func Check(der []byte, issuer *x509.Certificate, want Expect, visit func(serial []byte, revokedAt time.Time, reason int)) (*Info, error) {
	if issuer == nil {
		return nil, errors.New("crl: Check needs the issuer certificate")
	}
	if want.URL == "" {
		return nil, errors.New("crl: Check needs the expected shard URL")
	}
	bad := func(format string, args ...any) (*Info, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
	in := cryptobyte.String(der)
	var outer, tbsFull, outerAlg cryptobyte.String
	var sig asn1.BitString
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) {
		return bad("not a CertificateList")
	}
	if !in.Empty() {
		return bad("%d bytes of trailing data", len(in))
	}
	if !outer.ReadASN1Element(&tbsFull, cbasn1.SEQUENCE) || !outer.ReadASN1(&outerAlg, cbasn1.SEQUENCE) ||
		!outer.ReadASN1BitString(&sig) || !outer.Empty() {
		return bad("malformed CertificateList")
	}
	if sig.BitLength%8 != 0 {
		return bad("the signature is not a whole number of octets")
	}
	tbs := tbsFull
	var version int
	var innerAlg, name cryptobyte.String
	if !tbs.ReadASN1(&tbs, cbasn1.SEQUENCE) || !tbs.PeekASN1Tag(cbasn1.INTEGER) || !tbs.ReadASN1Integer(&version) || version != 1 {
		return bad("not an X.509 v2 CRL (RFC 5280 §5.1.2.1)")
	}
	if !tbs.ReadASN1(&innerAlg, cbasn1.SEQUENCE) || !bytes.Equal(innerAlg, outerAlg) {
		return bad("the signature algorithm of the TBSCertList is missing or differs from the outer one")
	}
	sigAlgo, ok := vetcaSignatureAlgorithm(outerAlg)
	if !ok {
		return bad("signature algorithm %x is not one vetca signs CRLs with", []byte(outerAlg))
	}
	if !tbs.ReadASN1Element(&name, cbasn1.SEQUENCE) || !bytes.Equal(name, issuer.RawSubject) {
		return bad("the CRL issuer name is not byte for byte the issuer certificate's subject")
	}
	info := &Info{}
	var err error
	if info.ThisUpdate, err = readTime(&tbs); err != nil {
		return bad("thisUpdate: %v", err)
	}
	if !tbs.PeekASN1Tag(cbasn1.UTCTime) && !tbs.PeekASN1Tag(cbasn1.GeneralizedTime) {
		return bad("nextUpdate missing or not after thisUpdate (BR §7.2)")
	}
	if info.NextUpdate, err = readTime(&tbs); err != nil {
		return bad("nextUpdate: %v", err)
	}
	if !info.NextUpdate.After(info.ThisUpdate) {
		return bad("nextUpdate missing or not after thisUpdate (BR §7.2)")
	}
	if info.NextUpdate.Sub(info.ThisUpdate) > MaxValidity {
		return bad("nextUpdate is %s after thisUpdate, more than 10 days (BR §4.9.7)", info.NextUpdate.Sub(info.ThisUpdate))
	}
	var list cryptobyte.String
	hasList := tbs.PeekASN1Tag(cbasn1.SEQUENCE)
	if hasList {
		if !tbs.ReadASN1(&list, cbasn1.SEQUENCE) {
			return bad("malformed revokedCertificates")
		}
		if list.Empty() {
			return bad("revokedCertificates is present but empty (RFC 5280 §5.1.2.6)")
		}
	}
	var extsWrap, exts cryptobyte.String
	if !tbs.ReadASN1(&extsWrap, tagContext0Constructed) || !extsWrap.ReadASN1(&exts, cbasn1.SEQUENCE) || !extsWrap.Empty() || !tbs.Empty() {
		return bad("malformed or missing crlExtensions")
	}
	if err := checkCRLExtensions(exts, issuer, info); err != nil {
		return nil, err
	}
	// The entries, one by one.
	var prev []byte
	for !list.Empty() {
		var entry, serial cryptobyte.String
		if !list.ReadASN1(&entry, cbasn1.SEQUENCE) || !entry.ReadASN1(&serial, cbasn1.INTEGER) {
			return bad("entry %d is malformed", info.Count)
		}
		mag, ok := positiveMagnitude(serial)
		if !ok {
			return bad("entry %d has a non-positive or not minimally encoded serial", info.Count)
		}
		if len(mag) > MaxSerialOctets {
			return bad("entry %d has a serial longer than 20 octets (RFC 5280 §4.1.2.2)", info.Count)
		}
		at, err := readTime(&entry)
		if err != nil {
			return bad("serial %x: revocationDate: %v", mag, err)
		}
		if at.After(info.ThisUpdate) {
			return bad("serial %x revoked at %s, after thisUpdate (RFC 5280 §5.1.2.6)", mag, at.Format(time.RFC3339))
		}
		reason, err := readEntryReason(&entry, mag)
		if err != nil {
			return nil, err
		}
		if !entry.Empty() {
			return bad("serial %x: trailing data in the entry", mag)
		}
		if prev != nil && bytes.Compare(mag, prev) <= 0 {
			if bytes.Equal(mag, prev) {
				return bad("serial %x is listed twice", mag)
			}
			return bad("serial %x follows %x: entries are not in ascending order of serial", mag, prev)
		}
		prev = mag
		if visit != nil {
			visit(mag, at, reason)
		}
		info.Count++
	}
	// The signature over the TBSCertList as it is in der, not a copy.
	if issuer.Version == 3 && !issuer.BasicConstraintsValid || issuer.BasicConstraintsValid && !issuer.IsCA ||
		issuer.KeyUsage != 0 && issuer.KeyUsage&x509.KeyUsageCRLSign == 0 {
		return nil, fmt.Errorf("%w: the issuer certificate may not sign CRLs", ErrSignature)
	}
	if err := issuer.CheckSignature(sigAlgo, tbsFull, sig.RightAlign()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	if err := checkExpected(info, want); err != nil {
		return nil, err
	}
	return info, nil
}

// checkExpected applies the Expect part of Verify to info.
func checkExpected(info *Info, want Expect) error {
	if info.URL != want.URL {
		return fmt.Errorf("%w: Issuing Distribution Point is %q, want %q (BR §7.2.2.1)", ErrMismatch, info.URL, want.URL)
	}
	if !want.Now.IsZero() {
		if want.Now.Before(info.ThisUpdate) {
			return fmt.Errorf("%w: thisUpdate %s is in the future", ErrMismatch, info.ThisUpdate.Format(time.RFC3339))
		}
		if want.Now.After(info.NextUpdate) {
			return fmt.Errorf("%w: stale since nextUpdate %s", ErrMismatch, info.NextUpdate.Format(time.RFC3339))
		}
	}
	if want.NumberAbove != nil && info.Number.Cmp(want.NumberAbove) <= 0 {
		return fmt.Errorf("%w: CRLNumber %v is not greater than the previous %v (BR §7.2)", ErrMismatch, info.Number, want.NumberAbove)
	}
	return nil
}

// vetcaSignatureAlgorithm maps the AlgorithmIdentifiers vetca writes to
// their x509 constants.
func vetcaSignatureAlgorithm(ai []byte) (x509.SignatureAlgorithm, bool) {
	for _, a := range []struct {
		der  []byte
		algo x509.SignatureAlgorithm
	}{
		{algECDSASHA256[2:], x509.ECDSAWithSHA256}, {algECDSASHA384[2:], x509.ECDSAWithSHA384},
		{algECDSASHA512[2:], x509.ECDSAWithSHA512}, {algRSASHA256[2:], x509.SHA256WithRSA},
	} {
		if bytes.Equal(ai, a.der) {
			return a.algo, true
		}
	}
	return 0, false
}

// positiveMagnitude returns the big-endian magnitude of a DER INTEGER's
// content octets, if the integer is positive and minimally encoded.
func positiveMagnitude(c []byte) ([]byte, bool) {
	switch {
	case len(c) == 0 || c[0]&0x80 != 0:
		return nil, false
	case c[0] == 0:
		if len(c) == 1 || c[1]&0x80 == 0 {
			return nil, false // zero, or a redundant leading zero
		}
		return c[1:], true
	}
	return c, true
}

// readTime reads a UTCTime or a GeneralizedTime, each where RFC 5280
// §5.1.2.4 wants it: UTCTime through 2049, GeneralizedTime from 2050.
func readTime(s *cryptobyte.String) (time.Time, error) {
	var t time.Time
	switch {
	case s.PeekASN1Tag(cbasn1.UTCTime):
		if !s.ReadASN1UTCTime(&t) {
			return t, errors.New("malformed UTCTime")
		}
	case s.PeekASN1Tag(cbasn1.GeneralizedTime):
		if !s.ReadASN1GeneralizedTime(&t) {
			return t, errors.New("malformed GeneralizedTime")
		}
		if t.Year() < 2050 {
			return t, errors.New("GeneralizedTime before 2050 (RFC 5280 §5.1.2.4)")
		}
	default:
		return t, errors.New("missing")
	}
	return t.UTC(), nil
}

// readEntryReason reads an entry's optional crlEntryExtensions, which may
// hold only a non-critical reasonCode other than unspecified, with a code
// BR §7.2.2 allows; it returns the code (0 when absent).
func readEntryReason(entry *cryptobyte.String, serial []byte) (int, error) {
	var exts cryptobyte.String
	var present bool
	if !entry.ReadOptionalASN1(&exts, &present, cbasn1.SEQUENCE) {
		return 0, fmt.Errorf("%w: serial %x: malformed crlEntryExtensions", ErrMalformed, serial)
	}
	if !present {
		return 0, nil
	}
	var ext, oid, value cryptobyte.String
	var critical bool
	if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !exts.Empty() || !ext.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) ||
		!readCritical(&ext, &critical) || !ext.ReadASN1(&value, cbasn1.OCTET_STRING) || !ext.Empty() {
		return 0, fmt.Errorf("%w: serial %x: crlEntryExtensions must hold exactly one well-formed extension", ErrMalformed, serial)
	}
	if !bytes.Equal(oid, oidBytesReasonCode) {
		return 0, fmt.Errorf("%w: serial %x has an unexpected entry extension", ErrMalformed, serial)
	}
	if critical {
		return 0, fmt.Errorf("%w: serial %x has a critical reasonCode (BR §7.2.2)", ErrMalformed, serial)
	}
	var code int
	if !value.ReadASN1Enum(&code) || !value.Empty() {
		return 0, fmt.Errorf("%w: serial %x: malformed reasonCode", ErrMalformed, serial)
	}
	if code == 0 {
		return 0, fmt.Errorf("%w: serial %x has an explicit unspecified reasonCode; BR §7.2.2 requires omitting it", ErrMalformed, serial)
	}
	if !ReasonAllowed(code) {
		return 0, fmt.Errorf("%w: serial %x has reason code %d, not permitted (BR §7.2.2)", ErrMalformed, serial, code)
	}
	return code, nil
}

// oidBytesReasonCode is the content of OID 2.5.29.21.
var oidBytesReasonCode = []byte{0x55, 0x1d, 0x15}

// checkCRLExtensions checks crlExtensions as Inspect does (exactly a
// non-critical authorityKeyIdentifier holding the issuer's key identifier,
// a non-critical cRLNumber in range, and a critical Issuing Distribution
// Point in vetca's form) and fills info's URL and Number.
func checkCRLExtensions(exts cryptobyte.String, issuer *x509.Certificate, info *Info) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
	var sawAKI, sawNumber, sawIDP bool
	for !exts.Empty() {
		var ext, oid, value cryptobyte.String
		var critical bool
		if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1(&oid, cbasn1.OBJECT_IDENTIFIER) ||
			!readCritical(&ext, &critical) || !ext.ReadASN1(&value, cbasn1.OCTET_STRING) || !ext.Empty() {
			return bad("malformed CRL extension")
		}
		switch {
		case bytes.Equal(oid, oidBytesAKI):
			if sawAKI {
				return bad("CRL extension %s appears twice (RFC 5280 §4.2)", asn1OIDAKI)
			}
			sawAKI = true
			var aki, keyID cryptobyte.String
			if critical || !value.ReadASN1(&aki, cbasn1.SEQUENCE) || !value.Empty() ||
				!aki.ReadASN1(&keyID, tagContext0Primitive) || !aki.Empty() ||
				len(keyID) == 0 || !bytes.Equal(keyID, issuer.SubjectKeyId) {
				return bad("authorityKeyIdentifier does not match the issuer's subjectKeyIdentifier (BR §7.2)")
			}
		case bytes.Equal(oid, oidBytesCRLNumber):
			if sawNumber {
				return bad("CRL extension %s appears twice (RFC 5280 §4.2)", asn1OIDCRLNumber)
			}
			sawNumber = true
			n := new(big.Int)
			if critical || !value.ReadASN1Integer(n) || !value.Empty() || n.Sign() < 0 || n.Cmp(maxCRLNumber) >= 0 {
				return bad("CRLNumber missing or outside [0, 2^159) (BR §7.2)")
			}
			info.Number = n
		case bytes.Equal(oid, oidBytesIssuingDistPoint):
			if sawIDP {
				return bad("CRL extension %s appears twice (RFC 5280 §4.2)", asn1OIDIDP)
			}
			sawIDP = true
			if !critical {
				return bad("the Issuing Distribution Point is not critical (BR §7.2.2.1)")
			}
			u, err := ParseIssuingDistributionPoint(value)
			if err != nil {
				return err
			}
			info.URL = u
		default:
			return bad("unexpected CRL extension (BR §7.2.2)")
		}
	}
	if !sawAKI || !sawNumber || !sawIDP {
		return bad("needs non-critical authorityKeyIdentifier and cRLNumber and a critical Issuing Distribution Point")
	}
	return nil
}

// readCritical reads an Extension's optional critical BOOLEAN (DEFAULT
// FALSE), as x509's parser does.
func readCritical(ext *cryptobyte.String, critical *bool) bool {
	*critical = false
	if !ext.PeekASN1Tag(cbasn1.BOOLEAN) {
		return true
	}
	return ext.ReadASN1Boolean(critical)
}
