package br

import (
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apperr"
)

func TestMaxValidity(t *testing.T) {
	// BR §6.3.2 table (SC-081), boundaries at 00:00 UTC.
	cases := []struct {
		at           string
		days, atMost int
	}{
		{"2020-09-01T00:00:00Z", 398, 397},
		{"2026-03-14T23:59:59.999999999Z", 398, 397},
		{"2026-03-15T00:00:00Z", 200, 199},
		{"2027-03-14T23:59:59Z", 200, 199},
		{"2027-03-15T00:00:00Z", 100, 99},
		{"2029-03-14T23:59:59Z", 100, 99},
		{"2029-03-15T00:00:00Z", 47, 46},
		{"2040-01-01T00:00:00Z", 47, 46},
		// A non-UTC instant is the same instant: 2026-03-15 01:00+02:00 is
		// 2026-03-14 23:00 UTC, before the milestone.
		{"2026-03-15T01:00:00+02:00", 398, 397},
	}
	for _, c := range cases {
		at := utc(t, c.at)
		if got := MaxValidity(at); got != c.days {
			t.Errorf("BR §6.3.2 MaxValidity(%s) = %d, want %d", c.at, got, c.days)
		}
		if got := RecommendedMaxValidity(at); got != c.atMost {
			t.Errorf("BR §6.3.2 RecommendedMaxValidity(%s) = %d, want %d", c.at, got, c.atMost)
		}
	}
}

func TestValidityDays(t *testing.T) {
	// BR §6.3.2: a day is 86,400 s, any excess (even fractional) is another
	// day; BR §1.6.1: the validity period includes both ends.
	nb := utc(t, "2026-06-01T12:00:00Z")
	cases := []struct {
		name     string
		notAfter time.Time
		want     int
	}{
		{"200 days exactly", nb.Add(200*Day - time.Second), 200},
		{"200 days + 1 s", nb.Add(200 * Day), 201},
		{"200 days + 1 ns", nb.Add(200*Day - time.Second + time.Nanosecond), 201},
		{"one second", nb, 1},
		{"one day exactly", nb.Add(Day - time.Second), 1},
		{"one day + 1 s", nb.Add(Day), 2},
		{"notAfter before notBefore", nb.Add(-2 * time.Second), 0},
	}
	for _, c := range cases {
		if got := ValidityDays(nb, c.notAfter); got != c.want {
			t.Errorf("BR §6.3.2 %s: ValidityDays = %d, want %d", c.name, got, c.want)
		}
	}
}

