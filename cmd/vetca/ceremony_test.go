package main

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/signer"
	"github.com/vetca/vetca/internal/signer/softhsmtest"
)

// An installation whose public URL is https (as a production one is)
// still makes issuing CAs: the ceremony puts the root's CRL and
// certificate URLs in the new CA's certificate as http, as init does,
// since a CA certificate's cRLDistributionPoints and caIssuers MUST be
// http URLs (BR §7.1.2.11.2, §7.1.2.10.3).
func TestCeremonyIntermediateUnderHTTPSPublicURL(t *testing.T) {
	dir := t.TempDir()
	common := []string{"--db", "sqlite:" + filepath.Join(dir, "v.db"), "--key-dir", filepath.Join(dir, "keys")}
	if code, _, stderr := runCLI(t, append([]string{"init", "--public-url", "https://ca.example.com"}, common...)...); code != exitOK {
		t.Fatalf("init: %d %s", code, stderr)
	}
	out := filepath.Join(dir, "ceremony.json")
	code, _, stderr := runCLI(t, append([]string{"ceremony", "intermediate", "--out", out}, common...)...)
	if code != exitOK {
		t.Fatalf("ceremony intermediate under an https public URL: exit %d: %s", code, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Issuer struct{ Certificate string } `json:"issuer"`
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(rec.Issuer.Certificate))
	if blk == nil {
		t.Fatal("no certificate in the ceremony record")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range append(c.CRLDistributionPoints, c.IssuingCertificateURL...) {
		if !strings.HasPrefix(u, "http://ca.example.com/") {
			t.Fatalf("issuing CA URL %q, want http://ca.example.com/...", u)
		}
	}
}

// A ceremony record is the witnesses' evidence of a CA's creation: a
// ceremony never writes its record over an existing file (an earlier
// ceremony's record, or a key in the key directory), and refuses such an
// --out before it makes the CA, as it does an --out it cannot write.
func TestCeremonyIntermediateNeverOverwritesOut(t *testing.T) {
	dir, common := initForTest(t)
	keys := filepath.Join(dir, "keys")
	records, err := filepath.Glob(filepath.Join(keys, "ceremony-*.json"))
	if err != nil || len(records) != 2 {
		t.Fatalf("init's ceremony records: %v %v", records, err)
	}
	pems, err := filepath.Glob(filepath.Join(keys, "*.key.pem"))
	if err != nil || len(pems) != 2 {
		t.Fatalf("init's CA keys: %v %v", pems, err)
	}
	for _, out := range []string{records[0], pems[0]} {
		was, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		before := listTree(t, keys)
		code, _, stderr := runCLI(t, append([]string{"ceremony", "intermediate", "--out", out}, common...)...)
		if code == exitOK || !strings.Contains(stderr, "--out") {
			t.Fatalf("ceremony intermediate --out %s (exists): exit %d: %s", out, code, stderr)
		}
		if now, err := os.ReadFile(out); err != nil || string(now) != string(was) {
			t.Fatalf("the ceremony overwrote %s (%v)", out, err)
		}
		if after := listTree(t, keys); !slices.Equal(before, after) {
			t.Fatalf("a refused ceremony changed the key directory: %v -> %v", before, after)
		}
	}
}

// The names of the new CA (--name, --ca-organization) are checked before
// the ceremony makes its key, as init checks its own: a name the CA
// certificate cannot carry is a usage error, and leaves no key on the HSM.
func TestCeremonyIntermediateRefusesBadNamesBeforeMakingTheKey(t *testing.T) {
	tok := softhsmtest.New(t, "vetca-ceremony-names")
	_, common := initForTest(t)
	common = append(common, "--pkcs11-module", tok.ModulePath, "--pkcs11-pin", tok.PIN)
	for _, tc := range []struct {
		flag string
		args []string
	}{
		{"--name", []string{"--name", strings.Repeat("A", 65)}},
		{"--ca-organization", []string{"--ca-organization", ""}},
	} {
		args := append([]string{"ceremony", "intermediate", "--issuer-key", tok.URI("new-issuing")}, tc.args...)
		code, _, stderr := runCLI(t, append(args, common...)...)
		if code != exitUsage || !strings.Contains(stderr, tc.flag) {
			t.Fatalf("ceremony intermediate %v: exit %d, want %d naming %s: %s", tc.args, code, exitUsage, tc.flag, stderr)
		}
		s, err := signer.Open(tok.URI("new-issuing"), tok.Config())
		if err == nil {
			s.Close()
			t.Fatalf("ceremony intermediate %v was refused but left a key on the token", tc.args)
		}
		if !errors.Is(err, signer.ErrNoKey) {
			t.Fatal(err)
		}
	}
}

// A new issuing CA is named for the CA that runs it (BR §7.1.2.10.2: the
// subject's organizationName and countryName are the CA's own): without
// --ca-organization and --ca-country the ceremony takes them from the
// root, as init set them, not from built-in defaults.
func TestCeremonyIntermediateNamesTheRootsOrganization(t *testing.T) {
	dir := t.TempDir()
	common := []string{"--db", "sqlite:" + filepath.Join(dir, "v.db"), "--key-dir", filepath.Join(dir, "keys")}
	if code, _, stderr := runCLI(t, append([]string{"init", "--ca-organization", "Acme Trust", "--ca-country", "DE"}, common...)...); code != exitOK {
		t.Fatalf("init: %d %s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, append([]string{"ceremony", "intermediate", "--json"}, common...)...)
	if code != exitOK {
		t.Fatalf("ceremony intermediate: exit %d: %s", code, stderr)
	}
	var res struct {
		Issuer struct{ Subject string } `json:"issuer"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if want := "CN=Acme Trust OV TLS Issuing CA 2,O=Acme Trust,C=DE"; res.Issuer.Subject != want {
		t.Fatalf("new issuing CA %q, want %q", res.Issuer.Subject, want)
	}
}
