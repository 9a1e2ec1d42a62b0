package issuance

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/vetca/vetca/internal/audit"
)

// fuzzAuditKey is a fixed audit key, so that the checked-in corpus can hold
// records whose signatures verify.
func fuzzAuditKey(tb testing.TB) *audit.Key {
	k, err := audit.NewKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0xa5}, ed25519.SeedSize)), "test:fuzz")
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// fuzzRecord is a ceremony record signed with fuzzAuditKey, as the
// ceremony writes it.
func fuzzRecord(tb testing.TB) []byte {
	r := CeremonyRecord{Version: 1, Kind: "intermediate-ca-created", At: "2026-07-01T12:00:00.000000Z",
		Operator: "cli:alice", Database: "postgres://vetca@db.internal/vetca",
		Issuer: CeremonyIssuer{ID: "iss_2", Subject: "CN=vetca OV CA 2026,O=vetca,C=DE", KeyURI: "pkcs11:token=vetca;object=issuer-2026",
			SPKISHA256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", CertSHA256: "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9",
			NotAfter: "2031-07-01T12:00:00Z", Certificate: "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"},
		Parent:    &CeremonyIssuer{ID: "iss_1", Subject: "CN=vetca Root CA,O=vetca,C=DE"},
		AuditHead: CeremonyAuditRef{Seq: 17, Hash: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}}
	if err := r.Sign(fuzzAuditKey(tb)); err != nil {
		tb.Fatal(err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// FuzzReadCeremonyRecord: ceremony records are kept by witnesses and read
// back from files anyone may have altered. Whatever ReadCeremonyRecord
// accepts under the installation's audit key names that key and is signed
// by it over its content; an accepted record written out again reads back
// the same.
func FuzzReadCeremonyRecord(f *testing.F) {
	f.Add(fuzzRecord(f))
	f.Add([]byte(`{"version":1,"publicKey":"","signature":""}`))
	f.Add([]byte(`{"parent":null}`))
	trusted := fuzzAuditKey(f).Public()
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "ceremony.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := ReadCeremonyRecord(path, trusted)
		if err != nil {
			return
		}
		sig, serr := base64.StdEncoding.DecodeString(r.Signature)
		signed, merr := r.signed()
		if serr != nil || merr != nil || r.KeyID != trusted.ID() || !trusted.Verify(signed, sig) {
			t.Fatalf("accepted a record not signed by the audit key: %+v", r)
		}
		again := filepath.Join(dir, "again.json")
		if err := os.Remove(again); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err := r.Write(again); err != nil {
			t.Fatal(err)
		}
		back, err := ReadCeremonyRecord(again, trusted)
		if err != nil || !reflect.DeepEqual(back, r) {
			t.Fatalf("written again, the record reads as %+v, %v; want %+v", back, err, r)
		}
	})
}
