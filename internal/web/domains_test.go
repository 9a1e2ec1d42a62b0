package web_test

import (
	"context"
	"crypto/x509/pkix"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/dnstest"
)

// domSite is a subscriber's web server on loopback serving validation
// files; it counts the requests it receives.
type domSite struct {
	mu       sync.Mutex
	files    map[string]string // path -> body
	requests int
	port     int
}

func newDomSite(t *testing.T) *domSite {
	s := &domSite{files: map[string]string{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests++
		body, ok := s.files[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	_, p, _ := net.SplitHostPort(srv.Listener.Addr().String())
	s.port, _ = strconv.Atoi(p)
	return s
}

func (s *domSite) serve(path, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[path] = body
}

func (s *domSite) requestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// domEnv is a vetca whose resolver is the test's DNS server and whose
// website checks reach site (on loopback, so only with
// apptest.WithPrivateValidationTargets), with one account.
type domEnv struct {
	*apptest.Env
	dns               *dnstest.Server
	site              *domSite
	accID, accTok     string
	verifier, auditor string
}

func newDomEnv(t *testing.T, backend string, opts ...apptest.Option) *domEnv {
	t.Helper()
	site := newDomSite(t)
	d, opt := apptest.WithDNS(t)
	e := apptest.New(t, backend, append([]apptest.Option{opt, apptest.WithHTTPValidationPort(site.port)}, opts...)...)
	r := e.Do("POST", "/api/v1/accounts", e.AdminToken, map[string]any{"name": "Acme Widgets", "organizations": []string{}})
	if r.Status != 201 {
		t.Fatalf("account: %d %s", r.Status, r.Raw)
	}
	return &domEnv{Env: e, dns: d, site: site, accID: r.Body["id"].(string), accTok: r.Body["token"].(string),
		verifier: e.User("vera", actor.Verifier), auditor: e.User("audrey", actor.Auditor)}
}

func domEach(t *testing.T, fn func(t *testing.T, e *domEnv)) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) { fn(t, newDomEnv(t, b, apptest.WithPrivateValidationTargets())) })
	}
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func hasKeys(t *testing.T, what string, m map[string]any, present []string, absent []string) {
	t.Helper()
	for _, k := range present {
		if _, ok := m[k]; !ok {
			t.Errorf("%s: no %q in %v", what, k, keysOf(m))
		}
	}
	for _, k := range absent {
		if _, ok := m[k]; ok {
			t.Errorf("%s: unexpected %q in %v", what, k, keysOf(m))
		}
	}
}

func domAuditClean(t *testing.T, e *apptest.Env) int64 {
	t.Helper()
	rep, err := e.App.VerifyAudit(context.Background(), "")
	if err != nil || !rep.OK {
		t.Fatalf("audit: %v %+v", err, rep)
	}
	return rep.Events
}

