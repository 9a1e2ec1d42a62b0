package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/clock"
)

// Bulk revocation of 10,000 certificates is killed halfway, resumed, and
// finishes with each certificate revoked once and all of them in the CRLs.
// One certificate is issued through the API; the other 9,999 are copies of
// it under fresh serials, each with the CRL shard and URL its serial maps
// to (apptest.CopyCertificates, through the issuance engine's audited
// table with the installation's audit key).
//
// SQLite only: on PostgreSQL the same test passed but took 2 min 45 s
// (about 100 certificates/s), too long for every run of the suite.
func TestIncidentBulkRevocationOf10000(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 certificates: not in -short")
	}
	const n = 10000
	t.Run("sqlite", func(t *testing.T) {
		in := New(t, "sqlite")
		start := time.Now()
		c := setupCA(t, in)
		first, _ := c.issue(t)
		serials := append([]string{first}, copyCertificates(t, in, first, n-1)...)
		t.Logf("%s: %d certificates in %s", in.Backend, n, time.Since(start).Round(time.Millisecond))

		r := in.Do("POST", "/api/v1/incidents", c.carol, map[string]any{
			"title": "vetca Test CA: Certificates issued with a wrong countryName", "source": "self",
			"trigger": "4.9.1.1#12", "awareAt": time.Now().UTC().Add(-time.Hour).Format(time.RFC3339), "serials": serials})
		if r.Status != 201 {
			t.Fatalf("open incident: %d %.500s", r.Status, r.Raw)
		}
		id := r.Body["id"].(string)
		in.Stop()

		// First run: SIGKILL once half the set is revoked.
		began := time.Now()
		cmd := exec.Command(vetcaBin, "incident", "revoke", id, "--workers", "8")
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
				if seen++; seen == n/2 {
					_ = cmd.Process.Signal(syscall.SIGKILL)
					break
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
		killedAfter := time.Since(began)

		left := dryRun(t, in, id)
		if left == 0 || left > n/2 || left < n/4 {
			t.Fatalf("after SIGKILL %d of %d certificates are left to revoke; want about half", left, n)
		}
		resumed := time.Now()
		out, errOut, code := in.CLI("incident", "revoke", id, "--json", "--workers", "8")
		if code != 0 {
			t.Fatalf("resume: exit %d %.2000s", code, errOut)
		}
		var res struct{ Revoked, AlreadyRevoked, Affected int }
		if err := json.Unmarshal([]byte(out), &res); err != nil || res.Revoked != left || res.AlreadyRevoked != n-left || res.Affected != n {
			t.Fatalf("resume: %v revoked %d, already %d, affected %d; want %d, %d, %d", err, res.Revoked, res.AlreadyRevoked, res.Affected, left, n-left, n)
		}
		total := killedAfter + time.Since(resumed)
		t.Logf("%s: %d revoked before SIGKILL in %s, %d on resuming in %s: %.0f certificates/s",
			in.Backend, n-left, killedAfter.Round(time.Millisecond), left, time.Since(resumed).Round(time.Millisecond), float64(n)/total.Seconds())
		if dryRun(t, in, id) != 0 {
			t.Fatal("certificates left to revoke after the resumed run")
		}

		// Each serial revoked exactly once, in the audit trail.
		checkRevokedOnce(t, in, serials)
		if got := in.SQL("SELECT reason || ' ' || COUNT(*) FROM revocations GROUP BY reason"); got != "superseded "+itoa(n) {
			t.Fatalf("revocations by reason: %q, want all %d superseded (BR §4.9.1.1 item 12)", got, n)
		}

		crlStart := time.Now()
		if _, errOut, code := in.CLI("crl", "publish", "--force"); code != 0 {
			t.Fatalf("crl publish: %s", errOut)
		}
		if v, code := crlVerify(t, in); code != 0 {
			t.Fatalf("crl verify: %+v", v)
		}
		t.Logf("%s: crl publish and verify in %s", in.Backend, time.Since(crlStart).Round(time.Millisecond))
		if out, _, code := in.CLI("audit", "verify"); code != 0 {
			t.Fatalf("audit verify after the bulk revocation: exit %d\n%.2000s", code, out)
		}
		t.Logf("%s: whole test %s", in.Backend, time.Since(start).Round(time.Millisecond))
	})
}

// copyCertificates stores n copies of the certificate serial under fresh
// serials, opening the installation with its audit key as an operator's
// command would.
func copyCertificates(t *testing.T, in *Instance, serial string, n int) []string {
	t.Helper()
	ctx := context.Background()
	cfg := app.Config{DB: in.DSN, KeyDir: filepath.Join(in.Dir, "keys")}
	a, err := app.Open(ctx, cfg, clock.Real{}, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Write: true})
	if err != nil {
		t.Fatalf("open the installation: %v", err)
	}
	defer a.Close()
	out, err := apptest.CopyCertificates(ctx, a, serial, n, 500)
	if err != nil {
		t.Fatalf("copy certificates: %v", err)
	}
	return out
}

// checkRevokedOnce reads the audit trail (`vetca audit export`) and fails
// unless each serial's revocation was recorded exactly once and never
// changed, and nothing else was revoked.
func checkRevokedOnce(t *testing.T, in *Instance, serials []string) {
	t.Helper()
	out, errOut, code := in.CLI("audit", "export")
	if code != 0 {
		t.Fatalf("audit export: exit %d %s", code, errOut)
	}
	inserts := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e struct{ Op, EntityType, EntityID string }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit export: %v: %.200s", err, sc.Text())
		}
		if e.EntityType != "revocations" {
			continue
		}
		if e.Op != "insert" {
			t.Fatalf("revocation %s changed after being recorded (%s)", e.EntityID, e.Op)
		}
		inserts[e.EntityID]++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, s := range serials {
		if got := inserts["rev_"+s]; got != 1 {
			t.Fatalf("serial %s: revocation recorded %d times, want once", s, got)
		}
	}
	if len(inserts) != len(serials) {
		t.Fatalf("%d revocations recorded, want %d", len(inserts), len(serials))
	}
}
