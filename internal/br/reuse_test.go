package br

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestReusePeriods(t *testing.T) {
	// BR §4.2.1 (SC-081).
	cases := []struct {
		at       string
		sii, dcv int
	}{
		{"2025-01-01T00:00:00Z", 825, 398},
		{"2026-03-14T23:59:59.999999999Z", 825, 398},
		{"2026-03-15T00:00:00Z", 398, 200},
		{"2027-03-14T23:59:59Z", 398, 200},
		{"2027-03-15T00:00:00Z", 398, 100},
		{"2029-03-14T23:59:59Z", 398, 100},
		{"2029-03-15T00:00:00Z", 398, 10},
	}
	for _, c := range cases {
		at := utc(t, c.at)
		if got := SubjectIdentityReuse(at); got != time.Duration(c.sii)*Day {
			t.Errorf("BR §4.2.1 SII reuse at %s = %s, want %d days", c.at, got, c.sii)
		}
		if got := DomainValidationReuse(at); got != time.Duration(c.dcv)*Day {
			t.Errorf("BR §4.2.1 domain validation reuse at %s = %s, want %d days", c.at, got, c.dcv)
		}
	}
}

func TestReusable(t *testing.T) {
	issued := utc(t, "2026-06-01T00:00:00Z")
	cases := []struct {
		name     string
		obtained time.Time
		sii, dcv bool
	}{
		{"BR §4.2.1 same instant", issued, true, true},
		{"BR §4.2.1 200 days old", issued.Add(-200 * Day), true, true},
		{"BR §4.2.1 200 days + 1 ns", issued.Add(-200*Day - 1), true, false},
		{"BR §4.2.1 398 days old", issued.Add(-398 * Day), true, false},
		{"BR §4.2.1 398 days + 1 s", issued.Add(-398*Day - time.Second), false, false},
		{"BR §4.2.1 evidence from the future", issued.Add(time.Second), false, false},
	}
	for _, c := range cases {
		if got := SubjectIdentityReusable(c.obtained, issued); got != c.sii {
			t.Errorf("%s: SubjectIdentityReusable = %v, want %v", c.name, got, c.sii)
		}
		if got := DomainValidationReusable(c.obtained, issued); got != c.dcv {
			t.Errorf("%s: DomainValidationReusable = %v, want %v", c.name, got, c.dcv)
		}
	}
}

func TestReusableUntil(t *testing.T) {
	cases := []struct {
		name     string
		f        func(time.Time) time.Time
		obtained string
		want     string
	}{
		{"BR §4.2.1 SII from 2025-06-01 ends at 398 days (the 825 days never apply)",
			SubjectIdentityReusableUntil, "2025-06-01T00:00:00Z", "2026-07-04T00:00:00Z"},
		{"BR §4.2.1 SII from 2024-01-01 ends at the 2026-03-15 milestone",
			SubjectIdentityReusableUntil, "2024-01-01T00:00:00Z", "2026-03-14T23:59:59.999999999Z"},
		{"BR §4.2.1 SII from 2023-01-01 ends at 825 days",
			SubjectIdentityReusableUntil, "2023-01-01T00:00:00Z", "2025-04-05T00:00:00Z"},
		{"BR §4.2.1 DCV from 2029-03-10 ends 10 days later, after the milestone",
			DomainValidationReusableUntil, "2029-03-10T00:00:00Z", "2029-03-20T00:00:00Z"},
		{"BR §4.2.1 DCV from 2029-02-01 ends at the milestone",
			DomainValidationReusableUntil, "2029-02-01T00:00:00Z", "2029-03-14T23:59:59.999999999Z"},
		{"BR §4.2.1 DCV from 2026-03-15 ends 200 days later",
			DomainValidationReusableUntil, "2026-03-15T00:00:00Z", "2026-10-01T00:00:00Z"},
	}
	for _, c := range cases {
		if got := c.f(utc(t, c.obtained)); !got.Equal(utc(t, c.want)) {
			t.Errorf("%s: got %s, want %s", c.name, got.Format(time.RFC3339Nano), c.want)
		}
	}
}

// TestReusableUntilAgrees checks, for many random instants, that the
// "until" instant is reusable, that one nanosecond later is not, and that no
// later probe is (the periods only shrink).
func TestReusableUntilAgrees(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	start := utc(t, "2023-01-01T00:00:00Z")
	span := int64(9 * 365 * Day)
	pairs := []struct {
		name  string
		until func(time.Time) time.Time
		ok    func(obtained, issued time.Time) bool
	}{
		{"SII", SubjectIdentityReusableUntil, SubjectIdentityReusable},
		{"DCV", DomainValidationReusableUntil, DomainValidationReusable},
	}
	for i := 0; i < 2000; i++ {
		obtained := start.Add(time.Duration(rng.Int64N(span)))
		for _, p := range pairs {
			u := p.until(obtained)
			if !p.ok(obtained, u) {
				t.Fatalf("%s obtained %s: not reusable at its own until %s", p.name, obtained, u)
			}
			if p.ok(obtained, u.Add(1)) {
				t.Fatalf("%s obtained %s: still reusable 1 ns after until %s", p.name, obtained, u)
			}
			for k := 0; k < 5; k++ {
				later := u.Add(time.Duration(1 + rng.Int64N(int64(900*Day))))
				if p.ok(obtained, later) {
					t.Fatalf("%s obtained %s: reusable at %s, after until %s", p.name, obtained, later, u)
				}
			}
		}
	}
}

func TestRandomValueExpiry(t *testing.T) {
	// BR §3.2.2.4.7: 30 days, or the §4.2.1 reuse period if shorter.
	cases := []struct{ created, want string }{
		{"2026-01-01T00:00:00Z", "2026-01-31T00:00:00Z"},
		{"2029-03-14T23:59:59Z", "2029-04-13T23:59:59Z"},
		{"2029-03-15T00:00:00Z", "2029-03-25T00:00:00Z"},
	}
	for _, c := range cases {
		if got := RandomValueExpiry(utc(t, c.created)); !got.Equal(utc(t, c.want)) {
			t.Errorf("BR §3.2.2.4.7 RandomValueExpiry(%s) = %s, want %s", c.created, got.Format(time.RFC3339), c.want)
		}
	}
	if RandomValueMinBits < 112 {
		t.Fatal("BR §1.6.1 Random Value needs at least 112 bits")
	}
}
