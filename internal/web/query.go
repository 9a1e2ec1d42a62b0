package web

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/store"
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
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
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

// pageFrom reads the paging parameters of a checked query: ?limit= (1 to
// store.MaxPageSize, default store.DefaultPageSize) and ?after= (the next
// cursor of the previous page).
func pageFrom(q url.Values) (store.Page, error) {
	return store.ParsePage(q.Get("limit"), q.Get("after"))
}

// listPage checks that r's query has only the paging parameters and
// reads them.
func listPage(r *http.Request) (store.Page, error) {
	q, err := query(r, pageParams...)
	if err != nil {
		return store.Page{}, err
	}
	return pageFrom(q)
}

// queryTime reads an RFC 3339 time parameter of a checked query; an empty
// or absent one is the zero time.
func queryTime(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, apperr.Invalid(apperr.CodeInvalidTime, name, "%s must be an RFC 3339 time", name)
	}
	return t, nil
}

// checkWindow refuses a since..until window that is empty or reversed.
func checkWindow(since, until time.Time) error {
	if !since.IsZero() && !until.IsZero() && !until.After(since) {
		return apperr.Invalid(apperr.CodeInvalidWindow, "until", "until must be after since")
	}
	return nil
}
