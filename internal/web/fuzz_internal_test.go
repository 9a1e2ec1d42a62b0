package web

import (
	"bytes"
	"encoding/json"
	"mime"
	"net"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/account"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/change"
	"github.com/vetca/vetca/internal/cpr"
	"github.com/vetca/vetca/internal/incident"
	"github.com/vetca/vetca/internal/order"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/vetting"
)

// decodeTarget is one request body type the API decodes, with the options
// its handler passes.
type decodeTarget struct {
	name string
	new  func() any
	opts []decodeOptions
}

// decodeTargets are the body types of the API's handlers, so that the
// fuzzer meets embedded structs, pointers, slices of structs, maps, raw
// JSON, times, the contact endpoints' refusal of subject fields and the
// bodies that may be empty.
func decodeTargets() []decodeTarget {
	type evidenceBody struct {
		Evidence []vetting.Evidence `json:"evidence"`
	}
	type domainBody struct {
		Domain string `json:"domain"`
		Method string `json:"method"`
	}
	type userBody struct {
		Name  string   `json:"name"`
		Roles []string `json:"roles"`
		Email string   `json:"email"`
	}
	allowEmpty := []decodeOptions{{allowEmpty: true}}
	return []decodeTarget{
		{"vetting.CreateInput", func() any { return new(vetting.CreateInput) }, nil},
		{"vetting.ChangeInput", func() any { return new(vetting.ChangeInput) }, nil},
		{"order.CreateInput", func() any { return new(order.CreateInput) }, nil},
		{"account.ContactInput", func() any { return new(account.ContactInput) }, []decodeOptions{contactOptions}},
		{"account.CreateInput", func() any { return new(account.CreateInput) }, nil},
		{"revocation.Input", func() any { return new(revocation.Input) }, allowEmpty},
		{"change.Input", func() any { return new(change.Input) }, nil},
		{"verify evidence", func() any { return new(evidenceBody) }, allowEmpty},
		{"domain validation", func() any { return new(domainBody) }, nil},
		{"user", func() any { return new(userBody) }, nil},
		{"empty", func() any { return new(struct{}) }, allowEmpty},
		{"incident.CreateInput", func() any { return new(incident.CreateInput) }, nil},
		{"incident.DisclosureInput", func() any { return new(incident.DisclosureInput) }, nil},
		{"cpr.DecideInput", func() any { return new(cpr.DecideInput) }, nil},
	}
}

