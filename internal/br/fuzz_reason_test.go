package br

import (
	"strconv"
	"testing"

	"github.com/vetca/vetca/internal/apperr"
)

// FuzzParseReasonAndTrigger: revocation requests name a reason and, from
// staff, a BR §4.9.1.1 item. ParseReason accepts only reasons BR §7.2.2
// allows, case-insensitively, and what it accepts marshals to a name that
// parses back to it; ParseSubscriberReason accepts a subset of that;
// ParseTrigger accepts exactly "4.9.1.1#N" for the items that exist. Every
// refusal is an *apperr.Error naming the field.
func FuzzParseReasonAndTrigger(f *testing.F) {
	f.Add("keyCompromise", "4.9.1.1#3")
	f.Add("CACompromise", "4.9.1.1#16")
	f.Add(" none ", "4.9.1.1#03")
	f.Add("privilegeWithdrawn", "4.9.1.1#17")
	f.Add("certificateHold", "4.9.1.1#")
	f.Fuzz(func(t *testing.T, reason, trigger string) {
		r, err := ParseReason(reason)
		if err != nil {
			wantFieldErr(t, err, "reason")
		} else {
			if !r.Valid() {
				t.Fatalf("ParseReason(%q) = %v, which BR §7.2.2 forbids", reason, r)
			}
			name, err := r.MarshalText()
			if err != nil {
				t.Fatalf("%v does not marshal: %v", r, err)
			}
			if back, err := ParseReason(string(name)); err != nil || back != r {
				t.Fatalf("%v marshals to %q, which parses to %v, %v", r, name, back, err)
			}
		}
		if s, err := ParseSubscriberReason(reason); err != nil {
			wantFieldErr(t, err, "reason")
		} else if r != s || s.CheckSubscriber() != nil {
			t.Fatalf("ParseSubscriberReason(%q) = %v; ParseReason gave %v", reason, s, r)
		}

		tr, err := ParseTrigger(trigger)
		if err != nil {
			wantFieldErr(t, err, "trigger")
			return
		}
		n := 0
		for i, x := range Triggers() {
			if x == tr {
				n = i + 1
			}
		}
		if n == 0 || trigger != TriggerPrefix+strconv.Itoa(n) {
			t.Fatalf("ParseTrigger(%q) = item %d", trigger, n)
		}
	})
}

func wantFieldErr(t *testing.T, err error, field string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Field != field || e.Code == "" || (e.Kind != apperr.KindInvalid && e.Kind != apperr.KindForbidden) {
		t.Fatalf("want an error naming %q, got %#v", field, err)
	}
}
