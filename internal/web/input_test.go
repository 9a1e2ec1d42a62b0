package web_test

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
)

// auditEvents is the number of events in e's audit chain, which a refused
// request must not grow.
func auditEvents(t *testing.T, e *apptest.Env) int64 {
	t.Helper()
	rep, err := e.App.VerifyAudit(context.Background(), "")
	if err != nil || !rep.OK {
		t.Fatalf("audit: %v %+v", err, rep)
	}
	return rep.Events
}

// doRaw sends body as it is, with the Content-Type given ("" for none).
func doRaw(t *testing.T, e *apptest.Env, method, path, token, contentType string, body []byte) apptest.Response {
	t.Helper()
	req, err := http.NewRequest(method, e.Server.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := apptest.Response{Status: resp.StatusCode, Raw: raw}
	_ = json.Unmarshal(raw, &out.Body)
	return out
}

// Revoking cannot be undone, so a request must say why: a reason, or for
// staff a BR §4.9.1.1 trigger with its evidence. No body, {} or an empty
// reason is 400 missing_field naming reason, for subscribers and staff
// alike, and the certificate stays valid (docs/api.md, Orders and
// certificates).
func TestRevokeNeedsAReason(t *testing.T) {
	const site = "shop.acme-widgets.com"
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			dns, opt := apptest.WithDNS(t)
			e := apptest.New(t, b, opt)
			f := apptest.NewOrderFixture(t, e, dns, site)
			serial, _ := f.Issue(site)
			path := "/api/v1/certificates/" + serial + "/revoke"
			for _, c := range []struct {
				who, token string
				body       any
			}{
				{"subscriber, no body", f.AccTok, nil},
				{"subscriber, {}", f.AccTok, "{}"},
				{"subscriber, empty reason", f.AccTok, map[string]any{"reason": ""}},
				{"subscriber, blank reason", f.AccTok, map[string]any{"reason": "  "}},
				{"compliance, no body", f.Carol, nil},
				{"compliance, {}", f.Carol, map[string]any{}},
				{"compliance, evidence only", f.Carol, map[string]any{"evidence": "key posted publicly"}},
				{"admin, no body", e.AdminToken, nil},
			} {
				before := auditEvents(t, e)
				r := e.Do("POST", path, c.token, c.body)
				if field, code := r.ErrField(); r.Status != 400 || field != "reason" || code != "missing_field" {
					t.Errorf("%s: %d %s, want 400 missing_field naming reason", c.who, r.Status, r.Raw)
				}
				if after := auditEvents(t, e); after != before {
					t.Errorf("%s: a refused revocation wrote %d audit events", c.who, after-before)
				}
			}
			if r := e.Do("GET", "/api/v1/certificates/"+serial, f.AccTok, nil); r.Status != 200 || r.Body["status"] != "valid" || r.Body["revokedAt"] != nil {
				t.Fatalf("after refused revocations: %d %s", r.Status, r.Raw)
			}
			// A trigger still needs its evidence, and names it.
			if r := e.Do("POST", path, f.Carol, map[string]any{"trigger": "4.9.1.1#12"}); r.Status != 400 {
				t.Errorf("trigger without evidence: %d %s", r.Status, r.Raw)
			} else if field, _ := r.ErrField(); field != "evidence" {
				t.Errorf("trigger without evidence names %q: %s", field, r.Raw)
			}
			// unspecified is a reason one may give.
			r := e.Do("POST", path, f.AccTok, map[string]any{"reason": "unspecified"})
			if r.Status != 200 || r.Body["status"] != "revoked" || r.Body["reason"] != "unspecified" {
				t.Fatalf("revoke with unspecified: %d %s", r.Status, r.Raw)
			}
		})
	}
}

// mutatingRoutes lists the "METHOD /api/v1/…" patterns of every POST,
// PUT, PATCH and DELETE route the package registers, read from its source
// so that a route added later is walked too.
func mutatingRoutes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`"((?:POST|PUT|PATCH|DELETE) /api/v1/[^"]*)"`)
	seen := map[string]bool{}
	var out []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				out = append(out, m[1])
			}
		}
	}
	sort.Strings(out)
	if len(out) < 40 {
		t.Fatalf("found only %d mutating routes: %v", len(out), out)
	}
	return out
}

