package br

import (
	"math/big"
	"testing"
	"time"
)

func TestCheckCRLValidity(t *testing.T) {
	tu := utc(t, "2026-05-01T00:00:00Z")
	cases := []struct {
		name   string
		tu, nu time.Time
		ok     bool
	}{
		{"BR §7.2 nextUpdate 10 days after thisUpdate", tu, tu.Add(10 * Day), true},
		{"BR §7.2 10 days + 1 s", tu, tu.Add(10*Day + time.Second), false},
		{"BR §7.2 7 days", tu, tu.Add(7 * Day), true},
		{"nextUpdate equal to thisUpdate", tu, tu, false},
		{"nextUpdate before thisUpdate", tu, tu.Add(-time.Hour), false},
		{"BR §7.2 nextUpdate MUST be present", tu, time.Time{}, false},
		{"thisUpdate missing", time.Time{}, tu, false},
	}
	for _, c := range cases {
		if err := CheckCRLValidity(c.tu, c.nu); (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

func TestCRLRepublish(t *testing.T) {
	// BR §4.9.7: every 7 days with OCSP on all certificates, else every 4,
	// and within 24 h of recording a revocation.
	last := utc(t, "2026-05-01T00:00:00Z")
	cases := []struct {
		name    string
		ocsp    bool
		revoked time.Time
		want    string
	}{
		{"BR §4.9.7 without OCSP: 4 days", false, time.Time{}, "2026-05-05T00:00:00Z"},
		{"BR §4.9.7 with OCSP: 7 days", true, time.Time{}, "2026-05-08T00:00:00Z"},
		{"BR §4.9.7 revocation: 24 h", false, utc(t, "2026-05-02T06:00:00Z"), "2026-05-03T06:00:00Z"},
		{"BR §4.9.7 revocation late in the cycle: the regular date is first", false, utc(t, "2026-05-04T12:00:00Z"), "2026-05-05T00:00:00Z"},
	}
	for _, c := range cases {
		if got := CRLRepublishDue(last, c.ocsp, c.revoked); !got.Equal(utc(t, c.want)) {
			t.Errorf("%s: got %s, want %s", c.name, got.Format(time.RFC3339), c.want)
		}
	}
	if CRLRepublishInterval(false) != 4*Day || CRLRepublishInterval(true) != 7*Day {
		t.Fatal("BR §4.9.7 intervals")
	}
}

func TestCheckCRLNumber(t *testing.T) {
	limit := MaxCRLNumber()
	below := new(big.Int).Sub(limit, big.NewInt(1))
	cases := []struct {
		name    string
		n, prev *big.Int
		ok      bool
	}{
		{"BR §7.2 first CRL, number 1", big.NewInt(1), nil, true},
		{"RFC 5280 §5.2.3 zero is a valid first number", big.NewInt(0), nil, true},
		{"BR §7.2 2^159 - 1", below, big.NewInt(5), true},
		{"BR §7.2 2^159", limit, nil, false},
		{"negative", big.NewInt(-1), nil, false},
		{"missing", nil, nil, false},
		{"BR §7.2 strictly increasing: equal", big.NewInt(7), big.NewInt(7), false},
		{"BR §7.2 strictly increasing: lower", big.NewInt(6), big.NewInt(7), false},
		{"BR §7.2 strictly increasing: higher", big.NewInt(8), big.NewInt(7), true},
	}
	for _, c := range cases {
		if err := CheckCRLNumber(c.n, c.prev); (err == nil) != c.ok {
			t.Errorf("%s: err = %v, want ok=%v", c.name, err, c.ok)
		}
	}
	if limit.BitLen() != 160 || MaxCRLNumber() == limit {
		t.Fatal("MaxCRLNumber must be a fresh 2^159")
	}
}

func TestCRLEntryRemovable(t *testing.T) {
	// BR §7.2: keep the entry until it appeared on one regularly scheduled
	// CRL beyond the certificate's validity; §4.10.1: never before expiry.
	notAfter := utc(t, "2026-05-10T00:00:00Z")
	cases := []struct {
		name string
		last time.Time
		want bool
	}{
		{"never on a scheduled CRL", time.Time{}, false},
		{"last scheduled CRL before expiry", utc(t, "2026-05-09T00:00:00Z"), false},
		{"last scheduled CRL at the expiry instant", notAfter, false},
		{"scheduled CRL one second after expiry", notAfter.Add(time.Second), true},
	}
	for _, c := range cases {
		if got := CRLEntryRemovable(notAfter, c.last); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}
