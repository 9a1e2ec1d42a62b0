package scan_test

import (
	"context"
	"crypto"
	"crypto/x509/pkix"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zmap/zcrypto/x509"
	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/keypolicy"
	"github.com/vetca/vetca/internal/lint"
	"github.com/vetca/vetca/internal/profile"
	"github.com/vetca/vetca/internal/scan"
	"github.com/vetca/vetca/internal/store"
)

const (
	good = "acme-widgets.com"
	bad  = "bad-widgets.com"
	// newLint stands for a lint added to the code base after issuance.
	newLint = "e_vetca_test_bad_widgets"
)

// fixture issues n certificates for good and, every third one, for bad.
func fixture(t testing.TB, backend string, n int) (*apptest.OrderFixture, []string, []string) {
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, backend, opt)
	f := apptest.NewOrderFixture(t, e, dns, good, bad)
	var all, caught []string
	for i := range n {
		name := good
		if i%3 == 1 {
			name = bad
		}
		serial, _ := f.Issue(name)
		all = append(all, serial)
		if name == bad {
			caught = append(caught, serial)
		}
	}
	slices.Sort(all)
	slices.Sort(caught)
	return f, all, caught
}

// badLint fails every certificate for a DNS name containing "bad-".
func badLint() *zlint.CertificateLint {
	return &zlint.CertificateLint{
		LintMetadata: zlint.LintMetadata{Name: newLint, Description: "test: no bad- names", Citation: "BR §7.1.2.7.12", Source: lint.Source},
		Lint:         func() zlint.CertificateLintInterface { return dnsLint{} },
	}
}

type dnsLint struct{}

func (dnsLint) CheckApplies(*x509.Certificate) bool { return true }
func (dnsLint) Execute(c *x509.Certificate) *zlint.LintResult {
	for _, n := range c.DNSNames {
		if strings.Contains(n, "bad-") {
			return &zlint.LintResult{Status: zlint.Error, Details: "bad name " + n}
		}
	}
	return &zlint.LintResult{Status: zlint.Pass}
}

func serialsOf(fs []scan.Finding, lintName string) []string {
	var out []string
	for _, f := range fs {
		if f.Lint == lintName {
			out = append(out, f.Serial)
		}
	}
	slices.Sort(out)
	return out
}

// TestNewLintFindsExactlyItsCertificates: a lint added after issuance is
// run on every certificate it applies to, and a rerun finds nothing new.
func TestNewLintFindsExactlyItsCertificates(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			f, all, caught := fixture(t, b, 4)
			ctx := context.Background()
			clean, err := f.App.Scanner(nil).Run(ctx, scan.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if clean.Checked != len(all) || len(clean.Findings) != 0 {
				t.Fatalf("before the new lint: checked %d of %d, findings %+v", clean.Checked, len(all), clean.Findings)
			}
			l, err := lint.New(lint.WithExtraLints(badLint()))
			if err != nil {
				t.Fatal(err)
			}
			res, err := f.App.Scanner(l).Run(ctx, scan.Options{Workers: 3})
			if err != nil {
				t.Fatal(err)
			}
			if got := serialsOf(res.Findings, newLint); !slices.Equal(got, caught) || len(res.Findings) != len(caught) || res.New() != len(caught) {
				t.Fatalf("findings %+v, want exactly %v under %s, all new", res.Findings, caught, newLint)
			}
			again, err := f.App.Scanner(l).Run(ctx, scan.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if again.New() != 0 || len(again.Findings) != len(caught) {
				t.Fatalf("rerun: %d new of %+v", again.New(), again.Findings)
			}
			narrowed, err := f.App.Scanner(l).Run(ctx, scan.Options{Lint: "e_no_such_lint"})
			if err != nil || len(narrowed.Findings) != 0 {
				t.Fatalf("--lint narrows: %+v %v", narrowed.Findings, err)
			}
		})
	}
}

// TestOutOfBandEditOfOrganizationVersion: a subject attribute of the
// organization version a certificate was issued from, changed with SQL
// outside vetca, is reported naming the field (BR §3.2.2.2, §7.1.4.2).
func TestOutOfBandEditOfOrganizationVersion(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			f, all, _ := fixture(t, b, 1)
			ctx := context.Background()
			if _, err := f.App.DB.Exec(ctx, `UPDATE organization_versions SET country_name = 'DE' WHERE organization_id = ?`, f.OrgID); err != nil {
				t.Fatal(err)
			}
			res, err := f.App.Scanner(nil).Run(ctx, scan.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var hit *scan.Finding
			for i, fd := range res.Findings {
				if fd.Lint == scan.CheckIssuedVersion && fd.Serial == all[0] {
					hit = &res.Findings[i]
				}
			}
			if hit == nil || hit.Field != "countryName" || !strings.Contains(hit.Message, "organization_versions") {
				t.Fatalf("findings %+v: want %s naming countryName and organization_versions", res.Findings, scan.CheckIssuedVersion)
			}
		})
	}
}

