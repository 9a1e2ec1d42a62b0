package crl_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/revocation/crl"
)

// sortedStdCRL is stdCRL with the entries in serial order, as Check wants
// them, so that each refusal below is about its mutation, not the order.
func sortedStdCRL(t *testing.T, ca *testCA, mutate func(*x509.RevocationList)) []byte {
	t.Helper()
	p := params(ca, sortEntries(makeEntries(4, 21)))
	tmpl := stdlibTemplate(p)
	mutate(tmpl)
	slices.SortStableFunc(tmpl.RevokedCertificateEntries, func(a, b x509.RevocationListEntry) int {
		return bytes.Compare(a.SerialNumber.Bytes(), b.SerialNumber.Bytes())
	})
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestCheckRefuses gives Check every CRL TestInspectRefuses gives Inspect
// (entries sorted), the expectations of TestVerifyExpectations, and what
// only Check refuses: entries out of order, a signature algorithm vetca
// does not use.
func TestCheckRefuses(t *testing.T) {
	ca := ecdsaCA()
	p := params(ca, sortEntries(makeEntries(4, 21)))
	good := mustStream(t, p)
	idp := func(critical bool, value []byte) []pkix.Extension {
		return []pkix.Extension{{Id: oidIDP, Critical: critical, Value: value}}
	}
	reasonExt := func(critical bool, code byte) []pkix.Extension {
		return []pkix.Extension{{Id: oidReason, Critical: critical, Value: []byte{0x0a, 0x01, code}}}
	}
	noCRLSign := *ca.cert
	noCRLSign.KeyUsage = x509.KeyUsageCertSign
	unsorted := params(ca, makeEntries(40, 22))
	if slices.IsSortedFunc(unsorted.Entries, func(a, b crl.Entry) int { return bytes.Compare(a.Serial.Bytes(), b.Serial.Bytes()) }) {
		t.Fatal("the unsorted entries are sorted")
	}
	want := crl.Expect{URL: testURL, Now: t0}
	tests := []struct {
		name   string
		der    []byte
		issuer *x509.Certificate
		expect crl.Expect
		want   error
	}{
		{"flipped signature byte", func() []byte {
			b := bytes.Clone(good)
			b[len(b)-5] ^= 0x01
			return b
		}(), nil, want, crl.ErrSignature},
		{"flipped TBS byte (an entry's reason)", func() []byte {
			b := bytes.Clone(good)
			i := bytes.Index(b, []byte{0x0a, 0x01, 0x01}) // first keyCompromise ENUMERATED
			b[i+2] = 0x04
			return b
		}(), nil, want, crl.ErrSignature},
		{"issuer may not sign CRLs", good, &noCRLSign, want, crl.ErrSignature},
		{"signed by another CA", mustStream(t, params(rsaCA(), nil)), nil, want, crl.ErrMalformed},
		{"trailing data", append(bytes.Clone(good), 0), nil, want, crl.ErrMalformed},
		{"garbage", []byte("not a crl"), nil, want, crl.ErrMalformed},
		{"empty", nil, nil, want, crl.ErrMalformed},
		{"no IDP (BR §7.2.2.1)", sortedStdCRL(t, ca, func(rl *x509.RevocationList) { rl.ExtraExtensions = nil }), nil, want, crl.ErrMalformed},
		{"non-critical IDP (BR §7.2.2.1)", sortedStdCRL(t, ca, func(rl *x509.RevocationList) {
			rl.ExtraExtensions = idp(false, crl.IssuingDistributionPoint(testURL))
		}), nil, want, crl.ErrMalformed},
		{"IDP with indirectCRL (BR §7.2.2.1)", sortedStdCRL(t, ca, func(rl *x509.RevocationList) {
			v := crl.IssuingDistributionPoint(testURL)
			v = append(v, 0x84, 0x01, 0xff)
			v[1] += 3
			rl.ExtraExtensions = idp(true, v)
		}), nil, want, crl.ErrMalformed},
		{"IDP twice", sortedStdCRL(t, ca, func(rl *x509.RevocationList) {
			rl.ExtraExtensions = append(rl.ExtraExtensions, idp(true, crl.IssuingDistributionPoint("http://crl.vetca.test/other/1.crl"))...)
		}), nil, want, crl.ErrMalformed},
		{"extra CRL extension", sortedStdCRL(t, ca, func(rl *x509.RevocationList) {
			rl.ExtraExtensions = append(rl.ExtraExtensions, pkix.Extension{Id: []int{1, 2, 3, 4}, Value: []byte{5, 0}})
		}), nil, want, crl.ErrMalformed},
		{"nextUpdate 11 days (BR §4.9.7)", sortedStdCRL(t, ca, func(rl *x509.RevocationList) { rl.NextUpdate = rl.ThisUpdate.Add(11 * 24 * time.Hour) }), nil, crl.Expect{URL: testURL}, crl.ErrMalformed},
		{"certificateHold entry (BR §4.9.13)", sortedStdCRL(t, ca, func(rl *x509.RevocationList) { rl.RevokedCertificateEntries[1].ReasonCode = 6 }), nil, want, crl.ErrMalformed},
		{"cACompromise entry (BR §7.2.2)", sortedStdCRL(t, ca, func(rl *x509.RevocationList) { rl.RevokedCertificateEntries[1].ReasonCode = 2 }), nil, want, crl.ErrMalformed},
		{"explicit unspecified reason (BR §7.2.2)", legacyEntries(t, ca, reasonExt(false, 0)), nil, want, crl.ErrMalformed},
		{"critical reasonCode (BR §7.2.2)", legacyEntries(t, ca, reasonExt(true, 1)), nil, want, crl.ErrMalformed},
		{"two reasonCodes", legacyEntries(t, ca, append(reasonExt(false, 1), reasonExt(false, 4)...)), nil, want, crl.ErrMalformed},
		{"duplicate serial", sortedStdCRL(t, ca, func(rl *x509.RevocationList) {
			rl.RevokedCertificateEntries[2].SerialNumber = rl.RevokedCertificateEntries[0].SerialNumber
		}), nil, want, crl.ErrMalformed},
		{"entry revoked after thisUpdate", sortedStdCRL(t, ca, func(rl *x509.RevocationList) {
			rl.RevokedCertificateEntries[0].RevocationTime = rl.ThisUpdate.Add(time.Minute)
		}), nil, crl.Expect{URL: testURL}, crl.ErrMalformed},
		{"entry with another extension", sortedStdCRL(t, ca, func(rl *x509.RevocationList) {
			rl.RevokedCertificateEntries[0].ExtraExtensions = []pkix.Extension{{Id: []int{2, 5, 29, 24}, Value: []byte{0x18, 0x0f, '2', '0', '2', '6', '0', '1', '0', '1', '0', '0', '0', '0', '0', '0', 'Z'}}}
		}), nil, want, crl.ErrMalformed},
		{"entries not in serial order (Verify accepts it)", mustBuild(t, unsorted), nil, want, crl.ErrMalformed},
		{"RSA-PSS (not what vetca signs)", func() []byte {
			tmpl := stdlibTemplate(params(rsaCA(), nil))
			tmpl.SignatureAlgorithm = x509.SHA256WithRSAPSS
			der, err := x509.CreateRevocationList(rand.Reader, tmpl, rsaCA().cert, rsaCA().key)
			if err != nil {
				t.Fatal(err)
			}
			return der
		}(), rsaCA().cert, want, crl.ErrMalformed},
		{"another URL", good, nil, crl.Expect{URL: "http://crl.vetca.test/crl/7f3a9c/4.crl"}, crl.ErrMismatch},
		{"stale", good, nil, crl.Expect{URL: testURL, Now: t0.Add(7*24*time.Hour + time.Second)}, crl.ErrMismatch},
		{"from the future", good, nil, crl.Expect{URL: testURL, Now: t0.Add(-time.Second)}, crl.ErrMismatch},
		{"number not increased", good, nil, crl.Expect{URL: testURL, NumberAbove: big.NewInt(42)}, crl.ErrMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			iss := tc.issuer
			if iss == nil {
				iss = ca.cert
			}
			info, err := crl.Check(tc.der, iss, tc.expect, nil)
			if err == nil {
				t.Fatalf("Check accepted it: %+v", info)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := crl.Check(good, ca.cert, crl.Expect{URL: testURL, Now: t0, NumberAbove: big.NewInt(41)}, nil); err != nil {
		t.Fatalf("the unmutated CRL: %v", err)
	}
	if _, err := crl.Check(sortedStdCRL(t, ca, func(*x509.RevocationList) {}), ca.cert, want, nil); err != nil {
		t.Fatalf("the standard library's equivalent: %v", err)
	}
	var reason int
	if _, err := crl.Check(legacyEntries(t, ca, reasonExt(false, 1)), ca.cert, want, func(_ []byte, _ time.Time, r int) { reason = r }); err != nil || reason != 1 {
		t.Fatalf("a hand-made keyCompromise entry: %v, reason %d", err, reason)
	}
}

// legacyEntries is a CRL with one entry whose crlEntryExtensions are exts,
// written through the deprecated field of x509.RevocationList that takes
// them as they are (the current one refuses a hand-made reasonCode).
func legacyEntries(t *testing.T, ca *testCA, exts []pkix.Extension) []byte {
	t.Helper()
	tmpl := stdlibTemplate(params(ca, nil))
	tmpl.RevokedCertificates = []pkix.RevokedCertificate{{SerialNumber: big.NewInt(5), RevocationTime: t0, Extensions: exts}} //lint:ignore SA1019 the deprecated field writes extensions as given
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// FuzzCheck holds Check to Verify: whatever Check accepts, Verify accepts
// and reads the same way (so the streaming check is never the weaker one).
func FuzzCheck(f *testing.F) {
	ca := corpusCA()
	f.Add(mustStreamF(f, params(ca, sortEntries(makeEntries(3, 41)))))
	f.Add(mustStreamF(f, params(ca, nil)))
	f.Fuzz(func(t *testing.T, der []byte) {
		var visited []crl.Entry
		info, err := crl.Check(der, ca.cert, crl.Expect{URL: testURL}, func(serial []byte, at time.Time, reason int) {
			visited = append(visited, crl.Entry{Serial: new(big.Int).SetBytes(serial), RevokedAt: at, Reason: reason})
		})
		if err != nil {
			if !errors.Is(err, crl.ErrMalformed) && !errors.Is(err, crl.ErrSignature) && !errors.Is(err, crl.ErrMismatch) {
				t.Fatalf("refused without ErrMalformed, ErrSignature or ErrMismatch: %v", err)
			}
			return
		}
		verified, err := crl.Verify(der, ca.cert, crl.Expect{URL: testURL})
		if err != nil {
			t.Fatalf("Check accepted a CRL Verify refuses: %v", err)
		}
		sameInfo(t, info, verified, visited)
	})
}

func mustStreamF(f *testing.F, p crl.Params) []byte {
	der, err := streamBuild(p)
	if err != nil {
		f.Fatal(err)
	}
	return der
}