// The domains API as a client sees it: start (201) and validate (200) with
// both methods, then list and read the evidence.
func TestDomainValidationOverHTTP(t *testing.T) {
	domEach(t, func(t *testing.T, e *domEnv) {
		base := "/api/v1/accounts/" + e.accID + "/domains"

		// dns-change, the default method.
		r := e.Do("POST", base, e.accTok, map[string]any{"domain": "Shop.Acme-Widgets.com"})
		if r.Status != 201 {
			t.Fatalf("start: %d %s", r.Status, r.Raw)
		}
		hasKeys(t, "dns-change start", r.Body, []string{"id", "domain", "method", "recordName", "recordType", "value", "expiresAt"}, []string{"url"})
		if r.Body["domain"] != "shop.acme-widgets.com" || r.Body["method"] != "dns-change" || r.Body["recordType"] != "TXT" ||
			r.Body["recordName"] != "_vetca-challenge.shop.acme-widgets.com" {
			t.Fatalf("start: %s", r.Raw)
		}
		exp, err := time.Parse(time.RFC3339, r.Body["expiresAt"].(string))
		if err != nil || !exp.Equal(e.Clock.Now().Add(30*24*time.Hour)) || exp.Location() != time.UTC {
			t.Fatalf("expiresAt %v (%v)", r.Body["expiresAt"], err)
		}
		id, rec, value := r.Body["id"].(string), r.Body["recordName"].(string), r.Body["value"].(string)
		if len(value) < 22 {
			t.Fatalf("random value %q", value)
		}
		v := e.Do("POST", base+"/"+id+"/validate", e.accTok, nil)
		if v.Status != 200 || v.Body["status"] != "invalid" || v.Body["queriedName"] != rec {
			t.Fatalf("validate before the record exists: %d %s", v.Status, v.Raw)
		}
		e.dns.AddTXT(rec, value)
		v = e.Do("POST", base+"/"+id+"/validate", e.accTok, "{}")
		if v.Status != 200 {
			t.Fatalf("validate: %d %s", v.Status, v.Raw)
		}
		hasKeys(t, "validate", v.Body, []string{"status", "method", "queriedName", "answer"}, nil)
		if v.Body["status"] != "valid" || v.Body["method"] != "dns-change" || v.Body["queriedName"] != rec || v.Body["answer"] != value {
			t.Fatalf("validate: %s", v.Raw)
		}

		// website-change, started by a verifier for the account.
		e.dns.AddA("www.acme-widgets.com", "127.0.0.1")
		r = e.Do("POST", base, e.verifier, map[string]any{"domain": "www.acme-widgets.com", "method": "website-change"})
		if r.Status != 201 {
			t.Fatalf("start website-change: %d %s", r.Status, r.Raw)
		}
		hasKeys(t, "website-change start", r.Body, []string{"id", "domain", "method", "url", "value", "expiresAt"}, []string{"recordName", "recordType"})
		u, err := url.Parse(r.Body["url"].(string))
		if err != nil || u.Scheme != "http" || u.Hostname() != "www.acme-widgets.com" || u.Port() != strconv.Itoa(e.site.port) ||
			!strings.HasPrefix(u.Path, "/.well-known/pki-validation/") || strings.Contains(u.String(), r.Body["value"].(string)) {
			t.Fatalf("url %v", r.Body["url"])
		}
		wid := r.Body["id"].(string)
		e.site.serve(u.Path, r.Body["value"].(string))
		v = e.Do("POST", base+"/"+wid+"/validate", e.accTok, nil)
		if v.Status != 200 || v.Body["status"] != "valid" || v.Body["method"] != "website-change" || v.Body["queriedName"] != u.String() {
			t.Fatalf("validate website-change: %d %s", v.Status, v.Raw)
		}

		// The list, with status, for the subscriber and for staff.
		for _, tok := range []string{e.accTok, e.auditor} {
			l := e.Do("GET", base, tok, nil)
			list, _ := l.Body["domains"].([]any)
			if l.Status != 200 || len(list) != 2 {
				t.Fatalf("list: %d %s", l.Status, l.Raw)
			}
			for _, it := range list {
				m := it.(map[string]any)
				if m["status"] != "valid" || m["validatedAt"] == nil || m["reusableUntil"] == nil {
					t.Fatalf("list item %v", m)
				}
			}
		}
		// One validation with every attempt's evidence.
		g := e.Do("GET", base+"/"+id, e.auditor, nil)
		atts, _ := g.Body["attempts"].([]any)
		if g.Status != 200 || len(atts) != 2 {
			t.Fatalf("get: %d %s", g.Status, g.Raw)
		}
		last := atts[1].(map[string]any)
		ev := last["evidence"].(map[string]any)["primary"].(map[string]any)
		if last["methodSection"] != "3.2.2.4.7" || last["methodVersion"] != "1" || ev["query"] != rec || ev["resolver"] != e.dns.Addr() || ev["status"] != "valid" {
			t.Fatalf("stored evidence %v", last)
		}
		if c := last["corroboration"].(map[string]any); c["performed"] != false || !strings.Contains(c["quorum"].(string), "not performed") {
			t.Fatalf("corroboration %v", c)
		}
		domAuditClean(t, e.Env)
	})
}