// Every POST, PUT, PATCH and DELETE of the API reads its body, or refuses
// one it would ignore: an unknown key is 400 unknown_field naming it, text
// that is not JSON or a JSON null 400 invalid_json, a body that is not
// application/json 400 unsupported_media_type naming body, and nothing is
// written. So {"decision":"reject"} sent to an approval never approves.
func TestEveryRouteRefusesABodyItDoesNotRead(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		root := e.User("root", actor.Admin, actor.Verifier, actor.Compliance, actor.Auditor)
		params := regexp.MustCompile(`\{[^}]+\}`)
		before := auditEvents(t, e)
		for _, route := range mutatingRoutes(t) {
			method, pattern, _ := strings.Cut(route, " ")
			path := params.ReplaceAllStringFunc(pattern, func(p string) string {
				if p == "{n}" {
					return "1"
				}
				return "nope"
			})
			for _, c := range []struct {
				contentType, body, field, code string
			}{
				{"application/json", `{"x":1}`, "x", "unknown_field"},
				{"application/json", `garbage`, "body", "invalid_json"},
				{"application/json", `null`, "body", "invalid_json"},
				{"text/plain", `{}`, "body", "unsupported_media_type"},
				{"text/plain", `garbage`, "body", "unsupported_media_type"},
			} {
				r := doRaw(t, e, method, path, root, c.contentType, []byte(c.body))
				if field, code := r.ErrField(); r.Status != 400 || field != c.field || code != c.code {
					t.Errorf("%s %s with %s %s: %d %.200s, want 400 %s naming %q", method, path, c.contentType, c.body, r.Status, r.Raw, c.code, c.field)
				}
			}
		}
		if after := auditEvents(t, e); after != before {
			t.Errorf("refused bodies wrote %d audit events", after-before)
		}
	})
}

// The endpoints that take no body accept none, or {}, and refuse anything
// else without acting: approving a user, rotating an account's token and
// one's own.
func TestBodilessEndpointsActOnlyOnAnEmptyBody(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		adam := e.User("adam", actor.Admin)
		r := e.Do("POST", "/api/v1/users", e.AdminToken, map[string]any{"name": "eve", "roles": []string{"auditor"}, "email": "eve@staff.vetca-test.com"})
		if r.Status != 201 {
			t.Fatalf("add user: %d %s", r.Status, r.Raw)
		}
		eveID, eveToken := r.Body["id"].(string), r.Body["token"].(string)
		approve := "/api/v1/users/" + eveID + "/approve"
		accToken := "/api/v1/accounts/" + f.accID + "/token"
		refused := []struct {
			name, path, token, contentType, body, field, code string
		}{
			{"approve with a decision", approve, adam, "application/json", `{"decision":"reject"}`, "decision", "unknown_field"},
			{"approve with x", approve, adam, "application/json", `{"x":1}`, "x", "unknown_field"},
			{"approve with garbage", approve, adam, "application/json", `garbage`, "body", "invalid_json"},
			{"approve with text", approve, adam, "text/plain", `garbage`, "body", "unsupported_media_type"},
			{"approve with null", approve, adam, "application/json", `null`, "body", "invalid_json"},
			{"account token with garbage", accToken, e.AdminToken, "application/json", `garbage`, "body", "invalid_json"},
			{"account token with x", accToken, e.AdminToken, "application/json", `{"x":1}`, "x", "unknown_field"},
			{"own token with x", "/api/v1/me/token", f.alice, "application/json", `{"x":1}`, "x", "unknown_field"},
			{"own token with text", "/api/v1/me/token", f.alice, "text/plain", `{}`, "body", "unsupported_media_type"},
		}
		before := auditEvents(t, e)
		for _, c := range refused {
			r := doRaw(t, e, "POST", c.path, c.token, c.contentType, []byte(c.body))
			if field, code := r.ErrField(); r.Status != 400 || field != c.field || code != c.code {
				t.Errorf("%s: %d %s, want 400 %s naming %q", c.name, r.Status, r.Raw, c.code, c.field)
			}
		}
		if after := auditEvents(t, e); after != before {
			t.Fatalf("refused requests wrote %d audit events", after-before)
		}
		// Nothing changed: eve is still pending, the old tokens still work.
		if r := e.Do("GET", "/api/v1/me", eveToken, nil); r.Status != 401 {
			t.Fatalf("eve was approved by a refused request: %d %s", r.Status, r.Raw)
		}
		if r := e.Do("GET", "/api/v1/accounts/"+f.accID, f.accToken, nil); r.Status != 200 {
			t.Fatalf("the account token was rotated by a refused request: %d %s", r.Status, r.Raw)
		}
		if r := e.Do("GET", "/api/v1/me", f.alice, nil); r.Status != 200 {
			t.Fatalf("alice's token was rotated by a refused request: %d %s", r.Status, r.Raw)
		}
		// No body, or {}, is accepted.
		if r := e.Do("POST", approve, adam, "{}"); r.Status != 200 || r.Body["status"] != "active" {
			t.Fatalf("approve with {}: %d %s", r.Status, r.Raw)
		}
		if r := e.Do("POST", accToken, e.AdminToken, nil); r.Status != 200 || r.Body["token"] == nil {
			t.Fatalf("account token without a body: %d %s", r.Status, r.Raw)
		}
		if r := e.Do("POST", "/api/v1/me/token", f.alice, map[string]any{}); r.Status != 200 || r.Body["token"] == nil {
			t.Fatalf("own token with {}: %d %s", r.Status, r.Raw)
		}
	})
}

