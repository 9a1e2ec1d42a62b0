package br

import (
	"fmt"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/apperr"
)

// Reason is a CRLReason code (RFC 5280 §5.3.1). Its String is the RFC 5280
// name, which is also the name the API uses (docs/api.md, revoke).
//
// Only six reasons may appear for a TLS subscriber certificate (BR §7.2.2,
// MRSP §6.1.1): Unspecified, KeyCompromise, AffiliationChanged, Superseded,
// CessationOfOperation and PrivilegeWithdrawn. The others exist so that a
// parsed CRL or request can be named and refused.
type Reason int

// CRLReason codes, RFC 5280 §5.3.1. Code 7 is not assigned.
const (
	Unspecified          Reason = 0
	KeyCompromise        Reason = 1
	CACompromise         Reason = 2
	AffiliationChanged   Reason = 3
	Superseded           Reason = 4
	CessationOfOperation Reason = 5
	CertificateHold      Reason = 6
	RemoveFromCRL        Reason = 8
	PrivilegeWithdrawn   Reason = 9
	AACompromise         Reason = 10
)

// Error codes of the reason rules, for callers and tests that match them.
const (
	CodeUnknownReason   = apperr.CodeUnknownReason       // not an RFC 5280 CRLReason name
	CodeForbiddenReason = apperr.CodeReasonForbidden     // an RFC 5280 reason the BR forbids for TLS subscriber certificates
	CodeReasonCAOnly    = apperr.CodeReasonCAOnly        // privilegeWithdrawn asked by a subscriber
	CodeAlreadyRevoked  = apperr.CodeAlreadyRevoked      // only keyCompromise may change an existing entry
	CodeBadCompromiseAt = apperr.CodeInvalidCompromiseAt // a key compromise time in the future
)

func reasonName(r Reason) (string, bool) {
	switch r {
	case Unspecified:
		return "unspecified", true
	case KeyCompromise:
		return "keyCompromise", true
	case CACompromise:
		return "cACompromise", true
	case AffiliationChanged:
		return "affiliationChanged", true
	case Superseded:
		return "superseded", true
	case CessationOfOperation:
		return "cessationOfOperation", true
	case CertificateHold:
		return "certificateHold", true
	case RemoveFromCRL:
		return "removeFromCRL", true
	case PrivilegeWithdrawn:
		return "privilegeWithdrawn", true
	case AACompromise:
		return "aACompromise", true
	}
	return "", false
}

// String returns the RFC 5280 §5.3.1 name, or "Reason(N)" for a code RFC
// 5280 does not assign.
func (r Reason) String() string {
	if n, ok := reasonName(r); ok {
		return n
	}
	return fmt.Sprintf("Reason(%d)", int(r))
}

// Code returns the CRLReason enumeration value (RFC 5280 §5.3.1).
func (r Reason) Code() int { return int(r) }

// Valid reports whether r is one of the six reasons allowed for a TLS
// subscriber certificate at all (BR §7.2.2; MRSP §6.1.1 and the Mozilla wiki
// "TLS Certificates may be revoked ONLY for" these).
func (r Reason) Valid() bool {
	switch r {
	case Unspecified, KeyCompromise, AffiliationChanged, Superseded, CessationOfOperation, PrivilegeWithdrawn:
		return true
	}
	return false
}

// AllowedForSubscriber reports whether a subscriber may choose r when it
// revokes its own certificate: every valid reason but privilegeWithdrawn,
// whose use "is determined by the CA and not the Subscriber" (BR §7.2.2).
func (r Reason) AllowedForSubscriber() bool {
	return r.Valid() && r != PrivilegeWithdrawn
}

// AllowedForCA reports whether the CA may revoke a subscriber certificate
// with r: all six valid reasons (BR §7.2.2, MRSP §6.1.1).
func (r Reason) AllowedForCA() bool { return r.Valid() }

// HasReasonCode reports whether a CRL entry for r carries a reasonCode
// extension. Unspecified is "represented by the omission of a reasonCode"
// (BR §7.2.2); every other valid reason MUST be present (BR §7.2.2, MRSP
// §6.1.1). OCSP responses follow the same mapping (BR §7.3).
func (r Reason) HasReasonCode() bool { return r != Unspecified }

// SubscriberReasons lists the reasons a subscriber may choose, default
// first (BR §7.2.2: the default is that no reason is given).
func SubscriberReasons() []Reason {
	return []Reason{Unspecified, KeyCompromise, AffiliationChanged, Superseded, CessationOfOperation}
}

