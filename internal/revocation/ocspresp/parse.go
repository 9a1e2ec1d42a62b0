package ocspresp

import (
	"encoding/asn1"
	"errors"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// OCSPResponseStatus values (RFC 6960 §4.2.1).
const (
	statusSuccessful       = 0
	statusMalformedRequest = 1
	statusInternalError    = 2
	statusTryLater         = 3
	statusUnauthorized     = 6
)

// responseMeta is what the handler needs from a response to serve it: enough
// to set the RFC 5019 §6.2 caching headers and to make sure it answers the
// request. It is read without checking the signature, which the Source's
// responses already had checked when they were signed.
type responseMeta struct {
	status     int      // OCSPResponseStatus
	serial     *big.Int // CertID serial of the only SingleResponse
	thisUpdate time.Time
	nextUpdate time.Time // zero if absent
}

var errBadResponse = errors.New("ocspresp: malformed OCSP response")

// readResponseMeta parses an OCSPResponse far enough to fill responseMeta. A
// successful response must be a BasicOCSPResponse with exactly one
// SingleResponse.
func readResponseMeta(der []byte) (responseMeta, error) {
	var m responseMeta
	in := cryptobyte.String(der)
	var resp cryptobyte.String
	if !in.ReadASN1(&resp, cbasn1.SEQUENCE) || !in.Empty() || !resp.ReadASN1Enum(&m.status) {
		return m, errBadResponse
	}
	if m.status != statusSuccessful {
		if !resp.Empty() {
			return m, errBadResponse
		}
		return m, nil
	}
	var rbWrap, rb, basicOctets, basic, tbs cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !resp.ReadASN1(&rbWrap, cbasn1.Tag(0).ContextSpecific().Constructed()) || !resp.Empty() ||
		!rbWrap.ReadASN1(&rb, cbasn1.SEQUENCE) ||
		!rb.ReadASN1ObjectIdentifier(&oid) || !oid.Equal(oidOCSPBasic) ||
		!rb.ReadASN1(&basicOctets, cbasn1.OCTET_STRING) ||
		!basicOctets.ReadASN1(&basic, cbasn1.SEQUENCE) ||
		!basic.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return m, errBadResponse
	}
	var skip cryptobyte.String
	var tag cbasn1.Tag
	var produced time.Time
	var responses, single, certID cryptobyte.String
	if !tbs.SkipOptionalASN1(cbasn1.Tag(0).ContextSpecific().Constructed()) || // version
		!tbs.ReadAnyASN1(&skip, &tag) || // responderID
		!tbs.ReadASN1GeneralizedTime(&produced) ||
		!tbs.ReadASN1(&responses, cbasn1.SEQUENCE) ||
		!responses.ReadASN1(&single, cbasn1.SEQUENCE) || !responses.Empty() ||
		!single.ReadASN1(&certID, cbasn1.SEQUENCE) ||
		!certID.SkipASN1(cbasn1.SEQUENCE) || !certID.SkipASN1(cbasn1.OCTET_STRING) || !certID.SkipASN1(cbasn1.OCTET_STRING) {
		return m, errBadResponse
	}
	m.serial = new(big.Int)
	if !certID.ReadASN1Integer(m.serial) ||
		!single.ReadAnyASN1(&skip, &tag) || // certStatus
		!single.ReadASN1GeneralizedTime(&m.thisUpdate) {
		return m, errBadResponse
	}
	var next cryptobyte.String
	var hasNext bool
	if !single.ReadOptionalASN1(&next, &hasNext, cbasn1.Tag(0).ContextSpecific().Constructed()) {
		return m, errBadResponse
	}
	if hasNext && !next.ReadASN1GeneralizedTime(&m.nextUpdate) {
		return m, errBadResponse
	}
	return m, nil
}
