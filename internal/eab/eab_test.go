package eab_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/eab"
	"github.com/vetca/vetca/internal/store"
)

// env is an installation with one account and a verifier.
type env struct {
	*apptest.Env
	account  string
	subTok   string // the account's subscriber token
	verifier string // token
}

func each(t *testing.T, fn func(t *testing.T, e env)) {
	apptest.Each(t, func(t *testing.T, a *apptest.Env) {
		r := a.Do("POST", "/api/v1/accounts", a.AdminToken, map[string]any{"name": "Acme Widgets"})
		if r.Status != 201 {
			t.Fatalf("account: %d %s", r.Status, r.Raw)
		}
		fn(t, env{Env: a, account: r.Body["id"].(string), subTok: r.Body["token"].(string), verifier: a.User("vic", actor.Verifier)})
	})
}

func errOf(r apptest.Response) (code, field string) {
	m, _ := r.Body["error"].(map[string]any)
	code, _ = m["code"].(string)
	field, _ = m["field"].(string)
	return code, field
}

// create makes a key through the API and returns its kid and HMAC key.
func (e env) create(t *testing.T) (string, []byte) {
	t.Helper()
	r := e.Do("POST", "/api/v1/accounts/"+e.account+"/eab-keys", e.verifier, nil)
	if r.Status != 201 {
		t.Fatalf("create EAB key: %d %s", r.Status, r.Raw)
	}
	enc := r.Body["hmacKey"].(string)
	if strings.ContainsAny(enc, "=+/") {
		t.Fatalf("hmacKey %q is not base64url without padding", enc)
	}
	key, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(key) != 32 {
		t.Fatalf("hmacKey %q: %d bytes, %v", enc, len(key), err)
	}
	return r.Body["kid"].(string), key
}

func mac(key, input []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(input)
	return m.Sum(nil)
}

// A key is shown once: created with its HMAC key, listed without it, and
// revoked by DELETE or POST …/revoke, once.
func TestEABKeyLifecycle(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		created := e.Clock.Now()
		kid, key := e.create(t)
		if !strings.HasPrefix(kid, "eab_") {
			t.Fatalf("kid %q", kid)
		}
		l := e.Do("GET", "/api/v1/accounts/"+e.account+"/eab-keys", e.verifier, nil)
		if l.Status != 200 || len(l.Body["eabKeys"].([]any)) != 1 {
			t.Fatalf("list: %d %s", l.Status, l.Raw)
		}
		k := l.Body["eabKeys"].([]any)[0].(map[string]any)
		if k["kid"] != kid || k["status"] != "active" || k["createdBy"] != "user:vic" ||
			k["expiresAt"] != created.Add(30*24*time.Hour).Format(time.RFC3339) {
			t.Fatalf("listed key: %s", l.Raw)
		}
		if bytes.Contains(l.Raw, []byte(base64.RawURLEncoding.EncodeToString(key))) || bytes.Contains(l.Raw, []byte("hmac")) {
			t.Fatalf("the list shows the key: %s", l.Raw)
		}
		// The subscriber sees its own keys; it may not create one.
		if l := e.Do("GET", "/api/v1/accounts/"+e.account+"/eab-keys", e.subTok, nil); l.Status != 200 || len(l.Body["eabKeys"].([]any)) != 1 {
			t.Fatalf("the subscriber's list: %d %s", l.Status, l.Raw)
		}
		if r := e.Do("POST", "/api/v1/accounts/"+e.account+"/eab-keys", e.subTok, nil); r.Status != 403 {
			t.Fatalf("the subscriber created a key: %d %s", r.Status, r.Raw)
		}
		r := e.Do("DELETE", "/api/v1/accounts/"+e.account+"/eab-keys/"+kid, e.verifier, nil)
		if r.Status != 200 || r.Body["status"] != "revoked" || r.Body["revokedBy"] != "user:vic" {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		r = e.Do("POST", "/api/v1/accounts/"+e.account+"/eab-keys/"+kid+"/revoke", e.verifier, nil)
		if code, field := errOf(r); r.Status != 409 || code != "eab_key_revoked" || field != "kid" {
			t.Fatalf("revoke twice: %d %s", r.Status, r.Raw)
		}
		kid2, _ := e.create(t)
		if r := e.Do("POST", "/api/v1/accounts/"+e.account+"/eab-keys/"+kid2+"/revoke", e.verifier, nil); r.Status != 200 {
			t.Fatalf("revoke by POST: %d %s", r.Status, r.Raw)
		}
		ev := e.Do("GET", "/api/v1/audit/events?entityType=eab_keys", e.AdminToken, nil)
		if ev.Status != 200 || len(ev.Body["events"].([]any)) != 4 {
			t.Fatalf("audit events of EAB keys: %d %s", ev.Status, ev.Raw)
		}
	})
}

