package web

import (
	"encoding/base64"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/change"
	"github.com/vetca/vetca/internal/cpr"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/order"
	"github.com/vetca/vetca/internal/store"
	vtemplate "github.com/vetca/vetca/internal/template"
)

// Query parameters of the API's lists (docs/api.md). Every list takes
// exactly the parameters named here; paged lists also take limit and after.
var (
	pageParams          = []string{"limit", "after"}
	auditParams         = []string{"entityType", "entityId", "actor", "action", "since", "until", "after", "limit"}
	certificateParams   = []string{"organizationId", "accountId", "status", "notAfterBefore", "format", "limit", "after"}
	problemReportParams = []string{"status", "category", "open", "breached", "limit", "after"}
	statusPageParams    = []string{"status", "limit", "after"}
	templateParams      = []string{"accountId", "status", "limit", "after"}
	searchParams        = []string{"method", "version", "since", "until"}
	countryParams       = []string{"subdivisions"}
)

// The values of the lists' enumerated parameters (docs/api.md), exactly
// as the API writes them. Any other value is refused (queryEnum), never
// taken as a filter that matches nothing.
var (
	certificateStatuses     = []string{string(issuance.CertValid), string(issuance.CertRevoked)}
	certificateFormats      = []string{"csv"}
	orderStatuses           = []string{string(order.StatusPendingApproval), string(order.StatusApproved), string(order.StatusIssued), string(order.StatusRejected), string(order.StatusFailed)}
	changeStatuses          = []string{string(change.StatusPending), string(change.StatusApplied), string(change.StatusRejected)}
	templateStatuses        = []string{string(vtemplate.StatusPendingApproval), string(vtemplate.StatusApproved), string(vtemplate.StatusDisabled)}
	problemReportCategories = []string{string(cpr.CategoryKeyCompromise), string(cpr.CategoryMisissuance), string(cpr.CategoryOther)}
	problemReportStatuses   = []string{string(cpr.StatusReceived), string(cpr.StatusInvestigating), string(cpr.StatusPreliminarySent),
		string(cpr.StatusAwaitingConfirmation), string(cpr.StatusDecided), string(cpr.StatusClosed), string(cpr.StatusMerged)}
	subdivisionFlags = []string{"0", "1"}
)

// query returns r's query parameters once every one is a parameter the
// endpoint takes, given once and correctly URL-encoded. Otherwise it is 400,
// naming the parameter: unknown_parameter for a name that is not exactly
// one of params (names are case-sensitive: entityid is not entityId) or is
// not URL-encoded, invalid_value for a value that is not URL-encoded, and
// repeated_parameter for a parameter given more than once. Nothing is
// silently dropped, so a filter is never widened to the whole list. When
// several parameters are wrong, the first unknown name (in byte order) is
// named, then the first badly encoded value, then the first repeated name.
func query(r *http.Request, params ...string) (url.Values, error) {
	q := url.Values{}
	var unknown, badValue []string
	raw := r.URL.RawQuery
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		k, err := url.QueryUnescape(rawKey)
		if err != nil || strings.Contains(rawKey, ";") {
			unknown = append(unknown, rawKey)
			continue
		}
		if !slices.Contains(params, k) {
			unknown = append(unknown, k)
			continue
		}
		v, err := url.QueryUnescape(rawValue)
		if err != nil || strings.Contains(rawValue, ";") {
			badValue = append(badValue, k)
			continue
		}
		q[k] = append(q[k], v)
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, apperr.Invalid(apperr.CodeUnknownParameter, unknown[0], "unknown query parameter %q; this endpoint takes %s", unknown[0], paramList(params))
	}
	if len(badValue) > 0 {
		sort.Strings(badValue)
		return nil, apperr.Invalid(apperr.CodeInvalidValue, badValue[0], "query parameter %q is not URL-encoded", badValue[0])
	}
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if len(q[k]) > 1 {
			return nil, apperr.Invalid(apperr.CodeRepeatedParameter, k, "query parameter %q given more than once", k)
		}
	}
	return q, nil
}

