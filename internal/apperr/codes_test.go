package apperr

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the error code table of docs/api.md from codes.go")

// declared is one Code constant of codes.go.
type declared struct {
	name, value string
	statuses    []int
	when        string
}

// docRE is the form of a code's doc comment: its name, its HTTP statuses,
// and when it is returned.
var docRE = regexp.MustCompile(`^(Code\w+) \(([0-9]{3}(?:, [0-9]{3})*)\): (\S.*\S)$`)

// parseCodes reads the Code constants of codes.go, in file order, with their
// doc comments.
func parseCodes(t *testing.T) []declared {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "codes.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var out []declared
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, sp := range g.Specs {
			vs := sp.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" || len(vs.Names) != 1 || len(vs.Values) != 1 {
				t.Errorf("codes.go: declare each code alone, as `CodeX Code = \"x\"` (%s)", vs.Names[0].Name)
				continue
			}
			name := vs.Names[0].Name
			lit, ok := vs.Values[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				t.Errorf("codes.go: %s is not a string literal", name)
				continue
			}
			value, _ := strconv.Unquote(lit.Value)
			doc := strings.TrimSpace(vs.Doc.Text())
			m := docRE.FindStringSubmatch(doc)
			if strings.Contains(doc, "\n") || m == nil || m[1] != name {
				t.Errorf("codes.go: %s needs a one-line doc comment \"%s (STATUS): when it is returned.\", has %q", name, name, doc)
				continue
			}
			c := declared{name: name, value: value, when: m[3]}
			for _, s := range strings.Split(m[2], ", ") {
				n, _ := strconv.Atoi(s)
				c.statuses = append(c.statuses, n)
			}
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		t.Fatal("codes.go declares no codes")
	}
	return out
}

// TestCodesDeclared checks codes.go itself: well-formed, unique values,
// and All lists exactly the constants, in file order.
func TestCodesDeclared(t *testing.T) {
	codes := parseCodes(t)
	valueRE := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	seen := map[string]string{}
	var values []Code
	for _, c := range codes {
		if !valueRE.MatchString(c.value) {
			t.Errorf("%s = %q: a code is lower-case words joined by '_'", c.name, c.value)
		}
		if other, dup := seen[c.value]; dup {
			t.Errorf("%s and %s are both %q", other, c.name, c.value)
		}
		seen[c.value] = c.name
		for _, s := range c.statuses {
			if s < 400 || s > 599 {
				t.Errorf("%s: status %d is not an error status", c.name, s)
			}
		}
		values = append(values, Code(c.value))
	}
	if got := All(); !slices.Equal(got, values) {
		for _, c := range values {
			if !slices.Contains(got, c) {
				t.Errorf("All() lacks %q; add its constant to all in codes.go", c)
			}
		}
		for _, c := range got {
			if !slices.Contains(values, c) {
				t.Errorf("All() lists %q, which codes.go does not declare", c)
			}
		}
		if !t.Failed() {
			t.Errorf("All() lists the codes in another order than codes.go declares them")
		}
	}
	for _, c := range values {
		if !Known(c) {
			t.Errorf("Known(%q) = false", c)
		}
	}
	if Known("") || Known("no_such_code") {
		t.Error("Known accepts an undeclared code")
	}
}

const (
	tableBegin = "<!-- error codes: generated from internal/apperr/codes.go; go test ./internal/apperr -run TestCodesDocumented -update -->"
	tableEnd   = "<!-- end of error codes -->"
)