// CAReasons lists the reasons the CA may use for a subscriber certificate
// (BR §7.2.2, MRSP §6.1.1).
func CAReasons() []Reason {
	return append(SubscriberReasons(), PrivilegeWithdrawn)
}

// ParseReason parses a CRLReason name as the API accepts it (docs/api.md).
// Names match case-insensitively. The empty string means Unspecified, the
// default of BR §7.2.2 ("no revocation reason is provided"); any other name
// must be an RFC 5280 §5.3.1 one ("none" is not).
//
// It returns an apperr.Invalid error naming "reason" with code
// CodeForbiddenReason for an RFC 5280 reason the BR does not allow for TLS
// subscriber certificates (certificateHold, cACompromise, removeFromCRL,
// aACompromise; BR §7.2.2 and §4.9.13), and with code CodeUnknownReason for
// any other name. privilegeWithdrawn parses; whether the caller may use it is
// checked by CheckSubscriber.
func ParseReason(s string) (Reason, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return Unspecified, nil
	}
	for _, r := range []Reason{Unspecified, KeyCompromise, CACompromise, AffiliationChanged, Superseded,
		CessationOfOperation, CertificateHold, RemoveFromCRL, PrivilegeWithdrawn, AACompromise} {
		if strings.EqualFold(t, r.String()) {
			if !r.Valid() {
				return 0, apperr.Invalid(CodeForbiddenReason, "reason",
					"%s may not be used for a TLS subscriber certificate (BR §7.2.2); use one of %s",
					r, joinReasons(CAReasons()))
			}
			return r, nil
		}
	}
	return 0, apperr.Invalid(CodeUnknownReason, "reason",
		"%q is not a revocation reason; use one of %s", s, joinReasons(CAReasons()))
}

// CheckSubscriber returns nil if a subscriber may revoke with r. For
// privilegeWithdrawn it returns apperr.Forbidden naming "reason" (code
// CodeReasonCAOnly; BR §7.2.2); for a reason that is not valid at all,
// apperr.Invalid naming "reason" (code CodeForbiddenReason).
func (r Reason) CheckSubscriber() error {
	if !r.Valid() {
		return apperr.Invalid(CodeForbiddenReason, "reason",
			"%s may not be used for a TLS subscriber certificate (BR §7.2.2)", r)
	}
	if r == PrivilegeWithdrawn {
		return apperr.Forbidden(CodeReasonCAOnly, "reason",
			"privilegeWithdrawn is chosen by the CA, not the subscriber (BR §7.2.2); use one of %s",
			joinReasons(SubscriberReasons()))
	}
	return nil
}

// ParseSubscriberReason parses a reason a subscriber sent: ParseReason
// followed by CheckSubscriber (BR §7.2.2).
func ParseSubscriberReason(s string) (Reason, error) {
	r, err := ParseReason(s)
	if err != nil {
		return 0, err
	}
	if err := r.CheckSubscriber(); err != nil {
		return 0, err
	}
	return r, nil
}

// MarshalText encodes r as its RFC 5280 name. Codes RFC 5280 does not assign
// are an error.
func (r Reason) MarshalText() ([]byte, error) {
	n, ok := reasonName(r)
	if !ok {
		return nil, fmt.Errorf("br: CRLReason code %d has no RFC 5280 name", int(r))
	}
	return []byte(n), nil
}

// UnmarshalText decodes a reason with ParseReason, so a forbidden reason
// (BR §7.2.2) fails JSON decoding with the same error.
func (r *Reason) UnmarshalText(b []byte) error {
	v, err := ParseReason(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Precedence ranks the valid reasons for when several apply, highest first:
// keyCompromise > privilegeWithdrawn > cessationOfOperation >
// affiliationChanged > superseded > unspecified (the Mozilla wiki
// CA/Revocation_Reasons, referenced by MRSP §6.1.1: "if both
// privilegeWithdrawn and cessationOfOperation apply, then privilegeWithdrawn
// should be used"). Invalid reasons rank below all.
func (r Reason) Precedence() int {
	switch r {
	case KeyCompromise:
		return 5
	case PrivilegeWithdrawn:
		return 4
	case CessationOfOperation:
		return 3
	case AffiliationChanged:
		return 2
	case Superseded:
		return 1
	case Unspecified:
		return 0
	}
	return -1
}

// MostAppropriate returns the reason of highest Precedence among rs, or
// Unspecified if rs is empty (BR §7.2.2: the reasonCode "MUST indicate the
// most appropriate reason").
func MostAppropriate(rs ...Reason) Reason {
	best := Unspecified
	for _, r := range rs {
		if r.Precedence() > best.Precedence() {
			best = r
		}
	}
	return best
}

func joinReasons(rs []Reason) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = r.String()
	}
	return strings.Join(s, ", ")
}

