package br

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/apperr"
)

// Revocation deadlines of BR §4.9.1.1, counted from the moment the CA has the
// evidence (or, for a Certificate Problem Report, from its receipt; §4.9.5).
const (
	// RevokeWithin24h is the deadline of items 1-5: "the CA SHALL revoke a
	// Certificate within 24 hours".
	RevokeWithin24h = 24 * time.Hour
	// RevokeWithin5d is the deadline of items 6-16: "MUST revoke a
	// Certificate within 5 days" (and SHOULD within 24 hours).
	RevokeWithin5d = 5 * Day
	// SubCARevokeWithin is the single deadline for subordinate CA
	// certificates, "within seven (7) days" (BR §4.9.1.2).
	SubCARevokeWithin = 7 * Day
)

// CodeInvalidTrigger is the apperr code for a trigger reference that does not
// name an item of BR §4.9.1.1.
const CodeInvalidTrigger = apperr.CodeInvalidTrigger

// TriggerPrefix is how a trigger is referenced in the API: "4.9.1.1#N"
// (docs/api.md, revoke).
const TriggerPrefix = "4.9.1.1#"

// Trigger is one item of BR §4.9.1.1 (v2.2.6), "Reasons for Revoking a
// Subscriber Certificate": its number, a condensed BR wording, the CRLReason
// the BR assigns to it, and its deadline.
type Trigger struct {
	Number int    // 1..16, as numbered in BR v2.2.6
	Text   string // the BR wording, condensed
	Reason Reason // the CRLReason the item requires
	// Within is the MUST deadline: 24 hours for items 1-5, 5 days for 6-16.
	Within time.Duration
	// ShouldWithin is the SHOULD deadline: 24 hours for every item.
	ShouldWithin time.Duration
}

// Ref returns the API reference of the trigger, "4.9.1.1#N" (BR §4.9.1.1
// item N; docs/api.md).
func (t Trigger) Ref() string { return TriggerPrefix + strconv.Itoa(t.Number) }

// String returns Ref, the BR §4.9.1.1 item reference.
func (t Trigger) String() string { return t.Ref() }

// Section returns the trigger's citation for reports: "BR 4.9.1.1 (N)".
func (t Trigger) Section() string { return fmt.Sprintf("BR 4.9.1.1 (%d)", t.Number) }

// Deadline returns the instant by which the certificate MUST be revoked when
// the CA obtained the evidence (or received the problem report) at from.
// Short-lived Subscriber Certificates are exempt (BR §4.9.1.1 opening text;
// see IsShortLived).
func (t Trigger) Deadline(from time.Time) time.Time { return from.Add(t.Within) }

// ShouldBy returns the instant by which the certificate SHOULD be revoked:
// 24 hours after from for every item (BR §4.9.1.1).
func (t Trigger) ShouldBy(from time.Time) time.Time { return from.Add(t.ShouldWithin) }

// MarshalText encodes the trigger as its Ref; a Number that is not an item
// of BR §4.9.1.1 is an error.
func (t Trigger) MarshalText() ([]byte, error) {
	if _, ok := TriggerByNumber(t.Number); !ok {
		return nil, fmt.Errorf("br: %d is not an item of BR §4.9.1.1", t.Number)
	}
	return []byte(t.Ref()), nil
}

