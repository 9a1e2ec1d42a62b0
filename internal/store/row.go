package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Row is one table row with normalized values: string for TEXT, int64 for
// BIGINT and []byte for BLOB/BYTEA columns, nil for NULL. Both backends read
// back the same Row for the same data, which is what makes row hashes
// portable.
type Row map[string]any

// ColKind is a column's portable type.
type ColKind int

// Portable column kinds.
const (
	KindText ColKind = iota + 1
	KindInt
	KindBlob
)

// Column is a column name and kind.
type Column struct {
	Name string
	Kind ColKind
}

// Table describes one table.
type Table struct {
	Name    string
	Columns []Column // sorted by name
	kinds   map[string]ColKind
}

// Has reports whether the table has a column.
func (t *Table) Has(col string) bool { _, ok := t.kinds[col]; return ok }

// Kind returns a column's kind.
func (t *Table) Kind(col string) (ColKind, bool) { k, ok := t.kinds[col]; return k, ok }

// Schema is the set of tables in the current database, read once after
// migration.
type Schema struct {
	tables map[string]*Table
}

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Audited reports whether a table is audited: it has an id and a row_hash
// column. Every write to it goes through package audit, and every read
// that decodes its rows must check them there.
func (t *Table) Audited() bool { return t.Has("row_hash") && t.Has("id") }

func refuseAudited(ctx context.Context, q Querier, query string) error {
	var db *DB
	switch x := q.(type) {
	case *DB:
		db = x
	case *Tx:
		db = x.db
	default:
		return nil
	}
	audited, err := db.auditedTables(ctx)
	if err != nil {
		return err
	}
	for _, m := range tableRefRE.FindAllStringSubmatch(query, -1) {
		if audited[strings.ToLower(m[1])] {
			return fmt.Errorf("store: table %s is audited: read its rows with audit.Select, which checks each one", m[1])
		}
	}
	return nil
}

// ValidIdent reports whether s is a plain lower-case SQL identifier, the
// only kind vetca ever interpolates into SQL.
func ValidIdent(s string) bool { return identRE.MatchString(s) }

// LoadSchema reads the table and column list from the database catalog.
func LoadSchema(ctx context.Context, q Querier) (*Schema, error) {
	var query string
	switch q.Dialect() {
	case SQLite:
		query = `SELECT m.name, p.name, p.type FROM sqlite_master m JOIN pragma_table_info(m.name) p
			WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`
	case Postgres:
		// Base tables only: a view (or a table of another schema shadowed
		// by one) could show decision reads something else than what a
		// READ ONLY verify sees.
		query = `SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c
			JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
			WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'`
	}
	rows, err := q.Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	defer rows.Close()
	s := &Schema{tables: map[string]*Table{}}
	for rows.Next() {
		var tname, cname, ctype string
		if err := rows.Scan(&tname, &cname, &ctype); err != nil {
			return nil, fmt.Errorf("read schema: %w", err)
		}
		t := s.tables[tname]
		if t == nil {
			t = &Table{Name: tname, kinds: map[string]ColKind{}}
			s.tables[tname] = t
		}
		k := kindOf(ctype)
		t.Columns = append(t.Columns, Column{Name: cname, Kind: k})
		t.kinds[cname] = k
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema: %w", err)
	}
	for _, t := range s.tables {
		sort.Slice(t.Columns, func(i, j int) bool { return t.Columns[i].Name < t.Columns[j].Name })
	}
	return s, nil
}

func kindOf(declared string) ColKind {
	d := strings.ToUpper(declared)
	switch {
	case strings.Contains(d, "INT"):
		return KindInt
	case strings.Contains(d, "BLOB"), strings.Contains(d, "BYTEA"):
		return KindBlob
	default:
		return KindText
	}
}

// Table returns a table by name.
func (s *Schema) Table(name string) (*Table, bool) {
	t, ok := s.tables[name]
	return t, ok
}

