package crl_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"math/big"
	mrand "math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/revocation/crl"
)

// serialBytes is how the publisher hands serials to a Stream: the
// magnitude's big-endian octets. A serial that is not positive gets a
// leading zero octet, which Stream must refuse.
func serialBytes(s *big.Int) []byte {
	if s == nil {
		return nil
	}
	if s.Sign() <= 0 {
		return append([]byte{0}, s.Bytes()...)
	}
	return s.Bytes()
}

// sortEntries orders entries as a Stream takes them: by serial octets.
func sortEntries(entries []crl.Entry) []crl.Entry {
	out := slices.Clone(entries)
	slices.SortStableFunc(out, func(a, b crl.Entry) int { return bytes.Compare(serialBytes(a.Serial), serialBytes(b.Serial)) })
	return out
}

// streamBuild encodes p with a Stream, entries in the order given.
func streamBuild(p crl.Params) ([]byte, error) {
	s, err := crl.NewStream(crl.Header{Issuer: p.Issuer, Signer: p.Signer, URL: p.URL, Number: p.Number,
		ThisUpdate: p.ThisUpdate, NextUpdate: p.NextUpdate}, len(p.Entries))
	if err != nil {
		return nil, err
	}
	for _, e := range p.Entries {
		if err := s.Add(serialBytes(e.Serial), e.RevokedAt, e.Reason); err != nil {
			return nil, err
		}
	}
	if s.Count() != len(p.Entries) {
		return nil, errors.New("count differs")
	}
	return s.Finish()
}

func mustStream(t *testing.T, p crl.Params) []byte {
	t.Helper()
	der, err := streamBuild(p)
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	return der
}