// Who may do what with EAB keys, and every refusal naming its field
// (docs/api.md, Templates and EAB keys).
func TestEABKeyRefusals(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		kid, _ := e.create(t)
		other := e.Do("POST", "/api/v1/accounts", e.AdminToken, map[string]any{"name": "Other"})
		otherID, otherTok := other.Body["id"].(string), other.Body["token"].(string)
		auditor := e.User("audrey", actor.Auditor)
		compliance := e.User("carol", actor.Compliance)
		base := "/api/v1/accounts/" + e.account + "/eab-keys"
		cases := []struct {
			name, rule        string
			method, path, tok string
			body              any
			status            int
			code, field       string
		}{
			{"subscriber creates", "docs/api.md: verifier or admin creates EAB keys", "POST", base, otherTok, nil, 403, "forbidden", ""},
			{"auditor creates", "docs/api.md: verifier or admin creates EAB keys", "POST", base, auditor, nil, 403, "forbidden", ""},
			{"compliance creates", "docs/api.md: verifier or admin creates EAB keys", "POST", base, compliance, nil, 403, "forbidden", ""},
			{"unknown account", "docs/api.md: the account must exist", "POST", "/api/v1/accounts/acc_nosuchaccount00/eab-keys", e.verifier, nil, 404, "not_found", "accountId"},
			{"a body field", "docs/api.md Errors: unknown fields refused", "POST", base, e.verifier, map[string]any{"kid": "x"}, 400, "unknown_field", "kid"},
			{"another account's subscriber lists", "docs/api.md: staff or the account's subscriber list", "GET", base, otherTok, nil, 403, "forbidden", ""},
			{"another account's subscriber revokes", "docs/api.md: the account's subscriber may revoke its keys", "DELETE", base + "/" + kid, otherTok, nil, 403, "forbidden", ""},
			{"auditor revokes", "docs/api.md: verifier, admin, compliance or the subscriber revoke", "DELETE", base + "/" + kid, auditor, nil, 403, "forbidden", ""},
			{"key of another account", "docs/api.md: a key is revoked under its own account", "DELETE", "/api/v1/accounts/" + otherID + "/eab-keys/" + kid, e.AdminToken, nil, 404, "not_found", "kid"},
			{"unknown kid", "docs/api.md: revoke names a key", "DELETE", base + "/eab_nosuchkey0000000", e.verifier, nil, 404, "not_found", "kid"},
			{"bad limit", "docs/api.md Lists: limit 1 to 500", "GET", base + "?limit=0", e.verifier, nil, 400, "invalid_limit", "limit"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := e.Do(tc.method, tc.path, tc.tok, tc.body)
				if code, field := errOf(r); r.Status != tc.status || code != tc.code || field != tc.field {
					t.Fatalf("%s: got %d %s field %q, want %d %s field %q: %s", tc.rule, r.Status, code, field, tc.status, tc.code, tc.field, r.Raw)
				}
			})
		}
		// Still one key, still active; reading is allowed to the subscriber,
		// compliance and auditors.
		for _, tok := range []string{auditor, compliance} {
			l := e.Do("GET", base, tok, nil)
			if l.Status != 200 || len(l.Body["eabKeys"].([]any)) != 1 || l.Body["eabKeys"].([]any)[0].(map[string]any)["status"] != "active" {
				t.Fatalf("list after refusals: %d %s", l.Status, l.Raw)
			}
		}
	})
}

