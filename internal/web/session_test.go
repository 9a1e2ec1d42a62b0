package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/auth"
	"github.com/vetca/vetca/internal/store"
)

// consoleClient is a browser stand-in: it connects to the test server from
// a chosen loopback address (each address is one client to the sign-in
// limits), sends same-origin form posts and does not follow redirects.
type consoleClient struct {
	t    *testing.T
	e    *apptest.Env
	base string
	xff  string // X-Forwarded-For to send, if any
	// origin is the Origin a form post sends (default base, as a browser
	// on the server's own address would).
	origin string
	http   *http.Client
}

func newConsoleClient(t *testing.T, e *apptest.Env, ip string) *consoleClient {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &consoleClient{t: t, e: e, base: e.Server.URL, http: &http.Client{Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status  int
	header  http.Header
	cookies []*http.Cookie
	body    string
}

// location is where a redirect points.
func (p page) location() string { return p.header.Get("Location") }

// session is the vetca_session cookie the response set, or nil.
func (p page) session() *http.Cookie {
	for _, c := range p.cookies {
		if c.Name == "vetca_session" {
			return c
		}
	}
	return nil
}

func (c *consoleClient) do(method, path string, form url.Values, cookie string) page {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		origin := c.base
		if c.origin != "" {
			origin = c.origin
		}
		req.Header.Set("Origin", origin)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "vetca_session", Value: cookie})
	}
	if c.xff != "" {
		req.Header.Set("X-Forwarded-For", c.xff)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, header: resp.Header, cookies: resp.Cookies(), body: string(raw)}
}

func (c *consoleClient) signIn(name, token string) page {
	c.t.Helper()
	return c.do("POST", "/login", url.Values{"name": {name}, "token": {token}}, "")
}

// mustSignIn signs in and returns the session cookie's value.
func (c *consoleClient) mustSignIn(name, token string) string {
	c.t.Helper()
	p := c.signIn(name, token)
	if p.status != http.StatusSeeOther || p.location() != "/console" || p.session() == nil || p.session().Value == "" {
		c.t.Fatalf("sign-in as %s: %d %s %v\n%s", name, p.status, p.location(), p.cookies, p.body)
	}
	return p.session().Value
}

// signedIn reports whether the cookie gets the console (not the sign-in
// page).
func (c *consoleClient) signedIn(cookie string) bool {
	c.t.Helper()
	p := c.do("GET", "/console", nil, cookie)
	switch {
	case p.status == http.StatusOK && strings.Contains(p.body, `id="stat-orgs"`):
		return true
	case p.status == http.StatusSeeOther && p.location() == "/":
		return false
	case p.status == http.StatusInternalServerError && strings.Contains(p.body, "integrity check failed") && strings.Contains(p.body, `id="token"`):
		return false // the sign-in page, naming the row that failed its check
	}
	c.t.Fatalf("GET /console: unexpected %d %s\n%s", p.status, p.location(), p.body)
	return false
}

