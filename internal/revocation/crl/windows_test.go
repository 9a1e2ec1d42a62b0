package crl_test

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/revocation/crl"
)

// TestWindowsCoverEveryEntryOnce checks that the windows of a CRL carry,
// between them, each of its entries once and in order, and in each window
// exactly its header, extensions and signature; that every window of a
// CRL Stream wrote passes zlint's CRL lints; and that a CRL without
// entries is its own only window.
func TestWindowsCoverEveryEntryOnce(t *testing.T) {
	ca := ecdsaCA()
	for _, n := range []int{0, 1, 5, 1000} {
		der := mustStream(t, params(ca, sortEntries(makeEntries(n, uint64(90+n)))))
		whole, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		for _, per := range []int{1, 3, 1000, 5000} {
			var got []x509.RevocationListEntry
			windows := 0
			err := crl.Windows(der, per, func(w []byte) error {
				windows++
				if n == 0 && !bytes.Equal(w, der) {
					t.Fatalf("n=0: the window is not the CRL")
				}
				rl, err := x509.ParseRevocationList(w)
				if err != nil {
					t.Fatalf("n=%d per=%d: window %d does not parse: %v", n, per, windows, err)
				}
				if len(rl.RevokedCertificateEntries) > per || (n > 0 && len(rl.RevokedCertificateEntries) == 0) {
					t.Fatalf("n=%d per=%d: window of %d entries", n, per, len(rl.RevokedCertificateEntries))
				}
				if !bytes.Equal(rl.RawIssuer, whole.RawIssuer) || rl.Number.Cmp(whole.Number) != 0 || !rl.ThisUpdate.Equal(whole.ThisUpdate) ||
					!rl.NextUpdate.Equal(whole.NextUpdate) || !slices.EqualFunc(rl.Extensions, whole.Extensions, func(a, b pkix.Extension) bool {
					return a.Id.Equal(b.Id) && a.Critical == b.Critical && bytes.Equal(a.Value, b.Value)
				}) || !bytes.Equal(rl.Signature, whole.Signature) || rl.SignatureAlgorithm != whole.SignatureAlgorithm {
					t.Fatalf("n=%d per=%d: window %d does not carry the CRL's header, extensions and signature", n, per, windows)
				}
				for _, e := range rl.RevokedCertificateEntries {
					e.Raw = bytes.Clone(e.Raw) // w is reused for the next window
					got = append(got, e)
				}
				if per == 1000 {
					if bad, _ := zlintCRL(t, w); len(bad) > 0 {
						t.Errorf("n=%d: window %d fails zlint: %v", n, windows, bad)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := max(1, (n+per-1)/per); windows != want {
				t.Fatalf("n=%d per=%d: %d windows, want %d", n, per, windows, want)
			}
			if len(got) != len(whole.RevokedCertificateEntries) {
				t.Fatalf("n=%d per=%d: %d entries in the windows, %d in the CRL", n, per, len(got), len(whole.RevokedCertificateEntries))
			}
			for i := range got {
				if !bytes.Equal(got[i].Raw, whole.RevokedCertificateEntries[i].Raw) {
					t.Fatalf("n=%d per=%d: entry %d differs", n, per, i)
				}
			}
		}
	}
	if err := crl.Windows(mustStream(t, params(ca, nil)), 0, func([]byte) error { return nil }); err == nil {
		t.Fatal("a window of no entries")
	}
	if err := crl.Windows([]byte("garbage"), 10, func([]byte) error { return nil }); err == nil {
		t.Fatal("windows of garbage")
	}
}

// TestWindowsLetZlintFindABadEntry: an entry that breaks a zlint rule, in
// the middle of a long list, fails the lints in its window, so linting by
// windows is not weaker than linting the whole CRL per entry.
func TestWindowsLetZlintFindABadEntry(t *testing.T) {
	ca := ecdsaCA()
	p := params(ca, sortEntries(makeEntries(3000, 33)))
	tmpl := stdlibTemplate(p)
	tmpl.RevokedCertificateEntries[1700].ReasonCode = 6 // certificateHold (BR §4.9.13)
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.cert, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	var failed []int
	window := 0
	if err := crl.Windows(der, 500, func(w []byte) error {
		if bad, _ := zlintCRL(t, w); strings.Contains(strings.Join(bad, " "), "e_cab_crl_has_valid_reason_code") {
			failed = append(failed, window)
		}
		window++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(failed, []int{3}) {
		t.Fatalf("windows failing the reason-code lint: %v, want [3]", failed)
	}
}

// FuzzStream decodes entries from the input (serials of 1 to 20 octets,
// dates from 1999 into the 2050s, any reason the BRs allow), and requires
// Stream to write x509.CreateRevocationList's TBSCertList for them and
// Check to read them back.
func FuzzStream(f *testing.F) {
	f.Add([]byte{3, 1, 2, 3, 0, 0, 0, 9, 1})
	f.Add([]byte{20, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 0xff, 0xff, 0xff, 0xff, 4, 1, 0x80, 0, 0, 0, 0, 0})
	ca := corpusCA()
	this := time.Date(2056, 1, 2, 3, 4, 5, 0, time.UTC)
	floor := time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, in []byte) {
		seen := map[string]bool{}
		var entries []crl.Entry
		for len(in) > 0 && len(entries) < 200 {
			n := int(in[0])%20 + 1
			in = in[1:]
			if len(in) < n+5 {
				break
			}
			serial := slices.Clone(in[:n])
			if serial[0] == 0 {
				serial[0] = 1
			}
			if n == 20 {
				serial[0] &= 0x7f
				serial[0] |= 1
			}
			secs := int64(in[n])<<24 | int64(in[n+1])<<16 | int64(in[n+2])<<8 | int64(in[n+3])
			reason := reasonCycle[int(in[n+4])%len(reasonCycle)]
			in = in[n+5:]
			if seen[string(serial)] {
				continue
			}
			seen[string(serial)] = true
			at := floor.Add(time.Duration(secs%int64(this.Sub(floor)/time.Second)) * time.Second)
			entries = append(entries, crl.Entry{Serial: new(big.Int).SetBytes(serial), RevokedAt: at, Reason: reason})
		}
		p := params(ca, sortEntries(entries))
		p.ThisUpdate, p.NextUpdate = this, this.Add(time.Hour)
		der, err := streamBuild(p)
		if err != nil {
			t.Fatal(err)
		}
		ours, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		std, err := x509.CreateRevocationList(rand.Reader, stdlibTemplate(p), ca.cert, ca.key)
		if err != nil {
			t.Fatal(err)
		}
		stdRL, err := x509.ParseRevocationList(std)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ours.RawTBSRevocationList, stdRL.RawTBSRevocationList) {
			t.Fatalf("TBS differs from x509.CreateRevocationList for %d entries", len(entries))
		}
		info, err := crl.Check(der, ca.cert, crl.Expect{URL: testURL}, nil)
		if err != nil || info.Count != len(entries) {
			t.Fatalf("Check: %v %+v", err, info)
		}
	})
}
