package br

import (
	"time"

	"github.com/vetca/vetca/internal/apperr"
)

// The milestones of ballot SC-081 in BR §6.3.2 and §4.2.1, and of SC-063 in
// §1.6.1, at 00:00 UTC. They are read-only.
var (
	// sc081Step1, 2026-03-15: maximum validity 200 days; SII reuse 398 days;
	// domain validation reuse 200 days; short-lived means at most 7 days.
	sc081Step1 = time.Date(2026, time.March, 15, 0, 0, 0, 0, time.UTC)
	// sc081Step2, 2027-03-15: maximum validity 100 days; domain validation
	// reuse 100 days.
	sc081Step2 = time.Date(2027, time.March, 15, 0, 0, 0, 0, time.UTC)
	// sc081Step3, 2029-03-15: maximum validity 47 days; domain validation
	// reuse 10 days.
	sc081Step3 = time.Date(2029, time.March, 15, 0, 0, 0, 0, time.UTC)
	// shortLivedStart, 2024-03-15: BR §1.6.1 defines Short-lived Subscriber
	// Certificates (at most 10 days until sc081Step1).
	shortLivedStart = time.Date(2024, time.March, 15, 0, 0, 0, 0, time.UTC)
)

// step is one row of a date table: from From (inclusive) on, the value holds
// until the next row's From.
type step struct {
	from time.Time
	days int
}

// lookup returns the days of the last row whose from is not after t. Rows are
// sorted by from; the first row has a zero from and so always matches.
func lookup(rows []step, t time.Time) int {
	d := rows[0].days
	for _, r := range rows[1:] {
		if t.Before(r.from) {
			break
		}
		d = r.days
	}
	return d
}

// maxValidityTable is BR §6.3.2's table of MUST NOT exceed values; the
// second column is the SHOULD NOT exceed value.
func maxValidityTable() []step {
	return []step{
		{time.Time{}, 398}, // issued before 2026-03-15
		{sc081Step1, 200},  // on or after 2026-03-15, before 2027-03-15
		{sc081Step2, 100},  // on or after 2027-03-15, before 2029-03-15
		{sc081Step3, 47},   // on or after 2029-03-15
	}
}

// MaxValidity returns the longest Validity Period, in days, that a Subscriber
// Certificate issued at issuedAt may have (BR §6.3.2, "MUST NOT exceed"):
// 398 days before 2026-03-15, 200 days from then, 100 days from 2027-03-15
// and 47 days from 2029-03-15.
func MaxValidity(issuedAt time.Time) (days int) {
	return lookup(maxValidityTable(), issuedAt)
}

// RecommendedMaxValidity returns the BR §6.3.2 "SHOULD NOT exceed" value for
// a certificate issued at issuedAt: one day less than MaxValidity (397, 199,
// 99, 46). zlint warns above it (w_server_cert_valid_time_longer_than_199_days
// and its siblings), so vetca's profile defaults to this value.
func RecommendedMaxValidity(issuedAt time.Time) (days int) {
	return MaxValidity(issuedAt) - 1
}

// ValidityPeriod returns the Validity Period of a certificate: the time from
// notBefore to notAfter inclusive, so one second more than their difference
// (BR §1.6.1 "Validity Period", quoting RFC 5280 §4.1.2.5).
func ValidityPeriod(notBefore, notAfter time.Time) time.Duration {
	return notAfter.Sub(notBefore) + time.Second
}

// ValidityDays returns the Validity Period in BR days: a day is 86,400
// seconds and "any amount of time greater than this, including fractional
// seconds and/or leap seconds, shall represent an additional day" (BR §6.3.2).
// It is the value compared with MaxValidity.
func ValidityDays(notBefore, notAfter time.Time) int {
	p := ValidityPeriod(notBefore, notAfter)
	if p <= 0 {
		return 0
	}
	d := int(p / Day)
	if p%Day != 0 {
		d++
	}
	return d
}

// capDays is the validity cap that applies to a certificate issued at
// issuedAt with the given notBefore. BR §6.3.2 keys the cap on the issuance
// date, while linters (zlint) key it on notBefore; vetca obeys both, so a
// notBefore on the other side of a milestone cannot buy a longer validity.
func capDays(issuedAt, notBefore time.Time) int {
	return min(MaxValidity(issuedAt), MaxValidity(notBefore))
}

// NotAfter returns the notAfter for a certificate whose notBefore is given
// and whose Validity Period is days BR days: notBefore + days*86400 s - 1 s,
// because the Validity Period includes both ends (BR §6.3.2, §1.6.1).
//
// It returns an apperr.Invalid error naming "validityDays" when days is not
// positive or exceeds the BR §6.3.2 cap that applies at issuedAt (and at
// notBefore; see MaxValidity).
func NotAfter(issuedAt, notBefore time.Time, days int) (time.Time, error) {
	if days < 1 {
		return time.Time{}, apperr.Invalid(apperr.CodeInvalidValidity, "validityDays",
			"validityDays must be at least 1, got %d", days)
	}
	if c := capDays(issuedAt, notBefore); days > c {
		return time.Time{}, apperr.Invalid(apperr.CodeValidityTooLong, "validityDays",
			"validityDays %d exceeds the BR §6.3.2 maximum of %d days for certificates issued on %s",
			days, c, issuedAt.UTC().Format(time.DateOnly))
	}
	return notBefore.Add(time.Duration(days)*Day - time.Second), nil
}

// CheckValidity checks a certificate's validity window against BR §6.3.2 for
// a certificate issued at issuedAt: notAfter must not be before notBefore,
// and the Validity Period must not exceed the cap. It returns an
// apperr.Invalid error naming "validityDays" otherwise. Lints and the
// issuer's final check use it.
func CheckValidity(issuedAt, notBefore, notAfter time.Time) error {
	if notAfter.Before(notBefore) {
		return apperr.Invalid(apperr.CodeInvalidValidity, "validityDays",
			"notAfter %s is before notBefore %s", notAfter.UTC().Format(time.RFC3339), notBefore.UTC().Format(time.RFC3339))
	}
	c := capDays(issuedAt, notBefore)
	if d := ValidityDays(notBefore, notAfter); d > c {
		return apperr.Invalid(apperr.CodeValidityTooLong, "validityDays",
			"validity period of %d days (%s) exceeds the BR §6.3.2 maximum of %d days",
			d, ValidityPeriod(notBefore, notAfter), c)
	}
	return nil
}

// ShortLivedMax returns the longest Validity Period of a Short-lived
// Subscriber Certificate issued at issuedAt (BR §1.6.1): 10 days (864,000 s)
// from 2024-03-15, 7 days (604,800 s) from 2026-03-15. ok is false before
// 2024-03-15, when the BR had no such class.
func ShortLivedMax(issuedAt time.Time) (limit time.Duration, ok bool) {
	switch {
	case issuedAt.Before(shortLivedStart):
		return 0, false
	case issuedAt.Before(sc081Step1):
		return 10 * Day, true
	default:
		return 7 * Day, true
	}
}

// IsShortLived reports whether a certificate with this validity window is a
// Short-lived Subscriber Certificate (BR §1.6.1), taking notBefore as its
// issuance date. Short-lived certificates are exempt from the revocation
// deadlines of §4.9.1.1 and need no CRL distribution point (§7.1.2.11.2).
func IsShortLived(notBefore, notAfter time.Time) bool {
	m, ok := ShortLivedMax(notBefore)
	if !ok {
		return false
	}
	p := ValidityPeriod(notBefore, notAfter)
	return p > 0 && p <= m
}