// Tables returns every table name, sorted.
func (s *Schema) Tables() []string {
	var out []string
	for n := range s.tables {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Normalize converts raw values (as a driver or Encode returns them) to the
// column kinds of t. Unknown columns are an error.
func (t *Table) Normalize(raw map[string]any) (Row, error) {
	out := make(Row, len(raw))
	for col, v := range raw {
		k, ok := t.kinds[col]
		if !ok {
			return nil, fmt.Errorf("table %s has no column %s", t.Name, col)
		}
		nv, err := normalizeValue(k, v)
		if err != nil {
			return nil, fmt.Errorf("%s.%s: %w", t.Name, col, err)
		}
		out[col] = nv
	}
	return out, nil
}

// StoredTypeError is a value read from the database whose type is not its
// column's. SQLite lets any column hold any type: a TEXT value rewritten
// as a BLOB (CAST(x AS BLOB)) normalizes to the same text, so its row hash
// still matches, while no SQL comparison with a text finds it any more.
// vetca never writes one: it is an edit made outside vetca to hide a row
// from the filters that look for it (docs/design.md §7).
type StoredTypeError struct {
	Table, Column string
	ID            string // the row's id, as read
	Got           string // what the value is stored as ("a BLOB", …)
}

func (e *StoredTypeError) Error() string {
	return fmt.Sprintf("%s row %s: %s", e.Table, e.ID, e.Problem())
}

// Problem says what is wrong with the row, without naming it.
func (e *StoredTypeError) Problem() string {
	return fmt.Sprintf("column %s is stored as %s, not as its declared type: changed outside vetca", e.Column, e.Got)
}

// storageClass names what a driver's value is stored as.
func storageClass(v any) string {
	switch v.(type) {
	case []byte:
		return "a BLOB"
	case int64:
		return "an INTEGER"
	case float64:
		return "a REAL"
	case string:
		return "TEXT"
	}
	return fmt.Sprintf("%T", v)
}

// NormalizeStored is Normalize for a row read from the database: each
// value must come back with its column's own type, as vetca writes it (a
// string for TEXT, an integer for INTEGER, bytes for BLOB); any other is a
// *StoredTypeError.
func (t *Table) NormalizeStored(raw map[string]any) (Row, error) {
	for _, col := range slices.Sorted(maps.Keys(raw)) {
		k, ok := t.kinds[col]
		if !ok || storedAs(k, raw[col]) {
			continue // an unknown column is Normalize's error
		}
		return nil, &StoredTypeError{Table: t.Name, Column: col, ID: fmt.Sprintf("%s", raw["id"]), Got: storageClass(raw[col])}
	}
	return t.Normalize(raw)
}

// MisTyped returns a StoredTypeError for each value of t stored with
// another type than its column's, naming the row by keyCol. It is the
// check NormalizeStored makes, for a table whose rows are not read as
// maps (the audit trail's events, scanned into structs, where a retyped
// value reads as the same string). Only SQLite can hold such a value; on
// PostgreSQL it returns nothing.
func (t *Table) MisTyped(ctx context.Context, q Querier, keyCol string) ([]StoredTypeError, error) {
	if q.Dialect() != SQLite {
		return nil, nil
	}
	cols := make([]string, 0, len(t.Columns))
	var sel, where []string
	for _, c := range t.Columns {
		cols = append(cols, c.Name)
		sel = append(sel, "typeof("+c.Name+")")
		where = append(where, fmt.Sprintf("typeof(%s) NOT IN ('%s', 'null')", c.Name, sqliteClass[c.Kind]))
	}
	rows, err := q.Query(ctx, "SELECT CAST("+keyCol+" AS TEXT), "+strings.Join(sel, ", ")+" FROM "+t.Name+" WHERE "+strings.Join(where, " OR "))
	if err != nil {
		return nil, fmt.Errorf("check stored types of %s: %w", t.Name, err)
	}
	defer rows.Close()
	var out []StoredTypeError
	for rows.Next() {
		got := make([]string, len(cols))
		var key string
		dst := []any{&key}
		for i := range got {
			dst = append(dst, &got[i])
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("check stored types of %s: %w", t.Name, err)
		}
		for i, c := range t.Columns {
			if got[i] != sqliteClass[c.Kind] && got[i] != "null" {
				out = append(out, StoredTypeError{Table: t.Name, Column: c.Name, ID: key, Got: sqliteClassName[got[i]]})
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("check stored types of %s: %w", t.Name, err)
	}
	return out, nil
}

// sqliteClass is the storage class SQLite's typeof names for a kind.
var sqliteClass = map[ColKind]string{KindText: "text", KindInt: "integer", KindBlob: "blob"}

// sqliteClassName names a storage class as storageClass does.
var sqliteClassName = map[string]string{"blob": "a BLOB", "integer": "an INTEGER", "real": "a REAL", "text": "TEXT"}

// storedAs reports whether v, as a driver returns it, has kind k's type.
func storedAs(k ColKind, v any) bool {
	switch v.(type) {
	case nil:
		return true
	case string:
		return k == KindText
	case int64:
		return k == KindInt
	case []byte:
		return k == KindBlob
	}
	return false
}

func normalizeValue(k ColKind, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch k {
	case KindText:
		switch x := v.(type) {
		case string:
			return x, nil
		case []byte:
			return string(x), nil
		case time.Time:
			return FormatTime(x), nil
		}
	case KindInt:
		switch x := v.(type) {
		case int64:
			return x, nil
		case int:
			return int64(x), nil
		case int32:
			return int64(x), nil
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		}
	case KindBlob:
		switch x := v.(type) {
		case []byte:
			return append([]byte(nil), x...), nil
		case string:
			return []byte(x), nil
		}
	}
	return nil, fmt.Errorf("value of type %T does not fit column kind %d", v, k)
}

// ScanMaps reads every row of rows into maps keyed by column name. Values
// are as the driver returns them; normalize them with Table.Normalize.
func ScanMaps(rows *sql.Rows) ([]map[string]any, error) {
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		m := make(map[string]any, len(cols))
		for i, c := range cols {
			if b, ok := vals[i].([]byte); ok {
				vals[i] = append([]byte(nil), b...)
			}
			m[c] = vals[i]
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// ---- struct codec ----
//
// Structs map to rows through `db:"column"` tags. Supported field types:
// string, *string, int/int64, bool (0/1), time.Time (NULL when zero),
// *time.Time, []byte, and any type with the ",json" option (stored as JSON
// text).

type fieldInfo struct {
	index []int
	col   string
	json  bool
}

var fieldCache sync.Map // reflect.Type -> []fieldInfo (a pure memo)

func fieldsOf(t reflect.Type) []fieldInfo {
	if f, ok := fieldCache.Load(t); ok {
		return f.([]fieldInfo)
	}
	out := collectFields(t, nil)
	fieldCache.Store(t, out)
	return out
}

// collectFields walks t's fields; untagged embedded structs are flattened.
func collectFields(t reflect.Type, prefix []int) []fieldInfo {
	var out []fieldInfo
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		index := append(append([]int(nil), prefix...), i)
		tag := sf.Tag.Get("db")
		if tag == "" && sf.Anonymous && sf.Type.Kind() == reflect.Struct {
			out = append(out, collectFields(sf.Type, index)...)
			continue
		}
		if tag == "" || tag == "-" {
			continue
		}
		name, opt, _ := strings.Cut(tag, ",")
		out = append(out, fieldInfo{index: index, col: name, json: opt == "json"})
	}
	return out
}

var timeType = reflect.TypeOf(time.Time{})

// Encode turns a tagged struct (or pointer to one) into column values.
func Encode(v any) (map[string]any, error) {
	rv := reflect.Indirect(reflect.ValueOf(v))
	if rv.Kind() != reflect.Struct {
		return nil, fmt.Errorf("encode: %T is not a struct", v)
	}
	out := map[string]any{}
	for _, f := range fieldsOf(rv.Type()) {
		fv := rv.FieldByIndex(f.index)
		if f.json {
			b, err := json.Marshal(fv.Interface())
			if err != nil {
				return nil, fmt.Errorf("encode %s: %w", f.col, err)
			}
			out[f.col] = string(b)
			continue
		}
		val, err := encodeValue(fv)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", f.col, err)
		}
		out[f.col] = val
	}
	return out, nil
}

func encodeValue(fv reflect.Value) (any, error) {
	if fv.Type() == timeType {
		t := fv.Interface().(time.Time)
		if t.IsZero() {
			return nil, nil
		}
		if !TimeStorable(t) {
			// TimeFormat has four digits of year: another would be
			// written as text that never parses back, and every later
			// read of the row would fail. The edge refuses such input
			// naming its field; this is the last line.
			return nil, fmt.Errorf("time %s is outside the years 0000-9999 (UTC), which vetca stores", t.UTC().Format(time.RFC3339))
		}
		return FormatTime(t), nil
	}
	switch fv.Kind() {
	case reflect.String:
		return fv.String(), nil
	case reflect.Int, reflect.Int64, reflect.Int32:
		return fv.Int(), nil
	case reflect.Bool:
		if fv.Bool() {
			return int64(1), nil
		}
		return int64(0), nil
	case reflect.Slice:
		if fv.Type().Elem().Kind() == reflect.Uint8 {
			if fv.IsNil() {
				return nil, nil
			}
			return append([]byte(nil), fv.Bytes()...), nil
		}
	case reflect.Pointer:
		if fv.IsNil() {
			return nil, nil
		}
		return encodeValue(fv.Elem())
	}
	return nil, fmt.Errorf("unsupported field type %s", fv.Type())
}

// Decode fills a tagged struct pointer from column values. Columns without
// a field are ignored; fields without a column are left alone.
func Decode(m map[string]any, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("decode: %T is not a pointer to a struct", v)
	}
	rv = rv.Elem()
	for _, f := range fieldsOf(rv.Type()) {
		val, ok := m[f.col]
		if !ok {
			continue
		}
		fv := rv.FieldByIndex(f.index)
		if f.json {
			var b []byte
			switch x := val.(type) {
			case string:
				b = []byte(x)
			case []byte:
				b = x
			case nil:
				continue
			default:
				return fmt.Errorf("decode %s: json column holds %T", f.col, val)
			}
			if err := json.Unmarshal(b, fv.Addr().Interface()); err != nil {
				return fmt.Errorf("decode %s: %w", f.col, err)
			}
			continue
		}
		if err := decodeValue(fv, val); err != nil {
			return fmt.Errorf("decode %s: %w", f.col, err)
		}
	}
	return nil
}

func decodeValue(fv reflect.Value, val any) error {
	if fv.Kind() == reflect.Pointer {
		if val == nil {
			fv.Set(reflect.Zero(fv.Type()))
			return nil
		}
		p := reflect.New(fv.Type().Elem())
		if err := decodeValue(p.Elem(), val); err != nil {
			return err
		}
		fv.Set(p)
		return nil
	}
	if fv.Type() == timeType {
		switch x := val.(type) {
		case nil:
			fv.Set(reflect.Zero(timeType))
			return nil
		case string:
			t, err := ParseTime(x)
			if err != nil {
				return err
			}
			fv.Set(reflect.ValueOf(t))
			return nil
		case []byte:
			t, err := ParseTime(string(x))
			if err != nil {
				return err
			}
			fv.Set(reflect.ValueOf(t))
			return nil
		case time.Time:
			fv.Set(reflect.ValueOf(x.UTC()))
			return nil
		}
		return fmt.Errorf("time column holds %T", val)
	}
	switch fv.Kind() {
	case reflect.String:
		switch x := val.(type) {
		case nil:
			fv.SetString("")
		case string:
			fv.SetString(x)
		case []byte:
			fv.SetString(string(x))
		default:
			return fmt.Errorf("text column holds %T", val)
		}
		return nil
	case reflect.Int, reflect.Int64, reflect.Int32:
		switch x := val.(type) {
		case nil:
			fv.SetInt(0)
		case int64:
			fv.SetInt(x)
		case int32:
			fv.SetInt(int64(x))
		case int:
			fv.SetInt(int64(x))
		default:
			return fmt.Errorf("integer column holds %T", val)
		}
		return nil
	case reflect.Bool:
		switch x := val.(type) {
		case nil:
			fv.SetBool(false)
		case int64:
			fv.SetBool(x != 0)
		case bool:
			fv.SetBool(x)
		default:
			return fmt.Errorf("boolean column holds %T", val)
		}
		return nil
	case reflect.Slice:
		if fv.Type().Elem().Kind() == reflect.Uint8 {
			switch x := val.(type) {
			case nil:
				fv.SetBytes(nil)
			case []byte:
				fv.SetBytes(append([]byte(nil), x...))
			case string:
				fv.SetBytes([]byte(x))
			default:
				return fmt.Errorf("blob column holds %T", val)
			}
			return nil
		}
	}
	return fmt.Errorf("unsupported field type %s", fv.Type())
}

// ErrNotFound is returned by Get when no row matches.
var ErrNotFound = errors.New("not found")

// tableRefRE finds the tables a query reads (FROM t, JOIN t, FROM a, b).
var tableRefRE = regexp.MustCompile(`(?i)\b(?:FROM|JOIN)\s+([a-z_][a-z0-9_]*)`)

// Select runs a query and decodes every row into a T (a tagged struct). It
// refuses a query on an audited table (Table.Audited): such rows feed
// decisions and mails, and must be read with audit.Select, which checks
// each one against its authentic audit event. The choice is not left to
// each call site.
func Select[T any](ctx context.Context, q Querier, query string, args ...any) ([]T, error) {
	if err := refuseAudited(ctx, q, query); err != nil {
		return nil, err
	}
	return SelectUnchecked[T](ctx, q, query, args...)
}

// SelectUnchecked is Select without the audited-table refusal, for
// projections and aggregates over audited tables whose rows cannot be
// checked one by one (a DISTINCT or UNION of some columns). Each call site
// must say why its result does not feed a decision unchecked.
func SelectUnchecked[T any](ctx context.Context, q Querier, query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	maps, err := ScanMaps(rows)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(maps))
	for _, m := range maps {
		var v T
		if err := Decode(m, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Get runs a query and decodes its first row into a T; ErrNotFound if none.
func Get[T any](ctx context.Context, q Querier, query string, args ...any) (T, error) {
	var zero T
	all, err := Select[T](ctx, q, query, args...)
	if err != nil {
		return zero, err
	}
	if len(all) == 0 {
		return zero, ErrNotFound
	}
	return all[0], nil
}

// TextIs is the condition "col = ?" on a TEXT column, with its arguments.
// On SQLite it is "col IN (?, CAST(? AS BLOB))": SQLite lets a TEXT
// column hold a BLOB, and a value rewritten as one outside vetca keeps its
// row hash while "col = ?" no longer finds it. Found, the row fails the
// audited read (Table.NormalizeStored), so a lookup that decides something
// (the blocklist, who acted for an account, the tokens to revoke) fails
// closed instead of missing the row. Both probes use the column's index.
func TextIs(q Querier, col, v string) (string, []any) {
	if q.Dialect() == SQLite {
		return col + " IN (?, CAST(? AS BLOB))", []any{v, v}
	}
	return col + " = ?", []any{v}
}
