package crl_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/vetca/vetca/internal/revocation/crl"
)

var (
	oidIDP    = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidReason = asn1.ObjectIdentifier{2, 5, 29, 21}
)

func mustBuild(t *testing.T, p crl.Params) []byte {
	t.Helper()
	der, err := crl.Build(p)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return der
}

// TestBuildParsesBack checks, for both key types, that the standard parser
// reads back exactly what was asked for, that the signature verifies under
// the issuer, and the BR §7.2 / §7.2.2 fields.
func TestBuildParsesBack(t *testing.T) {
	for _, ca := range cas() {
		t.Run(ca.name, func(t *testing.T) {
			entries := makeEntries(60, 1)
			p := params(ca, entries)
			der := mustBuild(t, p)

			rl, err := x509.ParseRevocationList(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := rl.CheckSignatureFrom(ca.cert); err != nil {
				t.Fatalf("signature: %v", err)
			}
			if !bytes.Equal(rl.RawIssuer, ca.cert.RawSubject) {
				t.Error("issuer name is not the CA subject byte for byte")
			}
			if rl.Number.Cmp(p.Number) != 0 {
				t.Errorf("CRLNumber %v, want %v", rl.Number, p.Number)
			}
			if !rl.ThisUpdate.Equal(p.ThisUpdate) || !rl.NextUpdate.Equal(p.NextUpdate) {
				t.Errorf("validity %v..%v, want %v..%v", rl.ThisUpdate, rl.NextUpdate, p.ThisUpdate, p.NextUpdate)
			}
			// BR §7.2: authorityKeyIdentifier MUST be present.
			if !bytes.Equal(rl.AuthorityKeyId, ca.cert.SubjectKeyId) {
				t.Error("authorityKeyIdentifier is not the issuer's SKI")
			}
			if len(rl.RevokedCertificateEntries) != len(entries) {
				t.Fatalf("%d entries, want %d", len(rl.RevokedCertificateEntries), len(entries))
			}
			for i, got := range rl.RevokedCertificateEntries {
				want := entries[i]
				if got.SerialNumber.Cmp(want.Serial) != 0 {
					t.Errorf("entry %d serial %x, want %x", i, got.SerialNumber, want.Serial)
				}
				if !got.RevocationTime.Equal(want.RevokedAt.Truncate(time.Second)) {
					t.Errorf("entry %d revoked %v, want %v", i, got.RevocationTime, want.RevokedAt)
				}
				if got.ReasonCode != want.Reason {
					t.Errorf("entry %d reason %d, want %d", i, got.ReasonCode, want.Reason)
				}
			}
		})
	}
}

// TestReasonCodeExtension checks BR §7.2.2: unspecified (0) is the omission
// of reasonCode; 1, 3, 4, 5 and 9 are present and not critical.
func TestReasonCodeExtension(t *testing.T) {
	tests := []struct {
		reason  int
		present bool
	}{
		{0, false}, // BR §7.2.2 "Represented by the omission of a reasonCode"
		{1, true},  // keyCompromise
		{3, true},  // affiliationChanged
		{4, true},  // superseded
		{5, true},  // cessationOfOperation
		{9, true},  // privilegeWithdrawn
	}
	ca := ecdsaCA()
	var entries []crl.Entry
	for i, tc := range tests {
		entries = append(entries, crl.Entry{Serial: big.NewInt(int64(1000 + i)), RevokedAt: t0.Add(-time.Hour), Reason: tc.reason})
	}
	rl, err := x509.ParseRevocationList(mustBuild(t, params(ca, entries)))
	if err != nil {
		t.Fatal(err)
	}
	for i, tc := range tests {
		e := rl.RevokedCertificateEntries[i]
		var found []bool
		for _, ext := range e.Extensions {
			if ext.Id.Equal(oidReason) {
				found = append(found, ext.Critical)
				var code asn1.Enumerated
				if rest, err := asn1.Unmarshal(ext.Value, &code); err != nil || len(rest) != 0 || int(code) != tc.reason {
					t.Errorf("reason %d: extension value %x", tc.reason, ext.Value)
				}
			} else {
				t.Errorf("reason %d: unexpected entry extension %v", tc.reason, ext.Id)
			}
		}
		switch {
		case tc.present && len(found) != 1:
			t.Errorf("reason %d: %d reasonCode extensions, want 1", tc.reason, len(found))
		case tc.present && found[0]:
			t.Errorf("reason %d: reasonCode is critical (BR §7.2.2 MUST NOT)", tc.reason)
		case !tc.present && len(found) != 0:
			t.Errorf("reason 0: reasonCode present, BR §7.2.2 wants it omitted")
		}
	}
}

// TestIssuingDistributionPointBytes checks BR §7.2.2.1: the IDP is critical
// and its fullName URI is the shard URL byte for byte; the rest of the
// extension is exactly onlyContainsUserCerts TRUE. The expected DER is written
// out by hand here, independently of the encoder.
func TestIssuingDistributionPointBytes(t *testing.T) {
	urls := []string{
		testURL,
		crl.ShardURL("http://127.0.0.1:8080", "iss-1", 0),
		crl.ShardURL("http://crl.example.net/", "0123456789abcdef0123456789abcdef", 127),
		// Long enough that every length in the IDP takes two octets.
		"http://crl.vetca.test/" + strings.Repeat("a", 200) + "/1.crl",
	}
	for _, u := range urls {
		der := mustBuild(t, crl.Params{
			Issuer: ecdsaCA().cert, Signer: ecdsaCA().key, URL: u, Number: big.NewInt(1),
			ThisUpdate: t0, NextUpdate: t0.Add(24 * time.Hour),
		})
		rl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		var idp []byte
		var n int
		for _, ext := range rl.Extensions {
			if ext.Id.Equal(oidIDP) {
				n++
				if !ext.Critical {
					t.Errorf("%s: IDP not critical", u)
				}
				idp = ext.Value
			}
		}
		if n != 1 {
			t.Fatalf("%s: %d IDP extensions", u, n)
		}
		want := handIDP(u)
		if !bytes.Equal(idp, want) {
			t.Errorf("%s: IDP\n got %x\nwant %x", u, idp, want)
		}
		if !bytes.Contains(idp, []byte(u)) {
			t.Errorf("%s: URL bytes not in IDP", u)
		}
	}
}

// handIDP writes the DER of the expected IDP with explicit length octets.
func handIDP(u string) []byte {
	l := func(n int) []byte {
		if n < 128 {
			return []byte{byte(n)}
		}
		if n < 256 {
			return []byte{0x81, byte(n)}
		}
		return []byte{0x82, byte(n >> 8), byte(n)}
	}
	wrap := func(tag byte, body []byte) []byte {
		return append(append([]byte{tag}, l(len(body))...), body...)
	}
	uri := wrap(0x86, []byte(u))  // [6] IMPLICIT IA5String
	full := wrap(0xa0, uri)       // fullName [0] IMPLICIT GeneralNames
	dp := wrap(0xa0, full)        // distributionPoint [0] (CHOICE, so explicit)
	only := []byte{0x81, 1, 0xff} // onlyContainsUserCerts [1] IMPLICIT BOOLEAN TRUE
	return wrap(0x30, append(dp, only...))
}

// TestBuildMatchesStdlibTBS is a differential test: for the same inputs, the
// to-be-signed part Build writes is byte for byte the one
// x509.CreateRevocationList writes (with the IDP passed as an extra
// extension). It covers UTCTime and GeneralizedTime (RFC 5280 §5.1.2.4),
// serials whose top bit needs a leading zero, and both key types.
func TestBuildMatchesStdlibTBS(t *testing.T) {
	late := time.Date(2049, time.December, 31, 23, 59, 59, 0, time.UTC)
	cases := []struct {
		name        string
		this        time.Time
		entries     []crl.Entry
		numberValue *big.Int
	}{
		{"empty", t0, nil, big.NewInt(0)},
		{"random", t0, makeEntries(500, 7), big.NewInt(1)},
		{"leading-zero serials", t0, []crl.Entry{
			{Serial: big.NewInt(0x80), RevokedAt: t0, Reason: 1},
			{Serial: new(big.Int).SetBytes(bytes.Repeat([]byte{0xff}, 19)), RevokedAt: t0, Reason: 0},
			{Serial: new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 159), big.NewInt(1)), RevokedAt: t0, Reason: 9},
			{Serial: big.NewInt(1), RevokedAt: t0.Add(-500 * 24 * time.Hour), Reason: 4},
		}, new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 159), big.NewInt(1))},
		{"generalized time", late.Add(time.Second), []crl.Entry{
			{Serial: big.NewInt(77), RevokedAt: late, Reason: 5},
			{Serial: big.NewInt(78), RevokedAt: late.Add(time.Second), Reason: 3},
		}, big.NewInt(1 << 40)},
		{"fractional seconds", t0.Add(750 * time.Millisecond), []crl.Entry{
			{Serial: big.NewInt(79), RevokedAt: t0.Add(999 * time.Millisecond), Reason: 1},
		}, big.NewInt(5)},
	}
	for _, ca := range cas() {
		for _, tc := range cases {
			t.Run(ca.name+"/"+tc.name, func(t *testing.T) {
				p := params(ca, tc.entries)
				p.ThisUpdate, p.NextUpdate, p.Number = tc.this, tc.this.Add(crl.MaxValidity), tc.numberValue
				ours, err := x509.ParseRevocationList(mustBuild(t, p))
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
					t.Errorf("TBS differs from x509.CreateRevocationList\n ours %x\n  std %x", head(ours.RawTBSRevocationList), head(std.RawTBSRevocationList))
				}
			})
		}
	}
}