// The egress policy as a client sees it: without
// --allow-private-validation-targets, website-change of a name pointing at
// loopback answers 200 {"status":"invalid"} like any failed check, with a
// reason naming the address; the attempt is stored as evidence; the
// website receives nothing. With the flag the same validation succeeds.
func TestWebsiteChangeEgressOverHTTP(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			for _, allow := range []bool{false, true} {
				var opts []apptest.Option
				if allow {
					opts = append(opts, apptest.WithPrivateValidationTargets())
				}
				e := newDomEnv(t, b, opts...)
				base := "/api/v1/accounts/" + e.accID + "/domains"
				e.dns.AddA("intranet.acme-widgets.com", "127.0.0.1")
				r := e.Do("POST", base, e.accTok, map[string]any{"domain": "intranet.acme-widgets.com", "method": "website-change"})
				if r.Status != 201 {
					t.Fatalf("start: %d %s", r.Status, r.Raw)
				}
				u, _ := url.Parse(r.Body["url"].(string))
				e.site.serve(u.Path, r.Body["value"].(string))
				id := r.Body["id"].(string)
				v := e.Do("POST", base+"/"+id+"/validate", e.accTok, nil)
				if allow {
					if v.Status != 200 || v.Body["status"] != "valid" || e.site.requestCount() != 1 {
						t.Fatalf("with the flag: %d %s (%d requests)", v.Status, v.Raw, e.site.requestCount())
					}
					continue
				}
				want := "refused to connect to 127.0.0.1: loopback address is not a public validation target; --allow-private-validation-targets allows it"
				reason, _ := v.Body["reason"].(string)
				if v.Status != 200 || v.Body["status"] != "invalid" || v.Body["method"] != "website-change" ||
					v.Body["queriedName"] != u.String() || !strings.Contains(reason, want) {
					t.Fatalf("validate: %d %s", v.Status, v.Raw)
				}
				if n := e.site.requestCount(); n != 0 {
					t.Fatalf("the loopback website received %d requests", n)
				}
				// The attempt is stored, with the refusal in its evidence.
				g := e.Do("GET", base+"/"+id, e.accTok, nil)
				atts, _ := g.Body["attempts"].([]any)
				if g.Status != 200 || len(atts) != 1 {
					t.Fatalf("get: %d %s", g.Status, g.Raw)
				}
				att := atts[0].(map[string]any)
				prim := att["evidence"].(map[string]any)["primary"].(map[string]any)
				hops, _ := prim["http"].([]any)
				if att["status"] != "invalid" || !strings.Contains(att["reason"].(string), want) || prim["status"] != "invalid" ||
					len(hops) != 1 || !strings.Contains(hops[0].(map[string]any)["error"].(string), "127.0.0.1") {
					t.Fatalf("stored attempt %v", att)
				}
				if l := e.Do("GET", base, e.accTok, nil); l.Body["domains"].([]any)[0].(map[string]any)["status"] == "valid" {
					t.Fatalf("list: %s", l.Raw)
				}
				domAuditClean(t, e.Env)
			}
		})
	}
}

