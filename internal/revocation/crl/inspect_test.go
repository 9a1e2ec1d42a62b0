package crl_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/revocation/crl"
)

func TestInspectRoundTrip(t *testing.T) {
	for _, ca := range cas() {
		t.Run(ca.name, func(t *testing.T) {
			entries := makeEntries(100, 11)
			p := params(ca, entries)
			info, err := crl.Inspect(mustBuild(t, p), ca.cert)
			if err != nil {
				t.Fatal(err)
			}
			if info.URL != p.URL || info.Number.Cmp(p.Number) != 0 || !info.ThisUpdate.Equal(p.ThisUpdate) || !info.NextUpdate.Equal(p.NextUpdate) {
				t.Errorf("info %+v does not match params", info)
			}
			if len(info.Entries) != len(entries) {
				t.Fatalf("%d entries, want %d", len(info.Entries), len(entries))
			}
			for _, e := range entries {
				got, ok := info.Entries[crl.SerialHex(e.Serial)]
				if !ok {
					t.Fatalf("serial %x missing", e.Serial)
				}
				if got.Reason != e.Reason || !got.RevokedAt.Equal(e.RevokedAt.Truncate(time.Second)) || got.Serial.Cmp(e.Serial) != 0 {
					t.Errorf("serial %x: got %+v, want %+v", e.Serial, got, e)
				}
			}
		})
	}
}

func TestSerialHexMatchesContract(t *testing.T) {
	// The API's serial form (docs/api.md): lower-case hex, no colons, no leading 00.
	s, _ := new(big.Int).SetString("00ABCDEF0123", 16)
	if got := crl.SerialHex(s); got != "abcdef0123" {
		t.Errorf("SerialHex = %q", got)
	}
	s, _ = new(big.Int).SetString("80", 16) // DER needs a leading zero; the text does not
	if got := crl.SerialHex(s); got != "80" {
		t.Errorf("SerialHex = %q", got)
	}
}