// runDecode runs decode on body as a handler would.
func runDecode(dt decodeTarget, contentType string, body []byte) (any, error) {
	r := httptest.NewRequest("POST", "/api/v1/x", bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	dst := dt.new()
	return dst, decode(httptest.NewRecorder(), r, dst, dt.opts...)
}

// FuzzDecode: every JSON request body goes through decode. It must never
// panic; it refuses with a 4xx *apperr.Error that has a code and names the
// offending field ("body" for the body as a whole, only when it is not a
// JSON object: a value refused inside one, a time included, is named by
// its field), or it accepts a body
// whose object keys are all exact field names of the destination, at every
// depth, and whose decoded value re-encodes to JSON that decodes to the
// same value.
func FuzzDecode(f *testing.F) {
	f.Add(uint8(0), "application/json", []byte(`{"organizationName":"Example, Inc.","countryName":"US","stateOrProvinceName":"California","localityName":"San Francisco","sanctionsReview":{"reference":"R-1","decision":"approved","notes":"ok"}}`))
	f.Add(uint8(2), "", []byte(`{"organizationId":"org_1","dnsNames":["a.example.com"],"csr":"-----BEGIN CERTIFICATE REQUEST-----\n","validityDays":90,"subject":{"organizationName":"Acme"}}`))
	f.Add(uint8(3), "application/json; charset=utf-8", []byte(`{"name":"Jane","countryName":"AD"}`))
	f.Add(uint8(5), "application/json", []byte(`{"reason":"keyCompromise","compromisedAt":"2026-01-02T03:04:05.123+01:00"}`))
	f.Add(uint8(6), "application/json", []byte(`{"kind":"amend","table":"accounts","rowId":"x","field":"name","value":{"a":[1,2.5e3,null]},"reason":"fix"}`))
	f.Add(uint8(7), "application/json", []byte(`{"evidence":[{"source":"registry","Reference":"C1"}]}`))
	f.Add(uint8(0), "text/plain", []byte(`{}`))
	f.Add(uint8(10), "application/json", []byte(" \n"))
	f.Add(uint8(11), "application/json", []byte(`{"title":"CA: x","awareAt":"yesterday","query":{"issuedAfter":5}}`))
	f.Add(uint8(12), "application/json", []byte(`{"kind":"update","postedAt":"2026-01-02T03:04:05","nextUpdate":null}`))
	f.Add(uint8(13), "application/json", []byte(`{"decision":"revoke","revokeAt":true}`))
	targets := decodeTargets()
	f.Fuzz(func(t *testing.T, which uint8, contentType string, body []byte) {
		dt := targets[int(which)%len(targets)]
		dst, err := runDecode(dt, contentType, body)
		if contentType != "" {
			if mt, _, perr := mime.ParseMediaType(contentType); perr != nil || mt != "application/json" {
				// The Content-Type refusal is about a header, not a field
				// of the body.
				if !apperr.HasCode(err, "unsupported_media_type") || !apperr.IsKind(err, apperr.KindInvalid) {
					t.Fatalf("%s: Content-Type %q: %v", dt.name, contentType, err)
				}
				return
			}
		}
		if err != nil {
			e, ok := apperr.As(err)
			if !ok {
				t.Fatalf("%s: %q: not an *apperr.Error: %v", dt.name, body, err)
			}
			if st := statusOf(e.Kind); st < 400 || st > 499 || e.Code == "" || e.Field == "" || e.Message == "" {
				t.Fatalf("%s: %q: status %d, error %#v", dt.name, body, st, e)
			}
			if e.Code == "invalid_type" || e.Code == "invalid_time" {
				top, _, _ := strings.Cut(e.Field, ".")
				if !jsonFields(reflect.TypeOf(dst).Elem())[top] {
					t.Fatalf("%s: %q: %s names %q, not a field", dt.name, body, e.Code, e.Field)
				}
			}
			var obj map[string]json.RawMessage
			if e.Field == "body" && e.Code == "invalid_json" && json.Unmarshal(body, &obj) == nil && obj != nil {
				t.Fatalf("%s: %q: a JSON object refused as a whole: %v", dt.name, body, e)
			}
			return
		}
		if len(bytes.TrimSpace(body)) > 0 {
			if bad := inexactKey(json.RawMessage(body), reflect.TypeOf(dst).Elem()); bad != "" {
				t.Fatalf("%s: %q: accepted the key %q, which is not exactly a field name", dt.name, body, bad)
			}
		}
		enc, err := json.Marshal(dst)
		if err != nil {
			t.Fatalf("%s: %q: decoded value does not re-encode: %v", dt.name, body, err)
		}
		dst2, err := runDecode(dt, "application/json", enc)
		if err != nil {
			t.Fatalf("%s: %q: re-encoded as %s, which is refused: %v", dt.name, body, enc, err)
		}
		if enc2, err := json.Marshal(dst2); err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("%s: %q: %s decodes to %s", dt.name, body, enc, enc2)
		}
	})
}

// inexactKey returns the first object key in raw that the type t reads
// although it is not exactly one of t's JSON field names (encoding/json
// matches names case-insensitively), or "".
func inexactKey(raw json.RawMessage, t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(reflect.TypeFor[json.Unmarshaler]()) {
		return "" // it reads its own JSON (time.Time, json.RawMessage)
	}
	switch t.Kind() {
	case reflect.Struct:
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return ""
		}
		for k, v := range m {
			f, ok := jsonField(t, k)
			if !ok {
				return k
			}
			if bad := inexactKey(v, f.Type); bad != "" {
				return bad
			}
		}
	case reflect.Slice, reflect.Array:
		var items []json.RawMessage
		if t.Elem().Kind() == reflect.Uint8 || json.Unmarshal(raw, &items) != nil {
			return ""
		}
		for _, it := range items {
			if bad := inexactKey(it, t.Elem()); bad != "" {
				return bad
			}
		}
	}
	return ""
}