// Every bad request gets the docs/api.md error naming the field, and
// changes nothing (the audit chain does not grow).
func TestDomainBadInputOverHTTP(t *testing.T) {
	domEach(t, func(t *testing.T, e *domEnv) {
		base := "/api/v1/accounts/" + e.accID + "/domains"
		other := e.Do("POST", "/api/v1/accounts", e.AdminToken, map[string]any{"name": "Other", "organizations": []string{}})
		otherTok, otherID := other.Body["token"].(string), other.Body["id"].(string)
		ok := e.Do("POST", base, e.accTok, map[string]any{"domain": "acme-widgets.com"})
		id := ok.Body["id"].(string)
		before := domAuditClean(t, e.Env)

		dom := func(d string) map[string]any { return map[string]any{"domain": d} }
		cases := []struct {
			name, method, path, token string
			body                      any
			status                    int
			field, code               string
		}{
			{"missing auth", "POST", base, "", dom("acme-widgets.com"), 401, "", "unauthenticated"},
			{"unknown token", "POST", base, "vetca_nope", dom("acme-widgets.com"), 401, "", "unauthenticated"},
			{"another account's token", "POST", base, otherTok, dom("acme-widgets.com"), 403, "", "forbidden"},
			{"another account's token lists", "GET", base, otherTok, nil, 403, "", "forbidden"},
			{"another account's token validates", "POST", base + "/" + id + "/validate", otherTok, nil, 403, "", "forbidden"},
			{"own account path, another account's validation", "POST", "/api/v1/accounts/" + otherID + "/domains/" + id + "/validate", otherTok, nil, 404, "domainId", "not_found"},
			{"auditor may not start", "POST", base, e.auditor, dom("acme-widgets.com"), 403, "", "forbidden"},
			{"IPv4 address", "POST", base, e.accTok, dom("192.0.2.1"), 400, "domain", "ip_address"},
			{"IPv6 address", "POST", base, e.accTok, dom("[2001:db8::1]"), 400, "domain", "ip_address"},
			{"single-label internal name", "POST", base, e.accTok, dom("fileserver"), 400, "domain", "internal_name"},
			{"unknown TLD", "POST", base, e.accTok, dom("server.notatld"), 400, "domain", "internal_name"},
			{"reserved TLD .test (RFC 6761)", "POST", base, e.accTok, dom("shop.example.test"), 400, "domain", "reserved_name"},
			{"reserved TLD .local (RFC 6762)", "POST", base, e.accTok, dom("printer.local"), 400, "domain", "reserved_name"},
			{"private-use .corp", "POST", base, e.accTok, dom("mail.acme.corp"), 400, "domain", "reserved_name"},
			{"a public suffix", "POST", base, e.accTok, dom("co.uk"), 400, "domain", "public_suffix"},
			{"wildcard over a public suffix", "POST", base, e.accTok, dom("*.co.uk"), 400, "domain", "public_suffix"},
			{"wildcard with website-change", "POST", base, e.accTok, map[string]any{"domain": "*.acme-widgets.com", "method": "website-change"}, 400, "domain", "wildcard_refused"},
			{"wildcard not leading", "POST", base, e.accTok, dom("www.*.acme-widgets.com"), 400, "domain", "wildcard_refused"},
			{"invalid A-label", "POST", base, e.accTok, dom("xn--a.acme-widgets.com"), 400, "domain", "invalid_domain"},
			{"U-label instead of A-label", "POST", base, e.accTok, dom("bücher.de"), 400, "domain", "u_label"},
			{"underscore", "POST", base, e.accTok, dom("_dmarc.acme-widgets.com"), 400, "domain", "invalid_domain"},
			{"label over 63 octets", "POST", base, e.accTok, dom(strings.Repeat("a", 64) + ".acme-widgets.com"), 400, "domain", "name_too_long"},
			{"name over 253 octets", "POST", base, e.accTok, dom(strings.Repeat(strings.Repeat("a", 60)+".", 4) + "acme-widgets.com"), 400, "domain", "name_too_long"},
			{"empty domain", "POST", base, e.accTok, dom(""), 400, "domain", "missing_field"},
			{"no domain", "POST", base, e.accTok, map[string]any{}, 400, "domain", "missing_field"},
			{"unknown method", "POST", base, e.accTok, map[string]any{"domain": "acme-widgets.com", "method": "email"}, 400, "method", "unknown_method"},
			{"unknown field", "POST", base, e.accTok, map[string]any{"domain": "acme-widgets.com", "methd": "dns-change"}, 400, "methd", "unknown_field"},
			{"domain of the wrong type", "POST", base, e.accTok, map[string]any{"domain": 5}, 400, "domain", "invalid_type"},
			{"method of the wrong type", "POST", base, e.accTok, map[string]any{"domain": "acme-widgets.com", "method": []string{"dns-change"}}, 400, "method", "invalid_type"},
			{"not JSON", "POST", base, e.accTok, "domain=acme-widgets.com", 400, "body", "invalid_json"},
			{"empty body", "POST", base, e.accTok, "", 400, "body", "invalid_json"},
			{"validate with an unknown field", "POST", base + "/" + id + "/validate", e.accTok, map[string]any{"force": true}, 400, "force", "unknown_field"},
			{"validate an unknown id", "POST", base + "/dv_aaaaaaaaaaaaaaaa/validate", e.accTok, nil, 404, "domainId", "not_found"},
			{"get an unknown id", "GET", base + "/dv_aaaaaaaaaaaaaaaa", e.accTok, nil, 404, "domainId", "not_found"},
			{"start on an unknown account (staff)", "POST", "/api/v1/accounts/acc_aaaaaaaaaaaaaaaa/domains", e.verifier, dom("acme-widgets.com"), 404, "", "not_found"},
			{"query as a subscriber", "GET", "/api/v1/domain-validations?method=dns-change", e.accTok, nil, 403, "", "forbidden"},
			{"query without a method", "GET", "/api/v1/domain-validations", e.auditor, nil, 400, "method", "missing_field"},
			{"query with an unknown method", "GET", "/api/v1/domain-validations?method=email", e.auditor, nil, 400, "method", "unknown_method"},
			{"query with an unknown parameter", "GET", "/api/v1/domain-validations?method=dns-change&verison=1", e.auditor, nil, 400, "verison", "unknown_parameter"},
			{"query with a bad time", "GET", "/api/v1/domain-validations?method=dns-change&since=yesterday", e.auditor, nil, 400, "since", "invalid_time"},
			{"query with a repeated parameter", "GET", "/api/v1/domain-validations?method=dns-change&method=website-change", e.auditor, nil, 400, "method", "repeated_parameter"},
		}
		for _, c := range cases {
			r := e.Do(c.method, c.path, c.token, c.body)
			field, code := r.ErrField()
			if r.Status != c.status || field != c.field || code != c.code {
				t.Errorf("%s: %d field=%q code=%q, want %d %q %q: %s", c.name, r.Status, field, code, c.status, c.field, c.code, r.Raw)
				continue
			}
			if m, _ := r.Body["error"].(map[string]any); m["message"] == "" {
				t.Errorf("%s: no message", c.name)
			}
		}
		if after := domAuditClean(t, e.Env); after != before {
			t.Fatalf("refused requests wrote %d audit events", after-before)
		}

		// BR §3.2.2.4.7: after 30 days the random value is refused, with a
		// clear code, and nothing is stored.
		e.Clock.Advance(30*24*time.Hour + time.Second)
		r := e.Do("POST", base+"/"+id+"/validate", e.accTok, nil)
		if field, code := r.ErrField(); r.Status != 409 || code != "random_value_expired" || field != "" {
			t.Fatalf("expired: %d %s", r.Status, r.Raw)
		}
		if after := domAuditClean(t, e.Env); after != before {
			t.Fatalf("an expired validation stored %d events", after-before)
		}
		l := e.Do("GET", base, e.accTok, nil)
		if items := l.Body["domains"].([]any); items[0].(map[string]any)["status"] != "expired" {
			t.Fatalf("list after expiry: %s", l.Raw)
		}
	})
}