// stdCRL builds a CRL with x509.CreateRevocationList so that Inspect can be
// shown CRLs that break the profile in ways Build never would.
func stdCRL(t *testing.T, ca *testCA, mutate func(*x509.RevocationList)) []byte {
	t.Helper()
	p := params(ca, makeEntries(4, 21))
	tmpl := stdlibTemplate(p)
	mutate(tmpl)
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestInspectRefuses(t *testing.T) {
	ca := ecdsaCA()
	good := mustBuild(t, params(ca, makeEntries(4, 21)))
	idp := func(critical bool, value []byte) []pkix.Extension {
		return []pkix.Extension{{Id: oidIDP, Critical: critical, Value: value}}
	}
	tests := []struct {
		name string
		der  []byte
		want error
	}{
		{"flipped signature byte", func() []byte {
			b := bytes.Clone(good)
			b[len(b)-5] ^= 0x01
			return b
		}(), crl.ErrSignature},
		{"flipped TBS byte (an entry's reason)", func() []byte {
			b := bytes.Clone(good)
			i := bytes.Index(b, []byte{0x0a, 0x01, 0x01}) // first keyCompromise ENUMERATED
			b[i+2] = 0x04
			return b
		}(), crl.ErrSignature},
		{"signed by another CA", mustBuild(t, params(rsaCA(), nil)), crl.ErrMalformed},
		{"trailing data", append(bytes.Clone(good), 0), crl.ErrMalformed},
		{"garbage", []byte("not a crl"), crl.ErrMalformed},
		{"no IDP (BR §7.2.2.1)", stdCRL(t, ca, func(rl *x509.RevocationList) { rl.ExtraExtensions = nil }), crl.ErrMalformed},
		{"non-critical IDP (BR §7.2.2.1)", stdCRL(t, ca, func(rl *x509.RevocationList) {
			rl.ExtraExtensions = idp(false, crl.IssuingDistributionPoint(testURL))
		}), crl.ErrMalformed},
		{"IDP with indirectCRL (BR §7.2.2.1)", stdCRL(t, ca, func(rl *x509.RevocationList) {
			v := crl.IssuingDistributionPoint(testURL)
			v = append(v, 0x84, 0x01, 0xff) // [4] indirectCRL TRUE
			v[1] += 3
			rl.ExtraExtensions = idp(true, v)
		}), crl.ErrMalformed},
		{"IDP without onlyContainsUserCerts", stdCRL(t, ca, func(rl *x509.RevocationList) {
			v := crl.IssuingDistributionPoint(testURL)
			v = v[:len(v)-3]
			v[1] -= 3
			rl.ExtraExtensions = idp(true, v)
		}), crl.ErrMalformed},
		{"IDP with a URL that is not http://", stdCRL(t, ca, func(rl *x509.RevocationList) {
			v := crl.IssuingDistributionPoint("http://crl.vetca.test/crl/a/1.crl")
			v[bytes.Index(v, []byte("http"))+4] = 's' // same length: "https//crl..."
			rl.ExtraExtensions = idp(true, v)
		}), crl.ErrMalformed},
		{"IDP twice", stdCRL(t, ca, func(rl *x509.RevocationList) {
			rl.ExtraExtensions = append(rl.ExtraExtensions, idp(true, crl.IssuingDistributionPoint("http://crl.vetca.test/other/1.crl"))...)
		}), crl.ErrMalformed},
		{"extra CRL extension", stdCRL(t, ca, func(rl *x509.RevocationList) {
			rl.ExtraExtensions = append(rl.ExtraExtensions, pkix.Extension{Id: []int{1, 2, 3, 4}, Value: []byte{5, 0}})
		}), crl.ErrMalformed},
		{"nextUpdate 11 days (BR §4.9.7)", stdCRL(t, ca, func(rl *x509.RevocationList) { rl.NextUpdate = rl.ThisUpdate.Add(11 * 24 * time.Hour) }), crl.ErrMalformed},
		{"certificateHold entry (BR §4.9.13)", stdCRL(t, ca, func(rl *x509.RevocationList) { rl.RevokedCertificateEntries[1].ReasonCode = 6 }), crl.ErrMalformed},
		{"cACompromise entry (BR §7.2.2)", stdCRL(t, ca, func(rl *x509.RevocationList) { rl.RevokedCertificateEntries[1].ReasonCode = 2 }), crl.ErrMalformed},
		{"duplicate serial", stdCRL(t, ca, func(rl *x509.RevocationList) {
			rl.RevokedCertificateEntries[2].SerialNumber = rl.RevokedCertificateEntries[0].SerialNumber
		}), crl.ErrMalformed},
		{"entry revoked after thisUpdate", stdCRL(t, ca, func(rl *x509.RevocationList) {
			rl.RevokedCertificateEntries[0].RevocationTime = rl.ThisUpdate.Add(time.Minute)
		}), crl.ErrMalformed},
		{"entry with another extension", stdCRL(t, ca, func(rl *x509.RevocationList) {
			rl.RevokedCertificateEntries[0].ExtraExtensions = []pkix.Extension{{Id: []int{2, 5, 29, 24}, Value: []byte{0x18, 0x0f, '2', '0', '2', '6', '0', '1', '0', '1', '0', '0', '0', '0', '0', '0', 'Z'}}}
		}), crl.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info, err := crl.Inspect(tc.der, ca.cert)
			if err == nil {
				t.Fatalf("Inspect accepted it: %+v", info)
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

// TestInspectAcceptsStdlibEquivalent shows the refusals above are about the
// mutation: the same CRL made by the standard library without it passes.
func TestInspectAcceptsStdlibEquivalent(t *testing.T) {
	ca := ecdsaCA()
	if _, err := crl.Inspect(stdCRL(t, ca, func(*x509.RevocationList) {}), ca.cert); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyExpectations(t *testing.T) {
	ca := ecdsaCA()
	p := params(ca, makeEntries(3, 31))
	der := mustBuild(t, p)
	tests := []struct {
		name string
		want crl.Expect
		ok   bool
	}{
		{"matching", crl.Expect{URL: p.URL, Now: t0, NumberAbove: big.NewInt(41)}, true},
		{"at nextUpdate", crl.Expect{URL: p.URL, Now: p.NextUpdate}, true},
		{"other shard URL (BR §7.2.2.1)", crl.Expect{URL: "http://crl.vetca.test/crl/7f3a9c/4.crl"}, false},
		{"URL differing only in case", crl.Expect{URL: "http://CRL.vetca.test/crl/7f3a9c/3.crl"}, false},
		{"URL with trailing slash", crl.Expect{URL: p.URL + "/"}, false},
		{"number not increased (BR §7.2)", crl.Expect{URL: p.URL, NumberAbove: big.NewInt(42)}, false},
		{"number went down", crl.Expect{URL: p.URL, NumberAbove: big.NewInt(100)}, false},
		{"stale", crl.Expect{URL: p.URL, Now: p.NextUpdate.Add(time.Second)}, false},
		{"not yet valid", crl.Expect{URL: p.URL, Now: t0.Add(-time.Second)}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := crl.Verify(der, ca.cert, tc.want)
			if tc.ok && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !tc.ok && !errors.Is(err, crl.ErrMismatch) {
				t.Fatalf("Verify error %v, want ErrMismatch", err)
			}
		})
	}
	if _, err := crl.Verify(der, ca.cert, crl.Expect{}); err == nil {
		t.Error("Verify without an expected URL passed")
	}
}

// FuzzInspect: CRLs are read back from storage and from CRL URLs. Inspect
// refuses anything that is not a shard CRL signed by the CA, wrapping
// ErrMalformed or ErrSignature; what it accepts carries a valid URL and
// number, a nextUpdate within 10 days of thisUpdate (BR §4.9.7), and only
// entries revoked by thisUpdate with reasons BR §7.2.2 allows.
//
// The CA's key is fixed (corpusCA), so that the checked-in corpus holds
// CRLs whose signatures verify.
func FuzzInspect(f *testing.F) {
	ca := corpusCA()
	f.Add(mustBuildF(f, params(ca, makeEntries(3, 41))))
	f.Add(mustBuildF(f, params(ca, nil)))
	allowed := map[int]bool{0: true, 1: true, 3: true, 4: true, 5: true, 9: true}
	f.Fuzz(func(t *testing.T, der []byte) {
		info, err := crl.Inspect(der, ca.cert)
		if err != nil {
			if !errors.Is(err, crl.ErrMalformed) && !errors.Is(err, crl.ErrSignature) {
				t.Fatalf("refused without ErrMalformed or ErrSignature: %v", err)
			}
			return
		}
		// Anything accepted must be signed by the CA and carry a valid URL.
		if crl.CheckURL(info.URL) != nil || info.Number == nil || info.Number.Sign() < 0 {
			t.Fatalf("accepted a CRL with URL %q number %v", info.URL, info.Number)
		}
		if !info.NextUpdate.After(info.ThisUpdate) || info.NextUpdate.Sub(info.ThisUpdate) > 10*24*time.Hour {
			t.Fatalf("accepted thisUpdate %v nextUpdate %v", info.ThisUpdate, info.NextUpdate)
		}
		for k, e := range info.Entries {
			if k != crl.SerialHex(e.Serial) || e.RevokedAt.After(info.ThisUpdate) || !allowed[e.Reason] {
				t.Fatalf("accepted entry %s: %+v", k, e)
			}
		}
	})
}

func FuzzParseIssuingDistributionPoint(f *testing.F) {
	f.Add(crl.IssuingDistributionPoint(testURL))
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, v []byte) {
		u, err := crl.ParseIssuingDistributionPoint(v)
		if err != nil {
			return
		}
		// The only accepted form is the canonical one.
		if !bytes.Equal(crl.IssuingDistributionPoint(u), v) {
			t.Fatalf("accepted non-canonical IDP %x for %q", v, u)
		}
	})
}

func mustBuildF(f *testing.F, p crl.Params) []byte {
	der, err := crl.Build(p)
	if err != nil {
		f.Fatal(err)
	}
	return der
}
