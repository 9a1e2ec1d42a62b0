package web

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

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
func nulInValues(v url.Values) string { return badInValues(v, hasNUL) }

// badInValues names the first form or query field whose name or value is
// bad, or "": by its name, printable (printableKey) when the name is the
// bad part.
func badInValues(v url.Values, bad func(string) bool) string {
	for _, k := range slices.Sorted(maps.Keys(v)) {
		if bad(k) {
			return printableKey(k)
		}
		for _, s := range v[k] {
			if bad(s) {
				return k
			}
		}
	}
	return ""
}

// printableKey is a field name fit to name in an error: a NUL written as
// \u0000, bytes that are not UTF-8 as U+FFFD.
func printableKey(k string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(k, "\x00", `\u0000`), "\uFFFD")
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
	path, _ := textPath(v, "", hasNUL)
	return path
}

func hasNUL(s string) bool { return strings.ContainsRune(s, 0) }

// notUTF8 reports whether s is not valid UTF-8 or holds U+FFFD, which is
// what encoding/json makes of invalid bytes and lone surrogate escapes.
func notUTF8(s string) bool { return !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) }

// invalidUTF8InJSON returns the JSON path of the first string, key or
// value, of body that is not valid UTF-8 (encoding/json would silently
// make it U+FFFD), or "". body is valid JSON.
func invalidUTF8InJSON(body []byte) string {
	if utf8.Valid(body) && !bytes.Contains(body, []byte(`\u`)) && !bytes.ContainsRune(body, utf8.RuneError) {
		return ""
	}
	var v any
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	path, _ := textPath(v, "", notUTF8)
	return path
}

// invalidUTF8InValues names the first form or query field whose name or
// value is not valid UTF-8, or "".
func invalidUTF8InValues(v url.Values) string {
	return badInValues(v, func(s string) bool { return !utf8.ValidString(s) })
}

// utf8Error is the error for text that is not valid UTF-8 found at where.
func utf8Error(where string) error {
	return apperr.Invalid(apperr.CodeControlCharacter, where, "%s is not valid UTF-8", where)
}

// badTextInValues is the error for the first form field holding a NUL or
// text that is not valid UTF-8, or nil.
func badTextInValues(v url.Values) error {
	if where := nulInValues(v); where != "" {
		return nulError(where)
	}
	if where := invalidUTF8InValues(v); where != "" {
		return utf8Error(where)
	}
	return nil
}

func textPath(v any, path string, bad func(string) bool) (string, bool) {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch x := v.(type) {
	case string:
		return path, bad(x)
	case []any:
		for _, it := range x {
			if p, ok := textPath(it, path, bad); ok {
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
			if bad(k) {
				return join(printableKey(k)), true
			}
			if p, ok := textPath(x[k], join(k), bad); ok {
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
	where, err := nulInURL(r.URL), error(nil)
	if where != "" {
		err = nulError(where)
	} else if !utf8.ValidString(r.URL.Path) {
		where, err = "path", utf8Error("path")
	} else if where = invalidUTF8InValues(r.URL.Query()); where != "" {
		err = utf8Error(where)
	} else {
		return false
	}
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
