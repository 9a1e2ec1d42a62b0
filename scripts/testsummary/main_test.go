package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sample is a small module whose tests pass, fail (in a subtest too), log
// and skip, so the filter sees real `go test -json` output.
const sample = `package sample

import "testing"

func TestPasses(t *testing.T) { t.Log("quiet when passing") }

func TestFails(t *testing.T) { t.Log("said before failing"); t.Error("broken") }

func TestSkipsForAReason(t *testing.T) { t.Skip("no widget here") }

func TestParent(t *testing.T) {
	t.Run("good", func(t *testing.T) { t.Log("good child") })
	t.Run("bad", func(t *testing.T) { t.Fatal("bad child") })
	t.Run("gone", func(t *testing.T) { t.Skipf("child skipped: %d", 7) })
}
`

func goTestJSON(t *testing.T) []byte {
	t.Helper()
	return runGoTest(t, "example.com/sample", sample, "-count=1")
}

// runGoTest runs `go test -json` with args on a module of one test file.
func runGoTest(t *testing.T, module, test string, args ...string) []byte {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"go.mod": "module " + module + "\n\ngo 1.22\n", "sample_test.go": test} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("go", append(append([]string{"test", "-json"}, args...), ".")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	out, err := cmd.Output()
	if _, ok := err.(*exec.ExitError); !ok && err != nil {
		t.Fatalf("go test -json: %v", err)
	}
	if len(out) == 0 {
		t.Fatal("go test -json printed nothing")
	}
	return out
}

// hanging is a test that never ends, with three goroutines waiting in one
// place of the module's code, and a test that passes first.
const hanging = `package hangsample

import "testing"

func wait(c chan int) { <-c }

func TestBefore(t *testing.T) {}

func TestHangs(t *testing.T) {
	c := make(chan int)
	for range 3 {
		go wait(c)
	}
	wait(c)
}
`

// A package that hits -timeout prints every goroutine's stack; the report
// ends with a digest a CI log's last lines still show: the test that was
// running and where the project's goroutines waited, counted.
func TestTimeoutDumpIsDigestedAtTheEnd(t *testing.T) {
	out := runGoTest(t, modulePath+"hangsample", hanging, "-count=1", "-timeout=3s")
	var plain bytes.Buffer
	sum, err := Filter(bytes.NewReader(out), &plain)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Hangs) != 1 || sum.Hangs[0].Package != modulePath+"hangsample" {
		t.Fatalf("hangs %+v\n%s", sum.Hangs, plain.String())
	}
	var rep bytes.Buffer
	Report(&rep, sum, nil, false, "")
	lines := strings.Split(strings.TrimSpace(rep.String()), "\n")
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	tail := strings.Join(lines, "\n")
	for _, want := range []string{"TIMED OUT: " + modulePath + "hangsample; still running: TestHangs (", "3 × [chan receive] hangsample.wait (", "1 × [chan receive] hangsample.wait <- hangsample.TestHangs ("} {
		if !strings.Contains(tail, want) {
			t.Errorf("the report's last lines lack %q:\n%s", want, tail)
		}
	}
	if strings.Contains(tail, "TestBefore") {
		t.Errorf("a test that ended is named as running:\n%s", tail)
	}
}

