package revocation_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/revocation/crl"
	"github.com/vetca/vetca/internal/store"
)

// crlChecks runs both checks of the published CRLs' entries: `crl verify`
// (VerifyCoverage) and the audit verify checker of stored CRLs
// (CheckFiles).
func crlChecks(t *testing.T, f *apptest.OrderFixture) ([]revocation.Finding, []audit.Finding) {
	t.Helper()
	ctx := context.Background()
	cov, err := f.App.CRLs.VerifyCoverage(ctx, nil)
	if err != nil {
		t.Fatalf("crl verify: %v", err)
	}
	files, err := f.App.CRLs.CheckFiles(ctx)
	if err != nil {
		t.Fatalf("CRL file check: %v", err)
	}
	return cov, files
}

func noCRLFindings(t *testing.T, f *apptest.OrderFixture, when string) {
	t.Helper()
	cov, files := crlChecks(t, f)
	for _, fd := range cov {
		t.Errorf("%s: crl verify: %+v", when, fd)
	}
	for _, fd := range files {
		t.Errorf("%s: audit verify: %s", when, fd)
	}
}

// BR §4.9.7, §7.2: someone with database write access but not the audit
// key adds revocation rows (a valid certificate revoked for keyCompromise,
// a serial never issued), moves a real revocation to an invented shard URL
// and changes another's reason and date, lets the publisher sign CRLs from them, and restores the rows. The
// rows are authentic again, but CA-signed CRLs list a valid certificate and
// omit a revoked one: both `crl verify` and audit verify name each shard
// URL and serial.
func TestCRLEntriesAreCheckedAgainstAuditedRevocations(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		db := f.App.DB
		valid, _ := f.Issue(site)
		revoked, _ := f.Issue(site)
		changed, _ := f.Issue(site)
		f.Clock.Advance(time.Minute)
		for _, sn := range []string{revoked, changed} {
			if r := f.Do("POST", "/api/v1/certificates/"+sn+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
				t.Fatalf("revoke: %d %s", r.Status, r.Raw)
			}
		}
		f.Clock.Advance(time.Minute)
		if _, err := f.App.CRLs.PublishDue(ctx); err != nil {
			t.Fatal(err)
		}
		noCRLFindings(t, f, "untampered")

		var validURL, revokedURL, issuerID, changedURL, changedAt string
		if err := db.QueryRow(ctx, `SELECT crl_url FROM certificates WHERE serial = ?`, valid).Scan(&validURL); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(ctx, `SELECT crl_url, issuer_id FROM revocations WHERE serial = ?`, revoked).Scan(&revokedURL, &issuerID); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(ctx, `SELECT crl_url, revoked_at FROM revocations WHERE serial = ?`, changed).Scan(&changedURL, &changedAt); err != nil {
			t.Fatal(err)
		}
		invented := crl.ShardURL(f.App.CRLs.PublicURL(), issuerID, 99)
		const fake = "7777"
		// The tampering: rows copied from the real revocation, by SQL.
		for _, sn := range []string{valid, fake} {
			if _, err := db.Exec(ctx, `INSERT INTO revocations (id, serial, issuer_id, shard, crl_url, reason, reason_code, revoked_at, recorded_at,
				requested_by, source, br_trigger, evidence, evidence_at, deadline, not_after, row_hash)
				SELECT ?, ?, issuer_id, shard, ?, 'keyCompromise', 1, revoked_at, recorded_at,
				requested_by, source, br_trigger, evidence, evidence_at, deadline, not_after, row_hash FROM revocations WHERE serial = ?`,
				revocation.RevocationID(sn), sn, validURL, revoked); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.Exec(ctx, `UPDATE revocations SET crl_url = ? WHERE serial = ?`, invented, revoked); err != nil {
			t.Fatal(err)
		}
		at, err := store.ParseTime(changedAt)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `UPDATE revocations SET reason = 'keyCompromise', reason_code = 1, revoked_at = ? WHERE serial = ?`,
			store.FormatTime(at.Add(-time.Hour)), changed); err != nil {
			t.Fatal(err)
		}
		// serve publishes from the rows as they are (ten minutes on, so
		// that no revocation was recorded in the window in which one may
		// legitimately still be missing: committedAfterBuild)...
		f.Clock.Advance(10 * time.Minute)
		targets, err := f.App.CRLs.Targets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tg := range targets {
			if _, err := f.App.CRLs.Publish(ctx, tg); err != nil {
				t.Fatal(err)
			}
		}
		// ...and the SQL is undone.
		if _, err := db.Exec(ctx, `DELETE FROM revocations WHERE serial IN (?, ?)`, valid, fake); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `UPDATE revocations SET crl_url = ? WHERE serial = ?`, revokedURL, revoked); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `UPDATE revocations SET reason = 'superseded', reason_code = 4, revoked_at = ? WHERE serial = ?`, changedAt, changed); err != nil {
			t.Fatal(err)
		}

		want := []struct{ url, serial, says string }{
			{validURL, valid, "no revocation"},
			{validURL, fake, "no revocation"},
			{invented, revoked, revokedURL},
			{revokedURL, revoked, "missing"},
			{changedURL, changed, "reason 1 differs from the recorded 4"},
			{changedURL, changed, "revocation date"},
		}
		cov, files := crlChecks(t, f)
		for _, w := range want {
			found := false
			for _, fd := range cov {
				found = found || fd.URL == w.url && fd.Serial == w.serial && strings.Contains(fd.Message, w.says)
			}
			if !found {
				t.Errorf("crl verify does not report serial %s at %s (%q): %+v", w.serial, w.url, w.says, cov)
			}
			found = false
			for _, fd := range files {
				found = found || fd.Table == "crl_files" && fd.RowID == w.url && strings.Contains(fd.Message, "serial "+w.serial+":") &&
					strings.Contains(fd.Message, w.says)
			}
			if !found {
				t.Errorf("audit verify does not report serial %s at %s (%q): %v", w.serial, w.url, w.says, files)
			}
		}
		if len(cov) != len(want) || len(files) != len(want) {
			t.Errorf("want %d findings from each check: crl verify %+v; audit verify %v", len(want), cov, files)
		}
		rep, err := f.App.Audit.Verify(ctx, actor.CLIActor("test"), "")
		if err != nil || rep.OK {
			t.Fatalf("audit verify after the tampering: %v %+v", err, rep)
		}
	})
}