// counting counts how often each certificate is linted.
type counting struct {
	l  *lint.Linter
	mu sync.Mutex
	n  map[string]int
}

func (c *counting) LintCertificate(der []byte, expected ...profile.Subject) (*lint.Report, error) {
	x, err := x509.ParseCertificate(der)
	if err == nil {
		c.mu.Lock()
		c.n[x.SerialNumber.Text(16)]++
		c.mu.Unlock()
	}
	return c.l.LintCertificate(der, expected...)
}

// TestStoppedScanContinues: a scan stopped after K certificates is
// continued by the next one, and every certificate is checked once.
func TestStoppedScanContinues(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			f, all, _ := fixture(t, b, 6)
			l, err := lint.New()
			if err != nil {
				t.Fatal(err)
			}
			c := &counting{l: l, n: map[string]int{}}
			ctx, cancel := context.WithCancel(context.Background())
			stop := func(p scan.Progress) {
				if p.Checked >= 2 {
					cancel()
				}
			}
			first, err := f.App.Scanner(c).Run(ctx, scan.Options{Workers: 2, Batch: 4, Progress: stop})
			if err == nil || first.Checked >= len(all) {
				t.Fatalf("stopped run: err %v, checked %d", err, first.Checked)
			}
			second, err := f.App.Scanner(c).Run(context.Background(), scan.Options{Workers: 2, Batch: 4})
			if err != nil {
				t.Fatal(err)
			}
			if !second.Resumed || second.RunID != first.RunID || second.Checked != len(all) {
				t.Fatalf("second run: %+v (first %s)", second, first.RunID)
			}
			for _, sn := range all {
				if c.n[sn] != 1 {
					t.Errorf("%s checked %d times", sn, c.n[sn])
				}
			}
			if len(c.n) != len(all) {
				t.Errorf("checked %d certificates, want %d", len(c.n), len(all))
			}
		})
	}
}

// TestFlaggedValidationMethod: once a domain validation method version is
// flagged (BR §3.2.2.4: only validations by a method the CA still trusts
// may be relied on), a scan reports every certificate whose names relied
// on a validation of that version, naming dnsNames; the flag is refused
// to a verifier, twice, and for a method vetca does not have.
func TestFlaggedValidationMethod(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			f, all, _ := fixture(t, b, 2)
			ctx := context.Background()
			body := map[string]any{"method": "dns-change", "version": "1", "reason": "the TXT check accepted a record under a wildcard"}
			if r := f.Do("POST", "/api/v1/validation-methods/flags", f.Alice, body); r.Status != 403 {
				t.Fatalf("a verifier flagged a method: %d %s", r.Status, r.Raw)
			}
			if r := f.Do("POST", "/api/v1/validation-methods/flags", f.Carol, map[string]any{"method": "email", "version": "1", "reason": "x"}); r.Status != 400 {
				t.Fatalf("unknown method: %d %s", r.Status, r.Raw)
			}
			if r := f.Do("POST", "/api/v1/validation-methods/flags", f.Carol, body); r.Status != 201 || r.Body["method"] != "dns-change" {
				t.Fatalf("flag: %d %s", r.Status, r.Raw)
			}
			if r := f.Do("POST", "/api/v1/validation-methods/flags", f.Carol, body); r.Status != 409 {
				t.Fatalf("flagged twice: %d %s", r.Status, r.Raw)
			}
			if l := f.Do("GET", "/api/v1/validation-methods/flags", f.Carol, nil); l.Status != 200 || len(l.Body["flags"].([]any)) != 1 {
				t.Fatalf("list: %d %s", l.Status, l.Raw)
			}
			res, err := f.App.Scanner(nil).Run(ctx, scan.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := serialsOf(res.Findings, scan.CheckDCVFlagged); !slices.Equal(got, all) {
				t.Fatalf("findings %+v, want every certificate under %s", res.Findings, scan.CheckDCVFlagged)
			}
			for _, fd := range res.Findings {
				if fd.Lint == scan.CheckDCVFlagged && fd.Field != "dnsNames" {
					t.Fatalf("finding names %q, want dnsNames", fd.Field)
				}
			}
		})
	}
}

