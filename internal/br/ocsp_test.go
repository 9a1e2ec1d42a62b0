package br

import (
	"testing"
	"time"
)

func TestCheckOCSPValidity(t *testing.T) {
	tu := utc(t, "2026-05-01T00:00:00Z")
	cases := []struct {
		name string
		diff time.Duration // nextUpdate - thisUpdate
		ok   bool
	}{
		{"BR §4.9.9 8 hours", 8 * time.Hour, true},
		{"8 hours - 1 s (BR-inclusive 8 h, refused by vetca's stricter check)", 8*time.Hour - time.Second, false},
		{"BR §4.9.9 under 8 hours", 7 * time.Hour, false},
		{"BR §4.9.9 4 days", 4 * Day, true},
		{"BR §4.9.9 10 days inclusive (10 days - 1 s)", 10*Day - time.Second, true},
		{"BR §4.9.9 10 days difference is 10 days + 1 s inclusive", 10 * Day, false},
	}
	for _, c := range cases {
		if err := CheckOCSPValidity(tu, tu.Add(c.diff)); (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
		}
	}
	if CheckOCSPValidity(tu, time.Time{}) == nil {
		t.Error("BR §4.9.9: nextUpdate is required")
	}
}

func TestOCSPRefreshBy(t *testing.T) {
	tu := utc(t, "2026-05-01T00:00:00Z")
	cases := []struct {
		name string
		diff time.Duration
		want time.Time
	}{
		// < 16 h: before half the (inclusive) validity period before nextUpdate.
		{"BR §4.9.9 12 h response", 12 * time.Hour, tu.Add(12*time.Hour - (12*time.Hour+time.Second)/2)},
		{"BR §4.9.9 16 h - 2 s (interval just under 16 h)", 16*time.Hour - 2*time.Second, tu.Add(16*time.Hour - 2*time.Second - (16*time.Hour-time.Second)/2)},
		// >= 16 h: the earlier of nextUpdate - 8 h and thisUpdate + 4 days.
		{"BR §4.9.9 16 h - 1 s (interval exactly 16 h)", 16*time.Hour - time.Second, tu.Add(8*time.Hour - time.Second)},
		{"BR §4.9.9 3 days", 3 * Day, tu.Add(3*Day - 8*time.Hour)},
		{"BR §4.9.9 4 days", 4 * Day, tu.Add(4*Day - 8*time.Hour)},
		{"BR §4.9.9 7 days: 4 days after thisUpdate binds", 7 * Day, tu.Add(4 * Day)},
		{"BR §4.9.9 10 days", 10*Day - time.Second, tu.Add(4 * Day)},
	}
	for _, c := range cases {
		if got := OCSPRefreshBy(tu, tu.Add(c.diff)); !got.Equal(c.want) {
			t.Errorf("%s: got %s, want %s", c.name, got.Format(time.RFC3339Nano), c.want.Format(time.RFC3339Nano))
		}
	}
	pub := utc(t, "2026-05-01T00:00:00Z")
	if got := OCSPAuthoritativeBy(pub); !got.Equal(pub.Add(15 * time.Minute)) {
		t.Errorf("BR §4.9.9 authoritative within 15 minutes: %s", got)
	}
}