func tokenID(t *testing.T, e *apptest.Env, token string) string {
	t.Helper()
	var id string
	if err := e.App.DB.QueryRow(context.Background(), `SELECT id FROM api_tokens WHERE token_hash = ?`, auth.HashToken(token)).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func countRows(t *testing.T, e *apptest.Env, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.App.DB.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The console cookie holds a random session id, not the API token; the
// database holds only the id's SHA-256; the cookie is HttpOnly,
// SameSite=Strict, Path=/ and, with an http public URL, not Secure; the
// session's actor carries the token id as API authentication does.
func TestConsoleSessionCookie(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		ctx := context.Background()
		alice := e.User("alice", actor.Verifier)
		c := newConsoleClient(t, e, "127.0.0.1")
		p := c.signIn("alice", alice)
		ck := p.session()
		if p.status != http.StatusSeeOther || ck == nil {
			t.Fatalf("sign-in: %d %v", p.status, p.cookies)
		}
		if ck.Value == alice || strings.Contains(ck.Value, alice) || strings.Contains(alice, ck.Value) {
			t.Fatalf("the cookie holds the API token: %q", ck.Value)
		}
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.Secure {
			t.Fatalf("cookie attributes: %+v", ck)
		}
		if ck.MaxAge <= 0 || ck.MaxAge > int((12*time.Hour).Seconds()) {
			t.Fatalf("cookie Max-Age %d", ck.MaxAge)
		}
		if len(ck.Value) < 43 {
			t.Fatalf("session id %q is shorter than 256 bits", ck.Value)
		}
		if !c.signedIn(ck.Value) {
			t.Fatal("the session cookie does not get the console")
		}
		// Only the hash is stored, nowhere the id itself.
		sum := sha256.Sum256([]byte(ck.Value))
		if n := countRows(t, e, `SELECT COUNT(*) FROM console_sessions WHERE secret_hash = ?`, hex.EncodeToString(sum[:])); n != 1 {
			t.Fatalf("%d session rows hold the cookie's SHA-256", n)
		}
		for _, q := range []string{
			`SELECT COUNT(*) FROM console_sessions WHERE id = ? OR secret_hash = ? OR token_id = ?`,
			`SELECT COUNT(*) FROM audit_events WHERE content LIKE '%' || ? || '%' OR entity_id = ? OR actor = ?`,
			`SELECT COUNT(*) FROM console_session_activity WHERE session_id = ? OR last_seen = ? OR last_seen = ?`,
		} {
			if n := countRows(t, e, q, ck.Value, ck.Value, ck.Value); n != 0 {
				t.Fatalf("the session id is stored in the database: %s", q)
			}
		}
		var kind, tok string
		if err := e.App.DB.QueryRow(ctx, `SELECT kind, token_id FROM console_sessions WHERE secret_hash = ?`, hex.EncodeToString(sum[:])).Scan(&kind, &tok); err != nil {
			t.Fatal(err)
		}
		if kind != "staff" || tok != tokenID(t, e, alice) {
			t.Fatalf("session row: kind %q token %q", kind, tok)
		}
		a, err := e.App.Auth.Session(ctx, ck.Value)
		if err != nil || a.Name != "alice" || a.TokenID != tokenID(t, e, alice) {
			t.Fatalf("session actor %+v (%v); want alice with token %s", a, err, tokenID(t, e, alice))
		}
		// The cookie is no API token, and the token is no cookie.
		if r := e.Do("GET", "/api/v1/me", ck.Value, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("the session id works as a bearer token: %d", r.Status)
		}
		if c.signedIn(alice) {
			t.Fatal("the raw API token works as a session cookie")
		}
		// The token must belong to the name given.
		bob := e.User("bob", actor.Verifier)
		if p := c.signIn("alice", bob); p.status != http.StatusUnauthorized || p.session() != nil {
			t.Fatalf("bob's token naming alice: %d", p.status)
		}
		// A subscriber signs in with the account id.
		r := e.Do("POST", "/api/v1/accounts", e.AdminToken, map[string]any{"name": "Acme Widgets"})
		if r.Status != http.StatusCreated {
			t.Fatalf("account: %d %s", r.Status, r.Raw)
		}
		accID, accTok := r.Body["id"].(string), r.Body["token"].(string)
		sub := c.mustSignIn(accID, accTok)
		if a, err := e.App.Auth.Session(ctx, sub); err != nil || a.Kind != actor.Subscriber || a.AccountID != accID || a.TokenID != tokenID(t, e, accTok) {
			t.Fatalf("subscriber session actor %+v (%v)", a, err)
		}
	})
}

