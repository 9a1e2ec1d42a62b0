package validation_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/testctx"
	"github.com/vetca/vetca/internal/validation"
	"github.com/vetca/vetca/internal/validation/dcv"
)

// BR §3.2.2.4.7: a TXT record placed where Start said
// validates the domain; the same value at the name without the underscore
// label, or at another name, does not. Every attempt is stored with the
// method, its BR section and version, and the exact name queried.
func TestDNSChangeOnlyWhereTheAPISaid(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		v, err := w.App.Domains.Start(ctx, w.Sub, w.AccID, "Shop.Acme-Widgets.com.", "")
		if err != nil {
			t.Fatal(err)
		}
		if v.Domain != "shop.acme-widgets.com" || v.Method != "dns-change" || v.RecordName != "_vetca-challenge.shop.acme-widgets.com" {
			t.Fatalf("started %+v", v)
		}
		if len(v.RandomValue) < 22 || !v.ExpiresAt.Equal(br.RandomValueExpiry(w.Clock.Now())) {
			t.Fatalf("random value %q expires %v", v.RandomValue, v.ExpiresAt)
		}
		steps := []struct {
			name, at string
			want     string
		}{
			{"value at the domain itself (no underscore label)", "shop.acme-widgets.com", "invalid"},
			{"value at another underscore name", "_acme-challenge.shop.acme-widgets.com", "invalid"},
			{"value at the parent's challenge name", "_vetca-challenge.acme-widgets.com", "invalid"},
			{"value where the API said", v.RecordName, "valid"},
		}
		for i, st := range steps {
			w.DNS.AddTXT(st.at, v.RandomValue)
			a, err := w.App.Domains.Validate(ctx, w.Sub, w.AccID, v.ID)
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if a.Status != st.want || a.QueriedName != v.RecordName {
				t.Fatalf("%s: status %s queried %s (%s)", st.name, a.Status, a.QueriedName, a.Reason)
			}
			if got := count(t, w.Env, `SELECT COUNT(*) FROM domain_validation_attempts WHERE validation_id = ?`, v.ID); got != i+1 {
				t.Fatalf("%s: %d attempts stored, want %d", st.name, got, i+1)
			}
		}
		view, err := w.App.Domains.Get(ctx, vera, w.AccID, v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if view.Status != "valid" || view.ValidatedAt == nil || len(view.Attempts) != len(steps) {
			t.Fatalf("validation view %+v", view)
		}
		for _, a := range view.Attempts {
			ev := a.Evidence
			if a.Method != "dns-change" || a.MethodSection != "3.2.2.4.7" || a.MethodVersion != "1" || a.QueriedName != "_vetca-challenge.shop.acme-widgets.com" ||
				a.Resolver != w.DNS.Addr() || ev == nil || ev.Primary.Query != a.QueriedName || len(ev.Primary.DNS) == 0 || ev.Primary.DNS[0].Name != a.QueriedName {
				t.Fatalf("stored evidence %+v", a)
			}
			if a.Corroboration.Performed || !strings.Contains(a.Corroboration.Quorum, "not performed") {
				t.Fatalf("without perspectives the evidence must say corroboration was not performed: %+v", a.Corroboration)
			}
		}
		last := view.Attempts[len(view.Attempts)-1]
		if last.Answer != v.RandomValue || len(last.Answers) != 1 {
			t.Fatalf("answer %q %v", last.Answer, last.Answers)
		}
		auditClean(t, w.Env)
	})
}

// BR §3.2.2.4.7 (i): a random value is usable for 30 days at most; after
// that Validate refuses with 409 and checks nothing.
func TestExpiredRandomValue(t *testing.T) {
	for _, backend := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			w := newWorld(t, backend)
			v, err := w.App.Domains.Start(ctx, w.Sub, w.AccID, "acme-widgets.com", "dns-change")
			if err != nil {
				t.Fatal(err)
			}
			w.DNS.AddTXT(v.RecordName, v.RandomValue)
			w.Clock.Set(v.ExpiresAt)
			if _, err := w.App.Domains.Validate(ctx, w.Sub, w.AccID, v.ID); err != nil {
				t.Fatalf("at expiresAt itself: %v", err)
			}
			w.Clock.Advance(time.Second)
			_, err = w.App.Domains.Validate(ctx, w.Sub, w.AccID, v.ID)
			wantErr(t, err, apperr.KindConflict, "", "random_value_expired")
			if n := count(t, w.Env, `SELECT COUNT(*) FROM domain_validation_attempts`); n != 1 {
				t.Fatalf("%d attempts stored; the refused one must not be", n)
			}
		})
	}
}

// website is a subscriber's web server on loopback: each host name gets a
// behaviour.
type website struct {
	srv    *httptest.Server
	port   int
	mu     sync.Mutex
	bodies map[string]string // host -> body served at the validation file
	during func()            // called while serving "hook." hosts, before answering
	// slowArrived receives when a "slow." host's request has come in (and
	// is being held).
	slowArrived chan struct{}
}

