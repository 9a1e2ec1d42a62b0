package web_test

import (
	"encoding/base64"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
)

var (
	hashInputRe  = regexp.MustCompile(`name="templateHash" value="([0-9a-f]{64})"`)
	createdHMAC  = regexp.MustCompile(`id="created-hmac">([A-Za-z0-9_-]+)<`)
	createdKidRe = regexp.MustCompile(`id="created-kid">(eab_[a-z2-7]+)<`)
)

// The templates pages: verifiers approve from the template's page with the
// hash it shows, the creator is refused with the service's reason, an
// auditor reads without forms, a compliance user disables; a subscriber
// sees its own account's templates only.
func TestTemplatesConsole(t *testing.T) {
	for _, backend := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			dns, opt := apptest.WithDNS(t)
			e := apptest.New(t, backend, opt)
			f := apptest.NewOrderFixture(t, e, dns)
			r := e.Do("POST", "/api/v1/templates", f.Alice, map[string]any{"accountId": f.AccountID, "organizationId": f.OrgID,
				"dnsNames": []string{"*.acme-widgets.com"}, "keyTypes": []string{"ecdsa-p256"}, "maxValidityDays": 90})
			if r.Status != 201 {
				t.Fatalf("template: %d %s", r.Status, r.Raw)
			}
			id, hash := r.Body["id"].(string), r.Body["templateHash"].(string)
			c := newConsoleClient(t, e, "127.0.0.1")
			bob := c.mustSignIn("bob", f.Bob)
			list := c.do("GET", "/console/templates", nil, bob)
			for _, want := range []string{id, "*.acme-widgets.com", "ecdsa-p256", "90 days", "pending_approval", "0 of 2", "Acme Widgets Inc.", ">Acme Widgets<"} {
				if list.status != 200 || !strings.Contains(list.body, want) {
					t.Fatalf("templates list lacks %q: %d\n%s", want, list.status, list.body)
				}
			}
			tp := c.do("GET", "/console/templates/"+id, nil, bob)
			m := hashInputRe.FindStringSubmatch(tp.body)
			if tp.status != 200 || m == nil || m[1] != hash || !strings.Contains(tp.body, `id="disable"`) {
				t.Fatalf("template page: %d\n%s", tp.status, tp.body)
			}
			if p := c.do("POST", "/console/templates/"+id+"/approve", url.Values{"templateHash": {hash}}, bob); p.status != http.StatusSeeOther ||
				!strings.HasPrefix(p.location(), "/console/templates/"+id+"?ok=") {
				t.Fatalf("approve: %d %s\n%s", p.status, p.location(), p.body)
			}
			alice := newConsoleClient(t, e, "127.0.0.2").mustSignIn("alice", f.Alice)
			p := c.do("POST", "/console/templates/"+id+"/approve", url.Values{"templateHash": {hash}}, alice)
			if p.status != http.StatusForbidden || !strings.Contains(html.UnescapeString(p.body), "created or changed template") {
				t.Fatalf("the creator approved in the console: %d\n%s", p.status, p.body)
			}
			carol := newConsoleClient(t, e, "127.0.0.3").mustSignIn("carol", f.Carol)
			if p := c.do("POST", "/console/templates/"+id+"/approve", url.Values{"templateHash": {strings.Repeat("a", 64)}}, carol); p.status != http.StatusConflict ||
				!strings.Contains(p.body, "approvals are void") {
				t.Fatalf("a stale hash: %d\n%s", p.status, p.body)
			}
			if p := c.do("POST", "/console/templates/"+id+"/approve", url.Values{"templateHash": {hash}}, carol); p.status != http.StatusSeeOther {
				t.Fatalf("second approval: %d\n%s", p.status, p.body)
			}
			if tp := c.do("GET", "/console/templates/"+id, nil, carol); !strings.Contains(tp.body, `id="template-status">approved`) {
				t.Fatalf("after two approvals:\n%s", tp.body)
			}
			audrey := newConsoleClient(t, e, "127.0.0.4").mustSignIn("audrey", f.Auditor)
			if tp := c.do("GET", "/console/templates/"+id, nil, audrey); tp.status != 200 || strings.Contains(tp.body, `id="approve"`) || strings.Contains(tp.body, `id="disable"`) {
				t.Fatalf("the auditor's template page: %d\n%s", tp.status, tp.body)
			}
			if p := c.do("POST", "/console/templates/"+id+"/disable", url.Values{"reason": {"customer left"}}, carol); p.status != http.StatusSeeOther {
				t.Fatalf("disable: %d\n%s", p.status, p.body)
			}
			if tp := c.do("GET", "/console/templates/"+id, nil, bob); !strings.Contains(tp.body, `id="disabled"`) || strings.Contains(tp.body, `id="approve"`) {
				t.Fatalf("disabled template page:\n%s", tp.body)
			}
			sub := newConsoleClient(t, e, "127.0.0.5").mustSignIn(f.AccountID, f.AccTok)
			if l := c.do("GET", "/console/templates", nil, sub); l.status != 200 || !strings.Contains(l.body, id) {
				t.Fatalf("the subscriber's templates: %d\n%s", l.status, l.body)
			}
			other := e.Do("POST", "/api/v1/accounts", e.AdminToken, map[string]any{"name": "Other Co", "organizations": []string{f.OrgID}})
			otherSub := newConsoleClient(t, e, "127.0.0.6").mustSignIn(other.Body["id"].(string), other.Body["token"].(string))
			if l := c.do("GET", "/console/templates", nil, otherSub); l.status != 200 || strings.Contains(l.body, id) {
				t.Fatalf("another subscriber sees the template: %d\n%s", l.status, l.body)
			}
			if tp := c.do("GET", "/console/templates/"+id, nil, otherSub); tp.status != http.StatusNotFound {
				t.Fatalf("another subscriber opened the template: %d", tp.status)
			}
		})
	}
}