// Entry is the state of a revoked certificate's CRL entry: its reason and
// its revocationDate (RFC 5280 §5.1.2.6, §5.3.1; BR §7.2.2).
type Entry struct {
	Reason    Reason
	RevokedAt time.Time
}

// KeyCompromiseDate is the one rule for the revocationDate (RFC 5280
// §5.1.2.6) that a keyCompromise gives a certificate valid from notBefore
// when the key is said to have been compromised at compromisedAt. A first
// revocation and an upgrade of an existing entry (UpdateEntry) both apply
// it, so neither can publish a date the other would refuse.
//
//   - A zero compromisedAt means the time is not known: it returns the zero
//     time, and the caller keeps the time of revocation.
//   - A compromisedAt after now is refused with apperr.Invalid naming
//     "compromisedAt" (code CodeBadCompromiseAt): a compromise that has not
//     happened is no evidence.
//   - A compromisedAt before notBefore gives notBefore. BR §7.2.2 lets the
//     date go back to the compromise (its stated exception to RFC 5280
//     §5.3.2, where the invalidityDate extension carries that time instead),
//     but the certificate asserted nothing before it was valid, so an
//     earlier date says nothing more about it. Left unbounded, a subscriber
//     could set a date (1900) that RFC 5280's UTCTime cannot encode and the
//     CRL and OCSP encoders refuse: the whole CRL shard, other subscribers'
//     entries with it, and the serial's OCSP would then fail to sign.
func KeyCompromiseDate(compromisedAt, notBefore, now time.Time) (time.Time, error) {
	if compromisedAt.IsZero() {
		return time.Time{}, nil
	}
	if compromisedAt.After(now) {
		return time.Time{}, apperr.Invalid(CodeBadCompromiseAt, "compromisedAt",
			"the key compromise time %s is in the future", compromisedAt.UTC().Format(time.RFC3339))
	}
	if compromisedAt.Before(notBefore) {
		return notBefore, nil
	}
	return compromisedAt, nil
}

// UpdateEntry decides what a new revocation request does to a certificate
// that is already revoked (BR §7.2.2, MRSP v2.8 §6.1.1):
//
//   - Only keyCompromise may change an existing entry. Any other reason gets
//     apperr.Conflict naming "reason" (code CodeAlreadyRevoked), and the
//     entry stays as it is.
//   - keyCompromise replaces a missing or other reasonCode: "the CA SHOULD
//     update the CRL entry to enter keyCompromise".
//   - When compromisedAt is set and earlier than the entry's revocationDate,
//     the revocationDate moves back to it: "The CA SHOULD update the
//     revocation date in a CRL entry when it is determined that the private
//     key of the Certificate was compromised prior to the revocation date"
//     (the BR's stated exception to RFC 5280 §5.3.2). The time is taken
//     through KeyCompromiseDate with the certificate's notBefore, exactly as
//     for a first revocation: never before notBefore, a zero compromisedAt
//     keeps the date, and one after now is refused.
//
// It returns the entry to publish and whether it differs from existing. A
// keyCompromise that changes nothing (same reason, no earlier time) returns
// changed=false and no error, so repeating a key compromise report is
// harmless.
func UpdateEntry(existing Entry, reason Reason, compromisedAt, notBefore, now time.Time) (updated Entry, changed bool, err error) {
	if reason != KeyCompromise {
		return existing, false, apperr.Conflict(CodeAlreadyRevoked, "reason",
			"the certificate is already revoked (%s); only keyCompromise may update an existing entry (BR §7.2.2)",
			existing.Reason)
	}
	at, err := KeyCompromiseDate(compromisedAt, notBefore, now)
	if err != nil {
		return existing, false, err
	}
	updated = existing
	if updated.Reason != KeyCompromise {
		updated.Reason = KeyCompromise
		changed = true
	}
	if !at.IsZero() && at.Before(updated.RevokedAt) {
		updated.RevokedAt = at
		changed = true
	}
	return updated, changed, nil
}