func TestNotAfter(t *testing.T) {
	cases := []struct {
		name       string
		issued, nb string
		days       int
		want       string // RFC 3339, or "" when an error is wanted
		code       apperr.Code
	}{
		{"BR §6.3.2 200 days on 2026-06-01", "2026-06-01T00:00:00Z", "2026-06-01T00:00:00Z", 200, "2026-12-17T23:59:59Z", ""},
		{"BR §6.3.2 201 days on 2026-06-01", "2026-06-01T00:00:00Z", "2026-06-01T00:00:00Z", 201, "", "validity_too_long"},
		{"BR §6.3.2 398 days the second before the switch", "2026-03-14T23:59:59Z", "2026-03-14T23:59:59Z", 398, "2027-04-16T23:59:58Z", ""},
		{"BR §6.3.2 398 days at the switch", "2026-03-15T00:00:00Z", "2026-03-15T00:00:00Z", 398, "", "validity_too_long"},
		{"BR §6.3.2 200 days at the switch", "2026-03-15T00:00:00Z", "2026-03-15T00:00:00Z", 200, "2026-09-30T23:59:59Z", ""},
		{"BR §6.3.2 47 days in 2029", "2029-03-15T00:00:00Z", "2029-03-15T00:00:00Z", 47, "2029-04-30T23:59:59Z", ""},
		{"BR §6.3.2 48 days in 2029", "2029-03-15T00:00:00Z", "2029-03-15T00:00:00Z", 48, "", "validity_too_long"},
		// notBefore backdated across a milestone does not buy the older cap.
		{"BR §6.3.2 backdated notBefore", "2026-03-15T00:00:10Z", "2026-03-14T23:59:00Z", 398, "", "validity_too_long"},
		// a notBefore after the milestone binds too (zlint keys on notBefore).
		{"BR §6.3.2 notBefore after the switch", "2026-03-14T23:59:59Z", "2026-03-15T00:00:00Z", 201, "", "validity_too_long"},
		{"zero days", "2026-06-01T00:00:00Z", "2026-06-01T00:00:00Z", 0, "", "invalid_validity"},
		{"negative days", "2026-06-01T00:00:00Z", "2026-06-01T00:00:00Z", -3, "", "invalid_validity"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := NotAfter(utc(t, c.issued), utc(t, c.nb), c.days)
			if c.code != "" {
				wantAppErr(t, err, apperr.KindInvalid, "validityDays", c.code)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equal(utc(t, c.want)) {
				t.Fatalf("NotAfter = %s, want %s", got.Format(time.RFC3339), c.want)
			}
			// The result is exactly the requested number of BR days.
			if d := ValidityDays(utc(t, c.nb), got); d != c.days {
				t.Fatalf("ValidityDays(result) = %d, want %d", d, c.days)
			}
			if err := CheckValidity(utc(t, c.issued), utc(t, c.nb), got); err != nil {
				t.Fatalf("CheckValidity refuses NotAfter's own result: %v", err)
			}
			if err := CheckValidity(utc(t, c.issued), utc(t, c.nb), got.Add(time.Second)); c.days == capDays(utc(t, c.issued), utc(t, c.nb)) && err == nil {
				t.Fatal("CheckValidity accepts one second over the cap")
			}
		})
	}
}

func TestCheckValidity(t *testing.T) {
	issued := utc(t, "2026-06-01T00:00:00Z")
	nb := issued
	cases := []struct {
		name string
		na   time.Time
		code apperr.Code
	}{
		{"BR §6.3.2 200 days", nb.Add(200*Day - time.Second), ""},
		{"BR §6.3.2 200 days + 1 s", nb.Add(200 * Day), "validity_too_long"},
		{"BR §6.3.2 200 days + 1 ms", nb.Add(200*Day - time.Second + time.Millisecond), "validity_too_long"},
		{"notAfter before notBefore", nb.Add(-time.Second), "invalid_validity"},
		{"notAfter equal to notBefore (one second)", nb, ""},
	}
	for _, c := range cases {
		err := CheckValidity(issued, nb, c.na)
		if c.code == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		wantAppErr(t, err, apperr.KindInvalid, "validityDays", c.code)
	}
}

func TestShortLived(t *testing.T) {
	// BR §1.6.1 "Short-lived Subscriber Certificate".
	cases := []struct {
		name string
		nb   string
		span time.Duration // notAfter - notBefore
		want bool
	}{
		{"before 2024-03-15 there is no such class", "2024-03-14T23:59:59Z", time.Hour, false},
		{"2025: 10 days exactly", "2025-01-01T00:00:00Z", 10*Day - time.Second, true},
		{"2025: 10 days + 1 s", "2025-01-01T00:00:00Z", 10 * Day, false},
		{"2026-03-14: still 10 days", "2026-03-14T23:59:59Z", 10*Day - time.Second, true},
		{"2026-03-15: 10 days is too long", "2026-03-15T00:00:00Z", 10*Day - time.Second, false},
		{"2026-03-15: 7 days exactly", "2026-03-15T00:00:00Z", 7*Day - time.Second, true},
		{"2026-03-15: 7 days + 1 s", "2026-03-15T00:00:00Z", 7 * Day, false},
	}
	for _, c := range cases {
		nb := utc(t, c.nb)
		if got := IsShortLived(nb, nb.Add(c.span)); got != c.want {
			t.Errorf("BR §1.6.1 %s: IsShortLived = %v, want %v", c.name, got, c.want)
		}
	}
}
