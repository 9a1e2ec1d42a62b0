package e2e

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

type scanJSON struct {
	Findings []struct {
		Serial, Lint, Field, Message, Severity string
		New                                    bool
	} `json:"findings"`
}

// scanWith runs `vetca scan --json` with bin and env, and decodes it.
func (in *Instance) scanWith(t *testing.T, bin string, env []string, args ...string) (scanJSON, int) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"scan", "--json"}, args...)...)
	cmd.Env = append(in.env(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var res scanJSON
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("scan exit %d: %v\nstdout %s\nstderr %s", code, err, out.String(), errb.String())
	}
	return res, code
}

// TestScanReportsALintAddedAfterIssuance: certificates issued while a lint
// did not exist are reported by `vetca scan` once it does (the test build's
// VETCA_TEST_NEW_LINT_DNS lint), with the lint's name and exit 1; a rerun
// reports nothing new. An out-of-band SQL edit of the organization version
// is reported naming the field.
func TestScanReportsALintAddedAfterIssuance(t *testing.T) {
	Each(t, func(t *testing.T, in *Instance) {
		c := setupCA(t, in)
		s1, _ := c.issue(t)
		s2, _ := c.issue(t)
		in.Stop()
		if res, code := in.scanWith(t, vetcaBin, nil); code != 0 || len(res.Findings) != 0 {
			t.Fatalf("clean scan: exit %d, %+v", code, res.Findings)
		}
		env := []string{"VETCA_TEST_NEW_LINT_DNS=acme-widgets"}
		res, code := in.scanWith(t, hooksBin, env)
		var got []string
		for _, f := range res.Findings {
			if f.Lint != "e_vetca_test_new_lint" || !f.New || f.Severity != "error" {
				t.Fatalf("unexpected finding %+v", f)
			}
			got = append(got, f.Serial)
		}
		want := []string{s1, s2}
		slices.Sort(got)
		slices.Sort(want)
		if code != 1 || !slices.Equal(got, want) {
			t.Fatalf("scan with the new lint: exit %d, serials %v, want %v", code, got, want)
		}
		res, code = in.scanWith(t, hooksBin, env)
		for _, f := range res.Findings {
			if f.New {
				t.Fatalf("rerun reports a new finding: %+v", f)
			}
		}
		if code != 1 || len(res.Findings) != 2 {
			t.Fatalf("rerun: exit %d, %+v", code, res.Findings)
		}
		in.SQL("UPDATE organization_versions SET locality_name = 'Oakland'")
		res, code = in.scanWith(t, vetcaBin, nil)
		found := false
		for _, f := range res.Findings {
			found = found || (f.Lint == "vetca_subject_matches_org_version" && f.Field == "localityName" && f.New &&
				strings.Contains(f.Message, "organization_versions"))
		}
		if code != 1 || !found {
			t.Fatalf("after the SQL edit: exit %d, %+v", code, res.Findings)
		}
	})
}
