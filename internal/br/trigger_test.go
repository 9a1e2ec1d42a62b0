package br

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apperr"
)

func TestTriggerTable(t *testing.T) {
	// BR §4.9.1.1 v2.2.6 (webpki-policy.md §1a/§1b): item -> CRLReason,
	// deadline. Items 1-5: 24 h; items 6-16: SHOULD 24 h, MUST 5 days.
	want := []struct {
		n      int
		reason Reason
		within time.Duration
	}{
		{1, Unspecified, 24 * time.Hour},
		{2, PrivilegeWithdrawn, 24 * time.Hour},
		{3, KeyCompromise, 24 * time.Hour},
		{4, KeyCompromise, 24 * time.Hour},
		{5, Superseded, 24 * time.Hour},
		{6, Superseded, 120 * time.Hour},
		{7, PrivilegeWithdrawn, 120 * time.Hour},
		{8, PrivilegeWithdrawn, 120 * time.Hour},
		{9, CessationOfOperation, 120 * time.Hour},
		{10, PrivilegeWithdrawn, 120 * time.Hour},
		{11, PrivilegeWithdrawn, 120 * time.Hour},
		{12, Superseded, 120 * time.Hour},
		{13, PrivilegeWithdrawn, 120 * time.Hour},
		{14, Unspecified, 120 * time.Hour},
		{15, Unspecified, 120 * time.Hour},
		{16, KeyCompromise, 120 * time.Hour},
	}
	all := Triggers()
	if len(all) != len(want) {
		t.Fatalf("BR §4.9.1.1 has 16 items, table has %d", len(all))
	}
	evidence := utc(t, "2026-05-01T10:00:00Z")
	for i, w := range want {
		tr := all[i]
		ref := fmt.Sprintf("4.9.1.1#%d", w.n)
		if tr.Number != w.n || tr.Reason != w.reason || tr.Within != w.within || tr.Ref() != ref || tr.Text == "" {
			t.Errorf("BR §4.9.1.1 item %d: got %+v, want reason %s within %s", w.n, tr, w.reason, w.within)
		}
		if !tr.Reason.AllowedForCA() {
			t.Errorf("item %d maps to %s, which BR §7.2.2 does not allow", w.n, tr.Reason)
		}
		if got := tr.Deadline(evidence); !got.Equal(evidence.Add(w.within)) {
			t.Errorf("item %d deadline = %s", w.n, got)
		}
		if got := tr.ShouldBy(evidence); !got.Equal(evidence.Add(24 * time.Hour)) {
			t.Errorf("item %d SHOULD deadline = %s", w.n, got)
		}
		parsed, err := ParseTrigger(ref)
		if err != nil || parsed != tr {
			t.Errorf("ParseTrigger(%s) = %+v, %v", ref, parsed, err)
		}
		if byNum, ok := TriggerByNumber(w.n); !ok || byNum != tr {
			t.Errorf("TriggerByNumber(%d) = %+v %v", w.n, byNum, ok)
		}
	}
	// BR §4.9.1.1 item 12 gives 5 days from awareAt.
	tr, _ := ParseTrigger("4.9.1.1#12")
	if got := tr.Deadline(evidence); !got.Equal(utc(t, "2026-05-06T10:00:00Z")) {
		t.Errorf("4.9.1.1#12 deadline = %s", got)
	}
	// Mozilla (MRSP §6.1.1): "not issued in accordance with the BR" is superseded.
	if tr.Reason != Superseded {
		t.Errorf("4.9.1.1#12 reason = %s, want superseded", tr.Reason)
	}
	// The table is a copy: changing it changes nothing.
	all[0].Reason = KeyCompromise
	if again, _ := TriggerByNumber(1); again.Reason != Unspecified {
		t.Fatal("Triggers() exposed the package table")
	}
}

func TestParseTriggerRefuses(t *testing.T) {
	for _, s := range []string{
		"", "12", "#12", "4.9.1.1#", "4.9.1.1#0", "4.9.1.1#17", "4.9.1.1#012", "4.9.1.1#1a",
		"4.9.1.1#+1", "4.9.1.1#-1", "4.9.1.2#1", " 4.9.1.1#12", "4.9.1.1#12 ", "4.9.1.1 #12",
		"§4.9.1.1#12", "4.9.1.1#١", "4.9.1.1#100",
	} {
		_, err := ParseTrigger(s)
		wantAppErr(t, err, apperr.KindInvalid, "trigger", CodeInvalidTrigger)
	}
	if _, ok := TriggerByNumber(0); ok {
		t.Fatal("item 0 exists")
	}
	if _, ok := TriggerByNumber(17); ok {
		t.Fatal("item 17 exists")
	}
}

func TestTriggerJSON(t *testing.T) {
	var body struct {
		Trigger Trigger `json:"trigger"`
	}
	if err := json.Unmarshal([]byte(`{"trigger":"4.9.1.1#3"}`), &body); err != nil {
		t.Fatal(err)
	}
	if body.Trigger.Number != 3 || body.Trigger.Reason != KeyCompromise {
		t.Fatalf("decoded %+v", body.Trigger)
	}
	b, err := json.Marshal(body)
	if err != nil || string(b) != `{"trigger":"4.9.1.1#3"}` {
		t.Fatalf("encoded %s, %v", b, err)
	}
	err = json.Unmarshal([]byte(`{"trigger":"4.9.1.1#99"}`), &body)
	wantAppErr(t, err, apperr.KindInvalid, "trigger", CodeInvalidTrigger)
	if _, err := json.Marshal(struct{ T Trigger }{}); err == nil {
		t.Fatal("marshalled the zero Trigger")
	}
}

func TestSubscriberRequestDeadline(t *testing.T) {
	// BR §4.9.1.1 items 1 and 3: 24 hours.
	at := utc(t, "2026-05-01T10:00:00Z")
	if got := SubscriberRequestDeadline(at); !got.Equal(at.Add(24 * time.Hour)) {
		t.Fatalf("got %s", got)
	}
	if SubCARevokeWithin != 7*24*time.Hour {
		t.Fatal("BR §4.9.1.2: 7 days")
	}
}
