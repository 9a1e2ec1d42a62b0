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
func fuzzAuditKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0xa5}, ed25519.SeedSize))
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
	if err := r.Sign(fuzzAuditKey()); err != nil {
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
// accepts is signed over its content by the key it names; with the
// trusted audit key, only that key's records are accepted and keyId names
// it; an accepted record written out again reads back the same.
func FuzzReadCeremonyRecord(f *testing.F) {
	f.Add(fuzzRecord(f))
	f.Add([]byte(`{"version":1,"publicKey":"","signature":""}`))
	f.Add([]byte(`{"parent":null}`))
	trusted := fuzzAuditKey().Public().(ed25519.PublicKey)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "ceremony.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := ReadCeremonyRecord(path, nil)
		rt, errT := ReadCeremonyRecord(path, trusted)
		if err != nil {
			if errT == nil {
				t.Fatalf("accepted with a trusted key, refused without: %v", err)
			}
			return
		}
		pub, perr := base64.StdEncoding.DecodeString(r.PublicKey)
		sig, serr := base64.StdEncoding.DecodeString(r.Signature)
		signed, merr := r.signed()
		if perr != nil || serr != nil || merr != nil || len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, signed, sig) {
			t.Fatalf("accepted a record whose signature does not verify: %+v", r)
		}
		if (errT == nil) != ed25519.PublicKey(pub).Equal(trusted) {
			t.Fatalf("trusted key %s, signed by %s: %v", audit.KeyID(trusted), audit.KeyID(pub), errT)
		}
		if errT == nil {
			if !reflect.DeepEqual(rt, r) {
				t.Fatalf("read %+v with a trusted key, %+v without", rt, r)
			}
			if r.KeyID != audit.KeyID(trusted) {
				t.Fatalf("a record signed by the audit key names key %q", r.KeyID)
			}
		}
		again := filepath.Join(dir, "again.json")
		if err := r.Write(again); err != nil {
			t.Fatal(err)
		}
		back, err := ReadCeremonyRecord(again, nil)
		if err != nil || !reflect.DeepEqual(back, r) {
			t.Fatalf("written again, the record reads as %+v, %v; want %+v", back, err, r)
		}
	})
}