// FuzzParseFilter: GET /audit/events takes exactly its parameters, each
// once, with until after since; anything else is a 400 naming the
// parameter, never a filter silently dropped or widened.
func FuzzParseFilter(f *testing.F) {
	f.Add("entityType=orders&entityId=ord_1&actor=user%3Aalice&action=order.created&since=2026-01-01T00:00:00Z&until=2026-12-31T23:59:59%2B01:00&after=10&limit=100")
	f.Add("since=yesterday")
	f.Add("limit=0&after=-1")
	f.Add("limit=1001;after=1")
	f.Add("%zz")
	f.Add("foo=bar")
	f.Add("entityid=x")
	f.Add("entityType=a&entityType=b")
	f.Add("entityType=%zz")
	f.Add("since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z")
	f.Add("since=2026-02-01T00:00:00Z&until=2026-02-01T00:00:00Z")
	f.Add("&&entityType=&")
	f.Fuzz(func(t *testing.T, rawQuery string) {
		r := httptest.NewRequest("GET", "/api/v1/audit/events", nil)
		r.URL.RawQuery = rawQuery
		flt, err := parseFilter(r)
		// The names the query gives, as sent and decoded.
		names := map[string]bool{}
		seen := map[string]int{}
		for _, pair := range strings.Split(rawQuery, "&") {
			if pair == "" {
				continue
			}
			k, _, _ := strings.Cut(pair, "=")
			names[k] = true
			if dk, derr := url.QueryUnescape(k); derr == nil {
				names[dk] = true
				seen[dk]++
			}
		}
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.KindInvalid || e.Code == "" || !names[e.Field] {
				t.Fatalf("%q: want a 400 naming a parameter of the query, got %#v", rawQuery, err)
			}
			if (e.Code == apperr.CodeUnknownParameter) == slices.Contains(auditParams, e.Field) {
				t.Fatalf("%q: %s naming %q", rawQuery, e.Code, e.Field)
			}
			return
		}
		for k, n := range seen {
			if !slices.Contains(auditParams, k) || n > 1 {
				t.Fatalf("%q: parameter %q given %d time(s) was accepted", rawQuery, k, n)
			}
		}
		if strings.Contains(rawQuery, ";") {
			t.Fatalf("%q: a pair with ';', which url.ParseQuery drops, was accepted", rawQuery)
		}
		q := r.URL.Query()
		if flt.Limit < 0 || flt.Limit > 1000 || flt.After < 0 || (flt.Limit == 0) != (q.Get("limit") == "") {
			t.Fatalf("%q: limit %d after %d", rawQuery, flt.Limit, flt.After)
		}
		if flt.EntityType != q.Get("entityType") || flt.EntityID != q.Get("entityId") || flt.Actor != q.Get("actor") || flt.Action != q.Get("action") {
			t.Fatalf("%q: text filters %+v", rawQuery, flt)
		}
		for name, got := range map[string]time.Time{"since": flt.Since, "until": flt.Until} {
			want, err := time.Parse(time.RFC3339, q.Get(name))
			if name == "until" && err == nil && want.IsZero() {
				// A given until of the zero time is still a bound:
				// audit.Filter reads the zero time as none.
				want = want.Add(time.Nanosecond)
			}
			if q.Get(name) == "" && !got.IsZero() || q.Get(name) != "" && (err != nil || !got.Equal(want)) {
				t.Fatalf("%q: %s %v", rawQuery, name, got)
			}
		}
		if q.Get("since") != "" && q.Get("until") != "" && !flt.Until.After(flt.Since) {
			t.Fatalf("%q: window %v..%v accepted", rawQuery, flt.Since, flt.Until)
		}
	})
}

// FuzzRemoteIP: the client address that rate limits and the audit trail
// key on comes from X-Forwarded-For only through a trusted proxy. Whatever
// the header holds, remoteIP never panics; from an untrusted peer it is the
// peer itself; through a trusted proxy it is the peer or an address the
// header named right of anything malformed, and never a trusted proxy
// unless every such hop is one.
func FuzzRemoteIP(f *testing.F) {
	f.Add("10.0.0.5:443", "203.0.113.7")
	f.Add("10.0.0.5:443", "203.0.113.7, 10.0.0.9")
	f.Add("10.0.0.5:443", "garbage, 203.0.113.7")
	f.Add("10.0.0.5:443", "10.0.0.6,10.0.0.7")
	f.Add("198.51.100.1:80", "203.0.113.7")
	f.Add("[::ffff:10.0.0.5]:443", "2001:db8::1%eth0, ::ffff:10.0.0.8")
	f.Add("not an address", ",,,")
	s := &Server{Deps: Deps{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}
	f.Fuzz(func(t *testing.T, peer, xff string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		r.Header.Set("X-Forwarded-For", xff)
		got := s.remoteIP(r)
		host := peer
		if h, _, err := net.SplitHostPort(peer); err == nil {
			host = h
		}
		if !s.trustedProxy(host) {
			if got != host {
				t.Fatalf("untrusted peer %q with X-Forwarded-For %q became %q", peer, xff, got)
			}
			return
		}
		if got == host {
			return
		}
		// The hops the proxies wrote: from the right, up to the first
		// one that is not an address.
		named := false
		allTrusted := true
		hops := strings.Split(xff, ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop := strings.TrimSpace(hops[i])
			if _, err := netip.ParseAddr(hop); err != nil {
				break
			}
			named = named || hop == got
			allTrusted = allTrusted && s.trustedProxy(hop)
		}
		if !named {
			t.Fatalf("remoteIP %q is neither the peer %q nor a hop the proxies wrote in %q", got, peer, xff)
		}
		if _, err := netip.ParseAddr(got); err != nil {
			t.Fatalf("remoteIP %q is not an address", got)
		}
		if s.trustedProxy(got) && !allTrusted {
			t.Fatalf("remoteIP %q is a trusted proxy, though %q names an untrusted hop", got, xff)
		}
	})
}