// expireWhenHeld is a website checker whose check of a "slow." host sees
// its deadline pass once the website holds the request: a timeout at a
// point the test knows, not a wall-clock race with a loopback server.
type expireWhenHeld struct {
	validation.WebsiteChecker
	ws *website
}

func (e expireWhenHeld) Check(ctx context.Context, host, fileName, value string) (dcv.Evidence, error) {
	if !strings.HasPrefix(host, "slow.") {
		return e.WebsiteChecker.Check(ctx, host, fileName, value)
	}
	ctx, expire := testctx.Expiring(ctx)
	defer expire()
	go func() {
		select {
		case <-e.ws.slowArrived:
		case <-time.After(60 * time.Second):
		}
		expire()
	}()
	return e.WebsiteChecker.Check(ctx, host, fileName, value)
}

func newWebsite(t *testing.T) *website {
	ws := &website{bodies: map[string]string{}, slowArrived: make(chan struct{}, 1)}
	ws.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.Host)
		if host == "" {
			host = r.Host
		}
		if !strings.HasPrefix(r.URL.Path, "/.well-known/pki-validation/") {
			http.NotFound(rw, r)
			return
		}
		switch {
		case strings.HasPrefix(host, "redirect."):
			http.Redirect(rw, r, "http://elsewhere.example-host.net"+r.URL.Path, http.StatusFound)
		case strings.HasPrefix(host, "slow."):
			select {
			case ws.slowArrived <- struct{}{}:
			default:
			}
			select {
			case <-r.Context().Done():
			case <-time.After(60 * time.Second):
			}
		default:
			ws.mu.Lock()
			body, during := ws.bodies[host], ws.during
			ws.mu.Unlock()
			if during != nil && strings.HasPrefix(host, "hook.") {
				during()
			}
			fmt.Fprint(rw, body)
		}
	}))
	t.Cleanup(ws.srv.Close)
	_, p, _ := net.SplitHostPort(ws.srv.Listener.Addr().String())
	ws.port, _ = strconv.Atoi(p)
	return ws
}

func (ws *website) setDuring(f func()) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.during = f
}

func (ws *website) serve(host, body string) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.bodies[host] = body
}

// BR §3.2.2.4.18: website-change works against a server
// on loopback and fails on a wrong body, a redirect to another host, or a
// timeout.
func TestWebsiteChange(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		ws := newWebsite(t)
		svc := w.serviceWrapped(t, w.DNS.Addr(), ws.port, 10*time.Second, nil, func(h validation.WebsiteChecker) validation.WebsiteChecker {
			return expireWhenHeld{WebsiteChecker: h, ws: ws}
		})
		cases := []struct {
			host, body, want, reason string
		}{
			{"good.acme-widgets.com", "VALUE", "valid", ""},
			{"wrong.acme-widgets.com", "not the random value", "invalid", "does not"},
			{"redirect.acme-widgets.com", "VALUE", "invalid", "refused redirect"},
			{"slow.acme-widgets.com", "VALUE", "invalid", "time"},
		}
		for _, c := range cases {
			w.DNS.AddA(c.host, "127.0.0.1")
			v, err := svc.Start(ctx, w.Sub, w.AccID, c.host, "website-change")
			if err != nil {
				t.Fatal(err)
			}
			wantURL := fmt.Sprintf("http://%s:%d/.well-known/pki-validation/", c.host, ws.port)
			if !strings.HasPrefix(v.URL, wantURL) || v.RecordName != "" || strings.Contains(v.URL, v.RandomValue) {
				t.Fatalf("%s: url %q", c.host, v.URL)
			}
			body := c.body
			if body == "VALUE" {
				body = v.RandomValue + "\n"
			}
			ws.serve(c.host, body)
			a, err := svc.Validate(ctx, w.Sub, w.AccID, v.ID)
			if err != nil {
				t.Fatal(err)
			}
			if a.Status != c.want || a.Method != "website-change" || a.MethodSection != "3.2.2.4.18" || a.QueriedName != v.URL {
				t.Fatalf("%s: %+v", c.host, a)
			}
			if c.reason != "" && !strings.Contains(strings.ToLower(a.Reason), c.reason) {
				t.Errorf("%s: reason %q does not say %q", c.host, a.Reason, c.reason)
			}
			if len(a.Evidence.HTTP) == 0 || !strings.HasPrefix(a.Evidence.HTTP[0].RemoteAddr, "127.0.0.1:") {
				t.Fatalf("%s: HTTP evidence %+v", c.host, a.Evidence.HTTP)
			}
		}
		auditClean(t, w.Env)
	})
}

