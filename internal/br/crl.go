package br

import (
	"fmt"
	"math/big"
	"time"
)

// CRL rules for CAs issuing Subscriber Certificates (BR §4.9.7, §7.2, §4.10.1;
// MRSP §6).
const (
	// CRLMaxValidity: for CRLs covering Subscriber Certificates, nextUpdate
	// is "at most 10 days after the thisUpdate" (BR §7.2; MRSP §6). zlint
	// e_crl_next_update_invalid checks the same bound.
	CRLMaxValidity = 10 * Day
	// CRLRepublishWithOCSP: a new CRL at least every 7 days when every
	// certificate in scope carries an AIA OCSP pointer (BR §4.9.7; MRSP §6
	// requires 7 days in any case).
	CRLRepublishWithOCSP = 7 * Day
	// CRLRepublishWithoutOCSP: otherwise at least every 4 days (BR §4.9.7).
	CRLRepublishWithoutOCSP = 4 * Day
	// CRLAfterRevocation: a new CRL "within twenty-four (24) hours after
	// recording a Certificate as revoked" (BR §4.9.7).
	CRLAfterRevocation = 24 * time.Hour
	// CRLAfterFirstIssuance: the first full or sharded CRL within 24 hours of
	// issuing the first certificate (BR §4.9.7; §7.2 still says 7 days, the
	// stricter rule wins).
	CRLAfterFirstIssuance = 24 * time.Hour
)

// CRLNumberBits bounds the CRLNumber: it "MUST be ... less than 2^159"
// (BR §7.2; the RFC 5280 §5.2.3 20-octet limit).
const CRLNumberBits = 159

// CRLRepublishInterval returns the longest gap allowed between two CRLs of a
// CA issuing Subscriber Certificates: 7 days if every certificate in scope
// has an OCSP URL, otherwise 4 days (BR §4.9.7).
func CRLRepublishInterval(allCertsHaveOCSP bool) time.Duration {
	if allCertsHaveOCSP {
		return CRLRepublishWithOCSP
	}
	return CRLRepublishWithoutOCSP
}

// CRLRepublishDue returns when the next CRL must be published after one
// whose thisUpdate is lastThisUpdate: at the regular interval, or 24 hours
// after the earliest revocation recorded since then (zero if none),
// whichever is first (BR §4.9.7).
func CRLRepublishDue(lastThisUpdate time.Time, allCertsHaveOCSP bool, firstUnpublishedRevocation time.Time) time.Time {
	due := lastThisUpdate.Add(CRLRepublishInterval(allCertsHaveOCSP))
	if !firstUnpublishedRevocation.IsZero() {
		if r := firstUnpublishedRevocation.Add(CRLAfterRevocation); r.Before(due) {
			due = r
		}
	}
	return due
}

// CheckCRLValidity checks the thisUpdate/nextUpdate of a CRL covering
// Subscriber Certificates: nextUpdate is present, after thisUpdate, and at
// most 10 days after it (BR §7.2).
func CheckCRLValidity(thisUpdate, nextUpdate time.Time) error {
	switch {
	case thisUpdate.IsZero() || nextUpdate.IsZero():
		return fmt.Errorf("br: a CRL needs thisUpdate and nextUpdate (BR §7.2)")
	case !nextUpdate.After(thisUpdate):
		return fmt.Errorf("br: CRL nextUpdate %s is not after thisUpdate %s", nextUpdate.UTC().Format(time.RFC3339), thisUpdate.UTC().Format(time.RFC3339))
	case nextUpdate.Sub(thisUpdate) > CRLMaxValidity:
		return fmt.Errorf("br: CRL nextUpdate is %s after thisUpdate, more than the 10 days BR §7.2 allows", nextUpdate.Sub(thisUpdate))
	}
	return nil
}

// MaxCRLNumber returns 2^159, the exclusive upper bound of a CRLNumber
// (BR §7.2). The caller owns the result.
func MaxCRLNumber() *big.Int { return new(big.Int).Lsh(big.NewInt(1), CRLNumberBits) }

// CheckCRLNumber checks a new CRLNumber: non-negative, below 2^159, and
// strictly greater than the previous one of the same CRL scope ("convey a
// strictly increasing sequence", BR §7.2; RFC 5280 §5.2.3). previous is nil
// for a scope's first CRL.
func CheckCRLNumber(n, previous *big.Int) error {
	switch {
	case n == nil:
		return fmt.Errorf("br: a CRL needs a CRLNumber (BR §7.2)")
	case n.Sign() < 0:
		return fmt.Errorf("br: CRLNumber %s is negative", n)
	case n.BitLen() > CRLNumberBits:
		return fmt.Errorf("br: CRLNumber %s is not below 2^159 (BR §7.2)", n)
	case previous != nil && n.Cmp(previous) <= 0:
		return fmt.Errorf("br: CRLNumber %s does not increase over %s (BR §7.2)", n, previous)
	}
	return nil
}

// CRLEntryRemovable reports whether the entry of a revoked certificate that
// expires at notAfter may be left off the next CRL, given lastScheduled, the
// thisUpdate of the latest regularly scheduled CRL that listed the entry
// (zero if none). An entry must remain until it "has appeared on at least
// one regularly scheduled CRL beyond the revoked Certificate's validity
// period" (BR §7.2), and never before expiry (BR §4.10.1). A CRL published
// early because of a revocation does not count as regularly scheduled.
func CRLEntryRemovable(notAfter, lastScheduled time.Time) bool {
	return !lastScheduled.IsZero() && lastScheduled.After(notAfter)
}