// codeTable renders the docs/api.md table of codes.
func codeTable(codes []declared) string {
	var b strings.Builder
	b.WriteString("| code | status | returned when |\n|---|---|---|\n")
	for _, c := range codes {
		var st []string
		for _, s := range c.statuses {
			st = append(st, strconv.Itoa(s))
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", c.value, strings.Join(st, ", "), strings.ReplaceAll(c.when, "|", `\|`))
	}
	return b.String()
}

// TestCodesDocumented checks that docs/api.md lists every code, with its
// status and meaning, as codes.go declares them (and no other). With
// -update it rewrites the table.
func TestCodesDocumented(t *testing.T) {
	codes := parseCodes(t)
	path := filepath.Join(repoRoot(t), "docs", "api.md")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i, j := strings.Index(doc, tableBegin), strings.Index(doc, tableEnd)
	if i < 0 || j < i {
		t.Fatalf("docs/api.md has no error code table between\n%s\nand\n%s", tableBegin, tableEnd)
	}
	got := strings.TrimSpace(doc[i+len(tableBegin) : j])
	want := strings.TrimSpace(codeTable(codes))
	if got == want {
		return
	}
	if *update {
		doc = doc[:i+len(tableBegin)] + "\n" + want + "\n" + doc[j:]
		if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	rows := map[string]string{}
	for _, l := range strings.Split(got, "\n") {
		if f := strings.Split(l, "`"); len(f) >= 3 {
			rows[f[1]] = l
		}
	}
	wantRows := strings.Split(want, "\n")[2:]
	for k, c := range codes {
		switch row, ok := rows[c.value]; {
		case !ok:
			t.Errorf("docs/api.md does not list %s (%s)", c.value, c.name)
		case row != wantRows[k]:
			t.Errorf("docs/api.md lists %s as\n  %s\nnot as codes.go declares it:\n  %s", c.value, row, wantRows[k])
		}
		delete(rows, c.value)
	}
	for v := range rows {
		t.Errorf("docs/api.md lists %s, which codes.go does not declare", v)
	}
	if !t.Failed() {
		t.Errorf("docs/api.md lists the codes in another order than codes.go")
	}
	t.Log("regenerate the table with: go test ./internal/apperr -run TestCodesDocumented -update")
}

// repoRoot is the directory holding go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

// kindStatus is the HTTP status of the errors each constructor makes.
var kindStatus = map[string]int{
	"Invalid": 400, "Unauthenticated": 401, "Forbidden": 403, "NotFound": 404,
	"Conflict": 409, "TooLarge": 413, "Unprocessable": 422, "Unavailable": 503,
}

// TestCodesAtCallSites walks the module's non-test Go files and checks how
// they use codes: the kind constructors get a declared constant (never a
// string literal) whose documented status is the constructor's, and
// apperr.NoField rather than "" when no field is to blame; no string
// literal is turned into a Code, or set as the Code of an error body, outside
// codes.go.
func TestCodesAtCallSites(t *testing.T) {
	codes := parseCodes(t)
	statuses := map[string][]int{}
	for _, c := range codes {
		statuses[c.name] = c.statuses
	}
	root := repoRoot(t)
	type file struct {
		path, pkg string
		f         *ast.File
		apperr    string // the name apperr is imported as
	}
	var files []file
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); p != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fl := file{path: filepath.ToSlash(rel), pkg: f.Name.Name, f: f}
		for _, im := range f.Imports {
			if strings.Trim(im.Path.Value, `"`) == "github.com/vetca/vetca/internal/apperr" {
				fl.apperr = "apperr"
				if im.Name != nil {
					fl.apperr = im.Name.Name
				}
			}
		}
		if fl.pkg == "apperr" && filepath.Dir(fl.path) == "internal/apperr" {
			return nil // the declarations themselves
		}
		files = append(files, fl)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Constants of other packages that stand for a code ("CodeX =
	// apperr.CodeY"), by package name.
	alias := map[string]string{}
	for _, fl := range files {
		if fl.apperr == "" {
			continue
		}
		ast.Inspect(fl.f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, v := range vs.Values {
				if sel, ok := v.(*ast.SelectorExpr); ok && isIdent(sel.X, fl.apperr) && i < len(vs.Names) {
					alias[fl.pkg+"."+vs.Names[i].Name] = sel.Sel.Name
				}
			}
			return true
		})
	}

	snake := regexp.MustCompile(`^"[a-z][a-z0-9_]*"$`)
	calls := 0
	for _, fl := range files {
		at := func(n ast.Node) string {
			p := fset.Position(n.Pos())
			return fmt.Sprintf("%s:%d", fl.path, p.Line)
		}
		// code resolves a code argument to the name of its constant in
		// codes.go, or "" when it is not a constant (a variable).
		code := func(e ast.Expr) string {
			switch e := e.(type) {
			case *ast.SelectorExpr:
				if isIdent(e.X, fl.apperr) {
					return e.Sel.Name
				}
				if x, ok := e.X.(*ast.Ident); ok {
					return alias[x.Name+"."+e.Sel.Name]
				}
			case *ast.Ident:
				return alias[fl.pkg+"."+e.Name]
			}
			return ""
		}
		ast.Inspect(fl.f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok || fl.apperr == "" || !isIdent(sel.X, fl.apperr) {
					return true
				}
				name := sel.Sel.Name
				switch status, isKind := kindStatus[name]; {
				case isKind:
					calls++
					if len(n.Args) < 3 {
						t.Errorf("%s: apperr.%s takes (code, field, format, args...)", at(n), name)
						return true
					}
					if isStringLit(n.Args[0]) {
						t.Errorf("%s: apperr.%s with the string literal code %s; use its constant in internal/apperr/codes.go", at(n), name, lit(n.Args[0]))
					} else if c := code(n.Args[0]); c != "" && statuses[c] != nil && !slices.Contains(statuses[c], status) {
						t.Errorf("%s: apperr.%s (%d) with %s, which codes.go documents as %v", at(n), name, status, c, statuses[c])
					}
					if l, ok := n.Args[1].(*ast.BasicLit); ok && l.Value == `""` {
						t.Errorf(`%s: apperr.%s with field ""; use apperr.NoField`, at(n), name)
					}
				case name == "HasCode" && len(n.Args) == 2 && isStringLit(n.Args[1]):
					t.Errorf("%s: apperr.HasCode with the string literal code %s; use its constant", at(n), lit(n.Args[1]))
				case name == "Code" && len(n.Args) == 1 && isStringLit(n.Args[0]):
					t.Errorf("%s: apperr.Code(%s) declares a code outside internal/apperr/codes.go", at(n), lit(n.Args[0]))
				}
			case *ast.ValueSpec:
				if sel, ok := n.Type.(*ast.SelectorExpr); ok && isIdent(sel.X, fl.apperr) && sel.Sel.Name == "Code" {
					for _, v := range n.Values {
						if isStringLit(v) {
							t.Errorf("%s: %s declares a code outside internal/apperr/codes.go", at(n), lit(v))
						}
					}
				}
			case *ast.KeyValueExpr:
				if k, ok := n.Key.(*ast.Ident); ok && k.Name == "Code" && isStringLit(n.Value) && snake.MatchString(lit(n.Value)) {
					t.Errorf("%s: Code: %s; use its constant in internal/apperr/codes.go", at(n), lit(n.Value))
				}
			}
			return true
		})
	}
	if calls < 100 {
		t.Errorf("found only %d calls of the apperr constructors; is the walk broken?", calls)
	}
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && name != "" && id.Name == name
}

func isStringLit(e ast.Expr) bool {
	l, ok := e.(*ast.BasicLit)
	return ok && l.Kind == token.STRING
}

func lit(e ast.Expr) string {
	if l, ok := e.(*ast.BasicLit); ok {
		return l.Value
	}
	return ""
}