// An error's field names the input that caused it: a subject attribute by
// its own name, the organizationId a link names, the accountId of a staff
// order, and body for a body that is not JSON.
func TestErrorsNameTheOffendingInput(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		names := []string{"shop.acme.vetca-test.com"}
		order := map[string]any{"organizationId": f.orgID, "dnsNames": names, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, names...)}
		link := "/api/v1/accounts/" + f.accID + "/organizations"
		cases := []struct {
			name, method, path, token string
			body                      any
			status                    int
			field, code               string
		}{
			{"subject attribute of the wrong type", "POST", "/api/v1/orders", f.accToken, merge(order, "subject", map[string]any{"organizationName": 5}), 400, "organizationName", "invalid_type"},
			{"second subject attribute of the wrong type", "POST", "/api/v1/orders", f.accToken, merge(order, "subject", map[string]any{"countryName": "US", "localityName": []int{1}}), 400, "localityName", "invalid_type"},
			{"subject not an object", "POST", "/api/v1/orders", f.accToken, merge(order, "subject", "Acme"), 400, "subject", "invalid_type"},
			{"staff order for no account", "POST", "/api/v1/orders", f.alice, merge(order, "accountId", "acc_nope"), 404, "accountId", "not_found"},
			{"link without organizationId", "POST", link, e.AdminToken, map[string]any{}, 400, "organizationId", "missing_field"},
			{"link an unknown organization", "POST", link, e.AdminToken, map[string]any{"organizationId": "org_nope"}, 400, "organizationId", "unknown_organization"},
		}
		for _, c := range cases {
			before := auditEvents(t, e)
			r := e.Do(c.method, c.path, c.token, c.body)
			if field, code := r.ErrField(); r.Status != c.status || field != c.field || code != c.code {
				t.Errorf("%s: %d %s, want %d %s naming %q", c.name, r.Status, r.Raw, c.status, c.code, c.field)
			}
			if after := auditEvents(t, e); after != before {
				t.Errorf("%s: a refused request wrote %d audit events", c.name, after-before)
			}
		}
		r := doRaw(t, e, "POST", "/api/v1/organizations", f.alice, "text/plain", []byte(`{}`))
		if field, code := r.ErrField(); r.Status != 400 || field != "body" || code != "unsupported_media_type" {
			t.Errorf("text/plain body: %d %s", r.Status, r.Raw)
		}
	})
}

// cursor makes an after value as a list's next cursor is made: base64url
// of a JSON array of strings.
func cursor(vals ...string) string {
	b, _ := json.Marshal(vals)
	return base64.RawURLEncoding.EncodeToString(b)
}

