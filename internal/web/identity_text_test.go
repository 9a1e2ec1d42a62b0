package web_test

import (
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
)

// docs/api.md, Errors: "A text field that is not valid UTF-8 is refused
// naming it, never stored with U+FFFD." The sanctions review's notes and a
// verification's evidence reference, the compliance record of docs/design.md
// §3, are checked only for length: invalid UTF-8 is stored as U+FFFD and a
// right-to-left override (which makes the record read as something else)
// is stored as sent.
func TestIdentityRecordTextIsChecked(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			e := apptest.New(t, b)
			alice := e.User("alice", actor.Verifier)
			bob := e.User("bob", actor.Verifier)
			for _, notes := range []string{"cleared\xff", "cleared \u202edevorppa ton\u202c"} {
				body := `{"organizationName":"Havana Widgets S.A.","countryName":"CU","stateOrProvinceName":"La Habana","localityName":"Havana",` +
					`"sanctionsReview":{"reference":"LEGAL-1","decision":"approved","notes":"` + notes + `"}}`
				r := e.Do("POST", "/api/v1/organizations", alice, body)
				if r.Status != 400 {
					t.Errorf("sanctionsReview.notes %q: %d %s", notes, r.Status, r.Raw)
				}
			}
			r := e.Do("POST", "/api/v1/organizations", alice, `{"organizationName":"Acme Widgets Inc.","countryName":"US","stateOrProvinceName":"California","localityName":"San Francisco"}`)
			if r.Status != 201 {
				t.Fatalf("create: %d %s", r.Status, r.Raw)
			}
			id := r.Body["id"].(string)
			for _, ref := range []string{"REG-1\xff", "REG-\u202e1"} {
				v := e.Do("POST", "/api/v1/organizations/"+id+"/versions/1/verify", bob, `{"evidence":[{"source":"registry","reference":"`+ref+`"}]}`)
				if v.Status != 400 {
					t.Errorf("evidence reference %q: %d %s", ref, v.Status, v.Raw)
					if strings.Contains(string(v.Raw), "\ufffd") {
						t.Errorf("stored with U+FFFD")
					}
					break
				}
			}
			rj := e.Do("POST", "/api/v1/organizations/"+id+"/versions/1/reject", bob, `{"reason":"documents do not match\xff"}`)
			if rj.Status != 400 {
				t.Errorf("version reject reason with invalid UTF-8: %d %s", rj.Status, rj.Raw)
			}
		})
	}
}
