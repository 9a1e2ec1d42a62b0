package validation_test

import (
	"context"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/caa"
	"github.com/vetca/vetca/internal/dnstest"
	"github.com/vetca/vetca/internal/resolver"
	"github.com/vetca/vetca/internal/validation"
	"github.com/vetca/vetca/internal/validation/dcv"
)

var ctx = context.Background()

// vera is a verifier; subscribers are made per account.
var vera = actor.Actor{Kind: actor.Staff, ID: "usr_vera", Name: "vera", Roles: []actor.Role{actor.Verifier}}

// world is an in-process vetca whose resolver is a DNS server of the
// test's own, with one subscriber account.
type world struct {
	*apptest.Env
	DNS   *dnstest.Server
	AccID string
	Sub   actor.Actor // the account's subscriber
}

func newWorld(t *testing.T, backend string, opts ...apptest.Option) *world {
	t.Helper()
	d, opt := apptest.WithDNS(t)
	w := &world{Env: apptest.New(t, backend, append([]apptest.Option{opt}, opts...)...), DNS: d}
	w.AccID, w.Sub = w.account(t, "Acme Widgets")
	return w
}

// account creates an account through the API and returns it with its
// subscriber actor.
func (w *world) account(t *testing.T, name string) (string, actor.Actor) {
	t.Helper()
	r := w.Do("POST", "/api/v1/accounts", w.AdminToken, map[string]any{"name": name, "organizations": []string{}})
	if r.Status != 201 {
		t.Fatalf("create account: %d %s", r.Status, r.Raw)
	}
	id := r.Body["id"].(string)
	return id, actor.Actor{Kind: actor.Subscriber, ID: id, Name: name, AccountID: id}
}

// each runs fn on both backends.
func each(t *testing.T, fn func(t *testing.T, w *world)) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) { fn(t, newWorld(t, b)) })
	}
}

// service builds a second domain service on w's database querying
// dnsAddr, with website checks on httpPort bounded by httpTimeout. Its
// website checks may reach loopback (AllowPrivateValidationTargets), where
// the tests' websites are.
func (w *world) service(t *testing.T, dnsAddr string, httpPort int, httpTimeout time.Duration, corr validation.Corroborator) *validation.Service {
	t.Helper()
	return w.serviceWrapped(t, dnsAddr, httpPort, httpTimeout, corr, nil)
}

// serviceWrapped is service with the website checker passed through wrap.
func (w *world) serviceWrapped(t *testing.T, dnsAddr string, httpPort int, httpTimeout time.Duration, corr validation.Corroborator,
	wrap func(validation.WebsiteChecker) validation.WebsiteChecker) *validation.Service {
	t.Helper()
	// The tests' DNS servers answer every query: the limit only bounds a
	// broken run.
	r, err := resolver.New(resolver.Config{Server: dnsAddr, Timeout: 10 * time.Second, Clock: w.Clock})
	if err != nil {
		t.Fatal(err)
	}
	d, err := dcv.NewDNSChecker(r, w.Clock)
	if err != nil {
		t.Fatal(err)
	}
	h, err := dcv.NewHTTPChecker(dcv.HTTPConfig{Resolver: r, Clock: w.Clock, Port: httpPort, Timeout: httpTimeout,
		AllowPrivateValidationTargets: true})
	if err != nil {
		t.Fatal(err)
	}
	c, err := caa.NewChecker(r, []string{apptest.CAAIdentity}, w.Clock)
	if err != nil {
		t.Fatal(err)
	}
	var web validation.WebsiteChecker = h
	if wrap != nil {
		web = wrap(h)
	}
	s, err := validation.New(w.App.DB, w.App.Recorder, w.Clock, w.App.Accounts, validation.Checkers{DNS: d, Website: web, CAA: c, Corroborator: corr}, validation.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// auditClean fails the test unless audit.Verify finds nothing.
func auditClean(t *testing.T, e *apptest.Env) {
	t.Helper()
	rep, err := e.App.VerifyAudit(ctx, "")
	if err != nil || !rep.OK {
		t.Fatalf("audit verify: %v %+v", err, rep)
	}
}

func auditVerify(w *world) (*audit.Report, error) {
	return w.App.VerifyAudit(ctx, "")
}

func wantErr(t *testing.T, err error, kind apperr.Kind, field string, code apperr.Code) *apperr.Error {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Kind != kind || e.Field != field || e.Code != code {
		t.Fatalf("error %v, want kind %d field %q code %q", err, kind, field, code)
	}
	return e
}

func count(t *testing.T, e *apptest.Env, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.App.DB.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