// Verify, for the future ACME server: the MAC is HMAC-SHA256 under the key
// shown at creation, compared in constant time; each refusal has its own
// code; a key expires exactly 30 days after its creation (the injected
// clock), unless it was bound first.
func TestEABVerify(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		ctx := context.Background()
		svc := e.App.EAB
		kid, key := e.create(t)
		input := []byte("eyJhbGciOiJIUzI1NiJ9.eyJrdHkiOiJFQyJ9")
		good := mac(key, input)
		start := e.Clock.Now()
		if k, err := svc.Verify(ctx, kid, input, good); err != nil || k.ID != kid || k.AccountID != e.account {
			t.Fatalf("a good MAC: %+v %v", k, err)
		}
		cases := []struct {
			name, rule string
			kid        string
			input, mac []byte
			code       apperr.Code
		}{
			{"unknown kid", "RFC 8555 §7.3.4: the kid must name a key the CA issued", "eab_nosuchkey0000000", input, good, apperr.CodeEABUnknownKid},
			{"MAC of other input", "RFC 8555 §7.3.4: the MAC must verify", kid, []byte("other"), good, apperr.CodeEABBadMAC},
			{"MAC with another key", "RFC 8555 §7.3.4: the MAC must verify", kid, input, mac(bytes.Repeat([]byte{1}, 32), input), apperr.CodeEABBadMAC},
			{"truncated MAC", "RFC 8555 §7.3.4: the MAC must verify", kid, input, good[:16], apperr.CodeEABBadMAC},
			{"empty MAC", "RFC 8555 §7.3.4: the MAC must verify", kid, input, nil, apperr.CodeEABBadMAC},
		}
		for _, tc := range cases {
			_, err := svc.Verify(ctx, tc.kid, tc.input, tc.mac)
			if e, ok := apperr.As(err); !ok || e.Code != tc.code || e.Kind != apperr.KindUnauthenticated {
				t.Errorf("%s (%s): %v, want %s", tc.name, tc.rule, err, tc.code)
			}
		}
		// Expiry at exactly 30 days, by the injected clock.
		e.Clock.Set(start.Add(eab.Lifetime - time.Second))
		if _, err := svc.Verify(ctx, kid, input, good); err != nil {
			t.Fatalf("a second before 30 days: %v", err)
		}
		e.Clock.Set(start.Add(eab.Lifetime))
		if _, err := svc.Verify(ctx, kid, input, good); !apperr.HasCode(err, apperr.CodeEABKeyExpired) {
			t.Fatalf("at exactly 30 days: %v", err)
		}
		err := e.App.DB.InTx(ctx, func(tx *store.Tx) error {
			_, err := svc.Bind(ctx, tx, kid, "https://acme.example/acct/1")
			return err
		})
		if !apperr.HasCode(err, apperr.CodeEABKeyExpired) {
			t.Fatalf("binding an expired key: %v", err)
		}
		if l := e.Do("GET", "/api/v1/accounts/"+e.account+"/eab-keys", e.verifier, nil); l.Body["eabKeys"].([]any)[0].(map[string]any)["status"] != "expired" {
			t.Fatalf("listed after 30 days: %s", l.Raw)
		}
		// A key bound before it expires is used up: bound, not expired.
		e.Clock.Set(start)
		kid2, key2 := e.create(t)
		bind(t, e, kid2, "https://acme.example/acct/2")
		e.Clock.Set(start.Add(eab.Lifetime + time.Hour))
		if _, err := svc.Verify(ctx, kid2, input, mac(key2, input)); !apperr.HasCode(err, apperr.CodeEABKeyBound) {
			t.Fatalf("a bound key: %v", err)
		}
		// Revoked wins over everything but a bad MAC.
		e.Clock.Set(start)
		kid3, key3 := e.create(t)
		if r := e.Do("DELETE", "/api/v1/accounts/"+e.account+"/eab-keys/"+kid3, e.verifier, nil); r.Status != 200 {
			t.Fatal(r.Raw)
		}
		if _, err := svc.Verify(ctx, kid3, input, mac(key3, input)); !apperr.HasCode(err, apperr.CodeEABKeyRevoked) {
			t.Fatalf("a revoked key: %v", err)
		}
		if _, err := svc.Verify(ctx, kid3, input, good); !apperr.HasCode(err, apperr.CodeEABBadMAC) {
			t.Fatalf("a revoked key with a bad MAC: %v", err)
		}
	})
}

func bind(t *testing.T, e env, kid, acme string) {
	t.Helper()
	err := e.App.DB.InTx(context.Background(), func(tx *store.Tx) error {
		_, err := e.App.EAB.Bind(context.Background(), tx, kid, acme)
		return err
	})
	if err != nil {
		t.Fatalf("bind %s: %v", kid, err)
	}
}