// Domain evidence through the real order flow: a certificate
// issued for validated names carries every SAN's CAA evidence; a SAN whose
// CAA forbids vetca is refused at finalize, naming that SAN; and the staff
// query lists the validations and the certificate that relied on
// dns-change v1.
func TestDomainEvidenceThroughOrders(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			dns, opt := apptest.WithDNS(t)
			e := apptest.New(t, b, opt)
			f := apptest.NewOrderFixture(t, e, dns, "acme-widgets.com")
			dns.AddCAA("acme-widgets.com", 0, "issue", apptest.CAAIdentity)
			serial, _ := f.Issue("shop.acme-widgets.com", "www.acme-widgets.com")

			rec := f.Do("GET", "/api/v1/certificates/"+serial, f.Auditor, nil)
			ev, _ := rec.Body["evidence"].(map[string]any)
			if rec.Status != 200 || ev == nil {
				t.Fatalf("certificate: %d %s", rec.Status, rec.Raw)
			}
			caas, _ := ev["caa"].([]any)
			dvs, _ := ev["domainValidations"].([]any)
			if len(caas) != 2 || len(dvs) != 2 {
				t.Fatalf("evidence: caa %v, validations %v", caas, dvs)
			}
			for _, c := range caas {
				m := c.(map[string]any)
				if m["permitted"] != true || m["relevantName"] != "acme-widgets.com" || m["evidence"] == nil {
					t.Fatalf("CAA evidence %v", m)
				}
			}

			q := f.Do("GET", "/api/v1/domain-validations?method=dns-change&version=1", f.Auditor, nil)
			certs, _ := q.Body["certificates"].([]any)
			vals, _ := q.Body["validations"].([]any)
			if q.Status != 200 || len(vals) != 1 || !slices.Contains(certs, any(serial)) {
				t.Fatalf("query: %d %s", q.Status, q.Raw)
			}
			if q2 := f.Do("GET", "/api/v1/domain-validations?method=dns-change&version=2", f.Auditor, nil); len(q2.Body["certificates"].([]any)) != 0 {
				t.Fatalf("version 2: %s", q2.Raw)
			}

			// CAA at blocked.acme-widgets.com names another CA.
			dns.AddCAA("blocked.acme-widgets.com", 0, "issue", "other-ca.example")
			names := []string{"shop.acme-widgets.com", "blocked.acme-widgets.com"}
			r := f.PlaceOrder(map[string]any{"dnsNames": names, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, names...)})
			if r.Status != 201 {
				t.Fatalf("order: %d %s", r.Status, r.Raw)
			}
			id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
			for _, tok := range []string{f.Bob, f.Carol} {
				f.Do("POST", "/api/v1/orders/"+id+"/approve", tok, map[string]any{"snapshotHash": hash})
			}
			fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil)
			field, code := fin.ErrField()
			msg, _ := fin.Body["error"].(map[string]any)["message"].(string)
			if fin.Status < 400 || fin.Status >= 500 || code != "caa_forbidden" || field != "dnsNames" ||
				!strings.Contains(msg, "blocked.acme-widgets.com") || !strings.Contains(msg, "CAA") || strings.Contains(msg, "shop.") {
				t.Fatalf("finalize with a forbidding CAA: %d %s", fin.Status, fin.Raw)
			}
			domAuditClean(t, e)
		})
	}
}
