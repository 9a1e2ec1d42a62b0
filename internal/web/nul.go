package web

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/vetca/vetca/internal/apperr"
)

// No text that reaches vetca from outside may hold U+0000. PostgreSQL
// cannot store it in a TEXT column (the statement fails, which would be a
// 500), while SQLite stores it, so the same request would get different
// answers on the two backends, and a NUL cuts strings short in C tools
// (openssl, mail agents) that staff use on what vetca stores. It is
// refused at the edge, once for every endpoint: in the path and query
// string (ServeHTTP), in a JSON body (decode) and in a form (the console
// and /report), with 400 control_character naming where it was.

// nulInURL names the part of the request URL that holds a NUL ("path" or
// the query parameter), or "".
func nulInURL(u *url.URL) string {
	if strings.ContainsRune(u.Path, 0) {
		return "path"
	}
	return nulInValues(u.Query())
}

// nulInValues names the first form or query field, by name, whose name or
// value holds a NUL, or "".
func nulInValues(v url.Values) string {
	for _, k := range slices.Sorted(maps.Keys(v)) {
		if strings.ContainsRune(k, 0) {
			return strings.ReplaceAll(k, "\x00", `\u0000`)
		}
		for _, s := range v[k] {
			if strings.ContainsRune(s, 0) {
				return k
			}
		}
	}
	return ""
}

// nulError is the error for a NUL found at where.
func nulError(where string) error {
	return apperr.Invalid(apperr.CodeControlCharacter, where, "%s contains a NUL character (U+0000), which vetca does not accept in any text", where)
}

// nulInJSON returns the JSON path ("a.b", arrays keeping their field's
// path, as checkFields names fields) of the first string, key or value, of
// body that holds a NUL, or "". body is valid JSON.
func nulInJSON(body []byte) string {
	if !bytes.Contains(body, []byte(`\u0000`)) {
		return "" // the only way a JSON string can hold a NUL
	}
	var v any
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	path, _ := nulPath(v, "")
	return path
}

func nulPath(v any, path string) (string, bool) {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch x := v.(type) {
	case string:
		return path, strings.ContainsRune(x, 0)
	case []any:
		for _, it := range x {
			if p, ok := nulPath(it, path); ok {
				return p, true
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if strings.ContainsRune(k, 0) {
				return join(strings.ReplaceAll(k, "\x00", `\u0000`)), true
			}
			if p, ok := nulPath(x[k], join(k)); ok {
				return p, true
			}
		}
	}
	return "", false
}

// refuseNULInURL answers a request whose path or query string holds a NUL
// and reports whether it did: the API's error shape under /api/, an RFC
// 8555 problem document under /acme/, plain text elsewhere.
func (s *Server) refuseNULInURL(w http.ResponseWriter, r *http.Request) bool {
	where := nulInURL(r.URL)
	if where == "" {
		return false
	}
	err := nulError(where)
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/"):
		s.writeError(w, r, err)
	case strings.HasPrefix(r.URL.Path, "/acme/"):
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"type": "urn:ietf:params:acme:error:malformed", "detail": err.Error(), "status": http.StatusBadRequest})
	default:
		http.Error(w, err.Error(), http.StatusBadRequest)
	}
	return true
}
