package repotest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// owners maps each table to the package that owns it: the only package
// whose code names the table in SQL or opens an audited handle on it.
// Every other package asks the owner through its methods
// (docs/architecture.md, "Table ownership").
var owners = map[string]string{
	"accounts": "internal/account", "account_organizations": "internal/account", "contacts": "internal/account",
	"users": "internal/auth", "api_tokens": "internal/auth", "console_sessions": "internal/auth", "console_session_activity": "internal/auth",
	"audit_events": "internal/audit", "audit_head": "internal/audit", "audit_checkpoints": "internal/audit",
	"change_requests": "internal/change", "change_request_approvals": "internal/change",
	"domain_validations": "internal/validation", "domain_validation_attempts": "internal/validation", "caa_checks": "internal/validation",
	"certificate_domain_validations": "internal/validation",
	"certificates":                   "internal/issuance", "issuance_intents": "internal/issuance", "issuers": "internal/issuance", "blocked_keys": "internal/issuance",
	"outbox": "internal/notify",

	"problem_reports":         "internal/cpr",
	"flagged_method_versions": "internal/validation",
	"problem_report_matches":  "internal/cpr",
	"problem_report_events":   "internal/cpr",
	"incidents":               "internal/incident", "incident_certificates": "internal/incident", "incident_events": "internal/incident",
	"orders": "internal/order", "order_approvals": "internal/order",
	"revocations": "internal/revocation", "crl_shards": "internal/revocation", "crl_files": "internal/revocation", "ocsp_responses": "internal/revocation",
	"organizations": "internal/vetting", "organization_versions": "internal/vetting", "organization_verifications": "internal/vetting",
	"scan_runs": "internal/scan", "scan_findings": "internal/scan",
	"templates": "internal/template", "template_approvals": "internal/template",
	"eab_keys":      "internal/eab",
	"acme_accounts": "internal/acme", "acme_orders": "internal/acme", "acme_authorizations": "internal/acme", "acme_challenges": "internal/acme", "acme_nonces": "internal/acme",
	"order_templates":  "internal/order",
	"leases":           "internal/store",
	"settings":         "internal/app",
	"goose_db_version": "internal/store",
}

// anyTable lists the packages that may act on every table, with the reason.
var anyTable = map[string]string{
	"internal/store": "the database layer: schema introspection and migrations",
	"internal/audit": "the audit trail: integrity-checked reads and writes of every audited table, and the dual-controlled repair path of change requests",
	"internal/bench": "benchmarks on a scratch database, comparing plain and audited writes",
}

// SQL keywords are written in upper case in vetca, prose in lower case.
var sqlTable = regexp.MustCompile(`\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+([a-z_][a-z_0-9]*)`)

// TestTableOwnership fails when a package runs SQL on, or opens an audited
// handle on, a table that another package owns, and when a table in the
// migrations has no owner.
func TestTableOwnership(t *testing.T) {
	root := repoRoot(t)
	migrated := migrationTables(t, root)
	for _, tbl := range migrated {
		if _, ok := owners[tbl]; !ok {
			t.Errorf("table %s (in the migrations) has no owner: add it to owners and to docs/architecture.md", tbl)
		}
	}
	known := map[string]bool{}
	for _, tbl := range migrated {
		known[tbl] = true
	}
	fset := token.NewFileSet()
	var files int
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "node_modules", "bin":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		pkg := filepath.ToSlash(filepath.Dir(rel))
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		for _, use := range tablesNamed(f, known) {
			owner := owners[use.table]
			if owner == pkg || strings.HasPrefix(pkg, owner+"/") || anyTable[ownerRoot(pkg)] != "" {
				continue
			}
			t.Errorf("%s:%d: package %s uses table %s, which package %s owns; ask the owner through a method",
				filepath.ToSlash(rel), fset.Position(use.pos).Line, pkg, use.table, owner)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("only %d Go files read under %s", files, root)
	}
}

// ownerRoot is the top package of pkg's subtree that anyTable may name.
func ownerRoot(pkg string) string {
	for p := range anyTable {
		if pkg == p || strings.HasPrefix(pkg, p+"/") {
			return p
		}
	}
	return pkg
}

type tableUse struct {
	table string
	pos   token.Pos
}

// tablesNamed finds the known tables a file names: in SQL inside string
// literals, and as the table argument of audit.TableOf.
func tablesNamed(f *ast.File, known map[string]bool) []tableUse {
	var out []tableUse
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.BasicLit:
			if x.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(x.Value)
			if err != nil {
				return true
			}
			for _, m := range sqlTable.FindAllStringSubmatch(s, -1) {
				if known[m[1]] {
					out = append(out, tableUse{m[1], x.Pos()})
				}
			}
		case *ast.CallExpr:
			if isTableOf(x.Fun) && len(x.Args) == 2 {
				if lit, ok := x.Args[1].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil && known[s] {
						out = append(out, tableUse{s, lit.Pos()})
					}
				}
			}
		}
		return true
	})
	return out
}

func isTableOf(fun ast.Expr) bool {
	if ix, ok := fun.(*ast.IndexExpr); ok {
		fun = ix.X
	}
	switch f := fun.(type) {
	case *ast.SelectorExpr:
		return f.Sel.Name == "TableOf"
	case *ast.Ident:
		return f.Name == "TableOf"
	}
	return false
}

// migrationTables lists the tables the SQLite migrations create.
func migrationTables(t *testing.T, root string) []string {
	t.Helper()
	dir := filepath.Join(root, "internal", "store", "migrations", "sqlite")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	create := regexp.MustCompile(`(?i)CREATE TABLE\s+(?:IF NOT EXISTS\s+)?([a-z_][a-z_0-9]*)`)
	seen := map[string]bool{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range create.FindAllStringSubmatch(string(b), -1) {
			seen[m[1]] = true
		}
	}
	var out []string
	for tbl := range seen {
		out = append(out, tbl)
	}
	sort.Strings(out)
	if len(out) < 20 {
		t.Fatalf("only %d tables found in %s", len(out), dir)
	}
	return out
}
