package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/audit/audittest"
	"github.com/vetca/vetca/internal/signer"
	"github.com/vetca/vetca/internal/store"
)

type world struct {
	orgID, versionID, accID, accToken, contactID string
	alice, bob, carol                            string
}

func populate(t *testing.T, in *Instance) world {
	t.Helper()
	w := world{alice: in.User("alice", "verifier"), bob: in.User("bob", "verifier"), carol: in.User("carol", "verifier", "compliance")}
	r := in.Do("POST", "/api/v1/organizations", w.alice, map[string]any{"organizationName": "Acme Widgets Inc.", "countryName": "US", "stateOrProvinceName": "California", "localityName": "San Francisco"})
	if r.Status != 201 {
		t.Fatalf("create org: %d %s", r.Status, r.Raw)
	}
	w.orgID = r.Body["id"].(string)
	for _, tok := range []string{w.bob, w.carol} {
		if r := in.Do("POST", "/api/v1/organizations/"+w.orgID+"/versions/1/verify", tok, map[string]any{}); r.Status != 200 {
			t.Fatalf("verify: %d %s", r.Status, r.Raw)
		}
	}
	w.versionID = in.SQL("SELECT id FROM organization_versions WHERE organization_id = '" + w.orgID + "'")
	r = in.Do("POST", "/api/v1/accounts", w.alice, map[string]any{"name": "Acme", "organizations": []string{w.orgID}})
	if r.Status != 201 {
		t.Fatalf("create account: %d %s", r.Status, r.Raw)
	}
	w.accID, w.accToken = r.Body["id"].(string), r.Body["token"].(string)
	r = in.Do("POST", "/api/v1/accounts/"+w.accID+"/contacts", w.accToken, map[string]any{"name": "Jane Doe", "email": "jane@acme.vetca-test.com"})
	if r.Status != 201 {
		t.Fatalf("add contact: %d %s", r.Status, r.Raw)
	}
	w.contactID = r.Body["id"].(string)
	return w
}

type verifyJSON struct {
	OK       bool            `json:"ok"`
	Events   int             `json:"events"`
	Findings []audit.Finding `json:"findings"`
}

func verify(t *testing.T, in *Instance, args ...string) (verifyJSON, []string, int) {
	t.Helper()
	out, errOut, code := in.CLI(append([]string{"audit", "verify", "--json"}, args...)...)
	var v verifyJSON
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("audit verify --json: %v: %q %s", err, out, errOut)
	}
	text, _, code2 := in.CLI(append([]string{"audit", "verify"}, args...)...)
	if code2 != code {
		t.Fatalf("exit code differs with and without --json: %d vs %d", code, code2)
	}
	return v, lines(text), code
}

func has(v verifyJSON, table, row, field string) bool {
	for _, f := range v.Findings {
		if f.Table == table && (row == "" || f.RowID == row) && (field == "" || f.Field == field) {
			return true
		}
	}
	return false
}

