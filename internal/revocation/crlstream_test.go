package revocation_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/revocation/crl"
	"github.com/vetca/vetca/internal/store"
)

// insertRevocations writes n revocation rows of the shard at url straight
// into the test database (the publisher reads them unchecked; this is the
// bulk the API would take minutes to make): serials of 8 to 20 octets (their
// hex never starting with 0, as serial.Hex of a vetca serial), some with
// the top bit set, every allowed reason, and some certificates that
// expired before the shard's last CRL (not to be listed again).
func insertRevocations(t *testing.T, db *store.DB, issuerID, url string, n int, now time.Time, seed uint64) {
	t.Helper()
	ctx := context.Background()
	r := mrand.New(mrand.NewPCG(seed, 99))
	reasons := []struct {
		name string
		code int
	}{{"unspecified", 0}, {"keyCompromise", 1}, {"affiliationChanged", 3}, {"superseded", 4}, {"cessationOfOperation", 5}, {"privilegeWithdrawn", 9}}
	for lo := 0; lo < n; lo += 400 {
		var sb strings.Builder
		var args []any
		sb.WriteString(`INSERT INTO revocations (id, serial, issuer_id, shard, crl_url, reason, reason_code, revoked_at, recorded_at,
			requested_by, source, br_trigger, evidence, evidence_at, deadline, not_after, row_hash) VALUES `)
		for i := lo; i < min(lo+400, n); i++ {
			b := make([]byte, 8+r.IntN(13))
			for j := range b {
				b[j] = byte(r.Uint32())
			}
			if len(b) == 20 {
				b[0] &= 0x7f
			}
			if b[0] < 0x10 { // no odd-length hex, as serial.New never makes one
				b[0] |= 0x10
			}
			sn := hex.EncodeToString(b)
			reason := reasons[i%len(reasons)]
			at := store.FormatTime(now.Add(-time.Duration(r.IntN(300*24*3600)) * time.Second))
			notAfter := now.AddDate(0, 2, 0)
			if i%11 == 0 {
				notAfter = now.AddDate(0, 0, -2) // expired before the shard's last CRL
			}
			if i > lo {
				sb.WriteString(",")
			}
			sb.WriteString("(?, ?, ?, 0, ?, ?, ?, ?, ?, 'test', 'test', '', '', ?, NULL, ?, '')")
			args = append(args, revocation.RevocationID(sn), sn, issuerID, url, reason.name, reason.code, at, at, at, store.FormatTime(notAfter))
		}
		if _, err := db.Exec(ctx, sb.String(), args...); err != nil {
			t.Fatal(err)
		}
	}
}