// Secure is set when the public URL is https, even though the request
// itself came over plain HTTP (as behind a TLS-terminating proxy). (The
// handler is built with the https URL after init, which refuses an https
// CRL distribution point.)
func TestConsoleSecureCookieWithHTTPSPublicURL(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		e.App.Cfg.PublicURL = "https://pki.vetca-test.com"
		e.App.Metrics = prometheus.NewRegistry() // the first handler registered its collectors
		srv := httptest.NewServer(e.App.Handler())
		t.Cleanup(srv.Close)
		c := newConsoleClient(t, e, "127.0.0.1")
		c.base = srv.URL
		p := c.signIn("alice", e.User("alice", actor.Verifier))
		ck := p.session()
		if ck == nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
			t.Fatalf("https public URL: cookie %+v", ck)
		}
		out := c.do("POST", "/logout", url.Values{}, ck.Value)
		if cl := out.session(); cl == nil || !cl.Secure || cl.MaxAge >= 0 {
			t.Fatalf("sign-out cookie %+v", cl)
		}
	})
}

// After sign-out the old cookie gets the sign-in page, not the console:
// the session is revoked in the database, not only forgotten by the
// browser.
func TestConsoleLogoutEndsSession(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		alice := e.User("alice", actor.Verifier)
		c := newConsoleClient(t, e, "127.0.0.1")
		old := c.mustSignIn("alice", alice)
		other := c.mustSignIn("alice", alice) // another browser
		p := c.do("POST", "/logout", url.Values{}, old)
		if p.status != http.StatusSeeOther || p.location() != "/" {
			t.Fatalf("logout: %d %s", p.status, p.location())
		}
		if ck := p.session(); ck == nil || ck.Value != "" || ck.MaxAge >= 0 {
			t.Fatalf("logout did not clear the cookie: %+v", ck)
		}
		if c.signedIn(old) {
			t.Fatal("the old session cookie still gets the console after sign-out")
		}
		if p := c.do("GET", "/", nil, old); p.status != http.StatusOK || !strings.Contains(p.body, `id="token"`) {
			t.Fatalf("GET / with the old cookie: %d\n%s", p.status, p.body)
		}
		if p := c.do("GET", "/console/organizations", nil, old); p.status != http.StatusSeeOther || p.location() != "/" {
			t.Fatalf("GET /console/organizations with the old cookie: %d %s", p.status, p.location())
		}
		sum := sha256.Sum256([]byte(old))
		if n := countRows(t, e, `SELECT COUNT(*) FROM console_sessions WHERE secret_hash = ? AND revoked_at IS NOT NULL`, hex.EncodeToString(sum[:])); n != 1 {
			t.Fatal("sign-out did not revoke the session row")
		}
		if !c.signedIn(other) {
			t.Fatal("signing out one browser signed out another")
		}
	})
}

// A session unused for the idle time is refused; one used all along is
// refused at its absolute expiry.
func TestConsoleSessionExpiry(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		alice := e.User("alice", actor.Verifier)
		c := newConsoleClient(t, e, "127.0.0.1")

		idle := c.mustSignIn("alice", alice)
		e.Clock.Advance(29 * time.Minute)
		if !c.signedIn(idle) {
			t.Fatal("refused after 29 idle minutes (idle timeout 30m)")
		}
		e.Clock.Advance(29 * time.Minute) // 58 minutes after sign-in, 29 after the last request
		if !c.signedIn(idle) {
			t.Fatal("a request did not extend the idle timeout")
		}
		e.Clock.Advance(30 * time.Minute)
		if c.signedIn(idle) {
			t.Fatal("accepted after 30 idle minutes")
		}

		busy := c.mustSignIn("alice", alice)
		start := e.Clock.Now()
		for e.Clock.Now().Before(start.Add(12*time.Hour - 20*time.Minute)) {
			e.Clock.Advance(20 * time.Minute)
			if !c.signedIn(busy) {
				t.Fatalf("refused %v after sign-in while in use", e.Clock.Now().Sub(start))
			}
		}
		e.Clock.Set(start.Add(12 * time.Hour))
		if c.signedIn(busy) {
			t.Fatal("accepted 12 hours after sign-in (absolute expiry)")
		}
	})
}

