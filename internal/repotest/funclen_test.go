package repotest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shortFuncPackages are packages whose functions must each fit on a screen
// (at most maxFuncLines lines), so that their control flow reads as named
// steps (docs/architecture.md, "Finalize as named steps").
var shortFuncPackages = []string{"internal/order"}

const maxFuncLines = 60

func TestFunctionsAreShort(t *testing.T) {
	root := repoRoot(t)
	fset := token.NewFileSet()
	for _, pkg := range shortFuncPackages {
		entries, err := os.ReadDir(filepath.Join(root, pkg))
		if err != nil {
			t.Fatal(err)
		}
		read := 0
		for _, e := range entries {
			name := e.Name()
			if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(root, pkg, name), nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			read++
			for _, d := range f.Decls {
				fn, ok := d.(*ast.FuncDecl)
				if !ok || fn.Body == nil {
					continue
				}
				lines := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1
				if lines > maxFuncLines {
					t.Errorf("%s/%s: func %s is %d lines; split it into named steps of at most %d", pkg, name, fn.Name.Name, lines, maxFuncLines)
				}
			}
		}
		if read == 0 {
			t.Fatalf("no Go files in %s", pkg)
		}
	}
}