// A key binds one ACME account, once, even when many try at the same time
// on one database: exactly one bind succeeds and every other one is 409
// eab_key_bound. An ACME account is bound by one key only.
func TestEABBindOnceUnderConcurrency(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		ctx := context.Background()
		kid, _ := e.create(t)
		const n = 12
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				errs[i] = e.App.DB.InTx(ctx, func(tx *store.Tx) error {
					_, err := e.App.EAB.Bind(ctx, tx, kid, fmt.Sprintf("https://acme.example/acct/%d", i))
					return err
				})
			}(i)
		}
		close(start)
		wg.Wait()
		ok, winner := 0, -1
		for i, err := range errs {
			switch {
			case err == nil:
				ok, winner = ok+1, i
			case apperr.HasCode(err, apperr.CodeEABKeyBound):
			default:
				t.Fatalf("bind %d: %v", i, err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d concurrent binds succeeded: %v", ok, n, errs)
		}
		l := e.Do("GET", "/api/v1/accounts/"+e.account+"/eab-keys", e.verifier, nil)
		k := l.Body["eabKeys"].([]any)[0].(map[string]any)
		if k["status"] != "bound" || k["boundAcmeAccountId"] != fmt.Sprintf("https://acme.example/acct/%d", winner) {
			t.Fatalf("after the binds: %s", l.Raw)
		}
		ev := e.Do("GET", "/api/v1/audit/events?entityType=eab_keys&action=eab_key.bound", e.AdminToken, nil)
		if len(ev.Body["events"].([]any)) != 1 {
			t.Fatalf("bound events: %s", ev.Raw)
		}
		// The winner's ACME account cannot be bound again by another key.
		kid2, _ := e.create(t)
		err := e.App.DB.InTx(ctx, func(tx *store.Tx) error {
			_, err := e.App.EAB.Bind(ctx, tx, kid2, fmt.Sprintf("https://acme.example/acct/%d", winner))
			return err
		})
		if ae, ok := apperr.As(err); !ok || ae.Code != apperr.CodeEABKeyBound || ae.Field != "acmeAccountId" {
			t.Fatalf("a second key for a bound ACME account: %v", err)
		}
		err = e.App.DB.InTx(ctx, func(tx *store.Tx) error {
			_, err := e.App.EAB.Bind(ctx, tx, kid2, "")
			return err
		})
		if ae, ok := apperr.As(err); !ok || ae.Code != apperr.CodeMissingField || ae.Field != "acmeAccountId" {
			t.Fatalf("bind without an ACME account: %v", err)
		}
	})
}

// The EAB secret and the HMAC keys derived from it never reach the
// database (docs/design.md, "Templates and EAB keys"): not in any table,
// the audit trail included, in any common encoding; on SQLite not in the
// database file or its WAL either. Only each key's SHA-256 is stored.
func TestEABSecretNeverInDatabase(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		var keys [][]byte
		for range 3 {
			kid, key := e.create(t)
			keys = append(keys, key)
			if len(keys) == 2 {
				bind(t, e, kid, "https://acme.example/acct/secret-test")
			}
			if len(keys) == 3 {
				if r := e.Do("DELETE", "/api/v1/accounts/"+e.account+"/eab-keys/"+kid, e.verifier, nil); r.Status != 200 {
					t.Fatal(r.Raw)
				}
			}
		}
		secret, err := os.ReadFile(e.App.Cfg.EABSecret)
		if err != nil || len(secret) != eab.SecretSize {
			t.Fatalf("secret file: %d bytes, %v", len(secret), err)
		}
		st, _ := os.Stat(e.App.Cfg.EABSecret)
		if st.Mode().Perm() != 0o600 {
			t.Fatalf("secret file mode %v", st.Mode().Perm())
		}
		dump := dumpDatabase(t, e.App.DB)
		if path, ok := strings.CutPrefix(e.App.Cfg.DB, "sqlite:"); ok {
			for _, f := range []string{path, path + "-wal"} {
				if b, err := os.ReadFile(f); err == nil {
					dump = append(dump, b...)
				}
			}
		}
		if !bytes.Contains(dump, []byte("eab_key.created")) || !bytes.Contains(dump, []byte(hex.EncodeToString(sha(keys[0])))) {
			t.Fatal("the dump does not hold the keys' rows: the test reads the wrong database")
		}
		for what, b := range map[string][]byte{"the EAB secret": secret, "HMAC key 1": keys[0], "HMAC key 2": keys[1], "HMAC key 3": keys[2]} {
			for _, enc := range encodings(b) {
				if bytes.Contains(dump, enc) {
					t.Errorf("%s appears in the database as %q", what, enc)
				}
			}
		}
	})
}