// TestKeyBlockedMeanwhileIsReported: the blocklist is read at decision
// time through its filter on the key, so a blocked_keys row edited to name
// another key is not seen by finalize; once the insider puts it back, the
// row is authentic again and the scan reports the certificate issued for
// the blocked key (BR §6.1.1.3(4), docs/design.md §7).
func TestKeyBlockedMeanwhileIsReported(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			f, all, _ := fixture(t, b, 1)
			ctx := context.Background()
			key := apptest.Key(t)
			spki, err := keypolicy.SPKIHashHex(key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if err := f.App.DB.InTx(ctx, func(tx *store.Tx) error {
				return issuance.BlockKey(ctx, tx, f.App.Recorder, actor.CLIActor("test"), spki, "keyCompromise", "test", f.Clock.Now())
			}); err != nil {
				t.Fatal(err)
			}
			hidden := strings.Repeat("0", 64)
			if _, err := f.App.DB.Exec(ctx, `UPDATE blocked_keys SET spki_sha256 = ? WHERE spki_sha256 = ?`, hidden, spki); err != nil {
				t.Fatal(err)
			}
			serial := issueWith(t, f, key, good, f.AccTok, f.AccTok, f.Bob, f.Carol)
			if _, err := f.App.DB.Exec(ctx, `UPDATE blocked_keys SET spki_sha256 = ? WHERE spki_sha256 = ?`, spki, hidden); err != nil {
				t.Fatal(err)
			}
			res, err := f.App.Scanner(nil).Run(ctx, scan.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := serialsOf(res.Findings, scan.CheckKeyBlocked); !slices.Equal(got, []string{serial}) {
				t.Fatalf("findings %+v, want %s for %s only (not %s)", res.Findings, scan.CheckKeyBlocked, serial, all[0])
			}
		})
	}
}

// issueWith places an order for name with key (placed with placer),
// approves it with approvers and finalizes it with finalizer.
func issueWith(t *testing.T, f *apptest.OrderFixture, key crypto.Signer, name, placer, finalizer string, approvers ...string) string {
	t.Helper()
	r := f.Do("POST", "/api/v1/orders", placer, map[string]any{"organizationId": f.OrgID, "dnsNames": []string{name}, "csr": apptest.CSR(t, key, pkix.Name{}, name)})
	if r.Status != 201 {
		t.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
	for _, tok := range approvers {
		if a := f.Do("POST", "/api/v1/orders/"+id+"/approve", tok, map[string]any{"snapshotHash": hash}); a.Status != 200 {
			t.Fatalf("approve: %d %s", a.Status, a.Raw)
		}
	}
	fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", finalizer, nil)
	if fin.Status != 200 {
		t.Fatalf("finalize: %d %s", fin.Status, fin.Raw)
	}
	return fin.Body["serial"].(string)
}

// TestDualControlRecheckedAfterIssuance: a verifier who issued the
// account's subscriber token moves that token's row to another account
// with SQL, so the approval's read of who acted for the account misses it,
// approves, has a second approval, finalizes and puts the row back. The
// row is authentic again and audit verify is silent; the scan re-checks
// the dual control of every certificate's approvals against the current
// rows and reports the order, the approver and why (BR §5.2.2,
// docs/design.md §5). A normal issuance has no such finding.
func TestDualControlRecheckedAfterIssuance(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			f, all, _ := fixture(t, b, 1)
			ctx := context.Background()
			alice := f.Actor(f.Alice)
			r := f.Do("POST", "/api/v1/accounts/"+f.AccountID+"/token", f.Alice, nil)
			if r.Status != 200 {
				t.Fatalf("rotate: %d %s", r.Status, r.Raw)
			}
			tok := r.Body["token"].(string)
			place := f.Do("POST", "/api/v1/orders", tok, map[string]any{"organizationId": f.OrgID, "dnsNames": []string{good}, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, good)})
			if place.Status != 201 {
				t.Fatalf("order: %d %s", place.Status, place.Raw)
			}
			orderID, hash := place.Body["id"].(string), place.Body["snapshotHash"].(string)
			if a := f.Do("POST", "/api/v1/orders/"+orderID+"/approve", f.Alice, map[string]any{"snapshotHash": hash}); a.Status != 403 {
				t.Fatalf("the token's issuer approved without any edit: %d %s", a.Status, a.Raw)
			}
			if _, err := f.App.DB.Exec(ctx, `UPDATE api_tokens SET account_id = 'acc_elsewhere' WHERE issued_by = ? AND account_id = ?`, alice.ID, f.AccountID); err != nil {
				t.Fatal(err)
			}
			for _, tk := range []string{f.Alice, f.Dave} {
				if a := f.Do("POST", "/api/v1/orders/"+orderID+"/approve", tk, map[string]any{"snapshotHash": hash}); a.Status != 200 {
					t.Fatalf("approve: %d %s", a.Status, a.Raw)
				}
			}
			fin := f.Do("POST", "/api/v1/orders/"+orderID+"/finalize", f.Carol, nil)
			if fin.Status != 200 {
				t.Fatalf("finalize: %d %s", fin.Status, fin.Raw)
			}
			serial := fin.Body["serial"].(string)
			if _, err := f.App.DB.Exec(ctx, `UPDATE api_tokens SET account_id = ? WHERE issued_by = ? AND account_id = 'acc_elsewhere'`, f.AccountID, alice.ID); err != nil {
				t.Fatal(err)
			}
			res, err := f.App.Scanner(nil).Run(ctx, scan.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got := serialsOf(res.Findings, scan.CheckDualControl); !slices.Equal(got, []string{serial}) {
				t.Fatalf("findings %+v, want %s for %s only (not the normal %s)", res.Findings, scan.CheckDualControl, serial, all[0])
			}
			for _, fd := range res.Findings {
				if fd.Lint != scan.CheckDualControl {
					continue
				}
				for _, want := range []string{orderID, "alice", alice.ID, "issued subscriber token"} {
					if !strings.Contains(fd.Message, want) {
						t.Fatalf("finding %q does not name %q", fd.Message, want)
					}
				}
				if fd.Field != "approvals" {
					t.Fatalf("finding names %q, want approvals", fd.Field)
				}
			}
			// An approver who acts for the account only after a
			// certificate was issued (bob rotates its token) does not
			// undo that certificate's dual control.
			f.Clock.Advance(time.Hour)
			if r := f.Do("POST", "/api/v1/accounts/"+f.AccountID+"/token", f.Bob, nil); r.Status != 200 {
				t.Fatalf("rotate: %d %s", r.Status, r.Raw)
			}
			res, err = f.App.Scanner(nil).Run(ctx, scan.Options{Restart: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := serialsOf(res.Findings, scan.CheckDualControl); !slices.Equal(got, []string{serial}) {
				t.Fatalf("after bob acted for the account: findings %+v, want %s for %s only", res.Findings, scan.CheckDualControl, serial)
			}
			if got := serialsOf(res.Findings, scan.CheckAuditChain); slices.Contains(got, all[0]) {
				t.Fatalf("after bob acted for the account, %s's audit chain is reported incomplete: %+v", all[0], res.Findings)
			}
		})
	}
}

