package store

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/vetca/vetca/internal/apperr"
)

// Page sizes of every list (docs/api.md, "Lists"): a list answers at most
// Limit items (default DefaultPageSize, at most MaxPageSize) and a cursor
// for the next page.
const (
	DefaultPageSize = 100
	MaxPageSize     = 500
)

// Page is a request for one page of a list: at most Limit items after the
// position named by Cursor (opaque, from the previous page's Next).
type Page struct {
	Limit  int
	Cursor string
}

// ParsePage reads the "limit" and "after" query parameters.
func ParsePage(limit, after string) (Page, error) {
	p := Page{Limit: DefaultPageSize, Cursor: after}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > MaxPageSize {
			return Page{}, apperr.Invalid(apperr.CodeInvalidLimit, "limit", "limit must be 1 to %d", MaxPageSize)
		}
		p.Limit = n
	}
	return p, nil
}

func (p Page) size() int {
	if p.Limit < 1 || p.Limit > MaxPageSize {
		return DefaultPageSize
	}
	return p.Limit
}

// Keyset pages a query by its sort key: Cols (unique together, the last
// one unique on its own), all ascending or all descending. A page starts
// strictly after the cursor's key, so rows inserted meanwhile never shift
// a page.
type Keyset struct {
	Cols []string
	Desc bool
}

// Apply adds the cursor condition to w and returns the ORDER BY and LIMIT
// clause to append. It asks for one row more than the page holds, which
// Finish uses to tell whether a next page exists.
func (k Keyset) Apply(w *Where, p Page) (string, error) {
	cmp, dir := ">", ""
	if k.Desc {
		cmp, dir = "<", " DESC"
	}
	if p.Cursor != "" {
		vals, err := decodeCursor(p.Cursor, len(k.Cols))
		if err != nil {
			return "", err
		}
		marks := strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ")
		args := make([]any, len(vals))
		for i, v := range vals {
			args[i] = v
		}
		w.AddN("("+strings.Join(k.Cols, ", ")+") "+cmp+" ("+marks+")", args...)
	}
	order := make([]string, len(k.Cols))
	for i, c := range k.Cols {
		order[i] = c + dir
	}
	return " ORDER BY " + strings.Join(order, ", ") + " LIMIT " + strconv.Itoa(p.size()+1), nil
}

// Finish trims rows read with Apply to the page and returns the cursor of
// the next page ("" on the last page). key returns a row's sort key values
// in Keyset.Cols order, as stored (times in TimeFormat).
func Finish[T any](rows []T, p Page, key func(T) []string) ([]T, string) {
	n := p.size()
	if len(rows) <= n {
		return rows, ""
	}
	rows = rows[:n]
	return rows, encodeCursor(key(rows[n-1]))
}

func encodeCursor(vals []string) string {
	b, _ := json.Marshal(vals)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(c string, n int) ([]string, error) {
	bad := apperr.Invalid(apperr.CodeInvalidCursor, "after", "after must be the next cursor of a previous page")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) > 4096 {
		return nil, bad
	}
	var vals []string
	if err := json.Unmarshal(b, &vals); err != nil || len(vals) != n {
		return nil, bad
	}
	return vals, nil
}