// --session-idle and --session-max-age reach the sessions.
func TestConsoleSessionLifetimesConfigurable(t *testing.T) {
	short := func(c *app.Config) { c.SessionIdle, c.SessionMaxAge = 10*time.Minute, time.Hour }
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		alice := e.User("alice", actor.Verifier)
		c := newConsoleClient(t, e, "127.0.0.1")
		s := c.mustSignIn("alice", alice)
		e.Clock.Advance(10 * time.Minute)
		if c.signedIn(s) {
			t.Fatal("--session-idle 10m: accepted after 10 idle minutes")
		}
		s = c.mustSignIn("alice", alice)
		for range 6 {
			e.Clock.Advance(9 * time.Minute)
			if !c.signedIn(s) {
				t.Fatal("refused while in use")
			}
		}
		e.Clock.Advance(6 * time.Minute) // 6 idle minutes, an hour after sign-in
		if c.signedIn(s) {
			t.Fatal("--session-max-age 1h: accepted after an hour")
		}
	}, short)
}

// Rotating a token ends every session signed in with it: from the console's
// My account page (the page shows the new token once and keeps this
// browser signed in with it) and through the API.
func TestConsoleSessionsEndWithToken(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		alice := e.User("alice", actor.Verifier)
		c := newConsoleClient(t, e, "127.0.0.1")
		here := c.mustSignIn("alice", alice)
		elsewhere := c.mustSignIn("alice", alice)
		if p := c.do("GET", "/console/me", nil, here); p.status != http.StatusOK || !strings.Contains(p.body, `id="rotate"`) {
			t.Fatalf("My account: %d\n%s", p.status, p.body)
		}
		p := c.do("POST", "/console/me/token", url.Values{}, here)
		m := regexp.MustCompile(`id="new-token">(vetca_[A-Za-z0-9_-]+)<`).FindStringSubmatch(p.body)
		if p.status != http.StatusOK || m == nil {
			t.Fatalf("rotate: %d\n%s", p.status, p.body)
		}
		newTok := m[1]
		if c.signedIn(elsewhere) {
			t.Fatal("a session signed in with the rotated token survived")
		}
		if c.signedIn(here) {
			t.Fatal("the rotating browser's old session survived")
		}
		if n := countRows(t, e, `SELECT COUNT(*) FROM console_sessions WHERE secret_hash = ? AND revoked_at IS NOT NULL`, auth.HashSecret(here)); n != 1 {
			t.Fatal("the rotating browser's old session was not revoked")
		}
		next := p.session()
		if next == nil || next.Value == "" || next.Value == newTok || !c.signedIn(next.Value) {
			t.Fatalf("the rotating browser is not signed in with the new token: %+v", next)
		}
		if a, err := e.App.Auth.Session(context.Background(), next.Value); err != nil || a.TokenID != tokenID(t, e, newTok) {
			t.Fatalf("new session %+v (%v)", a, err)
		}
		if r := e.Do("GET", "/api/v1/me", alice, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("old token after rotation: %d", r.Status)
		}
		if r := e.Do("GET", "/api/v1/me", newTok, nil); r.Status != http.StatusOK {
			t.Fatalf("new token: %d", r.Status)
		}

		// Through the API.
		bob := e.User("bob", actor.Verifier)
		s := c.mustSignIn("bob", bob)
		if r := e.Do("POST", "/api/v1/me/token", bob, nil); r.Status != http.StatusOK {
			t.Fatalf("rotate over the API: %d %s", r.Status, r.Raw)
		}
		if c.signedIn(s) {
			t.Fatal("a session survived its token's rotation through the API")
		}
	})
}

