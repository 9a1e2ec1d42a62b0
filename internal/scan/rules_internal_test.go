package scan

import (
	"context"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/store"
)

type blocklist map[string]bool

func (b blocklist) Blocked(_ context.Context, _ store.Querier, spki string) (bool, error) {
	return b[spki], nil
}

// The rules a scan re-applies without a lint, each at its BR section: the
// validity cap for the issuance date (BR §6.3.2: 398 days before
// 2026-03-15, 200 days from then), the serial's 64 bits of CSPRNG output
// (BR §7.1) and the keyCompromise blocklist (BR §6.1.1.3(4)).
func TestRulesCiteTheBR(t *testing.T) {
	day := 24 * time.Hour
	early := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	late := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	goodSerial, _ := new(big.Int).SetString("7f3a9c2e1b4d5f60718293a4b5c6d7e8", 16)
	cases := []struct {
		name          string
		issued        time.Time
		days          int
		serial        *big.Int
		blocked       bool
		check, field  string
		wantFindingOn bool
	}{
		{"BR §6.3.2: 398 days issued in 2025 is within the cap", early, 398, goodSerial, false, "", "", false},
		{"BR §6.3.2: 399 days issued in 2025 is over the cap", early, 399, goodSerial, false, CheckValidityCap, "validityDays", true},
		{"BR §6.3.2: 398 days issued after 2026-03-15 is over the 200-day cap", late, 398, goodSerial, false, CheckValidityCap, "validityDays", true},
		{"BR §6.3.2: 200 days issued after 2026-03-15 is within the cap", late, 200, goodSerial, false, "", "", false},
		{"BR §7.1: a 32-bit serial is too short", early, 90, big.NewInt(0x7fffffff), false, CheckSerialLength, "serial", true},
		{"BR §6.1.1.3(4): a key on the blocklist", early, 90, goodSerial, true, CheckKeyBlocked, "publicKey", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := New(Deps{Blocklist: blocklist{"spki": tc.blocked}})
			c := &cert{rec: issuance.Certificate{Serial: "s", SPKISHA256: "spki", CreatedAt: tc.issued},
				x: &x509.Certificate{SerialNumber: tc.serial, NotBefore: tc.issued, NotAfter: tc.issued.Add(time.Duration(tc.days)*day - time.Second)}}
			if err := s.rules(context.Background(), c); err != nil {
				t.Fatal(err)
			}
			if !tc.wantFindingOn {
				if len(c.findings) != 0 {
					t.Fatalf("findings %+v, want none", c.findings)
				}
				return
			}
			if len(c.findings) != 1 || c.findings[0].Lint != tc.check || c.findings[0].Field != tc.field {
				t.Fatalf("findings %+v, want one %s on %s", c.findings, tc.check, tc.field)
			}
		})
	}
}
