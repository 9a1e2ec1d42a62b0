package e2e

import (
	"bufio"
	"encoding/json"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// `vetca incident revoke` killed (SIGKILL) halfway through an incident's
// bulk revocation and run again revokes every affected certificate
// exactly once, and every one is in the published CRLs.
func TestIncidentBulkRevocationResumesAfterSIGKILL(t *testing.T) {
	const n = 40
	Each(t, func(t *testing.T, in *Instance) {
		c := setupCA(t, in)
		var serials []string
		for range n {
			s, _ := c.issue(t)
			serials = append(serials, s)
		}
		r := in.Do("POST", "/api/v1/incidents", c.carol, map[string]any{
			"title": "vetca Test CA: Certificates issued with a wrong countryName", "source": "third-party",
			"trigger": "4.9.1.1#12", "awareAt": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339), "serials": serials})
		if r.Status != 201 {
			t.Fatalf("open incident: %d %s", r.Status, r.Raw)
		}
		id := r.Body["id"].(string)
		in.Stop()
		due, _ := time.Parse(time.RFC3339, r.Body["revocationDue"].(string))
		checkIncidentDeadlines(t, in, id, serials, due)

		cmd := exec.Command(vetcaBin, "incident", "revoke", id, "--workers", "1")
		cmd.Env = in.env()
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc, seen := bufio.NewScanner(stderr), 0
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "revoked ") {
				if seen++; seen == 10 {
					_ = cmd.Process.Signal(syscall.SIGKILL)
					break
				}
			}
		}
		_ = cmd.Wait()

		left := dryRun(t, in, id)
		if left == 0 || left >= n {
			t.Fatalf("after SIGKILL %d of %d certificates are left to revoke; want the run interrupted halfway", left, n)
		}
		out, errOut, code := in.CLI("incident", "revoke", id, "--json", "--workers", "4")
		if code != 0 {
			t.Fatalf("resume: exit %d %s", code, errOut)
		}
		var res struct{ Revoked, AlreadyRevoked, Affected int }
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.Revoked != left || res.AlreadyRevoked != n-left || res.Affected != n {
			t.Fatalf("resume: %v %s", err, out)
		}
		if dryRun(t, in, id) != 0 {
			t.Fatal("certificates left to revoke after the resumed run")
		}
		if got := in.SQL("SELECT COUNT(*) FROM audit_events WHERE entity_type = 'revocations' AND op = 'insert'"); got != itoa(n) {
			t.Fatalf("%s revocations recorded, want %d", got, n)
		}
		if got := in.SQL("SELECT COUNT(*) FROM audit_events WHERE entity_type = 'revocations' AND op <> 'insert'"); got != "0" {
			t.Fatalf("%s revocations changed after being recorded, want none", got)
		}
		if _, errOut, code := in.CLI("crl", "publish", "--force"); code != 0 {
			t.Fatalf("crl publish: %s", errOut)
		}
		if v, code := crlVerify(t, in); code != 0 {
			t.Fatalf("crl verify: %+v", v)
		}
		if out, _, code := in.CLI("audit", "verify"); code != 0 {
			t.Fatalf("audit verify after the bulk revocation: exit %d\n%s", code, out)
		}
		for _, s := range serials {
			if got := in.SQL("SELECT reason FROM revocations WHERE serial = '" + s + "'"); got != "superseded" {
				t.Fatalf("serial %s: reason %q, want superseded (BR §4.9.1.1 item 12)", s, got)
			}
		}
	})
}

// dryRun returns how many certificates of incident id are left to revoke.
func dryRun(t *testing.T, in *Instance, id string) int {
	t.Helper()
	out, errOut, code := in.CLI("incident", "revoke", id, "--dry-run", "--json")
	var res struct{ Serials []string }
	if err := json.Unmarshal([]byte(out), &res); err != nil || code != 0 {
		t.Fatalf("dry run: exit %d %v %s", code, err, errOut)
	}
	return len(res.Serials)
}

// checkIncidentDeadlines: `vetca deadlines --at revocationDue + 1 s` lists
// every affected serial's revocation as breached, and the incident's
// report obligations, and exits 1.
func checkIncidentDeadlines(t *testing.T, in *Instance, id string, serials []string, due time.Time) {
	t.Helper()
	out, errOut, code := in.CLI("deadlines", "--json", "--at", due.Add(time.Second).Format(time.RFC3339))
	var v struct {
		Items []struct {
			Kind, Ref, Section string
			Breached           bool
		}
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil || code != 1 {
		t.Fatalf("deadlines: exit %d %v %s", code, err, errOut)
	}
	breached, kinds := map[string]bool{}, map[string]bool{}
	for _, it := range v.Items {
		if it.Kind == "revocation" && it.Breached {
			breached[it.Ref] = true
		}
		if it.Ref == id {
			kinds[it.Kind] = true
		}
	}
	for _, s := range serials {
		if !breached[s] {
			t.Fatalf("serial %s not breached at the deadline + 1 s: %s", s, out)
		}
	}
	for _, k := range []string{"incident_initial_report", "incident_full_report", "incident_update"} {
		if !kinds[k] {
			t.Fatalf("no %s item for incident %s: %s", k, id, out)
		}
	}
}
