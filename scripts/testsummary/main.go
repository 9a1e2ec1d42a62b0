// Command testsummary runs `go test -json` (or reads its output on standard
// input), prints what a plain `go test` would (one line per package, and
// the log of every failing test, as they arrive), and ends with the list of
// skipped tests and why each was skipped. A package that hit -timeout
// gets a digest of its goroutine dump at the very end (hang.go).
//
//	go run ./scripts/testsummary [-expected FILE] [-require-all] -- go test -json ./...
//	go test -json ./... | go run ./scripts/testsummary
//
// It exits non-zero when a test or a package failed, when the command
// failed, or, with -require-all (default: VETCA_TEST_REQUIRE_ALL=1, which
// .ci/run sets), when a test was skipped that the expected-skips file does
// not list. That file has one skip a line, "PACKAGE TEST why", where
// PACKAGE is the import path or its end after a slash (internal/lint), TEST
// a test name or a path.Match pattern (TestX/*), and "why" is free text;
// blank lines and lines starting with # are ignored.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json), with the
// build-output lines of Go 1.24 and later.
type event struct {
	Action     string
	Package    string
	Test       string
	Output     string
	ImportPath string
}

type key struct{ pkg, test string }

// Skip is one skipped test and the message it gave.
type Skip struct {
	Package, Test, Reason string
}

// Summary is what a run came to.
type Summary struct {
	Passed, Failed int
	Skipped        []Skip
	FailedPackages []string
	Hangs          []Hang // packages that hit -timeout, with their dumps
}

// Expected is a list of skips that are not a failure even with
// -require-all.
type Expected []struct{ pkg, test string }

// ParseExpected reads an expected-skips file.
func ParseExpected(r io.Reader) (Expected, error) {
	var out Expected
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			return nil, fmt.Errorf("line %d: want \"PACKAGE TEST why\", got %q", n, line)
		}
		if _, err := path.Match(f[1], ""); err != nil {
			return nil, fmt.Errorf("line %d: test pattern %q: %v", n, f[1], err)
		}
		out = append(out, struct{ pkg, test string }{f[0], f[1]})
	}
	return out, sc.Err()
}

// Allows reports whether the skip is listed.
func (e Expected) Allows(s Skip) bool {
	for _, x := range e {
		if s.Package != x.pkg && !strings.HasSuffix(s.Package, "/"+x.pkg) {
			continue
		}
		if ok, _ := path.Match(x.test, s.Test); ok {
			return true
		}
	}
	return false
}

// Filter reads `go test -json` from r and writes the plain output to w as
// it arrives: package lines (ok, FAIL, no test files), build errors, and
// the output of each failing test. Lines that are not JSON are copied.
func Filter(r io.Reader, w io.Writer) (Summary, error) {
	var sum Summary
	buf := map[key][]string{} // output of tests still running or skipped
	var order []key           // tests in the order they started
	done := map[key]string{}  // test -> its final action
	failed := map[key]bool{}  // tests whose log was printed
	var hs hangs
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			var ev event
			if !bytes.HasPrefix(bytes.TrimSpace(line), []byte("{")) || json.Unmarshal(line, &ev) != nil {
				if _, werr := w.Write(line); werr != nil {
					return sum, werr
				}
			} else {
				if ev.Action == "output" {
					hs.see(ev.Package, ev.Output)
				}
				handle(&sum, ev, w, buf, &order, done, failed)
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return sum, err
		}
	}
	sum.Hangs = hs.list()
	return sum, nil
}