// The EAB keys page of an account: a verifier creates a key and sees its
// HMAC key on that answer only (never cached, never again); anyone allowed
// revokes it; an auditor reads without forms; a subscriber sees its own
// account's keys only; a cross-site form post is refused.
func TestEABKeysConsole(t *testing.T) {
	for _, backend := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			e := apptest.New(t, backend)
			a := e.Do("POST", "/api/v1/accounts", e.AdminToken, map[string]any{"name": "Acme Widgets"})
			accountID, accTok := a.Body["id"].(string), a.Body["token"].(string)
			e.User("vic", actor.Verifier)
			e.User("audrey", actor.Auditor)
			c := newConsoleClient(t, e, "127.0.0.1")
			vic := c.mustSignIn("vic", e.User("vic"))
			path := "/console/accounts/" + accountID + "/eab-keys"
			if acc := c.do("GET", "/console/accounts/"+accountID, nil, vic); !strings.Contains(acc.body, `href="`+path+`"`) {
				t.Fatalf("the account page does not link its EAB keys:\n%s", acc.body)
			}
			p := c.do("GET", path, nil, vic)
			if p.status != 200 || !strings.Contains(p.body, "No EAB keys.") || !strings.Contains(p.body, `id="create-key"`) {
				t.Fatalf("EAB keys page: %d\n%s", p.status, p.body)
			}
			p = c.do("POST", path, url.Values{}, vic)
			hm, km := createdHMAC.FindStringSubmatch(p.body), createdKidRe.FindStringSubmatch(p.body)
			if p.status != 200 || hm == nil || km == nil || p.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("create: %d %v\n%s", p.status, p.header, p.body)
			}
			if key, err := base64.RawURLEncoding.DecodeString(hm[1]); err != nil || len(key) != 32 {
				t.Fatalf("the HMAC key shown: %q %v", hm[1], err)
			}
			kid := km[1]
			p = c.do("GET", path, nil, vic)
			if !strings.Contains(p.body, kid) || strings.Contains(p.body, hm[1]) || !strings.Contains(p.body, `id="revoke-`+kid+`"`) {
				t.Fatalf("the page shows the key again, or not the kid:\n%s", p.body)
			}
			audrey := newConsoleClient(t, e, "127.0.0.2").mustSignIn("audrey", e.User("audrey"))
			if p := c.do("GET", path, nil, audrey); p.status != 200 || !strings.Contains(p.body, kid) || strings.Contains(p.body, `id="create-key"`) || strings.Contains(p.body, `id="revoke-`) {
				t.Fatalf("the auditor's page: %d\n%s", p.status, p.body)
			}
			if p := c.do("POST", path, url.Values{}, audrey); p.status != http.StatusForbidden {
				t.Fatalf("an auditor created a key: %d\n%s", p.status, p.body)
			}
			if p := c.do("POST", path+"/"+kid+"/revoke", url.Values{}, audrey); p.status != http.StatusForbidden {
				t.Fatalf("an auditor revoked a key: %d\n%s", p.status, p.body)
			}
			req, _ := http.NewRequest("POST", e.Server.URL+path+"/"+kid+"/revoke", strings.NewReader(""))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", "https://evil.example")
			req.AddCookie(&http.Cookie{Name: "vetca_session", Value: vic})
			if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("a cross-site revoke: %v %v", resp, err)
			} else {
				resp.Body.Close()
			}
			sub := newConsoleClient(t, e, "127.0.0.3").mustSignIn(accountID, accTok)
			if p := c.do("POST", path+"/"+kid+"/revoke", url.Values{}, sub); p.status != http.StatusSeeOther {
				t.Fatalf("the subscriber revokes its key: %d\n%s", p.status, p.body)
			}
			if p := c.do("GET", path, nil, vic); !strings.Contains(p.body, `badge revoked`) || strings.Contains(p.body, `id="revoke-`+kid+`"`) {
				t.Fatalf("after revocation:\n%s", p.body)
			}
			other := e.Do("POST", "/api/v1/accounts", e.AdminToken, map[string]any{"name": "Other"})
			if p := c.do("GET", "/console/accounts/"+other.Body["id"].(string)+"/eab-keys", nil, sub); p.status != http.StatusForbidden {
				t.Fatalf("a subscriber opened another account's keys: %d", p.status)
			}
		})
	}
}