// A session is refused once its user is disabled or no longer active
// (written through the audit recorder, as an audited change would be).
func TestConsoleSessionEndsWithUser(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		ctx := context.Background()
		c := newConsoleClient(t, e, "127.0.0.1")
		for name, change := range map[string]func(u *auth.User){
			"alice": func(u *auth.User) { u.Disabled = true },
			"bob":   func(u *auth.User) { u.Status = auth.UserPendingApproval },
		} {
			s := c.mustSignIn(name, e.User(name, actor.Verifier))
			err := e.App.DB.InTx(ctx, func(tx *store.Tx) error {
				var id string
				if err := tx.QueryRow(ctx, `SELECT id FROM users WHERE name = ?`, name).Scan(&id); err != nil {
					return err
				}
				users := audit.TableOf[auth.User](e.App.Recorder, "users")
				var u auth.User
				if err := users.Lock(ctx, tx, id, &u); err != nil {
					return err
				}
				change(&u)
				return users.Update(ctx, tx, actor.CLIActor("test"), "user.changed", u)
			})
			if err != nil {
				t.Fatal(err)
			}
			if c.signedIn(s) {
				t.Fatalf("%s's session survived the user's change", name)
			}
		}
	})
}

// A session row inserted by SQL, or a real one edited by SQL, signs nobody
// in.
func TestConsoleSessionForgedBySQL(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		ctx := context.Background()
		db := e.App.DB
		alice := e.User("alice", actor.Verifier)
		var userID string
		if err := db.QueryRow(ctx, `SELECT id FROM users WHERE name = 'alice'`).Scan(&userID); err != nil {
			t.Fatal(err)
		}
		c := newConsoleClient(t, e, "127.0.0.1")
		hash := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

		// Inserted: a well-formed row for alice's live token, with the
		// right row hash, but no audit event vouching for it.
		forged := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
		now := e.Clock.Now()
		if _, err := db.Exec(ctx, `INSERT INTO console_sessions (id, secret_hash, kind, user_id, account_id, token_id, created_at, expires_at, revoked_at, row_hash)
			VALUES ('ses_forged', ?, 'staff', ?, '', ?, ?, ?, NULL, 'x')`, hash(forged), userID, tokenID(t, e, alice), store.FormatTime(now), store.FormatTime(now.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
		if c.signedIn(forged) {
			t.Fatal("a session row inserted by SQL signed alice in")
		}
		if _, err := e.App.Auth.Session(ctx, forged); err == nil || !strings.Contains(err.Error(), "console_sessions") {
			t.Fatalf("forged session: %v", err)
		}

		for _, edit := range []struct {
			name, sql string
			end       bool // sign out first
		}{
			{"absolute expiry moved", `UPDATE console_sessions SET expires_at = '2099-01-01T00:00:00Z' WHERE secret_hash = ?`, false},
			{"revocation undone", `UPDATE console_sessions SET revoked_at = NULL WHERE secret_hash = ?`, true},
			{"another token", `UPDATE console_sessions SET token_id = (SELECT id FROM api_tokens WHERE user_id = (SELECT id FROM users WHERE name = 'admin')) WHERE secret_hash = ?`, false},
		} {
			s := c.mustSignIn("alice", alice)
			if edit.end {
				c.do("POST", "/logout", url.Values{}, s)
			}
			if _, err := db.Exec(ctx, edit.sql, hash(s)); err != nil {
				t.Fatal(err)
			}
			if c.signedIn(s) {
				t.Fatalf("%s by SQL: the session still signs alice in", edit.name)
			}
		}

		// A real session's hash replaced by the hash of an id the attacker
		// chose.
		s := c.mustSignIn("alice", alice)
		mine := "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
		if _, err := db.Exec(ctx, `UPDATE console_sessions SET secret_hash = ? WHERE secret_hash = ?`, hash(mine), hash(s)); err != nil {
			t.Fatal(err)
		}
		if c.signedIn(mine) {
			t.Fatal("a session whose secret_hash was replaced by SQL signs in")
		}
	})
}

func signInEvents(t *testing.T, e *apptest.Env) int {
	t.Helper()
	return countRows(t, e, `SELECT COUNT(*) FROM audit_events WHERE action LIKE 'console.sign_in%'`)
}

