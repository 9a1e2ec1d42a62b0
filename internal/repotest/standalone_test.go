// Package repotest holds checks on the repository itself rather than on
// any one package.
package repotest

import (
	"bufio"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// outside matches citations of documents and trackers that are not in this
// repository: a sibling directory of shared files, issue numbers, and the
// sections of an outside contract or the invariants of an outside design
// document. A comment states its rule in its own words or cites
// docs/design.md, docs/api.md, docs/architecture.md or README.md.
//
// The patterns are written so that this file does not match them itself.
var outside = []struct {
	re   *regexp.Regexp
	what string
}{
	{regexp.MustCompile(`\.\./shared|\bshared/reference/`), "a path outside the repository"},
	{regexp.MustCompile(`(?i)\bissue [0-9]`), "an issue number of an outside tracker"},
	{regexp.MustCompile(`\bC[O]NTRACT\b`), "an outside contract document (cite docs/api.md or README.md)"},
	{regexp.MustCompile(`\bD[E]SIGN\b`), "an outside design document (cite a docs/design.md section)"},
}

// exempt lists files that may still match, each with the reason (the test
// fails on an entry that no longer matches, so the list cannot go stale).
var exempt = map[string]string{}

// scanned reports whether a file is source or documentation to check.
func scanned(rel string) bool {
	switch filepath.Ext(rel) {
	case ".go", ".md", ".sql", ".sh", ".html", ".toml", ".yml", ".yaml":
		return true
	}
	if filepath.Base(rel) == "Makefile" {
		return true
	}
	dir := filepath.ToSlash(filepath.Dir(rel))
	return dir == ".ci" || dir == "scripts"
}

// TestRepositoryStandsAlone fails when a source or documentation file cites
// something that only exists outside this repository.
func TestRepositoryStandsAlone(t *testing.T) {
	root := repoRoot(t)
	matched := map[string]bool{}
	var files int
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "node_modules", "bin":
				// testdata holds fuzz corpora and fixtures, which may
				// contain any text.
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !scanned(rel) {
			return nil
		}
		files++
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			for _, o := range outside {
				m := o.re.FindString(line)
				if m == "" {
					continue
				}
				matched[rel] = true
				if _, ok := exempt[rel]; ok {
					continue
				}
				t.Errorf("%s:%d: %q cites %s: state the rule in the repository's own words or cite its docs\n\t%s",
					rel, n, m, o.what, strings.TrimSpace(line))
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("scanned only %d files under %s: is that the repository root?", files, root)
	}
	var stale []string
	for rel := range exempt {
		if !matched[rel] {
			stale = append(stale, rel)
		}
	}
	sort.Strings(stale)
	for _, rel := range stale {
		t.Errorf("%s is exempt but no longer cites anything outside the repository: remove it from exempt", rel)
	}
}

// repoRoot is the directory holding go.mod, found upwards from the test's
// working directory (the package directory).
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}
