package main

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/store/storetest"
)

// listTree returns every path under dir, sorted ("" entries for none).
func listTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// A flag value init refuses (--admin-name, --ca-organization) is a usage
// error naming the flag, found before anything is written (README:
// exit codes; a failed command leaves the database and key directory as
// they were).
func TestInitRefusesBadNamesBeforeWriting(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		flag string
	}{
		{"admin name", []string{"--admin-name", "Jane Doe"}, "--admin-name"},
		{"organization too long", []string{"--ca-organization", strings.Repeat("A", 60)}, "--ca-organization"},
		{"organization empty", []string{"--ca-organization", ""}, "--ca-organization"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"init", "--db", "sqlite:" + filepath.Join(dir, "v.db"), "--key-dir", filepath.Join(dir, "keys")}, tc.args...)
			code, _, stderr := runCLI(t, args...)
			if code != exitUsage || !strings.Contains(stderr, tc.flag) {
				t.Fatalf("init %v: exit %d, want %d naming %s: %s", tc.args, code, exitUsage, tc.flag, stderr)
			}
			if got := listTree(t, dir); len(got) != 1 {
				t.Fatalf("init %v failed but wrote %v", tc.args, got[1:])
			}
		})
	}
}

func initForTest(t *testing.T) (dir string, common []string) {
	t.Helper()
	dir = t.TempDir()
	common = []string{"--db", "sqlite:" + filepath.Join(dir, "v.db"), "--key-dir", filepath.Join(dir, "keys")}
	if code, _, stderr := runCLI(t, append([]string{"init"}, common...)...); code != exitOK {
		t.Fatalf("init: %d %s", code, stderr)
	}
	return dir, common
}

// ceremony intermediate refuses a country that is not ISO 3166-1, as init
// does, instead of creating the newest issuing CA with it.
func TestCeremonyIntermediateRefusesUnknownCountry(t *testing.T) {
	dir, common := initForTest(t)
	before := listTree(t, dir+"/keys")
	code, _, stderr := runCLI(t, append([]string{"ceremony", "intermediate", "--ca-country", "XX"}, common...)...)
	if code != exitUsage || !strings.Contains(stderr, "--ca-country") {
		t.Fatalf("ceremony intermediate --ca-country XX: exit %d: %s", code, stderr)
	}
	if after := listTree(t, dir+"/keys"); !slices.Equal(before, after) {
		t.Fatalf("refused ceremony changed the key directory: %v -> %v", before, after)
	}
}