// 100 failed sign-ins from one client write at most a few audit events and
// the later ones get 429 (even with the right token, which is not
// checked); another client is not throttled by them; the summary counts
// every attempt.
func TestConsoleSignInThrottlePerClient(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		ctx := context.Background()
		alice := e.User("alice", actor.Verifier)
		failHundredTimes(t, e, "127.0.0.1", alice)
		other := newConsoleClient(t, e, "127.0.0.2")
		other.mustSignIn("alice", alice)

		// The burst's summary is complete once the client's bucket has
		// refilled.
		e.Clock.Advance(16 * time.Minute)
		if err := e.App.Auth.FlushSignInFailures(ctx, false); err != nil {
			t.Fatal(err)
		}
		rows, err := e.App.DB.Query(ctx, `SELECT content FROM audit_events WHERE action = 'console.sign_in_failures' ORDER BY seq`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var failures, refused, n int
		for rows.Next() {
			var content string
			if err := rows.Scan(&content); err != nil {
				t.Fatal(err)
			}
			var d struct {
				Client  string         `json:"client"`
				Users   map[string]int `json:"users"`
				Count   int            `json:"count"`
				Refused int            `json:"refused"`
				First   string         `json:"first"`
				Last    string         `json:"last"`
			}
			if err := json.Unmarshal([]byte(content), &d); err != nil {
				t.Fatal(err)
			}
			if d.Client != "127.0.0.1" || d.First == "" || d.Last == "" {
				t.Fatalf("summary %s", content)
			}
			failures, refused, n = failures+d.Count, refused+d.Refused, n+1
		}
		if failures != 10 || refused != 91 || n > 2 {
			t.Fatalf("%d summaries count %d failures and %d refusals; want at most 2 with 10 and 91", n, failures, refused)
		}
	})
}

// failHundredTimes makes 100 failed sign-ins naming alice from ip, then one with her
// right token, and checks the answers and the audit events written.
func failHundredTimes(t *testing.T, e *apptest.Env, ip, token string) {
	t.Helper()
	c := newConsoleClient(t, e, ip)
	before := signInEvents(t, e)
	for i := range 100 {
		c.xff = "198.51.100." + strconv.Itoa(i) // ignored: no trusted proxy is configured
		p := c.signIn("alice", "vetca_wrong"+strconv.Itoa(i))
		want := http.StatusUnauthorized
		if i >= auth.DefaultSignInPerClient {
			want = http.StatusTooManyRequests
		}
		if p.status != want {
			t.Fatalf("failed sign-in %d: %d, want %d", i+1, p.status, want)
		}
		if want == http.StatusTooManyRequests {
			if s, err := strconv.Atoi(p.header.Get("Retry-After")); err != nil || s < 1 {
				t.Fatalf("429 with Retry-After %q", p.header.Get("Retry-After"))
			}
		}
	}
	if p := c.signIn("alice", token); p.status != http.StatusTooManyRequests || p.session() != nil {
		t.Fatalf("a throttled client's right token: %d", p.status)
	}
	if n := signInEvents(t, e) - before; n > 3 {
		t.Fatalf("100 failed sign-ins wrote %d audit events", n)
	}
}