// Out-of-band SQL is caught (docs/design.md §7): any UPDATE, DELETE or
// INSERT run with the sqlite3 or psql client on an audited table, or on the
// audit table itself, makes `vetca audit verify` exit 1 and name the table
// and row (and the field, for an update); on untouched data it exits 0;
// after such an edit the service refuses to use the row and the error
// names it. Each edit is made on its own fresh copy of the installation,
// so one edit's findings cannot stand in for (or hide) another's.
func TestOutOfBandSQLIsCaught(t *testing.T) {
	Each(t, func(t *testing.T, in *Instance) {
		in.Serve()
		w := populate(t, in)
		if v, _, code := verify(t, in); code != 0 || !v.OK || v.Events < 10 {
			t.Fatalf("untouched data: exit %d %+v", code, v)
		}
		aliceEvent := in.SQL("SELECT seq FROM audit_events WHERE entity_type = 'users' AND op = 'insert' AND entity_id = (SELECT id FROM users WHERE name = 'alice')")
		in.Stop()
		steps := []struct {
			name, sql         string
			table, row, field string
			// then checks the running service on the edited copy.
			then func(t *testing.T, c *Instance)
			// also lists the other tables a finding may name: what the
			// edit breaks besides its own row (the rows an edited or
			// deleted event vouched for, the chain head).
			also []string
		}{
			{"UPDATE an identity row (seed 1559376)", "UPDATE organization_versions SET country_name = 'AD' WHERE id = '" + w.versionID + "'", "organization_versions", w.versionID, "country_name",
				func(t *testing.T, c *Instance) {
					// The service refuses to use the edited row, naming it.
					r := c.Do("GET", "/api/v1/organizations/"+w.orgID, w.alice, nil)
					e, _ := r.Body["error"].(map[string]any)
					msg, _ := e["message"].(string)
					if r.Status < 400 || !strings.Contains(msg, "organization_versions row "+w.versionID) || !strings.Contains(msg, "country_name") {
						t.Fatalf("service used the edited row: %d %s", r.Status, r.Raw)
					}
					r = c.Do("POST", "/api/v1/organizations/"+w.orgID+"/versions", w.alice, map[string]any{"localityName": "Oakland"})
					if r.Status < 400 {
						t.Fatalf("a new version was built on the edited row: %d %s", r.Status, r.Raw)
					}
				}, nil},
			{"DELETE a contact", "DELETE FROM contacts WHERE id = '" + w.contactID + "'", "contacts", w.contactID, "", nil, nil},
			{"INSERT an account", "INSERT INTO accounts (id, name, created_at, created_by, row_hash) VALUES ('acc_sneaky', 'Sneaky', '2026-11-23T00:00:00Z', 'sql', '')", "accounts", "acc_sneaky", "", nil, nil},
			{"UPDATE an audit event", "UPDATE audit_events SET actor = 'user:mallory' WHERE seq = 3", "audit_events", "3", "actor", nil, []string{"users"}},
			{"DELETE an audit event (the one recording alice's user)", "DELETE FROM audit_events WHERE seq = " + aliceEvent, "audit_events", aliceEvent, "",
				func(t *testing.T, c *Instance) {
					// That leaves alice's user row unvouched: her token
					// stops working, naming the row.
					r := c.Do("GET", "/api/v1/me", w.alice, nil)
					if r.Status != 401 || !strings.Contains(string(r.Raw), "users row") || !strings.Contains(string(r.Raw), "integrity_violation") {
						t.Fatalf("token of an unvouched user: %d %s", r.Status, r.Raw)
					}
				}, []string{"users"}},
			{"INSERT an audit event", "INSERT INTO audit_events (seq, at, actor, action, op, entity_type, entity_id, content, row_hash, field_hashes, prev_hash, hash) VALUES (99999, '2026-11-23T00:00:00Z', 'user:mallory', 'account.created', 'note', 'accounts', 'acc_sneaky', NULL, '', '', '', 'x')", "audit_events", "99999", "", nil, []string{"audit_head"}},
		}
		for _, s := range steps {
			t.Run(s.name, func(t *testing.T) {
				c := in.Clone(t)
				if v, _, code := verify(t, c); code != 0 || !v.OK {
					t.Fatalf("the fresh copy is not intact: exit %d %+v", code, v.Findings)
				}
				c.SQL(s.sql)
				v, text, code := verify(t, c)
				if code != 1 || v.OK {
					t.Fatalf("audit verify exit %d", code)
				}
				if !has(v, s.table, s.row, s.field) {
					t.Fatalf("no finding naming %s %s %s in %+v", s.table, s.row, s.field, v.Findings)
				}
				want := s.table + " row " + s.row
				if s.field != "" {
					want += " field " + s.field
				}
				found := false
				for _, l := range text {
					found = found || strings.HasPrefix(l, want)
				}
				if !found {
					t.Fatalf("no line starting %q in:\n%s", want, strings.Join(text, "\n"))
				}
				// Alone on its copy, the edit is all verify reports.
				for _, f := range v.Findings {
					if f.Table != s.table && !slices.Contains(s.also, f.Table) {
						t.Errorf("a finding about %s, which this edit did not touch: %+v", f.Table, f)
					}
				}
				if s.then != nil {
					c.Serve()
					s.then(t, c)
				}
			})
		}
	})
}