// paramList names params for people.
func paramList(params []string) string {
	if len(params) == 0 {
		return "no parameters"
	}
	return strings.Join(params, ", ")
}

// queryEnum returns the value of parameter name of a checked query, ""
// when it is absent or empty, or 400 invalid_value naming it when it is
// not exactly (case included) one of values.
func queryEnum(q url.Values, name string, values ...string) (string, error) {
	v := q.Get(name)
	if v == "" || slices.Contains(values, v) {
		return v, nil
	}
	return "", apperr.Invalid(apperr.CodeInvalidValue, name, "%s %q is not one of %s", name, v, strings.Join(values, ", "))
}

// cursorKey is the sort key a list pages by (store.Keyset), which each
// of its cursors carries as a JSON array of strings (store.Finish): the
// stored creation time (store.TimeFormat) and id of a newest-first list,
// or the name and id of a list by name.
type cursorKey int

const (
	byCreated cursorKey = iota // organizations, orders, certificates, templates, problem reports, …
	byName                     // accounts, users
)

// pageFrom reads the paging parameters of a checked query: ?limit= (1 to
// store.MaxPageSize, default store.DefaultPageSize) and ?after= (the next
// cursor of the previous page of a list paged by key). A cursor that is not
// one a page of such a list could have given (another list's, or one
// forged: ["x","y"]) is 400 invalid_cursor, not a page from an arbitrary
// place.
// statusPage reads the query of a list that takes exactly status, limit
// and after: the status (one of statuses, or "" for all) and the page of
// a list newest first by creation.
func statusPage(r *http.Request, statuses ...string) (string, store.Page, error) {
	q, err := query(r, statusPageParams...)
	if err != nil {
		return "", store.Page{}, err
	}
	status, err := queryEnum(q, "status", statuses...)
	if err != nil {
		return "", store.Page{}, err
	}
	p, err := pageFrom(q, byCreated)
	return status, p, err
}

func pageFrom(q url.Values, key cursorKey) (store.Page, error) {
	p, err := store.ParsePage(q.Get("limit"), q.Get("after"))
	if err != nil {
		return store.Page{}, err
	}
	if p.Cursor != "" && !cursorFits(p.Cursor, key) {
		return store.Page{}, apperr.Invalid(apperr.CodeInvalidCursor, "after", "after must be the next cursor of a previous page")
	}
	return p, nil
}

// cursorFits reports whether c has the shape of a cursor of a list paged
// by key: base64url of a JSON array of two strings, the sort value (a
// time as stored, for byCreated) and an id.
func cursorFits(c string, key cursorKey) bool {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return false
	}
	var vals []string
	if json.Unmarshal(b, &vals) != nil || len(vals) != 2 {
		return false
	}
	if key == byCreated {
		t, err := store.ParseTime(vals[0])
		if err != nil || store.FormatTime(t) != vals[0] {
			return false
		}
	}
	return looksLikeID(vals[1])
}

// looksLikeID reports whether s has the shape of a vetca id (package ids):
// a lower-case prefix, "_" and lower-case base32, perhaps with a suffix
// ("inc_…_delay").
func looksLikeID(s string) bool {
	if len(s) < 3 || len(s) > 100 || s[0] < 'a' || s[0] > 'z' || !strings.Contains(s[1:], "_") {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// listPage checks that r's query has only the paging parameters and
// reads them, for a list paged by key.
func listPage(r *http.Request, key cursorKey) (store.Page, error) {
	q, err := query(r, pageParams...)
	if err != nil {
		return store.Page{}, err
	}
	return pageFrom(q, key)
}

// queryTimeGiven reads an RFC 3339 time parameter of a checked query and
// says whether it was given (an empty value is not), so that a given time
// is applied whatever it is: the zero time (0001-01-01T00:00:00Z) is a
// bound, not "no bound".
func queryTimeGiven(q url.Values, name string) (time.Time, bool, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, false, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, false, apperr.Invalid(apperr.CodeInvalidTime, name, "%s must be an RFC 3339 time", name)
	}
	return store.ClampTime(t), true, nil // compared with stored times as text
}