// A command whose --out cannot be written fails before it records
// anything: no CA without its ceremony record, no checkpoint, no CRLs
// published by a command that reports failure.
func TestUnwritableOutWritesNothing(t *testing.T) {
	dir, common := initForTest(t)
	missing := filepath.Join(dir, "nodir", "f.json")
	underFile := filepath.Join(dir, "v.db", "crls")
	for _, args := range [][]string{
		{"ceremony", "intermediate", "--out", missing},
		{"audit", "checkpoint", "--out", missing},
		{"audit", "checkpoint", "--out", dir}, // a directory, not a file
		{"crl", "publish", "--out", underFile},
	} {
		before := listTree(t, dir+"/keys")
		code, _, stderr := runCLI(t, append(args, common...)...)
		if code == exitOK || !strings.Contains(stderr, "--out") {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		if after := listTree(t, dir+"/keys"); !slices.Equal(before, after) {
			t.Fatalf("failed %v changed the key directory: %v -> %v", args, before, after)
		}
	}
	// Nothing was published by the failed crl publish: every shard is
	// still new, and the trail holds only init's events.
	code, stdout, stderr := runCLI(t, append([]string{"audit", "verify", "--json"}, common...)...)
	if code != exitOK {
		t.Fatalf("audit verify: %d %s %s", code, stdout, stderr)
	}
	var rep struct {
		Events int `json:"events"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Events != 5 {
		t.Fatalf("after failed commands the trail has %d events, init wrote 5", rep.Events)
	}
}

// A corrupt --audit-public-key is named in the error.
func TestCorruptAuditPublicKeyIsNamed(t *testing.T) {
	dir, common := initForTest(t)
	bad := filepath.Join(dir, "junk.pub")
	if err := os.WriteFile(bad, []byte("junk\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, append([]string{"audit", "verify", "--audit-public-key", bad}, common...)...)
	if code != exitFailure || !strings.Contains(stderr, bad) {
		t.Fatalf("audit verify with a corrupt public key: exit %d: %s", code, stderr)
	}
}

// A command other than init given a SQLite path where there is no
// database (a typo, the wrong directory) refuses without leaving an empty
// database file there.
func TestMissingSQLiteDatabaseIsNotCreated(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "typo.db")
	for _, args := range [][]string{{"audit", "verify"}, {"user", "list"}, {"user", "add", "bob", "--role", "auditor"}, {"deadlines"}} {
		code, _, stderr := runCLI(t, append(args, "--db", "sqlite:"+db, "--key-dir", filepath.Join(dir, "keys"))...)
		if code != exitFailure || !strings.Contains(stderr, db) {
			t.Fatalf("%v on a missing database: exit %d: %s", args, code, stderr)
		}
		if _, err := os.Stat(db); err == nil {
			t.Fatalf("%v on a missing database created %s", args, db)
		}
	}
}

// Events a command wrote after the newest checkpoint, deleted outside
// vetca together with their rows, are found by audit verify: the command
// raised this host's head-seen mark (README, --checkpoint-dir).
func TestTailWrittenByCommandCannotBeCutUnnoticed(t *testing.T) {
	dir, common := initForTest(t)
	if code, _, stderr := runCLI(t, append([]string{"audit", "checkpoint"}, common...)...); code != exitOK {
		t.Fatalf("audit checkpoint: %d %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, append([]string{"user", "add", "bob", "--role", "auditor"}, common...)...); code != exitOK {
		t.Fatalf("user add: %d %s", code, stderr)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DELETE FROM api_tokens WHERE user_id = (SELECT id FROM users WHERE name = 'bob')`,
		`DELETE FROM users WHERE name = 'bob'`,
		`DELETE FROM audit_events WHERE seq > (SELECT MAX(seq) FROM audit_checkpoints)`,
	} {
		if _, err := db.SQL().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	code, stdout, stderr := runCLI(t, append([]string{"audit", "verify"}, common...)...)
	if code != exitFailure || !strings.Contains(stdout, "this host saw it reach event") {
		t.Fatalf("audit verify after the tail was cut: exit %d: %s %s", code, stdout, stderr)
	}
}

// A mistyped --audit-public-key is an error naming it: verify once wrote a
// new pin there from the private key and checked against that. And init
// pointed at an existing installation with another key directory is
// refused without leaving a new audit key pair in that directory.
func TestAuditKeyPathsAreNotCreatedByMistake(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "v.db")
	keys := filepath.Join(dir, "keys")
	if code, _, stderr := runCLI(t, "init", "--db", db, "--key-dir", keys); code != 0 {
		t.Fatalf("init: exit %d: %s", code, stderr)
	}
	typo := filepath.Join(dir, "typo.pub")
	code, _, stderr := runCLI(t, "audit", "verify", "--db", db, "--key-dir", keys, "--audit-public-key", typo)
	if code == 0 || !strings.Contains(stderr, "--audit-public-key") {
		t.Fatalf("verify with a missing pin: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(typo); !os.IsNotExist(err) {
		t.Fatalf("verify wrote a pin at the mistyped path: %v", err)
	}
	other := filepath.Join(dir, "other-keys")
	if code, _, stderr := runCLI(t, "init", "--db", db, "--key-dir", other); code == 0 || !strings.Contains(stderr, "--key-dir") {
		t.Fatalf("init with another key directory: exit %d: %s", code, stderr)
	}
	if got := listTree(t, other); len(got) > 1 {
		t.Fatalf("the refused init left %v", got)
	}
}

// A command pointed at a PostgreSQL database without a vetca schema says
// to run init on it, without printing the password the --db URL carries:
// stderr goes to terminals, logs and tickets.
func TestNoSchemaErrorHidesDatabasePassword(t *testing.T) {
	u, err := url.Parse(storetest.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), "s3cret")
	code, _, stderr := runCLI(t, "audit", "verify", "--db", u.String(), "--key-dir", t.TempDir())
	if code == exitOK || !strings.Contains(stderr, "vetca init") {
		t.Fatalf("audit verify on a database without a schema: exit %d: %s", code, stderr)
	}
	if strings.Contains(stderr, "s3cret") {
		t.Fatalf("the error shows the database password: %s", stderr)
	}
}

// init run again after an upgrade migrates the schema and says so: its
// output is the operator's record of what the upgrade changed, so the
// migrations it applied are counted, not reported as "nothing changed".
func TestInitAfterUpgradeReportsMigrations(t *testing.T) {
	dir, common := initForTest(t)
	// The database as the previous release left it: the newest migration
	// not yet applied.
	asPreviousRelease(t, "sqlite:"+filepath.Join(dir, "v.db")).Close()
	code, stdout, stderr := runCLI(t, append([]string{"init", "--json"}, common...)...)
	if code != exitOK {
		t.Fatalf("init after an upgrade: %d %s", code, stderr)
	}
	var res struct {
		Changed  bool     `json:"changed"`
		Migrated int      `json:"migrationsApplied"`
		Messages []string `json:"messages"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Migrated != 2 || !strings.Contains(strings.Join(res.Messages, "\n"), "schema migrated from version 24 to 26") {
		t.Fatalf("init after an upgrade reports %+v; want two migrations, 24 to 26", res)
	}
}

// asPreviousRelease opens the SQLite database dsn and takes its schema back
// to what the previous release left (before migrations 25 and 26).
func asPreviousRelease(t *testing.T, dsn string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, q := range []string{
		`ALTER TABLE audit_events DROP COLUMN xid`,
		`ALTER TABLE audit_head DROP COLUMN sig`,
		`ALTER TABLE audit_head RENAME COLUMN head_hash TO hash`,
		`ALTER TABLE crl_files DROP COLUMN scheduled`,
		`DELETE FROM goose_db_version WHERE version_id IN (25, 26)`,
	} {
		if _, err := db.SQL().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// A command that does not migrate, run by a newer vetca on a schema it has
// not migrated yet, says so and what to run, instead of failing on the
// first column added since with an SQL error.
func TestCommandOnOlderSchemaSaysToMigrate(t *testing.T) {
	dir, common := initForTest(t)
	asPreviousRelease(t, "sqlite:"+filepath.Join(dir, "v.db"))
	for _, cmd := range [][]string{{"audit", "verify"}, {"user", "list"}} {
		code, _, stderr := runCLI(t, append(cmd, common...)...)
		if code == exitOK || !strings.Contains(stderr, "older than this vetca's") || !strings.Contains(stderr, "vetca init") {
			t.Fatalf("%v on the previous release's schema: exit %d: %s", cmd, code, stderr)
		}
	}
	if code, _, stderr := runCLI(t, append([]string{"init"}, common...)...); code != exitOK {
		t.Fatalf("init, which migrates: %d %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, append([]string{"audit", "verify"}, common...)...); code != exitOK {
		t.Fatalf("audit verify after the migration: %d %s", code, stderr)
	}
}

// init and serve pointed at an installation's database with another
// installation's keys are refused, and refused before they migrate it: a
// migration is a write (migration 24 deleted every stored scan run and
// finding), which a command refused for its audit key must not make.
func TestCommandRefusedForItsAuditKeyDoesNotMigrate(t *testing.T) {
	dir, _ := initForTest(t)
	dsn := "sqlite:" + filepath.Join(dir, "v.db")
	other := filepath.Join(dir, "other-keys")
	if code, _, stderr := runCLI(t, "init", "--db", "sqlite:"+filepath.Join(dir, "other.db"), "--key-dir", other); code != exitOK {
		t.Fatalf("init of another installation: %d %s", code, stderr)
	}
	ctx := context.Background()
	db := asPreviousRelease(t, dsn)
	// The installation's public key alone (a reader's key directory).
	pubOnly := filepath.Join(dir, "pub-only")
	pub, err := os.ReadFile(filepath.Join(dir, "keys", "audit.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(pubOnly, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pubOnly, "audit.pub"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cmd        []string
		keys, says string
	}{
		{[]string{"init"}, other, "another installation"},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--public-url", "http://127.0.0.1:8080", "--no-perspectives"}, other, "another installation"},
		{[]string{"init"}, pubOnly, "audit key"},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--public-url", "http://127.0.0.1:8080", "--no-perspectives"}, pubOnly, "audit key"},
	} {
		cmd := tc.cmd
		code, _, stderr := runCLI(t, append(cmd, "--db", dsn, "--key-dir", tc.keys)...)
		if code == exitOK || !strings.Contains(stderr, tc.says) {
			t.Fatalf("%s with %s: exit %d: %s", cmd[0], tc.keys, code, stderr)
		}
		var v int64
		if err := db.SQL().QueryRowContext(ctx, `SELECT MAX(version_id) FROM goose_db_version`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		if v != 24 {
			t.Fatalf("the refused %s with %s migrated the database to version %d", cmd[0], tc.keys, v)
		}
	}
}

// A checkpoint pins the trail it was signed over. A new database given an
// installation's key directory (so its checkpoint directory) would read as
// that trail truncated, and its sealer and checkpointer would refuse to go
// past the old checkpoint: the command is refused, naming the checkpoint
// and what to do, and the new database's trail stays empty. With a
// checkpoint directory of its own it starts.
func TestNewTrailUnderAnotherTrailsCheckpointIsRefused(t *testing.T) {
	dir, common := initForTest(t)
	if code, _, stderr := runCLI(t, append([]string{"audit", "checkpoint"}, common...)...); code != exitOK {
		t.Fatalf("audit checkpoint: %d %s", code, stderr)
	}
	keys := filepath.Join(dir, "keys")
	fresh := "sqlite:" + filepath.Join(dir, "new.db")
	code, _, stderr := runCLI(t, "init", "--db", fresh, "--key-dir", keys)
	if code == exitOK || !strings.Contains(stderr, "checkpoint signed by this audit key") || !strings.Contains(stderr, "--checkpoint-dir") {
		t.Fatalf("init of a new database with the key directory of another: exit %d: %s", code, stderr)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM audit_events`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the refused init wrote %d events (%v)", n, err)
	}
	own := filepath.Join(dir, "new-checkpoints")
	if code, _, stderr := runCLI(t, "init", "--db", fresh, "--key-dir", keys, "--checkpoint-dir", own); code != exitOK {
		t.Fatalf("init with its own checkpoint directory: %d %s", code, stderr)
	}
}
