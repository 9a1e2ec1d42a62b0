// Package apptest starts a fully wired vetca in-process for tests: a real
// database (SQLite, or PostgreSQL when VETCA_TEST_POSTGRES is set), the
// real HTTP handler on a loopback httptest server, a real in-process SMTP
// server, and an injected fake clock.
package apptest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/change"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/lint"
	"github.com/vetca/vetca/internal/notify"
	"github.com/vetca/vetca/internal/notify/smtptest"
	"github.com/vetca/vetca/internal/store/storetest"
)

// Env is a running in-process vetca.
type Env struct {
	T          testing.TB
	Cfg        app.Config // what App was opened with
	App        *app.App
	Clock      *clock.Fake
	Server     *httptest.Server
	SMTP       *smtptest.Server
	Deliverer  *notify.Deliverer
	AdminToken string
	tokens     map[string]string
}

// Backend names.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Option adjusts the configuration before the app is opened.
type Option func(*app.Config)

// Each runs fn against every available backend.
func Each(t *testing.T, fn func(t *testing.T, e *Env), opts ...Option) {
	for _, b := range []string{SQLite, Postgres} {
		t.Run(b, func(t *testing.T) { fn(t, New(t, b, opts...)) })
	}
}

// New starts vetca on backend.
func New(t testing.TB, backend string, opts ...Option) *Env {
	t.Helper()
	return NewWithLints(t, backend, nil, opts...)
}

// NewWithLints is New with extra pre-issuance lints (to force failures).
func NewWithLints(t testing.TB, backend string, lints []lint.Option, opts ...Option) *Env {
	t.Helper()
	return NewWithOpen(t, backend, app.Options{ExtraLints: lints}, opts...)
}

// NewWithHooks is New with issuance hooks (to hold or fail a step).
func NewWithHooks(t testing.TB, backend string, hooks *issuance.Hooks, opts ...Option) *Env {
	t.Helper()
	return NewWithOpen(t, backend, app.Options{IssuanceHooks: hooks}, opts...)
}