// TestStreamMatchesBuildAndStdlib is the differential test of the streaming
// encoder: for the same entries in the same (serial) order, the
// to-be-signed part it writes is byte for byte the one Build writes and
// the one x509.CreateRevocationList writes (with the IDP as an extra
// extension); the CRL parses with the standard library, its signature
// verifies, and it lists exactly the entries given (serial, date, reason).
// The sizes cross every DER length-encoding boundary of the entry list.
func TestStreamMatchesBuildAndStdlib(t *testing.T) {
	late := time.Date(2049, time.December, 31, 23, 59, 59, 0, time.UTC)
	two159 := new(big.Int).Lsh(big.NewInt(1), 159)
	cases := []struct {
		name    string
		this    time.Time
		entries []crl.Entry
		number  *big.Int
	}{
		{"empty", t0, nil, big.NewInt(0)},
		{"one", t0, makeEntries(1, 11), big.NewInt(1)},
		{"three", t0, makeEntries(3, 12), big.NewInt(2)},
		{"small", t0, makeEntries(200, 13), big.NewInt(3)},
		{"medium", t0, makeEntries(5000, 14), big.NewInt(4)},
		{"large", t0, makeEntries(40000, 15), big.NewInt(5)},
		{"leading-zero serials", t0, []crl.Entry{
			{Serial: big.NewInt(0x80), RevokedAt: t0, Reason: 1},
			{Serial: new(big.Int).SetBytes(bytes.Repeat([]byte{0xff}, 19)), RevokedAt: t0, Reason: 0},
			{Serial: new(big.Int).Sub(two159, big.NewInt(1)), RevokedAt: t0, Reason: 9},
			{Serial: big.NewInt(1), RevokedAt: t0.Add(-500 * 24 * time.Hour), Reason: 4},
			{Serial: big.NewInt(0x7f), RevokedAt: t0, Reason: 5},
		}, new(big.Int).Sub(two159, big.NewInt(1))},
		{"generalized time", late.Add(time.Second), []crl.Entry{
			{Serial: big.NewInt(77), RevokedAt: late, Reason: 5},
			{Serial: big.NewInt(78), RevokedAt: late.Add(time.Second), Reason: 3},
		}, big.NewInt(1 << 40)},
		{"fractional seconds", t0.Add(750 * time.Millisecond), []crl.Entry{
			{Serial: big.NewInt(79), RevokedAt: t0.Add(999 * time.Millisecond), Reason: 1},
		}, big.NewInt(6)},
	}
	for _, ca := range cas() {
		for _, tc := range cases {
			t.Run(ca.name+"/"+tc.name, func(t *testing.T) {
				p := params(ca, sortEntries(tc.entries))
				p.ThisUpdate, p.NextUpdate, p.Number = tc.this, tc.this.Add(crl.MaxValidity), tc.number
				der := mustStream(t, p)
				ours, err := x509.ParseRevocationList(der)
				if err != nil {
					t.Fatal(err)
				}
				if err := ours.CheckSignatureFrom(ca.cert); err != nil {
					t.Fatalf("signature: %v", err)
				}
				if len(ours.Raw) != len(der) {
					t.Fatalf("%d bytes of trailing data", len(der)-len(ours.Raw))
				}
				built, err := x509.ParseRevocationList(mustBuild(t, p))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(ours.RawTBSRevocationList, built.RawTBSRevocationList) {
					t.Errorf("TBS differs from Build's\n stream %x\n  build %x", head(ours.RawTBSRevocationList), head(built.RawTBSRevocationList))
				}
				stdDER, err := x509.CreateRevocationList(rand.Reader, stdlibTemplate(p), ca.cert, ca.key)
				if err != nil {
					t.Fatal(err)
				}
				std, err := x509.ParseRevocationList(stdDER)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(ours.RawTBSRevocationList, std.RawTBSRevocationList) {
					t.Errorf("TBS differs from x509.CreateRevocationList\n stream %x\n    std %x", head(ours.RawTBSRevocationList), head(std.RawTBSRevocationList))
				}
				if len(ours.RevokedCertificateEntries) != len(p.Entries) {
					t.Fatalf("%d entries, want %d", len(ours.RevokedCertificateEntries), len(p.Entries))
				}
				for i, e := range ours.RevokedCertificateEntries {
					want := p.Entries[i]
					if e.SerialNumber.Cmp(want.Serial) != 0 || !e.RevocationTime.Equal(want.RevokedAt.UTC().Truncate(time.Second)) || e.ReasonCode != want.Reason {
						t.Fatalf("entry %d is %x %s %d, want %x %s %d", i, e.SerialNumber, e.RevocationTime, e.ReasonCode,
							want.Serial, want.RevokedAt, want.Reason)
					}
				}
				// The streaming check reads back what Verify reads back.
				viaVerify, err := crl.Verify(der, ca.cert, crl.Expect{URL: testURL, Now: p.ThisUpdate})
				if err != nil {
					t.Fatal(err)
				}
				var visited []crl.Entry
				viaCheck, err := crl.Check(der, ca.cert, crl.Expect{URL: testURL, Now: p.ThisUpdate}, func(serial []byte, at time.Time, reason int) {
					visited = append(visited, crl.Entry{Serial: new(big.Int).SetBytes(serial), RevokedAt: at, Reason: reason})
				})
				if err != nil {
					t.Fatal(err)
				}
				sameInfo(t, viaCheck, viaVerify, visited)
			})
		}
	}
}

// sameInfo requires Check's reading of a CRL (info and the entries it
// visited) to equal Verify's.
func sameInfo(t *testing.T, check, verify *crl.Info, visited []crl.Entry) {
	t.Helper()
	if check.URL != verify.URL || check.Number.Cmp(verify.Number) != 0 || !check.ThisUpdate.Equal(verify.ThisUpdate) ||
		!check.NextUpdate.Equal(verify.NextUpdate) || check.Count != verify.Count || check.Entries != nil {
		t.Fatalf("Check read %+v, Verify %+v", check, verify)
	}
	if len(visited) != len(verify.Entries) {
		t.Fatalf("Check visited %d entries, Verify read %d", len(visited), len(verify.Entries))
	}
	for _, e := range visited {
		v, ok := verify.Entries[crl.SerialHex(e.Serial)]
		if !ok || !v.RevokedAt.Equal(e.RevokedAt) || v.Reason != e.Reason {
			t.Fatalf("Check visited %x %s %d, Verify has %+v (%v)", e.Serial, e.RevokedAt, e.Reason, v, ok)
		}
	}
}