// An account's Templates link lists that account's templates, and the
// page's status filter keeps to that account: submitting the filter form
// (a GET of its fields) does not widen the list to every account's.
func TestTemplatesConsoleFilterKeepsAccount(t *testing.T) {
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.SQLite, opt)
	f := apptest.NewOrderFixture(t, e, dns)
	other := e.Do("POST", "/api/v1/accounts", e.AdminToken, map[string]any{"name": "Other Co", "organizations": []string{f.OrgID}})
	if other.Status != 201 {
		t.Fatalf("account: %d %s", other.Status, other.Raw)
	}
	ids := map[string]string{}
	for _, acc := range []string{f.AccountID, other.Body["id"].(string)} {
		r := e.Do("POST", "/api/v1/templates", f.Alice, map[string]any{"accountId": acc, "organizationId": f.OrgID,
			"dnsNames": []string{"*.acme-widgets.com"}, "keyTypes": []string{"ecdsa-p256"}, "maxValidityDays": 90})
		if r.Status != 201 {
			t.Fatalf("template: %d %s", r.Status, r.Raw)
		}
		ids[acc] = r.Body["id"].(string)
	}
	c := newConsoleClient(t, e, "127.0.0.1")
	bob := c.mustSignIn("bob", f.Bob)
	p := c.do("GET", "/console/templates?accountId="+f.AccountID, nil, bob)
	if p.status != 200 || !strings.Contains(p.body, ids[f.AccountID]) || strings.Contains(p.body, ids[other.Body["id"].(string)]) {
		t.Fatalf("the account's templates: %d\n%s", p.status, p.body)
	}
	form := regexp.MustCompile(`(?s)<form method="get" action="/console/templates">(.*?)</form>`).FindStringSubmatch(p.body)
	if form == nil {
		t.Fatalf("no filter form:\n%s", p.body)
	}
	q := url.Values{"status": {"pending_approval"}}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(form[1], -1) {
		q.Set(m[1], html.UnescapeString(m[2]))
	}
	p = c.do("GET", "/console/templates?"+q.Encode(), nil, bob)
	if p.status != 200 || !strings.Contains(p.body, ids[f.AccountID]) || strings.Contains(p.body, ids[other.Body["id"].(string)]) {
		t.Fatalf("the filter form submitted (%s) lists another account's template: %d", q.Encode(), p.status)
	}
}