// Network I/O must not run inside a database transaction: while a website
// check is waiting for the subscriber's server to answer, another write (a
// Start) goes through. On SQLite a transaction holds the one write lock, so
// a check made inside one would block that Start until the check gave up.
func TestNoTransactionDuringNetworkIO(t *testing.T) {
	for _, backend := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			w := newWorld(t, backend)
			ws := newWebsite(t)
			svc := w.service(t, w.DNS.Addr(), ws.port, 10*time.Second, nil)
			w.DNS.AddA("hook.acme-widgets.com", "127.0.0.1")
			v, err := svc.Start(ctx, w.Sub, w.AccID, "hook.acme-widgets.com", "website-change")
			if err != nil {
				t.Fatal(err)
			}
			ws.serve("hook.acme-widgets.com", v.RandomValue)
			done := make(chan error, 1)
			ws.setDuring(func() {
				_, err := w.App.Domains.Start(ctx, w.Sub, w.AccID, "other.acme-widgets.com", "dns-change")
				done <- err
			})
			if _, err := svc.Validate(ctx, w.Sub, w.AccID, v.ID); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("a write during the check's network I/O failed: %v", err)
				}
			default:
				t.Fatal("a write during the check's network I/O had not completed when the check ended")
			}
		})
	}
}

// Only dns-change takes a wildcard (BR §3.2.2.4.18 is unsuitable for
// wildcards); its record is at the base name.
func TestWildcardOnlyForDNSChange(t *testing.T) {
	for _, backend := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			w := newWorld(t, backend)
			v, err := w.App.Domains.Start(ctx, w.Sub, w.AccID, "*.acme-widgets.com", "dns-change")
			if err != nil {
				t.Fatal(err)
			}
			if v.Domain != "*.acme-widgets.com" || v.RecordName != "_vetca-challenge.acme-widgets.com" {
				t.Fatalf("wildcard start %+v", v)
			}
			_, err = w.App.Domains.Start(ctx, w.Sub, w.AccID, "*.acme-widgets.com", "website-change")
			e := wantErr(t, err, apperr.KindInvalid, "domain", "wildcard_refused")
			if !strings.Contains(e.Message, "website-change") {
				t.Errorf("message %q", e.Message)
			}
		})
	}
}

// Who may start and validate: the account's subscriber, a verifier or an
// admin; not another account's subscriber, nor an auditor.
func TestValidationAuthorization(t *testing.T) {
	for _, backend := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			w := newWorld(t, backend)
			otherID, other := w.account(t, "Other Corp")
			auditor := vera
			auditor.Roles = nil
			v, err := w.App.Domains.Start(ctx, vera, w.AccID, "acme-widgets.com", "")
			if err != nil {
				t.Fatal(err)
			}
			_, err = w.App.Domains.Start(ctx, other, w.AccID, "acme-widgets.com", "")
			wantErr(t, err, apperr.KindForbidden, "", "forbidden")
			_, err = w.App.Domains.Validate(ctx, other, w.AccID, v.ID)
			wantErr(t, err, apperr.KindForbidden, "", "forbidden")
			// Its own account path does not reach another account's validation.
			_, err = w.App.Domains.Validate(ctx, other, otherID, v.ID)
			wantErr(t, err, apperr.KindNotFound, "domainId", "not_found")
			_, _, err = w.App.Domains.List(ctx, auditor, w.AccID, store.Page{})
			wantErr(t, err, apperr.KindForbidden, "", "forbidden")
			_, err = w.App.Domains.Start(ctx, vera, "acc_doesnotexist00000", "acme-widgets.com", "")
			wantErr(t, err, apperr.KindNotFound, "", "not_found")
			list, _, err := w.App.Domains.List(ctx, w.Sub, w.AccID, store.Page{})
			if err != nil || len(list) != 1 || list[0].Status != validation.StatusPending {
				t.Fatalf("list %+v %v", list, err)
			}
		})
	}
}

// Concurrent checks of one validation each store their attempt, numbered
// without gaps or duplicates, and the row stays what the audit trail
// vouches for. A failed re-check after a valid one is stored but does not
// undo the validation (the data was obtained; BR §4.2.1 counts from it).
func TestConcurrentAndRepeatedValidate(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		v, err := w.App.Domains.Start(ctx, w.Sub, w.AccID, "acme-widgets.com", "dns-change")
		if err != nil {
			t.Fatal(err)
		}
		w.DNS.AddTXT(v.RecordName, v.RandomValue)
		const n = 6
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := w.App.Domains.Validate(ctx, w.Sub, w.AccID, v.ID); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		w.DNS.RemoveName(v.RecordName)
		a, err := w.App.Domains.Validate(ctx, w.Sub, w.AccID, v.ID)
		if err != nil || a.Status != "invalid" || a.Number != n+1 {
			t.Fatalf("re-check without the record: %v %+v", err, a)
		}
		view, err := w.App.Domains.Get(ctx, w.Sub, w.AccID, v.ID)
		if err != nil || view.Status != "valid" || len(view.Attempts) != n+1 {
			t.Fatalf("%v %+v", err, view)
		}
		for i, a := range view.Attempts {
			if a.Number != i+1 {
				t.Fatalf("attempt numbers %d at %d", a.Number, i)
			}
		}
		auditClean(t, w.Env)
	})
}
