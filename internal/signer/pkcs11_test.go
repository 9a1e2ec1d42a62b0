package signer_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/lint"
	"github.com/vetca/vetca/internal/profile"
	"github.com/vetca/vetca/internal/profile/profiletest"
	"github.com/vetca/vetca/internal/signer"
	"github.com/vetca/vetca/internal/signer/softhsmtest"
)

func open(t testing.TB, uri string, cfg signer.Config) signer.Signer {
	t.Helper()
	s, err := signer.Open(uri, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func generate(t testing.TB, tok *softhsmtest.Token, object string, alg signer.Algorithm) signer.Signer {
	t.Helper()
	s, err := signer.GeneratePKCS11(tok.URI(object), tok.Config(), alg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPKCS11GenerateAndOpen(t *testing.T) {
	tok := softhsmtest.New(t, "vetca-test")
	for _, alg := range []signer.Algorithm{signer.ECDSAP256, signer.ECDSAP384, signer.RSA2048} {
		t.Run(string(alg), func(t *testing.T) {
			g := generate(t, tok, "issuer-"+string(alg), alg)
			if !strings.Contains(g.URI(), ";id=%") || strings.Contains(g.URI(), "pin") {
				t.Fatalf("URI %s: want an id and no PIN", g.URI())
			}
			checkSigns(t, g)
			// By label only, by the returned URI (label and id), and by id only.
			u, _ := signer.ParsePKCS11URI(g.URI())
			byID := (&signer.PKCS11URI{Token: tok.Label, ID: u.ID}).String()
			for _, uri := range []string{tok.URI("issuer-" + string(alg)), g.URI(), byID} {
				o := open(t, uri, tok.Config())
				if !o.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(g.Public()) {
					t.Fatalf("%s opened another key", uri)
				}
				checkSigns(t, o)
			}
		})
	}
}

func TestPKCS11Refusals(t *testing.T) {
	tok := softhsmtest.New(t, "vetca-refusals")
	g := generate(t, tok, "issuer", signer.ECDSAP256)
	u, _ := signer.ParsePKCS11URI(g.URI())

	// Same label, or same id, again.
	if _, err := signer.GeneratePKCS11(tok.URI("issuer"), tok.Config(), signer.ECDSAP256); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate label: %v", err)
	}
	sameID := (&signer.PKCS11URI{Token: tok.Label, Object: "other", ID: u.ID}).String()
	if _, err := signer.GeneratePKCS11(sameID, tok.Config(), signer.ECDSAP256); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate id: %v", err)
	}
	if _, err := signer.GeneratePKCS11(tok.URI("x"), tok.Config(), "rsa-1024"); err == nil {
		t.Error("generated rsa-1024")
	}
	// Unknown token, unknown key.
	if _, err := signer.Open((&signer.PKCS11URI{Token: "nope", Object: "issuer"}).String(), tok.Config()); err == nil {
		t.Error("opened a key on a token that does not exist")
	}
	if _, err := signer.Open(tok.URI("missing"), tok.Config()); err == nil || !strings.Contains(err.Error(), "no key pair") {
		t.Errorf("missing key: %v", err)
	}
}

// A wrong PIN is refused. PKCS#11 logins are per application and token, so
// this only holds while no other signer of the process has the token open.
func TestPKCS11WrongPIN(t *testing.T) {
	tok := softhsmtest.New(t, "vetca-pin")
	g, err := signer.GeneratePKCS11(tok.URI("issuer"), tok.Config(), signer.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	bad := tok.Config()
	bad.PIN = "0000"
	s, err := signer.Open(tok.URI("issuer"), bad)
	if err == nil {
		s.Close()
		t.Fatal("opened with a wrong PIN")
	}
	open(t, tok.URI("issuer"), tok.Config())
}

// The PIN may come from a pin-source file and the module from the URI.
func TestPKCS11PINSourceAndModulePath(t *testing.T) {
	tok := softhsmtest.New(t, "vetca-pinsrc")
	generate(t, tok, "issuer", signer.ECDSAP256)
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte(tok.PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	uri := (&signer.PKCS11URI{Token: tok.Label, Object: "issuer", ModulePath: tok.ModulePath, PINSource: signer.FileURI(pinFile)}).String()
	s := open(t, uri, signer.Config{})
	checkSigns(t, s)
	if s.URI() != uri {
		t.Errorf("URI() = %s, want %s", s.URI(), uri)
	}
	s2 := open(t, tok.URI("issuer")+"?pin-value="+tok.PIN, signer.Config{ModulePath: tok.ModulePath})
	if strings.Contains(s2.URI(), tok.PIN) {
		t.Errorf("URI() leaks the PIN: %s", s2.URI())
	}
}

// Issuance works through a SoftHSM2 token. The issuing CA's key
// lives on the token; a leaf is prepared, linted and signed through it and
// verifies up to the root.
func TestPKCS11IssuesACertificate(t *testing.T) {
	tok := softhsmtest.New(t, "vetca-issuing")
	for _, alg := range []signer.Algorithm{signer.ECDSAP256, signer.RSA2048} {
		t.Run(string(alg), func(t *testing.T) {
			hsmKey := generate(t, tok, "issuing-"+string(alg), alg)
			nb := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
			root := profiletest.NewRoot(t, profiletest.ECDSAKey(t, elliptic.P384()), profile.Subject{
				CountryName: "DE", OrganizationName: "vetca Test Trust", CommonName: "vetca HSM Test Root",
			}, nb)
			issuing := profiletest.NewIntermediate(t, root, hsmKey, profile.Subject{
				CountryName: "DE", OrganizationName: "vetca Test Trust", CommonName: "vetca HSM Issuing CA " + string(alg),
			}, nb)
			l, err := lint.New()
			if err != nil {
				t.Fatal(err)
			}
			subj := profile.Subject{CountryName: "DE", StateOrProvinceName: "Bayern", LocalityName: "München", OrganizationName: "Beispiel AG"}
			leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			prep, err := profile.Prepare(profile.Params{
				Subject: subj, DNSNames: []string{"www.beispiel.de"}, PublicKey: leafKey.Public(),
				Serial: profiletest.Serial(t), NotBefore: nb.AddDate(0, 1, 0), NotAfter: profiletest.NotAfter(t, nb.AddDate(0, 1, 0), 90),
				CRLDistributionPoint: profiletest.IntermediateCRLURL, CAIssuersURL: profiletest.IntermediateCertURL,
			}, issuing.Cert, l, subj)
			if err != nil {
				t.Fatal(err)
			}
			der, err := prep.Sign(hsmKey)
			if err != nil {
				t.Fatal(err)
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(c.RawTBSCertificate) != prep.TBSHash() {
				t.Fatal("signed TBS differs from the linted one")
			}
			roots, inter := x509.NewCertPool(), x509.NewCertPool()
			roots.AddCert(root.Cert)
			inter.AddCert(issuing.Cert)
			if _, err := c.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: "www.beispiel.de",
				CurrentTime: nb.AddDate(0, 2, 0), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
				t.Fatal(err)
			}
			rep, err := l.LintCertificate(der, subj)
			if err != nil || rep.Err() != nil {
				t.Fatalf("lint: %v %v", err, rep.Err())
			}
		})
	}
}

// BenchmarkSignP256 compares an ECDSA P-256 signature through SoftHSM2 with
// one by an in-memory key.
func BenchmarkSignP256(b *testing.B) {
	digest := sha256.Sum256([]byte("tbs"))
	b.Run("memory", func(b *testing.B) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		for b.Loop() {
			if _, err := k.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("softhsm2", func(b *testing.B) {
		tok := softhsmtest.New(b, "vetca-bench")
		s := generate(b, tok, "bench", signer.ECDSAP256)
		for b.Loop() {
			if _, err := s.Sign(rand.Reader, digest[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
}