func sha(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// encodings are the forms a byte string could be stored in.
func encodings(b []byte) [][]byte {
	return [][]byte{b, []byte(hex.EncodeToString(b)), []byte(strings.ToUpper(hex.EncodeToString(b))),
		[]byte(base64.StdEncoding.EncodeToString(b)), []byte(base64.RawStdEncoding.EncodeToString(b)),
		[]byte(base64.URLEncoding.EncodeToString(b)), []byte(base64.RawURLEncoding.EncodeToString(b))}
}

// dumpDatabase is every value of every table, as text and raw bytes.
func dumpDatabase(t *testing.T, db *store.DB) []byte {
	t.Helper()
	ctx := context.Background()
	schema, err := store.LoadSchema(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, table := range schema.Tables() {
		rows, err := db.Query(ctx, "SELECT * FROM "+table)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				if b, ok := v.([]byte); ok {
					out.Write(b)
				}
				fmt.Fprintf(&out, "%v\t", v)
			}
			out.WriteByte('\n')
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

// The secret is a 32-byte file of mode 0600; anything else is refused, and
// it never prints its bytes.
func TestSecretFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys", eab.SecretFile)
	if _, err := eab.OpenSecret(path); err == nil {
		t.Fatal("opened a missing secret")
	}
	s, created, err := eab.OpenOrCreateSecret(path)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	b, _ := os.ReadFile(path)
	st, _ := os.Stat(path)
	if len(b) != 32 || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %d bytes, mode %v", len(b), st.Mode().Perm())
	}
	again, created, err := eab.OpenOrCreateSecret(path)
	if err != nil || created || again.ID() != s.ID() {
		t.Fatalf("open again: %v %v", created, err)
	}
	if _, err := eab.CreateSecret(path); err == nil {
		t.Fatal("overwrote the secret")
	}
	for _, out := range []string{s.String(), fmt.Sprintf("%v %+v %#v %s", s, s, s, s)} {
		if strings.Contains(out, hex.EncodeToString(b)) || strings.Contains(out, base64.StdEncoding.EncodeToString(b)) || !strings.Contains(out, s.ID()) {
			t.Fatalf("the secret prints as %q", out)
		}
	}
	if k := s.KeyFor("eab_x"); !hmac.Equal(k, mac(b, []byte("eab_x"))) {
		t.Fatal("KeyFor is not HMAC-SHA256(secret, kid)")
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := eab.OpenSecret(path); err == nil || !strings.Contains(err.Error(), "0600") {
		t.Fatalf("a secret readable by others: %v", err)
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("too short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := eab.OpenSecret(short); err == nil || !strings.Contains(err.Error(), "32") {
		t.Fatalf("a short secret: %v", err)
	}
}

// A process without the installation's secret cannot make or check keys:
// it refuses with 503 eab_secret_unavailable instead of answering bad MAC
// to every client, and never creates a second secret while keys derived
// from the first exist.
func TestEABSecretMismatch(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		ctx := context.Background()
		kid, key := e.create(t)
		by := e.Staff("vic", actor.Verifier)
		input := []byte("x.y")
		other, err := eab.CreateSecret(filepath.Join(t.TempDir(), eab.SecretFile))
		if err != nil {
			t.Fatal(err)
		}
		foreign := eab.New(e.App.DB, e.App.Recorder, e.Clock, e.App.Accounts, eab.Config{Secret: other})
		if _, err := foreign.Verify(ctx, kid, input, mac(key, input)); !apperr.HasCode(err, apperr.CodeEABSecretUnavailable) {
			t.Fatalf("verify with another secret: %v", err)
		}
		if _, err := foreign.Create(ctx, by, e.account); !apperr.HasCode(err, apperr.CodeEABSecretUnavailable) {
			t.Fatalf("create with another secret: %v", err)
		}
		missing := filepath.Join(t.TempDir(), eab.SecretFile)
		none := eab.New(e.App.DB, e.App.Recorder, e.Clock, e.App.Accounts, eab.Config{SecretPath: missing, CreateSecret: true})
		if _, err := none.Create(ctx, by, e.account); !apperr.HasCode(err, apperr.CodeEABSecretUnavailable) {
			t.Fatalf("create without the secret while keys exist: %v", err)
		}
		if _, err := os.Stat(missing); err == nil {
			t.Fatal("a second secret was created while keys derived from the first exist")
		}
		readOnly := eab.New(e.App.DB, e.App.Recorder, e.Clock, e.App.Accounts, eab.Config{SecretPath: missing})
		if _, err := readOnly.Verify(ctx, kid, input, mac(key, input)); !apperr.HasCode(err, apperr.CodeEABSecretUnavailable) {
			t.Fatalf("verify without a secret: %v", err)
		}
	})
}

// An installation that predates EAB keys gets its secret at the first key,
// from a process that writes; a process that only reads never creates it.
func TestEABSecretCreatedAtFirstKey(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		ctx := context.Background()
		by := e.Staff("vic", actor.Verifier)
		path := filepath.Join(t.TempDir(), "keys", eab.SecretFile)
		reader := eab.New(e.App.DB, e.App.Recorder, e.Clock, e.App.Accounts, eab.Config{SecretPath: path})
		if _, err := reader.EnsureSecret(ctx); !apperr.HasCode(err, apperr.CodeEABSecretUnavailable) {
			t.Fatalf("a reader: %v", err)
		}
		if _, err := os.Stat(path); err == nil {
			t.Fatal("a reader created the secret")
		}
		writer := eab.New(e.App.DB, e.App.Recorder, e.Clock, e.App.Accounts, eab.Config{SecretPath: path, CreateSecret: true})
		c, err := writer.Create(ctx, by, e.account)
		if err != nil {
			t.Fatalf("first key: %v", err)
		}
		if _, err := os.Stat(path); err != nil || writer.SecretID() == "" {
			t.Fatalf("the secret was not created: %v", err)
		}
		key, _ := base64.RawURLEncoding.DecodeString(c.HMACKey)
		if _, err := writer.Verify(ctx, c.Kid, []byte("a.b"), mac(key, []byte("a.b"))); err != nil {
			t.Fatalf("verify the first key: %v", err)
		}
	})
}

