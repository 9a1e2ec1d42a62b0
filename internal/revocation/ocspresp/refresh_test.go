package ocspresp_test

import (
	"math/big"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/revocation/ocspresp"
)

// TestRefreshDeadline checks the BR §4.9.9 refresh schedule. The validity
// interval is thisUpdate through nextUpdate inclusive (BR §1.6.1), so
// nextUpdate - thisUpdate = 16h - 1s is the first "16 hours or more".
func TestRefreshDeadline(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name string
		span time.Duration // nextUpdate - thisUpdate
		want time.Duration // deadline - thisUpdate
	}{
		{"7 days: 4 days after thisUpdate (BR §4.9.9, MRSP §6)", 7 * day, 4 * day},
		{"10 days - 1 s: 4 days after thisUpdate", 10*day - time.Second, 4 * day},
		{"4 days: 4 days after thisUpdate comes after nextUpdate - 8h", 4 * day, 4*day - 8*time.Hour},
		{"3 days: 8 hours before nextUpdate (BR §4.9.9)", 3 * day, 3*day - 8*time.Hour},
		{"16 h inclusive: 8 hours before nextUpdate", 16*time.Hour - time.Second, 8*time.Hour - time.Second},
		{"16 h - 1 s inclusive: half the interval before nextUpdate", 16*time.Hour - 2*time.Second, 16*time.Hour - 2*time.Second - (16*time.Hour-time.Second)/2},
		{"8 h inclusive: half the interval before nextUpdate", 8*time.Hour - time.Second, 8*time.Hour - time.Second - 4*time.Hour},
		{"8 h: half the interval before nextUpdate", 8 * time.Hour, 8*time.Hour - (8*time.Hour+time.Second)/2},
	}
	for _, tc := range tests {
		got := ocspresp.RefreshDeadline(t0, t0.Add(tc.span))
		if want := t0.Add(tc.want); !got.Equal(want) {
			t.Errorf("%s: deadline %v, want %v", tc.name, got.Sub(t0), tc.want)
		}
	}
}

func TestRefreshDue(t *testing.T) {
	next := t0.Add(7 * 24 * time.Hour)
	deadline := t0.Add(4 * 24 * time.Hour)
	tests := []struct {
		name string
		this time.Time
		next time.Time
		now  time.Time
		want bool
	}{
		{"fresh", t0, next, t0.Add(time.Hour), false},
		{"just before the margin", t0, next, deadline.Add(-ocspresp.RefreshMargin - time.Second), false},
		{"at the margin", t0, next, deadline.Add(-ocspresp.RefreshMargin), true},
		{"at the deadline", t0, next, deadline, true},
		{"past nextUpdate", t0, next, next.Add(time.Hour), true},
		{"shortest interval, early", t0, t0.Add(8 * time.Hour), t0.Add(2 * time.Hour), false},
		{"shortest interval, after 3 h", t0, t0.Add(8 * time.Hour), t0.Add(3 * time.Hour), true},
		{"unset thisUpdate", time.Time{}, next, t0, true},
		{"unset nextUpdate", t0, time.Time{}, t0, true},
		{"inverted", next, t0, t0, true},
	}
	for _, tc := range tests {
		if got := ocspresp.RefreshDue(tc.this, tc.next, tc.now); got != tc.want {
			t.Errorf("%s: RefreshDue = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestRefreshScheduleKeepsResponsesValid walks a pre-signing loop through a
// month with a fake-clock-style time variable: each time RefreshDue says so,
// a new 7-day response is signed. At every step the current response must be
// within its validity, no older than 4 days (MRSP §6) and replaced before its
// BR §4.9.9 deadline.
func TestRefreshScheduleKeepsResponsesValid(t *testing.T) {
	ca := ecdsaCA()
	signer, err := ocspresp.NewSigner(ocspresp.SignerConfig{Issuer: ca.cert, Key: ca.key})
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	this, next := now, now.Add(7*24*time.Hour)
	signs := 0
	for step := 0; step < 30*24*12; step++ { // every 5 minutes for 30 days
		if ocspresp.RefreshDue(this, next, now) {
			r := goodResponse(big.NewInt(int64(signs + 1)))
			r.ThisUpdate, r.NextUpdate, r.ProducedAt = now, now.Add(7*24*time.Hour), now
			if _, err := signer.Sign(r); err != nil {
				t.Fatal(err)
			}
			this, next = r.ThisUpdate, r.NextUpdate
			signs++
		}
		if now.After(next) || !now.Before(ocspresp.RefreshDeadline(this, next)) || now.Sub(this) > 4*24*time.Hour {
			t.Fatalf("at %v the response (%v..%v) is overdue", now, this, next)
		}
		now = now.Add(5 * time.Minute)
	}
	// One re-signing every 4 days less the margin: 720 h / 95 h.
	if signs != 7 {
		t.Errorf("%d re-signings in 30 days, want 7 (every 4 days less RefreshMargin)", signs)
	}
}