// What is legitimately on a CRL or missing from it is never reported: a
// revocation (or a reason upgrade, BR §7.2.2) recorded after the CRL's
// thisUpdate, which the next publication lists (BR §4.9.7), and an entry
// that stays after its certificate expired, until it has appeared on one
// CRL after expiry (BR §4.10.1).
func TestCRLEntryChecksHaveNoFalseAlarms(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		first, _ := f.Issue(site)
		second, _ := f.Issue(site)
		f.Clock.Advance(time.Minute)
		if r := f.Do("POST", "/api/v1/certificates/"+first+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		f.Clock.Advance(time.Minute)
		if _, err := f.App.CRLs.PublishDue(ctx); err != nil {
			t.Fatal(err)
		}
		noCRLFindings(t, f, "published")

		// After the CRL: an upgrade of the first and a revocation of the
		// second, not yet published.
		f.Clock.Advance(time.Minute)
		if r := f.Do("POST", "/api/v1/certificates/"+first+"/revoke", f.AccTok, map[string]any{"reason": "keyCompromise"}); r.Status != 200 {
			t.Fatalf("upgrade: %d %s", r.Status, r.Raw)
		}
		if r := f.Do("POST", "/api/v1/certificates/"+second+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		noCRLFindings(t, f, "revoked after the CRL")
		f.Clock.Advance(time.Minute)
		if _, err := f.App.CRLs.PublishDue(ctx); err != nil {
			t.Fatal(err)
		}
		noCRLFindings(t, f, "republished")

		// Past the certificates' expiry: the next CRL lists them once more.
		var s string
		if err := f.App.DB.QueryRow(ctx, `SELECT not_after FROM revocations WHERE serial = ?`, first).Scan(&s); err != nil {
			t.Fatal(err)
		}
		notAfter, err := store.ParseTime(s)
		if err != nil {
			t.Fatal(err)
		}
		f.Clock.Set(notAfter.Add(time.Hour))
		if _, err := f.App.CRLs.PublishDue(ctx); err != nil {
			t.Fatal(err)
		}
		cov, files := crlChecks(t, f)
		listed := 0
		shards, err := f.App.CRLs.Shards(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, sh := range shards {
			listed += sh.Entries
		}
		if listed < 2 {
			t.Fatalf("the expired certificates' entries are not on the CRLs after expiry: %d entries", listed)
		}
		for _, fd := range cov {
			t.Errorf("after expiry: crl verify: %+v", fd)
		}
		for _, fd := range files {
			t.Errorf("after expiry: audit verify: %s", fd)
		}
	})
}
