package web

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/store"
)

// maxBody bounds every JSON request body.
const maxBody = 1 << 20

// errorBody is the error shape of docs/api.md (Errors).
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code      apperr.Code `json:"code"`
	Message   string      `json:"message"`
	Field     string      `json:"field"`
	Vetted    *string     `json:"vetted,omitempty"`
	Requested *string     `json:"requested,omitempty"`
}

func statusOf(k apperr.Kind) int {
	switch k {
	case apperr.KindInvalid:
		return http.StatusBadRequest
	case apperr.KindUnauthenticated:
		return http.StatusUnauthorized
	case apperr.KindForbidden:
		return http.StatusForbidden
	case apperr.KindNotFound:
		return http.StatusNotFound
	case apperr.KindConflict:
		return http.StatusConflict
	case apperr.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case apperr.KindUnprocessable:
		return http.StatusUnprocessableEntity
	case apperr.KindTooManyRequests:
		return http.StatusTooManyRequests
	case apperr.KindUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeError renders err. An *apperr.Error keeps its code, field and
// message; anything else is an internal error, logged with the request id
// and shown without details.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := apperr.As(err)
	if !ok {
		id := requestID(r)
		s.log.Error("internal error", "request", id, "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSON(w, http.StatusInternalServerError, errorBody{Error: errorDetail{Code: apperr.CodeInternal, Message: "internal error; logged as request " + id}})
		return
	}
	if !apperr.Known(e.Code) {
		s.log.Error("error code not declared in apperr", "request", requestID(r), "code", e.Code, "err", e.Message)
	}
	d := errorDetail{Code: e.Code, Message: e.Message, Field: e.Field}
	if e.HasCmp {
		v, rq := e.Vetted, e.Requested
		d.Vetted, d.Requested = &v, &rq
	}
	if e.Kind == apperr.KindIntegrity || e.Code == apperr.CodeIntegrityViolation {
		s.log.Error("integrity violation", "request", requestID(r), "err", e.Message)
	}
	if e.Kind == apperr.KindUnauthenticated {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vetca"`)
	}
	writeJSON(w, statusOf(e.Kind), errorBody{Error: d})
}

// decodeOptions tune decode.
type decodeOptions struct {
	// refuseField returns an error for a field that must be named
	// specifically (e.g. a subject field sent to a contact endpoint).
	refuseField func(name string) error
	allowEmpty  bool
}

// decode reads a JSON object into dst strictly: the body must be
// application/json, at most maxBody bytes, one object, with only the exact
// field names dst declares (encoding/json alone would accept other cases).
// Errors name the field.
func decode(w http.ResponseWriter, r *http.Request, dst any, opts ...decodeOptions) error {
	var o decodeOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return apperr.Invalid(apperr.CodeUnsupportedMediaType, "body", "send the body as application/json")
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apperr.TooLarge(apperr.CodeBodyTooLarge, "body", "the request body is larger than %d bytes", maxBody)
		}
		return apperr.Invalid(apperr.CodeInvalidBody, "body", "reading the request body: %v", err)
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if o.allowEmpty {
			return nil
		}
		return apperr.Invalid(apperr.CodeInvalidJSON, "body", "the request body is empty; send a JSON object")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return apperr.Invalid(apperr.CodeInvalidJSON, "body", "the request body must be a JSON object")
		}
		return apperr.Invalid(apperr.CodeInvalidJSON, "body", "the request body is not valid JSON: %v", err)
	}
	if raw == nil {
		// encoding/json reads null into a map as no map at all, which
		// would pass for {}.
		return apperr.Invalid(apperr.CodeInvalidJSON, "body", "the request body must be a JSON object, not null")
	}
	allowed := jsonFields(reflect.TypeOf(dst).Elem())
	var keys []string
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if allowed[k] {
			continue
		}
		if k == "" {
			return apperr.Invalid(apperr.CodeUnknownField, "body", "the request body has a field with an empty name")
		}
		if o.refuseField != nil {
			if err := o.refuseField(k); err != nil {
				return err
			}
		}
		return apperr.Invalid(apperr.CodeUnknownField, k, "unknown field %q", k)
	}
	if err := checkFields(body, reflect.TypeOf(dst).Elem(), ""); err != nil {
		return err
	}
	if where := nulInJSON(body); where != "" {
		return nulError(where)
	}
	if where := invalidUTF8InJSON(body); where != "" {
		return utf8Error(where)
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := jsonPath(te.Field)
			if key := mapEntry(body, reflect.TypeOf(dst).Elem(), field); key != "" {
				field += "." + key
			}
			return apperr.Invalid(apperr.CodeInvalidType, field, "field %q must be %s, not %s", field, describeType(te.Type), te.Value)
		}
		if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			name := strings.Trim(msg, `"`)
			return apperr.Invalid(apperr.CodeUnknownField, name, "unknown field %q", name)
		}
		return apperr.Invalid(apperr.CodeInvalidJSON, "body", "the request body is not valid: %v", err)
	}
	return nil
}