// TestStreamProperty builds CRLs from random sets of entries (serials of
// 1 to 20 octets, dates on both sides of 2050, every allowed reason) and
// requires each to be x509.CreateRevocationList's TBS and to read back
// exactly.
func TestStreamProperty(t *testing.T) {
	ca := ecdsaCA()
	r := mrand.New(mrand.NewPCG(17, 71))
	this := time.Date(2051, 3, 4, 5, 6, 7, 0, time.UTC)
	for round := 0; round < 200; round++ {
		n := r.IntN(40)
		seen := map[string]bool{}
		var entries []crl.Entry
		for len(entries) < n {
			b := make([]byte, 1+r.IntN(20))
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			b[0] |= 1
			if len(b) == 20 {
				b[0] &= 0x7f
			}
			if seen[string(b)] {
				continue
			}
			seen[string(b)] = true
			at := this.Add(-time.Duration(r.Int64N(int64(60 * 365 * 24 * time.Hour))))
			if at.Before(time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)) {
				at = time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)
			}
			entries = append(entries, crl.Entry{Serial: new(big.Int).SetBytes(b), RevokedAt: at, Reason: reasonCycle[r.IntN(len(reasonCycle))]})
		}
		p := params(ca, sortEntries(entries))
		p.ThisUpdate, p.NextUpdate = this, this.Add(24*time.Hour)
		der := mustStream(t, p)
		ours, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		stdDER, err := x509.CreateRevocationList(rand.Reader, stdlibTemplate(p), ca.cert, ca.key)
		if err != nil {
			t.Fatal(err)
		}
		std, err := x509.ParseRevocationList(stdDER)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours.RawTBSRevocationList, std.RawTBSRevocationList) {
			t.Fatalf("round %d: TBS differs from x509.CreateRevocationList", round)
		}
		if _, err := crl.Check(der, ca.cert, crl.Expect{URL: testURL}, nil); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
}

// TestStreamRefuses runs every refusal of TestBuildRefuses through a
// Stream (entries sorted), and the Stream's own: serials out of order.
func TestStreamRefuses(t *testing.T) {
	ca := ecdsaCA()
	for _, tc := range refusals(ca) {
		t.Run(tc.name, func(t *testing.T) {
			p := params(ca, makeEntries(3, 3))
			tc.mutate(&p)
			p.Entries = sortEntries(p.Entries)
			der, err := streamBuild(p)
			if err == nil {
				t.Fatalf("Stream accepted it (%d bytes)", len(der))
			}
			if !errors.Is(err, crl.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
	for _, tc := range []struct {
		name    string
		entries []crl.Entry
	}{
		{"descending", []crl.Entry{{Serial: big.NewInt(6), RevokedAt: t0}, {Serial: big.NewInt(5), RevokedAt: t0}}},
		{"repeated", []crl.Entry{{Serial: big.NewInt(5), RevokedAt: t0}, {Serial: big.NewInt(5), RevokedAt: t0, Reason: 1}}},
		{"leading zero octet", []crl.Entry{{Serial: big.NewInt(0), RevokedAt: t0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if der, err := streamBuild(params(ca, tc.entries)); err == nil || !errors.Is(err, crl.ErrInvalid) {
				t.Fatalf("Stream: %d bytes, %v", len(der), err)
			}
		})
	}
	s, err := crl.NewStream(crl.Header{Issuer: ca.cert, Signer: ca.key, URL: testURL, Number: big.NewInt(1), ThisUpdate: t0, NextUpdate: t0.Add(time.Hour)}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(bytes.Repeat([]byte{0x7f}, 21), t0, 0); !errors.Is(err, crl.ErrInvalid) {
		t.Fatalf("21-octet serial: %v", err)
	}
	if _, err := s.Finish(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Finish(); err == nil {
		t.Fatal("Finish twice")
	}
	if err := s.Add([]byte{1}, t0, 0); err == nil {
		t.Fatal("Add after Finish")
	}
}

// TestStreamGrowsPastItsHint: a hint below the real count costs a
// reallocation, never a wrong CRL.
func TestStreamGrowsPastItsHint(t *testing.T) {
	ca := rsaCA()
	p := params(ca, sortEntries(makeEntries(3000, 77)))
	s, err := crl.NewStream(crl.Header{Issuer: p.Issuer, Signer: p.Signer, URL: p.URL, Number: p.Number, ThisUpdate: p.ThisUpdate, NextUpdate: p.NextUpdate}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Entries {
		if err := s.Add(e.Serial.Bytes(), e.RevokedAt, e.Reason); err != nil {
			t.Fatal(err)
		}
	}
	der, err := s.Finish()
	if err != nil {
		t.Fatal(err)
	}
	info, err := crl.Check(der, ca.cert, crl.Expect{URL: testURL}, nil)
	if err != nil || info.Count != 3000 {
		t.Fatalf("%v %+v", err, info)
	}
}