// NewWithOpen is New with the test-only parts of app.Options (extra lints,
// issuance hooks) taken from open.
func NewWithOpen(t testing.TB, backend string, open app.Options, opts ...Option) *Env {
	t.Helper()
	var dsn string
	if backend == Postgres {
		dsn = storetest.PostgresDSN(t)
	} else {
		dsn = storetest.SQLiteDSN(t)
	}
	clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
	smtp := smtptest.New(t)
	cfg := app.Config{DB: dsn, KeyDir: filepath.Join(t.TempDir(), "keys"), PublicURL: "http://pki.vetca-test.com",
		ComplianceEmail: "compliance@ca.vetca-test.com", SMTP: smtp.Addr()}
	for _, o := range opts {
		o(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	a, err := app.Open(ctx, cfg, clk, log, app.Options{Migrate: true, Write: true, CreateAuditKey: true, ExtraLints: open.ExtraLints, IssuanceHooks: open.IssuanceHooks})
	if err != nil {
		t.Fatalf("open app: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	res, err := app.Init(ctx, a, app.InitOptions{By: actor.CLIActor("test"), Organization: "vetca Test", Country: "US"})
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	e := &Env{T: t, Cfg: cfg, App: a, Clock: clk, SMTP: smtp, AdminToken: res.AdminToken, tokens: map[string]string{"admin": res.AdminToken}}
	e.Server = httptest.NewServer(a.Handler())
	t.Cleanup(e.Server.Close)
	e.Deliverer = notify.NewDeliverer(a.DB, a.Recorder, clk, &notify.SMTPSender{Addr: smtp.Addr(), Timeout: 5 * time.Second}, a.Cfg.MailFrom, log)
	return e
}

// Replica opens a second vetca on e's database and keys, as another
// `serve` replica sharing them would be: its own App (its own memory, its
// own clock, starting at e's time) and its HTTP handler on a loopback
// server. Tokens made on e work on it.
func (e *Env) Replica() *Env {
	t := e.T
	t.Helper()
	clk := clock.NewFake(e.Clock.Now())
	a, err := app.Open(context.Background(), e.Cfg, clk, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Write: true})
	if err != nil {
		t.Fatalf("open a second replica: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	r := &Env{T: t, Cfg: e.Cfg, App: a, Clock: clk, SMTP: e.SMTP, AdminToken: e.AdminToken, tokens: e.tokens}
	r.Server = httptest.NewServer(a.Handler())
	t.Cleanup(r.Server.Close)
	return r
}

// User creates (once) a staff user and returns its token.
func (e *Env) User(name string, roles ...actor.Role) string {
	e.T.Helper()
	if tok, ok := e.tokens[name]; ok {
		return tok
	}
	_, tok, err := e.App.Auth.AddUser(context.Background(), actor.CLIActor("test"), name, roles, name+"@staff.vetca-test.com")
	if err != nil {
		e.T.Fatalf("add user %s: %v", name, err)
	}
	e.tokens[name] = tok
	return tok
}

// Staff creates (once) a staff user and returns the actor its token
// authenticates as, for calling domain services directly.
func (e *Env) Staff(name string, roles ...actor.Role) actor.Actor {
	e.T.Helper()
	return e.Actor(e.User(name, roles...))
}

// Actor returns the actor a token authenticates as; the test fails when
// it authenticates nobody.
func (e *Env) Actor(token string) actor.Actor {
	e.T.Helper()
	a, err := e.App.Auth.Authenticate(context.Background(), token)
	if err != nil {
		e.T.Fatalf("authenticate: %v", err)
	}
	return a
}

// Response is a decoded API response.
type Response struct {
	Status int
	Body   map[string]any
	Raw    []byte
}

// ErrField returns error.field, error.code.
func (r Response) ErrField() (field, code string) {
	m, _ := r.Body["error"].(map[string]any)
	f, _ := m["field"].(string)
	c, _ := m["code"].(string)
	return f, c
}

// Do sends a request; body may be nil, a string (sent raw) or a value (JSON).
func (e *Env) Do(method, path, token string, body any) Response {
	e.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = bytes.NewBufferString(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.T.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.Server.URL+path, rd)
	if err != nil {
		e.T.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.T.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.T.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	out := Response{Status: resp.StatusCode, Raw: raw}
	// Only JSON answers are decoded; one that says it is JSON must be.
	if err := json.Unmarshal(raw, &out.Body); err != nil && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		e.T.Fatalf("%s %s: HTTP %d with malformed JSON: %v: %s", method, path, out.Status, err, raw)
	}
	if m, ok := out.Body["error"].(map[string]any); ok {
		if c, _ := m["code"].(string); !apperr.Known(apperr.Code(c)) {
			e.T.Errorf("%s %s: HTTP %d with error code %q, which internal/apperr/codes.go does not declare", method, path, out.Status, c)
		}
	}
	return out
}

// Deliver runs the outbox once.
func (e *Env) Deliver() {
	e.T.Helper()
	if _, _, err := e.Deliverer.RunOnce(context.Background()); err != nil {
		e.T.Fatal(err)
	}
}

// DisableUser disables staff user id the only way vetca offers: an amend
// change request of users.disabled by an admin, approved by two
// compliance users (docs/design.md §7, "Corrections are change requests").
func (e *Env) DisableUser(id string) {
	e.T.Helper()
	ctx := context.Background()
	req, err := e.App.Changes.Create(ctx, e.Staff("rita", actor.Admin), change.Input{Kind: change.KindAmend, Table: "users", RowID: id,
		Field: "disabled", Value: json.RawMessage(`true`), Reason: "left the company"})
	if err != nil {
		e.T.Fatal(err)
	}
	for _, name := range []string{"cleo", "cyrus"} {
		if _, err := e.App.Changes.Approve(ctx, e.Staff(name, actor.Compliance), req.ID); err != nil {
			e.T.Fatal(err)
		}
	}
}