func head(b []byte) []byte {
	if len(b) > 300 {
		return b[:300]
	}
	return b
}

// TestEmptyCRLOmitsRevokedCertificates checks RFC 5280 §5.1.2.6: with no
// entries the revokedCertificates field is absent, not an empty SEQUENCE.
func TestEmptyCRLOmitsRevokedCertificates(t *testing.T) {
	rl, err := x509.ParseRevocationList(mustBuild(t, params(ecdsaCA(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	tbs := cryptobyte.String(rl.RawTBSRevocationList)
	var body cryptobyte.String
	if !tbs.ReadASN1(&body, cbasn1.SEQUENCE) {
		t.Fatal("bad TBS")
	}
	for _, tag := range []cbasn1.Tag{cbasn1.INTEGER, cbasn1.SEQUENCE, cbasn1.SEQUENCE, cbasn1.UTCTime, cbasn1.UTCTime} {
		if !body.SkipASN1(tag) {
			t.Fatalf("TBS does not have %v where expected", tag)
		}
	}
	if body.PeekASN1Tag(cbasn1.SEQUENCE) {
		t.Error("empty CRL carries a revokedCertificates SEQUENCE")
	}
	if !body.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific().Constructed()) {
		t.Error("crlExtensions do not follow nextUpdate")
	}
}

// refusal is one way to break a rule of Build (and of Stream).
type refusal struct {
	name   string
	mutate func(p *crl.Params)
}

// TestBuildRefuses tries to break each rule Build enforces.
func TestBuildRefuses(t *testing.T) {
	for _, tc := range refusals(ecdsaCA()) {
		t.Run(tc.name, func(t *testing.T) {
			p := params(ecdsaCA(), makeEntries(3, 3))
			tc.mutate(&p)
			der, err := crl.Build(p)
			if err == nil {
				t.Fatalf("Build accepted it (%d bytes)", len(der))
			}
			if !errors.Is(err, crl.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

// refusals lists the rules of Build, each with a mutation that breaks it.
func refusals(ca *testCA) []refusal {
	two159 := new(big.Int).Lsh(big.NewInt(1), 159)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	p224Key, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)

	noCRLSign := *ca.cert
	noCRLSign.KeyUsage = x509.KeyUsageCertSign
	noSKI := *ca.cert
	noSKI.SubjectKeyId = nil
	notCA := *ca.cert
	notCA.IsCA = false

	entry := func(serial *big.Int, at time.Time, reason int) []crl.Entry {
		return []crl.Entry{{Serial: serial, RevokedAt: at, Reason: reason}}
	}
	return []refusal{
		{"CRLNumber 2^159 (BR §7.2 < 2^159)", func(p *crl.Params) { p.Number = two159 }},
		{"CRLNumber negative", func(p *crl.Params) { p.Number = big.NewInt(-1) }},
		{"CRLNumber missing", func(p *crl.Params) { p.Number = nil }},
		{"nextUpdate 10 days + 1 s (BR §4.9.7)", func(p *crl.Params) { p.NextUpdate = p.ThisUpdate.Add(crl.MaxValidity + time.Second) }},
		{"nextUpdate = thisUpdate", func(p *crl.Params) { p.NextUpdate = p.ThisUpdate }},
		{"nextUpdate before thisUpdate", func(p *crl.Params) { p.NextUpdate = p.ThisUpdate.Add(-time.Hour) }},
		{"thisUpdate zero", func(p *crl.Params) { p.ThisUpdate = time.Time{} }},
		{"thisUpdate 1949", func(p *crl.Params) {
			p.ThisUpdate = time.Date(1949, 12, 31, 0, 0, 0, 0, time.UTC)
			p.NextUpdate = p.ThisUpdate.Add(time.Hour)
		}},
		{"reason 2 cACompromise (BR §7.2.2)", func(p *crl.Params) { p.Entries = entry(big.NewInt(5), t0, 2) }},
		{"reason 6 certificateHold (BR §4.9.13)", func(p *crl.Params) { p.Entries = entry(big.NewInt(5), t0, 6) }},
		{"reason 7 unassigned", func(p *crl.Params) { p.Entries = entry(big.NewInt(5), t0, 7) }},
		{"reason 8 removeFromCRL", func(p *crl.Params) { p.Entries = entry(big.NewInt(5), t0, 8) }},
		{"reason 10 aACompromise", func(p *crl.Params) { p.Entries = entry(big.NewInt(5), t0, 10) }},
		{"reason 11 unknown", func(p *crl.Params) { p.Entries = entry(big.NewInt(5), t0, 11) }},
		{"reason -1", func(p *crl.Params) { p.Entries = entry(big.NewInt(5), t0, -1) }},
		{"reason 256", func(p *crl.Params) { p.Entries = entry(big.NewInt(5), t0, 256) }},
		{"serial 0", func(p *crl.Params) { p.Entries = entry(big.NewInt(0), t0, 1) }},
		{"serial negative", func(p *crl.Params) { p.Entries = entry(big.NewInt(-5), t0, 1) }},
		{"serial nil", func(p *crl.Params) { p.Entries = entry(nil, t0, 1) }},
		{"serial of 160 bits (> 20 octets)", func(p *crl.Params) { p.Entries = entry(two159, t0, 1) }},
		{"revoked after thisUpdate (RFC 5280 §5.1.2.6)", func(p *crl.Params) { p.Entries = entry(big.NewInt(5), t0.Add(time.Second), 1) }},
		{"revocation date zero", func(p *crl.Params) { p.Entries = entry(big.NewInt(5), time.Time{}, 1) }},
		{"revocation date 1990", func(p *crl.Params) { p.Entries = entry(big.NewInt(5), time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC), 1) }},
		{"duplicate serial", func(p *crl.Params) {
			p.Entries = []crl.Entry{
				{Serial: big.NewInt(5), RevokedAt: t0, Reason: 1},
				{Serial: big.NewInt(6), RevokedAt: t0, Reason: 1},
				{Serial: big.NewInt(5), RevokedAt: t0.Add(-time.Hour), Reason: 4},
			}
		}},
		{"URL https (BR §7.1.2.11.2)", func(p *crl.Params) { p.URL = "https://crl.vetca.test/crl/a/1.crl" }},
		{"URL empty", func(p *crl.Params) { p.URL = "" }},
		{"URL with space", func(p *crl.Params) { p.URL = "http://crl.vetca.test/crl/a b/1.crl" }},
		{"URL non-ASCII", func(p *crl.Params) { p.URL = "http://crl.vetca.test/crl/é/1.crl" }},
		{"URL with query", func(p *crl.Params) { p.URL = "http://crl.vetca.test/crl/a/1.crl?x=1" }},
		{"URL with fragment", func(p *crl.Params) { p.URL = "http://crl.vetca.test/crl/a/1.crl#x" }},
		{"URL relative", func(p *crl.Params) { p.URL = "/crl/a/1.crl" }},
		{"URL with user info", func(p *crl.Params) { p.URL = "http://u:p@crl.vetca.test/crl/a/1.crl" }},
		{"issuer without cRLSign", func(p *crl.Params) { p.Issuer = &noCRLSign }},
		{"issuer without SKI", func(p *crl.Params) { p.Issuer = &noSKI }},
		{"issuer not a CA", func(p *crl.Params) { p.Issuer = &notCA }},
		{"issuer missing", func(p *crl.Params) { p.Issuer = nil }},
		{"signer missing", func(p *crl.Params) { p.Signer = nil }},
		{"signer key is not the issuer's", func(p *crl.Params) { p.Signer = otherKey }},
		{"Ed25519 (BR §7.1.3.2)", func(p *crl.Params) { p.Issuer, p.Signer = newCA("ed", edKey).cert, edKey }},
		{"ECDSA P-224 (BR §6.1.5)", func(p *crl.Params) { p.Issuer, p.Signer = newCA("p224", p224Key).cert, p224Key }},
		{"RSA 1024 (BR §6.1.5)", func(p *crl.Params) { p.Issuer, p.Signer = newCA("rsa1024", rsa1024).cert, rsa1024 }},
	}
}

// TestBuildBoundaries checks the values right at each limit are accepted.
func TestBuildBoundaries(t *testing.T) {
	ca := ecdsaCA()
	maxNumber := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 159), big.NewInt(1))
	maxSerial := new(big.Int).Set(maxNumber)
	tests := []refusal{
		{"CRLNumber 2^159-1", func(p *crl.Params) { p.Number = maxNumber }},
		{"CRLNumber 0", func(p *crl.Params) { p.Number = big.NewInt(0) }},
		{"nextUpdate exactly 10 days (BR §4.9.7 'at most')", func(p *crl.Params) { p.NextUpdate = p.ThisUpdate.Add(crl.MaxValidity) }},
		{"nextUpdate 10 days + 999 ms (encoded to the second)", func(p *crl.Params) {
			p.NextUpdate = p.ThisUpdate.Add(crl.MaxValidity + 999*time.Millisecond)
		}},
		{"revoked exactly at thisUpdate", func(p *crl.Params) { p.Entries = []crl.Entry{{Serial: big.NewInt(9), RevokedAt: t0, Reason: 1}} }},
		{"serial of 159 bits", func(p *crl.Params) { p.Entries = []crl.Entry{{Serial: maxSerial, RevokedAt: t0, Reason: 1}} }},
		{"serial 1", func(p *crl.Params) { p.Entries = []crl.Entry{{Serial: big.NewInt(1), RevokedAt: t0, Reason: 0}} }},
		{"thisUpdate in a non-UTC zone", func(p *crl.Params) {
			p.ThisUpdate = t0.In(time.FixedZone("X", 5*3600))
			p.NextUpdate = p.ThisUpdate.Add(time.Hour)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := params(ca, makeEntries(3, 4))
			tc.mutate(&p)
			der := mustBuild(t, p)
			if _, err := crl.Verify(der, ca.cert, crl.Expect{URL: p.URL}); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

// TestBuildManyEntriesLengths crosses the DER length-encoding boundaries of
// the revokedCertificates SEQUENCE (1, 2 and 3 length octets).
func TestBuildManyEntriesLengths(t *testing.T) {
	ca := ecdsaCA()
	for _, n := range []int{1, 2, 3, 5, 9, 200, 2000, 40000} {
		p := params(ca, makeEntries(n, uint64(n)))
		der := mustBuild(t, p)
		info, err := crl.Verify(der, ca.cert, crl.Expect{URL: testURL})
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if len(info.Entries) != n {
			t.Fatalf("n=%d: read back %d entries", n, len(info.Entries))
		}
	}
}

// failingSigner returns a bogus signature, as a faulty HSM might.
type failingSigner struct{ *ecdsa.PrivateKey }

func (f failingSigner) Sign(_ io.Reader, _ []byte, _ crypto.SignerOpts) ([]byte, error) {
	return []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, nil
}

// TestBuildRefusesBadSignature checks that a signer returning a signature
// that does not verify never yields a CRL.
func TestBuildRefusesBadSignature(t *testing.T) {
	ca := ecdsaCA()
	p := params(ca, makeEntries(2, 5))
	p.Signer = failingSigner{ca.key.(*ecdsa.PrivateKey)}
	if der, err := crl.Build(p); err == nil {
		t.Fatalf("Build returned %d bytes with a broken signature", len(der))
	}
}

// TestCertificateCRLDPMatchesIDP follows a URL from ShardURL into a real
// certificate's CRL distribution point (as x509.CreateCertificate encodes
// it) and into the shard's CRL, and checks BR §7.2.2.1: the URI in the
// certificate appears byte for byte in the CRL's Issuing Distribution Point.
func TestCertificateCRLDPMatchesIDP(t *testing.T) {
	ca := ecdsaCA()
	serial := makeEntries(1, 81)[0].Serial
	shard := crl.ShardFor(serial, 16)
	u := crl.ShardURL("http://127.0.0.1:8080", "3f9a", shard)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             t0.Add(-time.Hour),
		NotAfter:              t0.Add(90 * 24 * time.Hour),
		DNSNames:              []string{"leaf.vetca.test"},
		CRLDistributionPoints: []string{u},
	}, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	var certURI []byte
	for _, ext := range leaf.Extensions {
		if ext.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 31}) {
			// CRLDistributionPoints ::= SEQUENCE { DistributionPoint {
			//   [0] { [0] fullName { [6] URI } } } }
			in := cryptobyte.String(ext.Value)
			var dps, dp, name, full cryptobyte.String
			tag0 := cbasn1.Tag(0).ContextSpecific().Constructed()
			if !in.ReadASN1(&dps, cbasn1.SEQUENCE) || !dps.ReadASN1(&dp, cbasn1.SEQUENCE) ||
				!dp.ReadASN1(&name, tag0) || !name.ReadASN1(&full, tag0) ||
				!full.ReadASN1((*cryptobyte.String)(&certURI), cbasn1.Tag(6).ContextSpecific()) {
				t.Fatalf("cannot read the certificate's CRL DP %x", ext.Value)
			}
		}
	}
	crlDER := mustBuild(t, crl.Params{
		Issuer: ca.cert, Signer: ca.key, URL: u, Number: big.NewInt(1),
		ThisUpdate: t0, NextUpdate: t0.Add(24 * time.Hour),
		Entries: []crl.Entry{{Serial: serial, RevokedAt: t0, Reason: 1}},
	})
	info, err := crl.Verify(crlDER, ca.cert, crl.Expect{URL: string(certURI)})
	if err != nil {
		t.Fatalf("the certificate's CRL DP does not match the shard's IDP: %v", err)
	}
	if _, listed := info.Entries[crl.SerialHex(leaf.SerialNumber)]; !listed {
		t.Error("the shard does not list the certificate")
	}
}