// A list's enumerated parameter takes only its documented values, a
// cursor only the shape of one its list gave, and a time given is applied
// whatever it is: a filter is never silently dropped or widened.
func TestListFilterValuesAreChecked(t *testing.T) {
	const site = "shop.acme-widgets.com"
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			dns, opt := apptest.WithDNS(t)
			e := apptest.New(t, b, opt)
			f := apptest.NewOrderFixture(t, e, dns, site)
			f.Issue(site)
			f.Issue(site)
			admin := e.AdminToken
			acc := "/api/v1/accounts/" + f.AccountID
			forged := url.QueryEscape(cursor("x", "y"))
			refused := []struct {
				path, field, code string
			}{
				{"/api/v1/certificates?status=bogus", "status", "invalid_value"},
				{"/api/v1/certificates?status=Revoked", "status", "invalid_value"},
				{"/api/v1/certificates?format=xml", "format", "invalid_value"},
				{"/api/v1/certificates?format=CSV", "format", "invalid_value"},
				{"/api/v1/orders?status=Issued", "status", "invalid_value"},
				{"/api/v1/orders?status=open", "status", "invalid_value"},
				{"/api/v1/change-requests?status=open", "status", "invalid_value"},
				{"/api/v1/templates?status=active", "status", "invalid_value"},
				{"/api/v1/problem-reports?status=open", "status", "invalid_value"},
				{"/api/v1/problem-reports?category=spam", "category", "invalid_value"},
				{"/api/v1/problem-reports?open=1", "open", "invalid_value"},
				{"/api/v1/problem-reports?breached=True", "breached", "invalid_value"},
				{"/api/v1/countries?subdivisions=yes", "subdivisions", "invalid_value"},
				{"/api/v1/certificates?after=" + forged, "after", "invalid_cursor"},
				{"/api/v1/certificates?format=csv&after=" + forged, "after", "invalid_cursor"},
				{"/api/v1/certificates?after=" + cursor("2026-11-23T09:00:00Z", "y"), "after", "invalid_cursor"},
				{"/api/v1/certificates?after=" + cursor("2026-11-23 09:00:00", "crt_aaaaaaaaaaaaaaaa"), "after", "invalid_cursor"},
				{"/api/v1/certificates?after=" + cursor("2026-11-23T09:00:00Z", "crt_aaaaaaaaaaaaaaaa", "x"), "after", "invalid_cursor"},
				{"/api/v1/orders?after=" + forged, "after", "invalid_cursor"},
				{"/api/v1/organizations?after=" + forged, "after", "invalid_cursor"},
				{"/api/v1/accounts?after=" + forged, "after", "invalid_cursor"},
				{"/api/v1/users?after=" + forged, "after", "invalid_cursor"},
				{"/api/v1/templates?after=" + forged, "after", "invalid_cursor"},
				{"/api/v1/change-requests?after=" + forged, "after", "invalid_cursor"},
				{"/api/v1/problem-reports?after=" + forged, "after", "invalid_cursor"},
				{"/api/v1/incidents?after=" + forged, "after", "invalid_cursor"},
				{acc + "/domains?after=" + forged, "after", "invalid_cursor"},
				{acc + "/eab-keys?after=" + forged, "after", "invalid_cursor"},
			}
			for _, c := range refused {
				r := e.Do("GET", c.path, admin, nil)
				if field, code := r.ErrField(); r.Status != 400 || field != c.field || code != c.code {
					t.Errorf("GET %s: %d %.200s, want 400 %s naming %q", c.path, r.Status, r.Raw, c.code, c.field)
				}
			}
			// Every documented value is taken.
			for _, path := range []string{
				"/api/v1/certificates?status=valid", "/api/v1/certificates?status=revoked", "/api/v1/certificates?format=csv",
				"/api/v1/orders?status=pending_approval", "/api/v1/orders?status=approved", "/api/v1/orders?status=issued",
				"/api/v1/orders?status=rejected", "/api/v1/orders?status=failed",
				"/api/v1/change-requests?status=pending", "/api/v1/change-requests?status=applied", "/api/v1/change-requests?status=rejected",
				"/api/v1/templates?status=pending_approval", "/api/v1/templates?status=approved", "/api/v1/templates?status=disabled",
				"/api/v1/problem-reports?status=received&category=keyCompromise", "/api/v1/problem-reports?status=merged&category=misissuance",
				"/api/v1/countries?subdivisions=0", "/api/v1/countries?subdivisions=1",
				"/api/v1/certificates?status=", "/api/v1/orders?status=",
			} {
				if r := e.Do("GET", path, admin, nil); r.Status != 200 {
					t.Errorf("GET %s: %d %.200s", path, r.Status, r.Raw)
				}
			}
			// A real cursor still pages.
			seen := map[string]bool{}
			for path := "/api/v1/certificates?limit=1"; ; {
				r := e.Do("GET", path, admin, nil)
				if r.Status != 200 {
					t.Fatalf("GET %s: %d %s", path, r.Status, r.Raw)
				}
				for _, it := range r.Body["certificates"].([]any) {
					seen[it.(map[string]any)["serial"].(string)] = true
				}
				next, _ := r.Body["next"].(string)
				if next == "" {
					break
				}
				path = "/api/v1/certificates?limit=1&after=" + url.QueryEscape(next)
			}
			if len(seen) != 2 {
				t.Fatalf("paging the certificates saw %d of 2", len(seen))
			}
			// The zero time is a bound like any other.
			if r := e.Do("GET", "/api/v1/certificates?notAfterBefore=0001-01-01T00:00:00Z", admin, nil); r.Status != 200 || len(r.Body["certificates"].([]any)) != 0 {
				t.Errorf("notAfterBefore=0001-01-01T00:00:00Z: %d %.300s", r.Status, r.Raw)
			}
			if r := e.Do("GET", "/api/v1/certificates?notAfterBefore=2100-01-01T00:00:00Z", admin, nil); r.Status != 200 || len(r.Body["certificates"].([]any)) != 2 {
				t.Errorf("notAfterBefore=2100-01-01T00:00:00Z: %d %.300s", r.Status, r.Raw)
			}
			if r := e.Do("GET", "/api/v1/audit/events?until=0001-01-01T00:00:00Z", admin, nil); r.Status != 200 || len(r.Body["events"].([]any)) != 0 {
				t.Errorf("until=0001-01-01T00:00:00Z: %d %.300s", r.Status, r.Raw)
			}
			if r := e.Do("GET", "/api/v1/audit/events?since=0001-01-01T00:00:00Z&until=0001-01-01T00:00:00Z", admin, nil); r.Status != 400 {
				t.Errorf("since=until=0001-01-01T00:00:00Z: %d %.300s", r.Status, r.Raw)
			}
		})
	}
}