// The per-user limit counts failures naming one user from every client:
// once reached, a new client naming that user gets 429, while the same
// client naming someone else is not throttled.
func TestConsoleSignInThrottlePerUser(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		alice := e.User("alice", actor.Verifier)
		bob := e.User("bob", actor.Verifier)
		per := auth.DefaultSignInPerClient / 2
		for i := 0; i < auth.DefaultSignInPerUser; i++ {
			c := newConsoleClient(t, e, "127.0.0."+strconv.Itoa(10+i/per))
			if p := c.signIn("alice", "vetca_wrong"); p.status != http.StatusUnauthorized {
				t.Fatalf("failure %d naming alice: %d", i+1, p.status)
			}
		}
		fresh := newConsoleClient(t, e, "127.0.0.99")
		if p := fresh.signIn("alice", alice); p.status != http.StatusTooManyRequests {
			t.Fatalf("a new client naming throttled alice: %d", p.status)
		}
		fresh.mustSignIn("bob", bob)
		if n := countRows(t, e, `SELECT COUNT(*) FROM audit_events WHERE action = 'console.sign_in_throttled' AND entity_id = 'user:alice'`); n != 1 {
			t.Fatalf("%d throttling notices for alice", n)
		}
		// The bucket refills: one attempt every Window/PerUser.
		e.Clock.Advance(auth.DefaultSignInWindow/auth.DefaultSignInPerUser + time.Second)
		fresh.mustSignIn("alice", alice)
	})
}

// Failures that never reached a limit are still recorded: serve's
// background loop writes every open summary when it stops.
func TestConsoleSignInFailuresRecordedAtShutdown(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		e.User("alice", actor.Verifier)
		c := newConsoleClient(t, e, "127.0.0.1")
		for range 3 {
			if p := c.signIn("alice", "vetca_wrong"); p.status != http.StatusUnauthorized {
				t.Fatalf("failed sign-in: %d", p.status)
			}
		}
		summaries := `SELECT COUNT(*) FROM audit_events WHERE action = 'console.sign_in_failures' AND entity_id = 'client:127.0.0.1' AND content LIKE '%"count":3%'`
		if n := countRows(t, e, summaries); n != 0 {
			t.Fatalf("%d summaries before shutdown", n)
		}
		bg, err := e.App.StartBackground(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		bg.Stop()
		if n := countRows(t, e, summaries); n != 1 {
			t.Fatalf("%d summaries of the 3 failures after shutdown", n)
		}
	})
}

// Behind a trusted proxy, clients are told apart by the rightmost
// X-Forwarded-For address the proxy did not vouch for; an address the
// client prepends changes nothing, and the header of a peer that is not a
// trusted proxy is ignored.
func TestConsoleSignInThrottleBehindTrustedProxy(t *testing.T) {
	proxy := func(c *app.Config) { c.TrustedProxies = []string{"127.0.0.1"} }
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		alice := e.User("alice", actor.Verifier)
		c := newConsoleClient(t, e, "127.0.0.1")
		for i := range auth.DefaultSignInPerClient {
			// The client writes its own first hop; the proxy appends the peer it saw.
			c.xff = "10.9.9." + strconv.Itoa(i) + ", 198.51.100.1"
			if p := c.signIn("alice", "vetca_wrong"); p.status != http.StatusUnauthorized {
				t.Fatalf("failure %d: %d", i+1, p.status)
			}
		}
		c.xff = "198.51.100.1"
		if p := c.signIn("alice", alice); p.status != http.StatusTooManyRequests {
			t.Fatalf("throttled client behind the proxy: %d", p.status)
		}
		c.xff = "198.51.100.2"
		c.mustSignIn("alice", alice)
		if n := countRows(t, e, `SELECT COUNT(*) FROM audit_events WHERE action = 'console.sign_in_failures' AND entity_id = 'client:198.51.100.1'`); n != 1 {
			t.Fatalf("%d summaries name the client behind the proxy", n)
		}
		// Not a trusted proxy: its header is ignored, it is the client.
		bob := e.User("bob", actor.Verifier)
		direct := newConsoleClient(t, e, "127.0.0.2")
		for i := range auth.DefaultSignInPerClient {
			direct.xff = "203.0.113." + strconv.Itoa(i)
			direct.signIn("bob", "vetca_wrong")
		}
		direct.xff = "203.0.113.200"
		if p := direct.signIn("bob", bob); p.status != http.StatusTooManyRequests {
			t.Fatalf("an untrusted peer escaped its limit with X-Forwarded-For: %d", p.status)
		}
	}, proxy)
}