// UnmarshalText decodes a Ref with ParseTrigger (BR §4.9.1.1 items 1-16).
func (t *Trigger) UnmarshalText(b []byte) error {
	v, err := ParseTrigger(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// triggers is BR §4.9.1.1 of v2.2.6 (webpki-policy.md §1a, §1b). Read-only.
func triggers() []Trigger {
	const h24, d5 = RevokeWithin24h, RevokeWithin5d
	return []Trigger{
		{1, "The Subscriber requests in writing, without specifying a CRLReason, that the CA revoke the Certificate", Unspecified, h24, h24},
		{2, "The Subscriber notifies the CA that the original certificate request was not authorized and does not retroactively grant authorization", PrivilegeWithdrawn, h24, h24},
		{3, "The CA obtains evidence that the Subscriber's Private Key corresponding to the Public Key in the Certificate suffered a Key Compromise", KeyCompromise, h24, h24},
		{4, "The CA is made aware of a demonstrated or proven method that can easily compute the Subscriber's Private Key based on the Public Key in the Certificate (including §6.1.1.3(5) weak keys)", KeyCompromise, h24, h24},
		{5, "The CA obtains evidence that the validation of domain authorization or control for any FQDN or IP address in the Certificate should not be relied upon (including failed or non-permitting CAA, §3.2.2.8)", Superseded, h24, h24},
		{6, "The Certificate no longer complies with the requirements of Section 6.1.5 and Section 6.1.6", Superseded, d5, h24},
		{7, "The CA obtains evidence that the Certificate was misused", PrivilegeWithdrawn, d5, h24},
		{8, "The CA is made aware that the Subscriber has violated one or more of its material obligations under the Subscriber Agreement or Terms of Use", PrivilegeWithdrawn, d5, h24},
		{9, "The CA is made aware of any circumstance indicating that use of a FQDN or IP address in the Certificate is no longer legally permitted", CessationOfOperation, d5, h24},
		{10, "The CA is made aware that a Wildcard Certificate has been used to authenticate a fraudulently misleading subordinate FQDN", PrivilegeWithdrawn, d5, h24},
		{11, "The CA is made aware of a material change in the information contained in the Certificate", PrivilegeWithdrawn, d5, h24},
		{12, "The CA is made aware that the Certificate was not issued in accordance with these Requirements or the CA's Certificate Policy or Certification Practice Statement", Superseded, d5, h24},
		{13, "The CA determines or is made aware that any of the information appearing in the Certificate is inaccurate", PrivilegeWithdrawn, d5, h24},
		{14, "The CA's right to issue Certificates under these Requirements expires or is revoked or terminated, unless the CA has made arrangements to continue maintaining the CRL/OCSP Repository", Unspecified, d5, h24},
		{15, "Revocation is required by the CA's Certificate Policy and/or Certification Practice Statement for a reason that is not otherwise required to be specified by this Section 4.9.1.1", Unspecified, d5, h24},
		{16, "The CA is made aware of a demonstrated or proven method that exposes the Subscriber's Private Key to compromise or if there is clear evidence that the specific method used to generate the Private Key was flawed", KeyCompromise, d5, h24},
	}
}

// Triggers returns the sixteen items of BR §4.9.1.1 in order. The slice is
// a fresh copy.
func Triggers() []Trigger { return triggers() }

// TriggerByNumber returns item n of BR §4.9.1.1.
func TriggerByNumber(n int) (Trigger, bool) {
	ts := triggers()
	if n < 1 || n > len(ts) {
		return Trigger{}, false
	}
	return ts[n-1], true
}

// ParseTrigger parses a reference of the form "4.9.1.1#N" (docs/api.md),
// where N is 1..16 written without leading zeros. Anything else is an
// apperr.Invalid error naming "trigger" (code CodeInvalidTrigger).
func ParseTrigger(s string) (Trigger, error) {
	bad := func() (Trigger, error) {
		return Trigger{}, apperr.Invalid(CodeInvalidTrigger, "trigger",
			"%q does not name an item of BR §4.9.1.1; use %s1 to %s16", s, TriggerPrefix, TriggerPrefix)
	}
	num, ok := strings.CutPrefix(s, TriggerPrefix)
	if !ok || num == "" || len(num) > 2 || num[0] == '0' {
		return bad()
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return bad()
		}
	}
	n, err := strconv.Atoi(num)
	if err != nil {
		return bad()
	}
	t, ok := TriggerByNumber(n)
	if !ok {
		return bad()
	}
	return t, nil
}

// SubscriberRequestDeadline returns when a subscriber's own revocation
// request received at requestedAt MUST be carried out. A request without a
// reason is item 1 of BR §4.9.1.1 and a request naming keyCompromise is item
// 3 (the subscriber's statement is the evidence; MRSP v2.8 §6.1.1), both 24
// hours. The BR has no item for a request naming affiliationChanged,
// superseded or cessationOfOperation; vetca holds those to the same 24 hours,
// the strictest reading. (vetca revokes subscriber requests at once; the
// deadline is what the compliance view shows if that ever fails.)
func SubscriberRequestDeadline(requestedAt time.Time) time.Time {
	return requestedAt.Add(RevokeWithin24h)
}