// A JSON null is not a JSON object, and text that is not UTF-8 is refused
// naming its field, in contacts and accounts as in organizations, instead
// of being stored with U+FFFD.
func TestNullBodiesAndInvalidUTF8AreRefused(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		org := "/api/v1/organizations/" + f.orgID
		if r := e.Do("POST", org+"/versions", f.alice, map[string]any{"localityName": "Oakland"}); r.Status != 201 {
			t.Fatalf("propose: %d %s", r.Status, r.Raw)
		}
		acc := "/api/v1/accounts/" + f.accID
		cases := []struct {
			name, method, path, token, body, field string
		}{
			{"verify with null", "POST", org + "/versions/2/verify", f.bob, `null`, "body"},
			{"organization with null", "POST", "/api/v1/organizations", f.alice, `null`, "body"},
			{"contact name", "POST", acc + "/contacts", f.accToken, "{\"name\":\"Sam \xff Patel\",\"email\":\"sam@acme.vetca-test.com\"}", "name"},
			{"contact name, patched", "PATCH", acc + "/contacts/" + f.conID, f.accToken, "{\"name\":\"Sam \xff Patel\"}", "name"},
			{"contact email", "POST", acc + "/contacts", f.accToken, "{\"name\":\"Sam Patel\",\"email\":\"s\xffm@acme.vetca-test.com\"}", "email"},
			{"account name", "POST", "/api/v1/accounts", e.AdminToken, "{\"name\":\"Acme \xff Ltd\"}", "name"},
			{"organization name", "POST", "/api/v1/organizations", f.alice, "{\"organizationName\":\"Acme \xff Ltd\",\"countryName\":\"US\",\"stateOrProvinceName\":\"California\",\"localityName\":\"San Francisco\"}", "organizationName"},
		}
		for _, c := range cases {
			before := auditEvents(t, e)
			r := e.Do(c.method, c.path, c.token, []byte(c.body))
			if field, _ := r.ErrField(); r.Status != 400 || field != c.field {
				t.Errorf("%s: %d %s, want 400 naming %q", c.name, r.Status, r.Raw, c.field)
			}
			if after := auditEvents(t, e); after != before {
				t.Errorf("%s: a refused request wrote %d audit events", c.name, after-before)
			}
		}
		r := e.Do("GET", acc, f.accToken, nil)
		for _, c := range r.Body["contacts"].([]any) {
			if name := c.(map[string]any)["name"].(string); strings.ContainsRune(name, '\uFFFD') || name != "Jane Doe" {
				t.Errorf("contact stored as %q", name)
			}
		}
	})
}
