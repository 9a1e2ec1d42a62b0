package web_test

import (
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apptest"
)

// A time field of any body that is not an RFC 3339 time is refused naming
// the field (its JSON path inside nested objects): invalid_time for a
// string that is not one (a word, no zone), invalid_type for a number,
// true or an object. Never invalid_json blaming the body, which is
// well-formed JSON. Nothing is recorded.
func TestTimeFieldsAreNamed(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		carol := f.carol
		now := e.Clock.Now().UTC().Format(time.RFC3339)
		incident := func(awareAt any) map[string]any {
			return map[string]any{"title": "vetca Test CA: Certificates issued with a wrong countryName", "source": "self",
				"trigger": "4.9.1.1#12", "awareAt": awareAt, "serials": []string{"0123456789abcdef"}}
		}
		withQuery := map[string]any{"title": "vetca Test CA: Certificates issued with a wrong countryName", "source": "self",
			"trigger": "4.9.1.1#12", "awareAt": now, "query": map[string]any{"organizationId": f.orgID, "issuedAfter": "last week"}}
		const inc = "/api/v1/incidents/inc_doesnotexist"
		for _, c := range []struct {
			name, path string
			body       any
			field      string
			code       string
		}{
			{"awareAt a word", "/api/v1/incidents", incident("yesterday"), "awareAt", "invalid_time"},
			{"awareAt without a zone", "/api/v1/incidents", incident("2026-11-23T09:00:00"), "awareAt", "invalid_time"},
			{"awareAt a date", "/api/v1/incidents", incident("2026-11-23"), "awareAt", "invalid_time"},
			{"awareAt empty", "/api/v1/incidents", incident(""), "awareAt", "invalid_time"},
			{"awareAt a number", "/api/v1/incidents", incident(1764000000), "awareAt", "invalid_type"},
			{"awareAt true", "/api/v1/incidents", incident(true), "awareAt", "invalid_type"},
			{"awareAt an object", "/api/v1/incidents", incident(map[string]any{"t": now}), "awareAt", "invalid_type"},
			{"query.issuedAfter a word", "/api/v1/incidents", withQuery, "query.issuedAfter", "invalid_time"},
			{"postedAt a word", inc + "/disclosures", map[string]any{"kind": "preliminary", "postedAt": "soon"}, "postedAt", "invalid_time"},
			{"nextUpdate a number", inc + "/disclosures", map[string]any{"kind": "update", "postedAt": now, "nextUpdate": 7}, "nextUpdate", "invalid_type"},
			{"dueDate a word", inc + "/action-items", map[string]any{"actionItem": "x", "kind": "Prevent", "dueDate": "next week"}, "dueDate", "invalid_time"},
			{"revokeAt a word", "/api/v1/problem-reports/cpr_doesnotexist/decide", map[string]any{"decision": "revoke", "trigger": "4.9.1.1#3", "revokeAt": "now"}, "revokeAt", "invalid_time"},
			{"compromisedAt a word", "/api/v1/certificates/0123456789abcdef/revoke", map[string]any{"trigger": "4.9.1.1#3", "compromisedAt": "yesterday"}, "compromisedAt", "invalid_time"},
			{"evidenceAt a number", "/api/v1/certificates/0123456789abcdef/revoke", map[string]any{"trigger": "4.9.1.1#3", "evidenceAt": 0}, "evidenceAt", "invalid_type"},
		} {
			before := f.eventCount(t)
			r := e.Do("POST", c.path, carol, c.body)
			field, code := r.ErrField()
			if r.Status != 400 || field != c.field || code != c.code {
				t.Errorf("%s: POST %s: %d %s, want 400 %s naming %q", c.name, c.path, r.Status, r.Raw, c.code, c.field)
			}
			if after := f.eventCount(t); after != before {
				t.Errorf("%s: a refused request wrote %d audit event(s)", c.name, after-before)
			}
		}
	})
}