// oldBuild is how a shard's CRL was built before it was streamed: every
// entry read with one query, in whatever order the database returns them,
// then crl.Build over the slice.
func oldBuild(t *testing.T, f *apptest.OrderFixture, url string, prevThis time.Time, p crl.Params) []byte {
	t.Helper()
	rows, err := f.App.DB.Query(context.Background(), `SELECT serial, revoked_at, reason_code FROM revocations WHERE crl_url = ? AND not_after >= ?`,
		url, store.FormatTime(prevThis))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var sn, at string
		var code int
		if err := rows.Scan(&sn, &at, &code); err != nil {
			t.Fatal(err)
		}
		b, _ := hex.DecodeString(sn)
		ts, err := store.ParseTime(at)
		if err != nil {
			t.Fatal(err)
		}
		p.Entries = append(p.Entries, crl.Entry{Serial: new(big.Int).SetBytes(b), RevokedAt: ts, Reason: code})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	der, err := crl.Build(p)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestStreamedShardIsTheOldOne publishes shards of a few hundred and of
// twenty thousand entries (several batches; a three-octet list length)
// through the streaming path, on both backends, and compares the CRL with
// what the old path builds from the same rows with the same number and
// times: the standard parser reads the same entries (serial, date, reason)
// and extensions, and with the old entries put in serial order the
// to-be-signed bytes are identical.
func TestStreamedShardIsTheOldOne(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		iss := f.IssuerCertificate()
		targets, err := f.App.CRLs.Targets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range []int{300, 20000} {
			target := targets[len(targets)-1-i]
			if target.Full {
				t.Fatalf("target %s is a full CRL", target.URL)
			}
			prev, err := f.App.CRLs.Shards(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var prevThis time.Time
			for _, s := range prev {
				if s.URL == target.URL {
					prevThis = s.ThisUpdate
				}
			}
			if prevThis.IsZero() {
				t.Fatalf("shard %s has no CRL yet", target.URL)
			}
			insertRevocations(t, f.App.DB, target.Issuer.ID, target.URL, n, f.Clock.Now(), uint64(n))
			f.Clock.Advance(time.Minute)
			rec, err := f.App.CRLs.Publish(ctx, target)
			if err != nil {
				t.Fatal(err)
			}
			der, _, err := f.App.CRLs.Get(ctx, target.URL)
			if err != nil {
				t.Fatal(err)
			}
			got, err := x509.ParseRevocationList(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := got.CheckSignatureFrom(iss); err != nil {
				t.Fatal(err)
			}
			key, err := f.App.Engine.Key(ctx, target.Issuer.ID)
			if err != nil {
				t.Fatal(err)
			}
			oldDER := oldBuild(t, f, target.URL, prevThis, crl.Params{Issuer: iss, Signer: key, URL: target.URL,
				Number: big.NewInt(rec.Number), ThisUpdate: rec.ThisUpdate, NextUpdate: rec.NextUpdate})
			old, err := x509.ParseRevocationList(oldDER)
			if err != nil {
				t.Fatal(err)
			}
			wantN := n - (n+10)/11
			if len(got.RevokedCertificateEntries) != wantN || len(old.RevokedCertificateEntries) != wantN || rec.Entries != wantN {
				t.Fatalf("n=%d: streamed %d entries (record %d), old path %d, want %d", n, len(got.RevokedCertificateEntries), rec.Entries, len(old.RevokedCertificateEntries), wantN)
			}
			key2 := func(e x509.RevocationListEntry) string {
				return fmt.Sprintf("%x/%s/%d/%d", e.SerialNumber, e.RevocationTime.UTC().Format(time.RFC3339), e.ReasonCode, len(e.Extensions))
			}
			gotSet := map[string]bool{}
			for _, e := range got.RevokedCertificateEntries {
				gotSet[key2(e)] = true
			}
			for _, e := range old.RevokedCertificateEntries {
				if !gotSet[key2(e)] {
					t.Fatalf("n=%d: the old path lists %s, the streamed CRL does not", n, key2(e))
				}
			}
			if len(got.Extensions) != len(old.Extensions) {
				t.Fatalf("n=%d: %d extensions, the old path %d", n, len(got.Extensions), len(old.Extensions))
			}
			for i := range got.Extensions {
				a, b := got.Extensions[i], old.Extensions[i]
				if !a.Id.Equal(b.Id) || a.Critical != b.Critical || !bytes.Equal(a.Value, b.Value) {
					t.Fatalf("n=%d: extension %d is %v, the old path's %v", n, i, a, b)
				}
			}
			// The same entries in serial order: the very same bytes.
			slices.SortFunc(old.RevokedCertificateEntries, func(a, b x509.RevocationListEntry) int {
				return bytes.Compare(a.SerialNumber.Bytes(), b.SerialNumber.Bytes())
			})
			sorted := crl.Params{Issuer: iss, Signer: key, URL: target.URL, Number: big.NewInt(rec.Number), ThisUpdate: rec.ThisUpdate, NextUpdate: rec.NextUpdate}
			for _, e := range old.RevokedCertificateEntries {
				sorted.Entries = append(sorted.Entries, crl.Entry{Serial: e.SerialNumber, RevokedAt: e.RevocationTime, Reason: e.ReasonCode})
			}
			resorted, err := x509.ParseRevocationList(func() []byte {
				der, err := crl.Build(sorted)
				if err != nil {
					t.Fatal(err)
				}
				return der
			}())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.RawTBSRevocationList, resorted.RawTBSRevocationList) {
				t.Fatalf("n=%d: the streamed TBSCertList differs from the old path's with its entries in serial order", n)
			}
		}
		// The rows were written by SQL, outside vetca: coverage reports the
		// two shards built from them, and nothing else.
		findings, err := f.App.CRLs.VerifyCoverage(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range findings {
			if fd.URL != targets[len(targets)-1].URL && fd.URL != targets[len(targets)-2].URL || !strings.Contains(fd.Message, "inserted outside vetca") {
				t.Errorf("coverage: %+v", fd)
			}
		}
		if len(findings) != 2 {
			t.Errorf("coverage: %d findings, want one per shard filled by SQL: %+v", len(findings), findings)
		}
	})
}

// TestBuildRefusesASerialNotInVetcasForm: a revocation row whose serial is
// not lower-case hex in vetca's form (written by SQL) stops the shard's
// publication with an integrity error naming the row, rather than being
// listed under some other reading.
func TestBuildRefusesASerialNotInVetcasForm(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		targets, err := f.App.CRLs.Targets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		target := targets[len(targets)-1]
		for _, sn := range []string{"00ab", "ABCD", "abc", "zz"} {
			if _, err := f.App.DB.Exec(ctx, `INSERT INTO revocations (id, serial, issuer_id, shard, crl_url, reason, reason_code, revoked_at, recorded_at,
				requested_by, source, br_trigger, evidence, evidence_at, deadline, not_after, row_hash) VALUES (?, ?, ?, 0, ?, 'unspecified', 0, ?, ?, 'test', 'test', '', '', ?, NULL, ?, '')`,
				"rev_"+sn, sn, target.Issuer.ID, target.URL, store.FormatTime(f.Clock.Now()), store.FormatTime(f.Clock.Now()), store.FormatTime(f.Clock.Now()),
				store.FormatTime(f.Clock.Now().AddDate(1, 0, 0))); err != nil {
				t.Fatal(err)
			}
			_, err := f.App.CRLs.Build(ctx, target)
			if err == nil || !strings.Contains(err.Error(), sn) {
				t.Errorf("serial %q: %v", sn, err)
			}
			if _, err := f.App.DB.Exec(ctx, `DELETE FROM revocations WHERE serial = ?`, sn); err != nil {
				t.Fatal(err)
			}
		}
	})
}