// framing is test2json's own line for a test starting or resuming, which a
// plain `go test` does not print.
func framing(s string) bool {
	for _, p := range []string{"=== RUN", "=== PAUSE", "=== CONT", "=== NAME"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func handle(sum *Summary, ev event, w io.Writer, buf map[key][]string, order *[]key, done map[key]string, printed map[key]bool) {
	switch ev.Action {
	case "build-output":
		fmt.Fprint(w, ev.Output)
		return
	case "start", "run", "pause", "cont", "bench":
		if ev.Test != "" && ev.Action == "run" {
			k := key{ev.Package, ev.Test}
			if _, seen := buf[k]; !seen {
				buf[k] = nil
				*order = append(*order, k)
			}
		}
		return
	}
	if ev.Test == "" {
		switch ev.Action {
		case "output":
			if ev.Output != "PASS\n" {
				fmt.Fprint(w, ev.Output)
			}
		case "fail":
			sum.FailedPackages = append(sum.FailedPackages, ev.Package)
			// Print what the tests that never finished (a panic, a
			// timeout) said.
			for _, k := range *order {
				if k.pkg == ev.Package && done[k] == "" && len(buf[k]) > 0 {
					fmt.Fprint(w, strings.Join(buf[k], ""))
					buf[k] = nil
				}
			}
		}
		return
	}
	k := key{ev.Package, ev.Test}
	if _, seen := buf[k]; !seen {
		*order = append(*order, k)
	}
	switch ev.Action {
	case "output":
		if !framing(ev.Output) {
			buf[k] = append(buf[k], ev.Output)
		}
	case "pass":
		sum.Passed++
		done[k] = "pass"
		buf[k] = nil
	case "skip":
		done[k] = "skip"
		sum.Skipped = append(sum.Skipped, Skip{Package: ev.Package, Test: ev.Test, Reason: reason(buf[k])})
		buf[k] = nil
	case "fail":
		sum.Failed++
		done[k] = "fail"
		// A parent fails after its subtests: print the whole failed tree
		// once, parent first, when its top-level test ends.
		if strings.Contains(ev.Test, "/") {
			return
		}
		for _, o := range *order {
			if o.pkg != ev.Package || printed[o] || (o.test != ev.Test && !strings.HasPrefix(o.test, ev.Test+"/")) {
				continue
			}
			if done[o] == "fail" || done[o] == "" {
				fmt.Fprint(w, strings.Join(buf[o], ""))
				printed[o] = true
			}
			buf[o] = nil
		}
	}
}

// reason is the message of a skipped test: its output without the
// "--- SKIP" line, on one line.
func reason(out []string) string {
	var parts []string
	for _, l := range out {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "--- SKIP") {
			continue
		}
		parts = append(parts, l)
	}
	if len(parts) == 0 {
		return "(no message)"
	}
	return strings.Join(parts, " / ")
}

// Report prints the closing summary and returns the skips the expected
// list does not allow.
func Report(w io.Writer, sum Summary, exp Expected, requireAll bool, expectedFile string) []Skip {
	fmt.Fprintln(w)
	var unexpected []Skip
	if len(sum.Skipped) == 0 {
		fmt.Fprintln(w, "Skipped tests: none")
	} else {
		fmt.Fprintf(w, "Skipped tests (%d):\n", len(sum.Skipped))
		sk := append([]Skip(nil), sum.Skipped...)
		sort.SliceStable(sk, func(i, j int) bool { return sk[i].Package < sk[j].Package })
		for _, s := range sk {
			mark := ""
			if !exp.Allows(s) {
				unexpected = append(unexpected, s)
				if requireAll {
					mark = "  [NOT EXPECTED]"
				}
			}
			fmt.Fprintf(w, "  %s %s: %s%s\n", s.Package, s.Test, s.Reason, mark)
		}
	}
	fmt.Fprintf(w, "tests: %d passed, %d failed, %d skipped\n", sum.Passed, sum.Failed, len(sum.Skipped))
	reportHangs(w, sum.Hangs)
	if requireAll && len(unexpected) > 0 {
		fmt.Fprintf(w, "FAIL: %d skipped tests are not listed in %s, and VETCA_TEST_REQUIRE_ALL=1 makes every other skip a failure\n", len(unexpected), expectedFile)
	}
	if !requireAll {
		unexpected = nil
	}
	return unexpected
}

func main() {
	expectedFile := flag.String("expected", ".ci/expected-skips", "file listing the skips allowed with -require-all")
	requireAll := flag.Bool("require-all", os.Getenv("VETCA_TEST_REQUIRE_ALL") == "1", "fail on any skip the expected-skips file does not list")
	flag.Usage = func() {
		fmt.Fprintln(flag.CommandLine.Output(), "usage: testsummary [flags] [-- go test -json ...]   (or pipe go test -json into it)")
		flag.PrintDefaults()
	}
	flag.Parse()
	os.Exit(run(*expectedFile, *requireAll, flag.Args()))
}

func run(expectedFile string, requireAll bool, args []string) int {
	var exp Expected
	if f, err := os.Open(expectedFile); err == nil {
		exp, err = ParseExpected(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "testsummary: %s: %v\n", expectedFile, err)
			return 2
		}
	} else if requireAll || !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(os.Stderr, "testsummary: %v\n", err)
		return 2
	}

	in := io.Reader(os.Stdin)
	var cmd *exec.Cmd
	if len(args) > 0 {
		cmd = exec.Command(args[0], args[1:]...)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			fmt.Fprintf(os.Stderr, "testsummary: %v\n", err)
			return 2
		}
		if err := cmd.Start(); err != nil {
			fmt.Fprintf(os.Stderr, "testsummary: %v\n", err)
			return 2
		}
		in = out
	}
	sum, err := Filter(in, os.Stdout)
	code := 0
	if err != nil {
		fmt.Fprintf(os.Stderr, "testsummary: reading test output: %v\n", err)
		code = 1
	}
	if cmd != nil {
		if err := cmd.Wait(); err != nil {
			fmt.Fprintf(os.Stderr, "testsummary: %s: %v\n", strings.Join(args, " "), err)
			code = 1
		}
	}
	if sum.Failed > 0 || len(sum.FailedPackages) > 0 {
		code = 1
	}
	if len(Report(os.Stdout, sum, exp, requireAll, expectedFile)) > 0 {
		code = 1
	}
	return code
}