// Binding is what the ACME server reads on every request of an ACME
// account: the key that bound it, revoked or not (docs/design.md §15:
// revoking a bound key cuts off the account it bound). The read is
// integrity-checked (§7), so clearing revoked_at by SQL revives nothing.
func TestEABBindingShowsRevocationOfABoundKey(t *testing.T) {
	each(t, func(t *testing.T, e env) {
		ctx := context.Background()
		svc := e.App.EAB
		kid, _ := e.create(t)
		bind(t, e, kid, "acme_bound")
		if k, err := svc.Binding(ctx, e.App.DB, kid); err != nil || k.BoundACMEAccountID != "acme_bound" || k.RevokedAt != nil {
			t.Fatalf("a bound key: %+v %v", k, err)
		}
		if r := e.Do("POST", "/api/v1/accounts/"+e.account+"/eab-keys/"+kid+"/revoke", e.verifier, nil); r.Status != 200 {
			t.Fatalf("revoke a bound key: %d %s", r.Status, r.Raw)
		}
		if k, err := svc.Binding(ctx, e.App.DB, kid); err != nil || k.RevokedAt == nil || k.StatusAt(e.Clock.Now()) != eab.StatusRevoked {
			t.Fatalf("a revoked bound key: %+v %v", k, err)
		}
		if _, err := e.App.DB.Exec(ctx, `UPDATE eab_keys SET revoked_at = NULL, revoked_by = '' WHERE id = ?`, kid); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Binding(ctx, e.App.DB, kid); !apperr.IsKind(err, apperr.KindIntegrity) {
			t.Fatalf("docs/design.md §7: a revocation cleared by SQL must fail the read, got %v", err)
		}
		if _, err := svc.Binding(ctx, e.App.DB, "eab_nosuchkey0000000"); !apperr.IsKind(err, apperr.KindIntegrity) {
			t.Fatalf("a kid an ACME account names that no longer exists: %v", err)
		}
	})
}
