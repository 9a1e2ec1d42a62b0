package ocspresp

import "time"

// RefreshMargin is how long before the BR §4.9.9 refresh deadline RefreshDue
// starts to report a response as due. The job that re-signs responses must
// run well within this margin (every few minutes) so that every refresh lands
// before its deadline.
const RefreshMargin = time.Hour

// RefreshDeadline returns the time by which BR §4.9.9 requires a pre-signed
// response with these bounds to have been replaced. With a validity interval
// (thisUpdate through nextUpdate, inclusive) under 16 hours, the update must
// come "prior to one-half of the validity period before the nextUpdate";
// otherwise "at least eight hours prior to the nextUpdate, and no later than
// four days after the thisUpdate" (which is also MRSP §6's "at least every
// four days").
func RefreshDeadline(thisUpdate, nextUpdate time.Time) time.Time {
	interval := nextUpdate.Sub(thisUpdate) + time.Second
	if interval < 16*time.Hour {
		return nextUpdate.Add(-interval / 2)
	}
	deadline := nextUpdate.Add(-8 * time.Hour)
	if limit := thisUpdate.Add(4 * 24 * time.Hour); limit.Before(deadline) {
		deadline = limit
	}
	return deadline
}

// RefreshDue reports whether a response with these bounds should be re-signed
// at now: from RefreshMargin before its RefreshDeadline on, and always for
// bounds that are unset or inverted.
func RefreshDue(thisUpdate, nextUpdate, now time.Time) bool {
	if thisUpdate.IsZero() || nextUpdate.IsZero() || !nextUpdate.After(thisUpdate) {
		return true
	}
	return !now.Before(RefreshDeadline(thisUpdate, nextUpdate).Add(-RefreshMargin))
}
