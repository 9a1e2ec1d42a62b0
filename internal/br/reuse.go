package br

import "time"

// subjectIdentityReuseTable is BR §4.2.1's reuse period for Subject Identity
// Information (SC-081): 825 days for certificates issued before 2026-03-15,
// 398 days from then on.
func subjectIdentityReuseTable() []step {
	return []step{
		{time.Time{}, 825},
		{sc081Step1, 398},
	}
}

// domainValidationReuseTable is BR §4.2.1's reuse period for domain name and
// IP address validation (SC-081): 398 days before 2026-03-15, 200 days from
// then, 100 days from 2027-03-15 and 10 days from 2029-03-15.
func domainValidationReuseTable() []step {
	return []step{
		{time.Time{}, 398},
		{sc081Step1, 200},
		{sc081Step2, 100},
		{sc081Step3, 10},
	}
}

// SubjectIdentityReuse returns how old, at most, the data and documents
// behind a Subject Identity Information validation may be when a certificate
// is issued at issuedAt (BR §4.2.1): 825 days before 2026-03-15, then 398.
func SubjectIdentityReuse(issuedAt time.Time) time.Duration {
	return time.Duration(lookup(subjectIdentityReuseTable(), issuedAt)) * Day
}

// DomainValidationReuse returns how old, at most, a domain validation may be
// when a certificate is issued at issuedAt (BR §4.2.1): 398 days before
// 2026-03-15, 200 days from then, 100 days from 2027-03-15, 10 days from
// 2029-03-15.
func DomainValidationReuse(issuedAt time.Time) time.Duration {
	return time.Duration(lookup(domainValidationReuseTable(), issuedAt)) * Day
}

// SubjectIdentityReusable reports whether Subject Identity Information whose
// oldest supporting data or document was obtained at obtainedAt may still be
// relied on for a certificate issued at issuedAt (BR §4.2.1: "In no case may
// a prior validation be reused if any data or document used in the prior
// validation was obtained more than the maximum time permitted"). Data
// exactly as old as the period is still usable; obtainedAt after issuedAt is
// not (evidence cannot come from the future).
func SubjectIdentityReusable(obtainedAt, issuedAt time.Time) bool {
	return reusable(obtainedAt, issuedAt, SubjectIdentityReuse(issuedAt))
}

// DomainValidationReusable reports whether a domain validation completed at
// obtainedAt may still be relied on for a certificate issued at issuedAt
// (BR §4.2.1). The boundary is inclusive as for SubjectIdentityReusable.
func DomainValidationReusable(obtainedAt, issuedAt time.Time) bool {
	return reusable(obtainedAt, issuedAt, DomainValidationReuse(issuedAt))
}

func reusable(obtainedAt, issuedAt time.Time, period time.Duration) bool {
	age := issuedAt.Sub(obtainedAt)
	return age >= 0 && age <= period
}

// SubjectIdentityReusableUntil returns the last instant at which a
// certificate may be issued relying on Subject Identity Information obtained
// at obtainedAt (BR §4.2.1). Because the period shrinks on 2026-03-15, this
// is not simply obtainedAt + 825 days: data obtained in 2024 stops being
// usable at the milestone if it is older than 398 days by then.
func SubjectIdentityReusableUntil(obtainedAt time.Time) time.Time {
	return reusableUntil(subjectIdentityReuseTable(), obtainedAt)
}

// DomainValidationReusableUntil returns the last instant at which a
// certificate may be issued relying on a domain validation completed at
// obtainedAt (BR §4.2.1), accounting for the SC-081 steps as
// SubjectIdentityReusableUntil does.
func DomainValidationReusableUntil(obtainedAt time.Time) time.Time {
	return reusableUntil(domainValidationReuseTable(), obtainedAt)
}

// reusableUntil finds the latest t >= obtainedAt with t - obtainedAt <=
// period(t), where period is the step function in rows. Within row i (from
// rows[i].from up to, but excluding, rows[i+1].from) the usable instants are
// [max(from, obtainedAt), min(end-1ns, obtainedAt+period_i)]; the answer is
// the upper end of the last non-empty such interval.
func reusableUntil(rows []step, obtainedAt time.Time) time.Time {
	var last time.Time
	found := false
	for i, r := range rows {
		lo := obtainedAt
		if r.from.After(lo) {
			lo = r.from
		}
		hi := obtainedAt.Add(time.Duration(r.days) * Day)
		if i+1 < len(rows) {
			end := rows[i+1].from.Add(-time.Nanosecond)
			if end.Before(hi) {
				hi = end
			}
		}
		if !hi.Before(lo) {
			last, found = hi, true
		}
	}
	if !found {
		return obtainedAt
	}
	return last
}

// RandomValueValidity is the longest a Random Value may be used for a
// confirming response: 30 days from its creation (BR §3.2.2.4.7, and the same
// rule in §3.2.2.4.18/19).
const RandomValueValidity = 30 * Day

// RandomValueMinBits is the entropy a Random Value must have: "at least 112
// bits of entropy" (BR §1.6.1, "Random Value").
const RandomValueMinBits = 112

// RandomValueExpiry returns when a Random Value created at createdAt stops
// being usable (BR §3.2.2.4.7): after 30 days or after the reuse period for
// domain validation data (§4.2.1), whichever comes first. From 2029-03-15 the
// latter is 10 days, so the 30 days no longer bind.
func RandomValueExpiry(createdAt time.Time) time.Time {
	return createdAt.Add(min(RandomValueValidity, DomainValidationReuse(createdAt)))
}