// TestScanStateEditedOutsideVetca: a stopped run's state is an audited row,
// checked when the next scan resumes it. A done list edited with SQL, or a
// run planted beside it, would make the next scan skip the certificates it
// names without checking them; instead the scan fails closed naming the
// integrity violation, and checks nothing.
func TestScanStateEditedOutsideVetca(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit string // SQL whose arguments are every serial as a JSON list, then the stopped run's id
	}{
		{"done list edited", `UPDATE scan_runs SET done_beyond = ? WHERE id = ?`},
		{"run planted", `INSERT INTO scan_runs (id, params, status, cursor_serial, done_beyond, checked, found, started_at, updated_at, row_hash)
			SELECT 'scan_planted', params, status, '', ?, checked, found, '9999-12-31T00:00:00Z', updated_at, row_hash FROM scan_runs WHERE id = ?`},
	} {
		for _, b := range []string{apptest.SQLite, apptest.Postgres} {
			t.Run(tc.name+"/"+b, func(t *testing.T) {
				f, all, _ := fixture(t, b, 3)
				l, err := lint.New()
				if err != nil {
					t.Fatal(err)
				}
				c := &counting{l: l, n: map[string]int{}}
				ctx, cancel := context.WithCancel(context.Background())
				stop := func(p scan.Progress) { cancel() }
				first, err := f.App.Scanner(c).Run(ctx, scan.Options{Workers: 1, Batch: 1, Progress: stop})
				if err == nil || first.Checked != 1 {
					t.Fatalf("stopped run: err %v, checked %d", err, first.Checked)
				}
				list, _ := json.Marshal(all)
				if _, err := f.App.DB.Exec(context.Background(), tc.edit, string(list), first.RunID); err != nil {
					t.Fatal(err)
				}
				_, err = f.App.Scanner(c).Run(context.Background(), scan.Options{Workers: 1})
				if e, ok := apperr.As(err); !ok || e.Code != apperr.CodeIntegrityViolation {
					t.Fatalf("resuming an edited run: %v", err)
				}
				if len(c.n) != 1 {
					t.Fatalf("checked %v after the edit, want only the first run's certificate", c.n)
				}
			})
		}
	}
}
