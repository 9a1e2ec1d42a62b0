package br

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apperr"
)

func TestReasonCodesAndNames(t *testing.T) {
	// RFC 5280 §5.3.1 CRLReason enumeration.
	want := map[Reason]struct {
		name string
		code int
	}{
		Unspecified:          {"unspecified", 0},
		KeyCompromise:        {"keyCompromise", 1},
		CACompromise:         {"cACompromise", 2},
		AffiliationChanged:   {"affiliationChanged", 3},
		Superseded:           {"superseded", 4},
		CessationOfOperation: {"cessationOfOperation", 5},
		CertificateHold:      {"certificateHold", 6},
		RemoveFromCRL:        {"removeFromCRL", 8},
		PrivilegeWithdrawn:   {"privilegeWithdrawn", 9},
		AACompromise:         {"aACompromise", 10},
	}
	for r, w := range want {
		if r.String() != w.name || r.Code() != w.code {
			t.Errorf("RFC 5280 §5.3.1: %d is %s/%d, want %s/%d", int(r), r, r.Code(), w.name, w.code)
		}
	}
	if Reason(7).String() != "Reason(7)" {
		t.Errorf("code 7 is unassigned, got %s", Reason(7))
	}
}

func TestParseReason(t *testing.T) {
	cases := []struct {
		in   string
		want Reason
		code apperr.Code // "" for success
	}{
		// BR §7.2.2 / MRSP §6.1.1: the six allowed reasons.
		{"unspecified", Unspecified, ""},
		{"keyCompromise", KeyCompromise, ""},
		{"affiliationChanged", AffiliationChanged, ""},
		{"superseded", Superseded, ""},
		{"cessationOfOperation", CessationOfOperation, ""},
		{"privilegeWithdrawn", PrivilegeWithdrawn, ""},
		{"KEYCOMPROMISE", KeyCompromise, ""},
		{"  superseded ", Superseded, ""},
		// BR §7.2.2: the default is that no reason is given.
		{"", Unspecified, ""},
		// RFC 5280 §5.3.1 has no "none": an unknown name (docs/api.md).
		{"none", 0, CodeUnknownReason},
		{"None", 0, CodeUnknownReason},
		// BR §7.2.2 / §4.9.13: RFC 5280 reasons forbidden for TLS subscriber certs.
		{"certificateHold", 0, CodeForbiddenReason},
		{"cACompromise", 0, CodeForbiddenReason},
		{"removeFromCRL", 0, CodeForbiddenReason},
		{"aACompromise", 0, CodeForbiddenReason},
		// Not CRLReason names at all.
		{"key compromise", 0, CodeUnknownReason},
		{"1", 0, CodeUnknownReason},
		{"Reason(7)", 0, CodeUnknownReason},
		{"revoked", 0, CodeUnknownReason},
	}
	for _, c := range cases {
		got, err := ParseReason(c.in)
		if c.code != "" {
			wantAppErr(t, err, apperr.KindInvalid, "reason", c.code)
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ParseReason(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func TestSubscriberReasons(t *testing.T) {
	// BR §7.2.2: exactly {none, keyCompromise,
	// affiliationChanged, superseded, cessationOfOperation}.
	want := []Reason{Unspecified, KeyCompromise, AffiliationChanged, Superseded, CessationOfOperation}
	if got := SubscriberReasons(); !slices.Equal(got, want) {
		t.Fatalf("SubscriberReasons = %v, want %v", got, want)
	}
	for code := Reason(-1); code <= 12; code++ {
		if got := code.AllowedForSubscriber(); got != slices.Contains(want, code) {
			t.Errorf("BR §7.2.2: %s AllowedForSubscriber = %v", code, got)
		}
		if got := code.AllowedForCA(); got != (slices.Contains(want, code) || code == PrivilegeWithdrawn) {
			t.Errorf("BR §7.2.2: %s AllowedForCA = %v", code, got)
		}
	}
	if !slices.Equal(CAReasons(), append(want, PrivilegeWithdrawn)) {
		t.Fatalf("CAReasons = %v", CAReasons())
	}

	// BR §7.2.2: privilegeWithdrawn is the CA's: 403 naming reason.
	_, err := ParseSubscriberReason("privilegeWithdrawn")
	wantAppErr(t, err, apperr.KindForbidden, "reason", CodeReasonCAOnly)
	// Forbidden reasons stay 400, not 403.
	_, err = ParseSubscriberReason("certificateHold")
	wantAppErr(t, err, apperr.KindInvalid, "reason", CodeForbiddenReason)
	wantAppErr(t, CertificateHold.CheckSubscriber(), apperr.KindInvalid, "reason", CodeForbiddenReason)
	for _, r := range want {
		got, err := ParseSubscriberReason(r.String())
		if err != nil || got != r {
			t.Errorf("ParseSubscriberReason(%s) = %v, %v", r, got, err)
		}
	}
}

func TestHasReasonCode(t *testing.T) {
	// BR §7.2.2: unspecified is the omission of reasonCode; MRSP §6.1.1:
	// every other allowed reason MUST be present.
	for _, r := range CAReasons() {
		if got := r.HasReasonCode(); got != (r != Unspecified) {
			t.Errorf("%s HasReasonCode = %v", r, got)
		}
	}
}

func TestReasonJSON(t *testing.T) {
	type body struct {
		Reason Reason `json:"reason"`
	}
	for _, r := range CAReasons() {
		b, err := json.Marshal(body{r})
		if err != nil {
			t.Fatal(err)
		}
		var back body
		if err := json.Unmarshal(b, &back); err != nil || back.Reason != r {
			t.Fatalf("round trip of %s via %s: %v %v", r, b, back.Reason, err)
		}
	}
	var b body
	err := json.Unmarshal([]byte(`{"reason":"certificateHold"}`), &b)
	wantAppErr(t, err, apperr.KindInvalid, "reason", CodeForbiddenReason)
	if _, err := json.Marshal(body{Reason(7)}); err == nil {
		t.Fatal("marshalled an unassigned code")
	}
}

func TestMostAppropriate(t *testing.T) {
	// MRSP §6.1.1 via the Mozilla wiki precedence.
	cases := []struct {
		in   []Reason
		want Reason
	}{
		{nil, Unspecified},
		{[]Reason{PrivilegeWithdrawn, CessationOfOperation}, PrivilegeWithdrawn},
		{[]Reason{Superseded, AffiliationChanged}, AffiliationChanged},
		{[]Reason{Superseded, KeyCompromise, PrivilegeWithdrawn}, KeyCompromise},
		{[]Reason{Unspecified, Superseded}, Superseded},
		{[]Reason{CertificateHold}, Unspecified},
	}
	for _, c := range cases {
		if got := MostAppropriate(c.in...); got != c.want {
			t.Errorf("MostAppropriate(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestUpdateEntry(t *testing.T) {
	now := utc(t, "2026-06-10T00:00:00Z")
	revoked := utc(t, "2026-06-05T00:00:00Z")
	earlier := utc(t, "2026-06-01T00:00:00Z")
	later := utc(t, "2026-06-07T00:00:00Z")
	notBefore := utc(t, "2026-05-20T00:00:00Z")
	cases := []struct {
		name        string
		existing    Entry
		reason      Reason
		compromised time.Time
		want        Entry
		changed     bool
		kind        apperr.Kind
		field       string
		code        apperr.Code
	}{
		{"BR §7.2.2 upgrade superseded to keyCompromise", Entry{Superseded, revoked}, KeyCompromise, time.Time{},
			Entry{KeyCompromise, revoked}, true, 0, "", ""},
		{"BR §7.2.2 upgrade a missing reasonCode", Entry{Unspecified, revoked}, KeyCompromise, time.Time{},
			Entry{KeyCompromise, revoked}, true, 0, "", ""},
		{"BR §7.2.2 upgrade and backdate", Entry{PrivilegeWithdrawn, revoked}, KeyCompromise, earlier,
			Entry{KeyCompromise, earlier}, true, 0, "", ""},
		{"BR §7.2.2 backdate an existing keyCompromise", Entry{KeyCompromise, revoked}, KeyCompromise, earlier,
			Entry{KeyCompromise, earlier}, true, 0, "", ""},
		{"BR §7.2.2 a later compromise never moves the date forward", Entry{KeyCompromise, revoked}, KeyCompromise, later,
			Entry{KeyCompromise, revoked}, false, 0, "", ""},
		{"repeat keyCompromise is a no-op", Entry{KeyCompromise, revoked}, KeyCompromise, time.Time{},
			Entry{KeyCompromise, revoked}, false, 0, "", ""},
		{"BR §7.2.2 backdate stops at notBefore (before 1999)", Entry{CessationOfOperation, revoked}, KeyCompromise, utc(t, "1900-01-01T00:00:00Z"),
			Entry{KeyCompromise, notBefore}, true, 0, "", ""},
		{"BR §7.2.2 backdate stops at notBefore (after 1999)", Entry{Superseded, revoked}, KeyCompromise, notBefore.Add(-time.Hour),
			Entry{KeyCompromise, notBefore}, true, 0, "", ""},
		{"BR §7.2.2 backdate to notBefore itself", Entry{KeyCompromise, revoked}, KeyCompromise, notBefore,
			Entry{KeyCompromise, notBefore}, true, 0, "", ""},
		{"BR §7.2.2 only keyCompromise updates: superseded", Entry{Unspecified, revoked}, Superseded, time.Time{},
			Entry{Unspecified, revoked}, false, apperr.KindConflict, "reason", CodeAlreadyRevoked},
		{"BR §7.2.2 keyCompromise is never downgraded", Entry{KeyCompromise, revoked}, PrivilegeWithdrawn, earlier,
			Entry{KeyCompromise, revoked}, false, apperr.KindConflict, "reason", CodeAlreadyRevoked},
		{"compromise time in the future", Entry{Superseded, revoked}, KeyCompromise, now.Add(time.Second),
			Entry{Superseded, revoked}, false, apperr.KindInvalid, "compromisedAt", CodeBadCompromiseAt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, changed, err := UpdateEntry(c.existing, c.reason, c.compromised, notBefore, now)
			if c.code != "" {
				wantAppErr(t, err, c.kind, c.field, c.code)
			} else if err != nil {
				t.Fatal(err)
			}
			if got != c.want || changed != c.changed {
				t.Fatalf("got %+v changed=%v, want %+v changed=%v", got, changed, c.want, c.changed)
			}
		})
	}
}

// TestKeyCompromiseDate: the revocationDate of a keyCompromise, for a first
// revocation and an upgrade alike. BR §7.2.2 lets it go back to the
// compromise (an exception to RFC 5280 §5.3.2, whose invalidityDate is "the
// date on which it is known or suspected that the private key was
// compromised"), never before the certificate's notBefore and never into
// the future.
func TestKeyCompromiseDate(t *testing.T) {
	now := utc(t, "2026-06-10T00:00:00Z")
	notBefore := utc(t, "2026-05-20T00:00:00Z")
	cases := []struct {
		name        string
		compromised time.Time
		want        time.Time
		code        apperr.Code
	}{
		{"not known: the time of revocation stands", time.Time{}, time.Time{}, ""},
		{"BR §7.2.2 backdate within the validity", utc(t, "2026-06-01T00:00:00Z"), utc(t, "2026-06-01T00:00:00Z"), ""},
		{"BR §7.2.2 at notBefore", notBefore, notBefore, ""},
		{"BR §7.2.2 before notBefore, after 1999", notBefore.Add(-time.Second), notBefore, ""},
		{"BR §7.2.2 before notBefore, before 1999 (RFC 5280 UTCTime)", utc(t, "1900-01-01T00:00:00Z"), notBefore, ""},
		{"now", now, now, ""},
		{"in the future", now.Add(time.Second), time.Time{}, CodeBadCompromiseAt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := KeyCompromiseDate(c.compromised, notBefore, now)
			if c.code != "" {
				wantAppErr(t, err, apperr.KindInvalid, "compromisedAt", c.code)
			} else if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(c.want) {
				t.Fatalf("KeyCompromiseDate(%s) = %s, want %s", c.compromised, got, c.want)
			}
		})
	}
}