// noBody reads the body of an endpoint that takes none: nothing, or an
// empty object ({}), is accepted; anything else is refused as decode
// refuses it (unknown_field naming the key, invalid_json,
// unsupported_media_type), so a body the endpoint would ignore (a
// "decision":"reject" sent to an approval) is never taken for consent.
func noBody(w http.ResponseWriter, r *http.Request) error {
	return decode(w, r, &struct{}{}, decodeOptions{allowEmpty: true})
}

// mapEntry returns the key of the entry of the map at path (a
// dot-separated path of JSON field names from the top of a body of type
// t) whose value does not decode into the map's element type, the first
// in key order, or "" when path does not lead to such a map.
// encoding/json names such an error by the map alone ("subject"); the
// caller then names the entry ("subject.organizationName").
func mapEntry(body []byte, t reflect.Type, path string) string {
	raw := json.RawMessage(body)
	for _, name := range strings.Split(path, ".") {
		f, ok := jsonField(t, name)
		if !ok {
			return ""
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return ""
		}
		if raw, ok = m[name]; !ok {
			return ""
		}
		t = f.Type
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Map || t.Key().Kind() != reflect.String {
		return ""
	}
	var entries map[string]json.RawMessage
	if json.Unmarshal(raw, &entries) != nil {
		return ""
	}
	for _, k := range slices.Sorted(maps.Keys(entries)) {
		if json.Unmarshal(entries[k], reflect.New(t.Elem()).Interface()) != nil {
			return k
		}
	}
	return ""
}

// checkFields walks a body of type t (nested objects, arrays and maps,
// keys in order) and returns the error, naming the field by its JSON path
// ("sanctionsReview.Reference", "query.issuedAfter"), for the first of:
//
//   - a key of a nested object that is not exactly a JSON field name of the
//     struct it fills (unknown_field): encoding/json would match it
//     case-insensitively; decode checks the top level itself;
//   - a value that a type reading its own JSON refuses: a time.Time that is
//     not an RFC 3339 string is invalid_time (a string) or invalid_type (a
//     number, true, an object, ...). encoding/json reports such an error
//     without the field, and decode would otherwise blame the body as a
//     whole.
//
// It returns nil for anything else, which decode then checks.
func checkFields(raw []byte, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if readsOwnJSON(t) {
		if path == "" {
			return nil
		}
		return refusedValue(raw, t, path)
	}
	switch t.Kind() {
	case reflect.Struct:
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil {
			return nil
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			p := k
			if path != "" {
				p = path + "." + k
			}
			f, ok := jsonField(t, k)
			if !ok {
				if path == "" {
					continue // the top level is decode's
				}
				return apperr.Invalid(apperr.CodeUnknownField, p, "unknown field %q", p)
			}
			if err := checkFields(m[k], f.Type, p); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		var items []json.RawMessage
		if plainKind(t.Elem()) || json.Unmarshal(raw, &items) != nil {
			return nil
		}
		for _, it := range items {
			if err := checkFields(it, t.Elem(), path); err != nil {
				return err
			}
		}
	case reflect.Map:
		var m map[string]json.RawMessage
		if t.Key().Kind() != reflect.String || plainKind(t.Elem()) || json.Unmarshal(raw, &m) != nil {
			return nil
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if err := checkFields(m[k], t.Elem(), p); err != nil {
				return err
			}
		}
	}
	return nil
}

// refusedValue returns the error naming path when raw does not decode into
// t, a type that reads its own JSON, or nil.
func refusedValue(raw []byte, t reflect.Type, path string) error {
	v := reflect.New(t)
	err := json.Unmarshal(raw, v.Interface())
	if err == nil {
		if tm, ok := v.Interface().(*time.Time); ok {
			return storableTime(path, *tm)
		}
		return nil
	}
	kind := jsonKind(raw)
	if t == reflect.TypeFor[time.Time]() {
		if kind == "a string" {
			return apperr.Invalid(apperr.CodeInvalidTime, path, "%s must be an RFC 3339 time with a zone, such as 2026-11-23T09:00:00Z, not %.64s", path, raw)
		}
		return apperr.Invalid(apperr.CodeInvalidType, path, "field %q must be an RFC 3339 time (a string), not %s", path, kind)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return apperr.Invalid(apperr.CodeInvalidType, path, "field %q must be %s, not %s", path, describeType(t), kind)
	}
	return apperr.Invalid(apperr.CodeInvalidValue, path, "field %q: %v", path, err)
}

// storableTime refuses, naming path, a time whose year in UTC is outside
// 0000-9999: times are stored as text of the form 2006-01-02T15:04:05Z
// (store.FormatTime), and such a year is written as text that can never
// be read back, failing every later read of the row.
func storableTime(path string, t time.Time) error {
	if !store.TimeStorable(t) {
		return apperr.Invalid(apperr.CodeInvalidTime, path, "%s %s is outside the years 0000-9999 (UTC)", path, t.UTC().Format(time.RFC3339))
	}
	return nil
}

// plainKind reports whether t is a string, number or bool type that reads
// no JSON of its own, so that no value of it is refusedValue's to check.
func plainKind(t reflect.Type) bool {
	if readsOwnJSON(t) {
		return false
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return true
	}
	return false
}

// readsOwnJSON reports whether encoding/json hands values of t to t's own
// UnmarshalJSON or UnmarshalText (time.Time, json.RawMessage, br.Reason).
func readsOwnJSON(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return pt.Implements(reflect.TypeFor[json.Unmarshaler]()) || pt.Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
}

// jsonKind names the kind of a JSON value for people.
func jsonKind(raw []byte) string {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 {
		return "nothing"
	}
	switch b[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "true or false"
	case 'n':
		return "null"
	}
	return "a number"
}

// jsonField returns the field of struct type t, flattening embedded
// structs, whose JSON name is exactly name.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return reflect.StructField{}, false
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && tag == "" {
			if g, ok := jsonField(f.Type, name); ok {
				return g, true
			}
			continue
		}
		if tag == "-" || !f.IsExported() {
			continue
		}
		if tag == "" {
			tag = f.Name
		}
		if tag == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// jsonPath drops the Go names of embedded structs from an
// UnmarshalTypeError path ("Fields.organizationName" -> "organizationName");
// vetca's JSON names all start with a lower-case letter.
func jsonPath(p string) string {
	parts := strings.Split(p, ".")
	out := parts[:0]
	for i, s := range parts {
		if i < len(parts)-1 && s != "" && s[0] >= 'A' && s[0] <= 'Z' {
			continue
		}
		out = append(out, s)
	}
	return strings.Join(out, ".")
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Pointer:
		return describeType(t.Elem())
	}
	return t.String()
}

// jsonFields lists the exact JSON names of a struct's fields, flattening
// embedded structs.
func jsonFields(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return out
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			for k := range jsonFields(f.Type) {
				out[k] = true
			}
			continue
		}
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = true
	}
	return out
}

// logAttrs is a helper for structured request logs.
func logAttrs(r *http.Request, status int) []slog.Attr {
	return []slog.Attr{slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", status)}
}