// A chain rewritten from scratch fails `audit verify`: signed with a key
// of the forger's own, on every event; signed with a stolen copy of the
// real key, against the checkpoint the auditor kept.
func TestCheckpointCatchesRewrite(t *testing.T) {
	Each(t, func(t *testing.T, in *Instance) {
		in.Serve()
		populate(t, in)
		cpFile := filepath.Join(in.Dir, "checkpoint.json")
		if out, errOut, code := in.CLI("audit", "checkpoint", "--out", cpFile); code != 0 {
			t.Fatalf("checkpoint: %d %s %s", code, out, errOut)
		}
		if _, _, code := verify(t, in, "--checkpoint", cpFile); code != 0 {
			t.Fatal("intact chain fails its checkpoint")
		}
		in.Stop()
		// The forger also removes the checkpoints it can reach: the
		// database's and the server's directory.
		if err := os.RemoveAll(filepath.Join(in.Dir, "keys", "checkpoints")); err != nil {
			t.Fatal(err)
		}
		in.SQL("UPDATE organization_versions SET organization_name = 'Mallory Holdings Ltd'")

		// Each forger starts from its own copy of that database.
		t.Run("signed with another key", func(t *testing.T) {
			c := in.Clone(t)
			evil, err := audittest.NewKey()
			if err != nil {
				t.Fatal(err)
			}
			rewriteChain(t, c.DSN, evil)
			v, _, code := verify(t, c)
			if code != 1 || !has(v, "audit_events", "1", "key_id") || !has(v, "organization_versions", "", "") {
				t.Fatalf("a chain signed with another key passed: exit %d %+v", code, v.Findings)
			}
		})
		t.Run("signed with a stolen copy of the real key", func(t *testing.T) {
			c := in.Clone(t)
			stolen, err := audit.OpenKey(filepath.Join(c.Dir, "keys", "audit.key"), signer.Config{})
			if err != nil {
				t.Fatal(err)
			}
			rewriteChain(t, c.DSN, stolen)
			if v, _, code := verify(t, c); code != 0 {
				t.Fatalf("a chain rebuilt with the real key is self-consistent: %+v", v.Findings)
			}
			v, _, code := verify(t, c, "--checkpoint", cpFile)
			if code != 1 || !has(v, "audit_events", "", "") {
				t.Fatalf("rewrite not caught by the checkpoint: exit %d %+v", code, v)
			}
		})
	})
}

// rewriteChain rebuilds a self-consistent chain signed with key, as a
// forger with database access and vetca's source code could.
func rewriteChain(t *testing.T, dsn string, key *audit.Key) {
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := audittest.Forge(ctx, db, key, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// `vetca init` run twice changes nothing and says so (README.md, Run in production).
func TestInitIsIdempotent(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			in := New(t, backend)
			out, _, code := in.CLI("init", "--json")
			var res struct {
				AdminToken string
				Changed    bool
				Issuers    []map[string]string
				Messages   []string
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
				t.Fatalf("second init: %d %q", code, out)
			}
			if res.Changed || res.AdminToken != "" || len(res.Issuers) != 2 || !strings.Contains(strings.Join(res.Messages, " "), "nothing changed") {
				t.Fatalf("second init changed something: %+v", res)
			}
			text, errOut, code := in.CLI("init")
			if code != 0 || !strings.Contains(text, "already initialized; nothing changed") {
				t.Fatalf("second init: exit %d, says %q %s", code, text, errOut)
			}
		})
	}
}

// Exit code 2 for usage errors (README.md, Commands), and errors name the flag.
func TestUsageErrors(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			in := New(t, backend)
			for _, args := range [][]string{
				{"user", "add"},
				{"user", "add", "eve"},
				{"user", "add", "eve", "--role", "root"},
				{"audit", "verify", "--no-such-flag"},
				{"serve", "--log-level", "loud"},
			} {
				_, errOut, code := in.CLI(args...)
				if code != 2 {
					t.Errorf("vetca %v: exit %d, want 2 (%s)", args, code, errOut)
				}
			}
			_, errOut, code := in.CLI("audit", "verify", "--checkpoint", "/nonexistent/cp.json")
			if code != 1 || !strings.Contains(errOut, "/nonexistent/cp.json") {
				t.Errorf("missing checkpoint file: %d %s", code, errOut)
			}
			// A --db that is no DSN is a refused flag value (README.md).
			_, errOut, code = in.CLI("audit", "verify", "--db", "mysql://x")
			if code != 2 || !strings.Contains(errOut, "mysql://x") || !strings.Contains(errOut, "--db") {
				t.Errorf("bad DSN: %d %s", code, errOut)
			}
		})
	}
}
