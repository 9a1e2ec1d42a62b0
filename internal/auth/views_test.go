package auth_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
)

// PostgreSQL. The insider moves api_tokens and audit_events to another
// schema and puts views in their place that, outside a read-only
// transaction, show a revoked token's row as it was before its revocation
// and hide the revoking event: decision reads accept the revoked token,
// while verify, in its READ ONLY snapshot, saw the real tables and
// reported nothing. Verify now reports any vetca table that is not a plain
// table (or has row-level security, triggers or rules).
func TestViewsInPlaceOfTablesAreReported(t *testing.T) {
	e := apptest.New(t, apptest.Postgres)
	ctx := context.Background()
	old := e.User("alice", actor.Compliance)
	if _, err := e.App.Auth.RotateUserToken(ctx, e.Actor(e.AdminToken), "alice"); err != nil {
		t.Fatal(err)
	}
	if err := e.App.Sealer.SealAll(ctx); err != nil {
		t.Fatal(err)
	}
	var tokID, oldHash, cur string
	var revSeq int64
	for _, q := range []struct {
		sql  string
		dest any
	}{
		{`SELECT t.id FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE u.name = 'alice' AND t.revoked_at IS NOT NULL`, &tokID},
		{`SELECT current_schema()`, &cur},
	} {
		if err := e.App.DB.QueryRow(ctx, q.sql).Scan(q.dest); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.App.DB.QueryRow(ctx, `SELECT seq FROM audit_events WHERE entity_type = 'api_tokens' AND entity_id = ? AND op = 'update' ORDER BY seq DESC LIMIT 1`, tokID).Scan(&revSeq); err != nil {
		t.Fatal(err)
	}
	if err := e.App.DB.QueryRow(ctx, `SELECT row_hash FROM audit_events WHERE entity_type = 'api_tokens' AND entity_id = ? AND op = 'insert'`, tokID).Scan(&oldHash); err != nil {
		t.Fatal(err)
	}
	hid := cur + "_hidden"
	t.Cleanup(func() { _, _ = e.App.DB.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+hid+` CASCADE`) })
	rw := `current_setting('transaction_read_only') = 'off'`
	for _, q := range []string{
		`CREATE SCHEMA ` + hid,
		`ALTER TABLE api_tokens SET SCHEMA ` + hid,
		`ALTER TABLE audit_events SET SCHEMA ` + hid,
		`CREATE VIEW api_tokens AS SELECT account_id, created_at, id, issued_by, kind,
			CASE WHEN id = '` + tokID + `' AND ` + rw + ` THEN NULL ELSE revoked_at END AS revoked_at,
			CASE WHEN id = '` + tokID + `' AND ` + rw + ` THEN '` + oldHash + `' ELSE row_hash END AS row_hash,
			token_hash, user_id FROM ` + hid + `.api_tokens`,
		`CREATE VIEW audit_events AS SELECT * FROM ` + hid + `.audit_events WHERE NOT (seq = ` + strconv.FormatInt(revSeq, 10) + ` AND ` + rw + `)`,
	} {
		if _, err := e.App.DB.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := e.App.Auth.Authenticate(ctx, old); err == nil {
		t.Log("the revoked token authenticates behind the views (found by verify, not prevented)")
	}
	rep, err := e.App.VerifyAudit(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var named []string
	for _, f := range rep.Findings {
		if strings.Contains(f.Message, "not a table of this schema") {
			named = append(named, f.Table)
		}
	}
	if strings.Join(named, ",") != "api_tokens,audit_events" {
		t.Fatalf("verify named %v as put in place of a table (findings %v), want api_tokens and audit_events", named, rep.Findings)
	}
}