func TestFilterAndReport(t *testing.T) {
	var plain bytes.Buffer
	sum, err := Filter(bytes.NewReader(goTestJSON(t)), &plain)
	if err != nil {
		t.Fatal(err)
	}
	text := plain.String()
	for _, want := range []string{"said before failing", "broken", "bad child", "--- FAIL: TestFails", "--- FAIL: TestParent/bad", "FAIL\texample.com/sample"} {
		if !strings.Contains(text, want) {
			t.Errorf("plain output lacks %q:\n%s", want, text)
		}
	}
	for _, unwanted := range []string{"quiet when passing", "good child", "=== RUN", "--- PASS", "no widget here"} {
		if strings.Contains(text, unwanted) {
			t.Errorf("plain output has %q, which plain go test does not print:\n%s", unwanted, text)
		}
	}
	if i, j := strings.Index(text, "--- FAIL: TestParent "), strings.Index(text, "bad child"); i < 0 || j < 0 || j < i {
		t.Errorf("a failed parent should come before its failed subtest:\n%s", text)
	}
	// TestPasses, TestParent/good; TestFails, TestParent, TestParent/bad.
	if sum.Passed != 2 || sum.Failed != 3 || len(sum.FailedPackages) != 1 {
		t.Errorf("summary %+v", sum)
	}
	got := map[string]string{}
	for _, s := range sum.Skipped {
		got[s.Test] = s.Reason
		if s.Package != "example.com/sample" {
			t.Errorf("skip in package %q", s.Package)
		}
	}
	if len(got) != 2 || !strings.Contains(got["TestSkipsForAReason"], "sample_test.go:9: no widget here") || !strings.Contains(got["TestParent/gone"], "child skipped: 7") {
		t.Errorf("skips %+v", sum.Skipped)
	}

	exp, err := ParseExpected(strings.NewReader("# comment\n\nsample TestParent/* a subtest that may skip\n"))
	if err != nil {
		t.Fatal(err)
	}
	var rep bytes.Buffer
	unexpected := Report(&rep, sum, exp, true, "expected-skips")
	if len(unexpected) != 1 || unexpected[0].Test != "TestSkipsForAReason" {
		t.Errorf("unexpected skips %+v", unexpected)
	}
	out := rep.String()
	for _, want := range []string{"Skipped tests (2):", "example.com/sample TestSkipsForAReason: ", "no widget here  [NOT EXPECTED]",
		"tests: 2 passed, 3 failed, 2 skipped", "FAIL: 1 skipped tests are not listed in expected-skips"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "child skipped: 7  [NOT EXPECTED]") {
		t.Errorf("an expected skip is marked:\n%s", out)
	}
	// Without -require-all every skip is listed and none fails the run.
	rep.Reset()
	if u := Report(&rep, sum, exp, false, "expected-skips"); len(u) != 0 || strings.Contains(rep.String(), "NOT EXPECTED") || !strings.Contains(rep.String(), "no widget here") {
		t.Errorf("without -require-all: %+v\n%s", u, rep.String())
	}
}

func TestNonJSONLinesAreCopied(t *testing.T) {
	var out bytes.Buffer
	in := "# example.com/broken\n./x.go:3:1: syntax error\n" +
		`{"Action":"build-output","ImportPath":"example.com/y","Output":"y.go:1: undefined: z\n"}` + "\n" +
		`{"Action":"output","Package":"example.com/y","Output":"FAIL\texample.com/y [build failed]\n"}` + "\n" +
		`{"Action":"fail","Package":"example.com/y"}` + "\n"
	sum, err := Filter(strings.NewReader(in), &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"syntax error", "undefined: z", "[build failed]"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if len(sum.FailedPackages) != 1 {
		t.Errorf("failed packages %v", sum.FailedPackages)
	}
}

func TestParseExpectedRefusesBadLines(t *testing.T) {
	for _, bad := range []string{"internal/lint TestX\n", "internal/lint Test[ why\n"} {
		if _, err := ParseExpected(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	exp, err := ParseExpected(strings.NewReader("internal/lint TestGenerateTestdata regenerates testdata only when asked\n"))
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[Skip]bool{
		{Package: "github.com/vetca/vetca/internal/lint", Test: "TestGenerateTestdata"}:   true,
		{Package: "github.com/vetca/vetca/internal/lint", Test: "TestGenerateTestdata/x"}: false,
		{Package: "github.com/vetca/vetca/internal/nolint", Test: "TestGenerateTestdata"}: false,
		{Package: "github.com/vetca/vetca/internal/lint/x", Test: "TestGenerateTestdata"}: false,
		{Package: "github.com/vetca/vetca/internal/lint", Test: "TestSomethingElse"}:      false,
	} {
		if got := exp.Allows(s); got != want {
			t.Errorf("Allows(%+v) = %v", s, got)
		}
	}
}
