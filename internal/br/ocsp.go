package br

import (
	"fmt"
	"time"
)

// OCSP rules for Subscriber Certificates (BR §4.9.9; MRSP §6). The BR
// defines the validity interval as "the difference in time between the
// thisUpdate and nextUpdate field, inclusive", i.e. nextUpdate - thisUpdate
// + 1 s, with 3,600 s to the hour and 86,400 s to the day.
const (
	// OCSPMinValidity: the validity interval is "greater than or equal to
	// eight hours" (BR §4.9.9).
	OCSPMinValidity = 8 * time.Hour
	// OCSPMaxValidity: "less than or equal to ten days" (BR §4.9.9; MRSP §6).
	OCSPMaxValidity = 10 * Day
	// OCSPShortThreshold separates the two refresh rules of BR §4.9.9:
	// validity intervals below 16 hours and those of 16 hours or more.
	OCSPShortThreshold = 16 * time.Hour
	// OCSPRefreshBeforeNextUpdate: for intervals of 16 h or more, refresh "at
	// least eight hours prior to the nextUpdate" (BR §4.9.9).
	OCSPRefreshBeforeNextUpdate = 8 * time.Hour
	// OCSPRefreshAfterThisUpdate: and "no later than four days after the
	// thisUpdate" (BR §4.9.9; MRSP §6: "at least every four days").
	OCSPRefreshAfterThisUpdate = 4 * Day
	// OCSPAuthoritativeWithin: "an authoritative OCSP response MUST be
	// available ... starting no more than 15 minutes after the Certificate or
	// Precertificate is first published" (BR §4.9.9, effective 2025-01-15).
	OCSPAuthoritativeWithin = 15 * time.Minute
)

// OCSPValidityInterval returns the BR §4.9.9 validity interval of a
// response: nextUpdate - thisUpdate, inclusive of both ends (+1 s).
func OCSPValidityInterval(thisUpdate, nextUpdate time.Time) time.Duration {
	return nextUpdate.Sub(thisUpdate) + time.Second
}

// CheckOCSPValidity checks the thisUpdate/nextUpdate of an OCSP response for
// a Subscriber Certificate against BR §4.9.9: the inclusive validity interval
// is at least 8 hours and at most 10 days. vetca's own check is one second
// stricter at the low end: it also wants nextUpdate - thisUpdate >= 8 h, so
// that a reader who measures without the inclusive second agrees.
func CheckOCSPValidity(thisUpdate, nextUpdate time.Time) error {
	if thisUpdate.IsZero() || nextUpdate.IsZero() {
		return fmt.Errorf("br: an OCSP response for a subscriber certificate needs thisUpdate and nextUpdate (BR §4.9.9)")
	}
	diff := nextUpdate.Sub(thisUpdate)
	if diff < OCSPMinValidity {
		return fmt.Errorf("br: OCSP validity interval %s is shorter than the 8 hours BR §4.9.9 requires", diff)
	}
	if OCSPValidityInterval(thisUpdate, nextUpdate) > OCSPMaxValidity {
		return fmt.Errorf("br: OCSP validity interval %s (inclusive) exceeds the 10 days BR §4.9.9 allows",
			OCSPValidityInterval(thisUpdate, nextUpdate))
	}
	return nil
}

// OCSPRefreshBy returns the instant before which a response with this
// thisUpdate/nextUpdate must be replaced by a fresh one (BR §4.9.9):
//
//   - validity interval under 16 hours: "prior to one-half of the validity
//     period before the nextUpdate", i.e. before nextUpdate - interval/2;
//   - 16 hours or more: "at least eight hours prior to the nextUpdate, and no
//     later than four days after the thisUpdate", i.e. by the earlier of
//     nextUpdate - 8 h and thisUpdate + 4 days.
func OCSPRefreshBy(thisUpdate, nextUpdate time.Time) time.Time {
	iv := OCSPValidityInterval(thisUpdate, nextUpdate)
	if iv < OCSPShortThreshold {
		return nextUpdate.Add(-iv / 2)
	}
	by := nextUpdate.Add(-OCSPRefreshBeforeNextUpdate)
	if limit := thisUpdate.Add(OCSPRefreshAfterThisUpdate); limit.Before(by) {
		by = limit
	}
	return by
}

// OCSPAuthoritativeBy returns when the responder must give an authoritative
// answer (never "unknown") for a certificate or precertificate first
// published at publishedAt (BR §4.9.9).
func OCSPAuthoritativeBy(publishedAt time.Time) time.Time {
	return publishedAt.Add(OCSPAuthoritativeWithin)
}
