package incident_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509/pkix"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/incident"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/store"
)

// issueWithKey issues a certificate for site with key through the whole
// pipeline, as Issue does with a fresh key.
func (w *world) issueWithKey(t *testing.T, key crypto.Signer) string {
	t.Helper()
	r := w.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, key, pkix.Name{}, site)})
	if r.Status != 201 {
		t.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
	for _, tok := range []string{w.Bob, w.Carol} {
		if a := w.Do("POST", "/api/v1/orders/"+id+"/approve", tok, map[string]any{"snapshotHash": hash}); a.Status != 200 {
			t.Fatalf("approve: %d %s", a.Status, a.Raw)
		}
	}
	fin := w.Do("POST", "/api/v1/orders/"+id+"/finalize", w.AccTok, nil)
	if fin.Status != 200 {
		t.Fatalf("finalize: %d %s", fin.Status, fin.Raw)
	}
	return fin.Body["serial"].(string)
}

// otherAccount creates a second subscriber account of the organization,
// with one contact, and returns its id.
func (w *world) otherAccount(t *testing.T, email string) string {
	t.Helper()
	r := w.Do("POST", "/api/v1/accounts", w.AdminToken, map[string]any{"name": "Acme Widgets EU", "organizations": []string{w.OrgID}})
	if r.Status != 201 {
		t.Fatalf("account: %d %s", r.Status, r.Raw)
	}
	id, tok := r.Body["id"].(string), r.Body["token"].(string)
	if c := w.Do("POST", "/api/v1/accounts/"+id+"/contacts", tok, map[string]any{"name": "Ops", "email": email, "role": "technical"}); c.Status != 201 {
		t.Fatalf("contact: %d %s", c.Status, c.Raw)
	}
	return id
}

// sameKeyCopy stores a copy of certificate serial, with its key, under
// accountID and a fresh serial (the test shortcut of certificates): two
// accounts holding certificates for one key.
func (w *world) sameKeyCopy(t *testing.T, serial, accountID string) string {
	t.Helper()
	ctx := context.Background()
	a := w.App
	c := w.cert(t, serial)
	c.ID, c.Serial, c.AccountID = "crt_copy_"+serial, "7f"+serial[2:], accountID
	if c.Serial == serial {
		c.Serial = "7e" + serial[2:]
	}
	c.CertSHA256 = fmt.Sprintf("%x", sha256.Sum256([]byte(c.Serial)))
	err := a.DB.InTx(ctx, func(tx *store.Tx) error {
		return audit.TableOf[issuance.Certificate](a.Recorder, "certificates").Insert(ctx, tx, actor.CLIActor("test"), "certificate.issued", c)
	})
	if err != nil {
		t.Fatal(err)
	}
	return c.Serial
}

func (w *world) cert(t *testing.T, serial string) issuance.Certificate {
	t.Helper()
	c, ok, err := issuance.NewInventory(w.App.Recorder).CertificateBySerial(context.Background(), w.App.DB, serial)
	if err != nil || !ok {
		t.Fatalf("certificate %s: %v %v", serial, ok, err)
	}
	return c
}

func (w *world) reason(t *testing.T, serial string) string {
	t.Helper()
	r, ok, err := w.App.Revocations.Get(context.Background(), w.App.DB, serial)
	if err != nil {
		t.Fatal(err)
	}
	if !ok {
		return "valid"
	}
	return r.Reason
}

func keyCompromiseBody(aware time.Time, serials []string) map[string]any {
	b := incidentBody(aware, serials)
	b["title"], b["trigger"] = "vetca Test CA: Private key published", "4.9.1.1#3"
	return b
}

// strs reads a JSON array of strings; nil when the value is not an array
// (a JSON null among them).
func strs(v any) []string {
	a, ok := v.([]any)
	if !ok {
		return nil
	}
	out := []string{}
	for _, s := range a {
		out = append(out, fmt.Sprint(s))
	}
	return out
}

// BR §4.9.1.1(3), §6.1.1.3(4), §7.2.2 (docs/design.md §15): a
// keyCompromise incident revokes a certificate its subscriber had revoked
// as superseded again, with keyCompromise, blocks its key, and revokes
// the certificate of another account with the same key; the run counts
// both as revoked by it.
func TestKeyCompromiseIncidentUpgradesARevokedCertificate(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		b2 := w.issueWithKey(t, apptest.Key(t))
		other := w.otherAccount(t, "ops@acme-widgets.eu")
		a3 := w.sameKeyCopy(t, b2, other)
		w.Clock.Advance(time.Minute)
		if r := w.Do("POST", "/api/v1/certificates/"+b2+"/revoke", w.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
			t.Fatalf("subscriber revocation: %d %s", r.Status, r.Raw)
		}
		r := w.open(t, keyCompromiseBody(w.Clock.Now().Add(-time.Hour), []string{b2}))
		if r.Status != 201 {
			t.Fatalf("open: %d %s", r.Status, r.Raw)
		}
		id := r.Body["id"].(string)
		w.Clock.Advance(time.Minute)
		run := w.Do("POST", "/api/v1/incidents/"+id+"/revoke", w.Carol, nil)
		want := []string{a3, b2}
		slices.Sort(want)
		if run.Status != 200 || run.Body["revoked"] != float64(2) || run.Body["alreadyRevoked"] != float64(0) ||
			run.Body["affected"] != float64(2) || !slices.Equal(strs(run.Body["serials"]), want) {
			t.Fatalf("run: %d %s, want %v revoked", run.Status, run.Raw, want)
		}
		for _, sn := range []string{b2, a3} {
			if got := w.reason(t, sn); got != "keyCompromise" {
				t.Fatalf("serial %s is %s, want keyCompromise", sn, got)
			}
		}
		blocked, err := issuance.Blocklist{DB: w.App.DB, Rec: w.App.Recorder}.Blocked(ctx, w.App.DB, w.cert(t, b2).SPKISHA256)
		if err != nil || !blocked {
			t.Fatalf("BR §6.1.1.3(4): the key is not blocked (%v)", err)
		}
		if rep, err := w.App.VerifyAudit(ctx, ""); err != nil || !rep.OK {
			t.Fatalf("verify: %v %+v", err, rep)
		}
	})
}

// BR §4.9.1.1(3) (docs/design.md §15): a certificate of another account
// with the key of an affected one is in the incident's scope: the dry run
// lists it, the run revokes and lists it, it joins the frozen set (so the
// report counts it), and its account is mailed before and after. A run
// with nothing left answers serials [] and counts that add up.
func TestKeyCompromiseSameKeyCertificatesJoinTheSet(t *testing.T) {
	each(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		c1, _ := w.Issue(site)
		other := w.otherAccount(t, "ops@acme-widgets.eu")
		c2 := w.sameKeyCopy(t, c1, other)
		unrelated, _ := w.Issue(site)
		id := w.open(t, keyCompromiseBody(w.Clock.Now().Add(-time.Hour), []string{c1})).Body["id"].(string)
		path := "/api/v1/incidents/" + id + "/revoke"
		want := []string{c1, c2}
		slices.Sort(want)
		dry := w.Do("POST", path, w.Carol, map[string]any{"dryRun": true})
		if dry.Status != 200 || dry.Body["affected"] != float64(2) || !slices.Equal(strs(dry.Body["serials"]), want) {
			t.Fatalf("dry run: %d %s, want %v", dry.Status, dry.Raw, want)
		}
		run := w.Do("POST", path, w.Carol, nil)
		if run.Status != 200 || run.Body["revoked"] != float64(2) || run.Body["affected"] != float64(2) || !slices.Equal(strs(run.Body["serials"]), want) {
			t.Fatalf("run: %d %s, want %v", run.Status, run.Raw, want)
		}
		again := w.Do("POST", path, w.Carol, nil)
		if again.Status != 200 || again.Body["alreadyRevoked"] != float64(2) || again.Body["revoked"] != float64(0) || strs(again.Body["serials"]) == nil {
			t.Fatalf("a run with nothing left: %d %s, want serials [] and alreadyRevoked 2", again.Status, again.Raw)
		}
		g := w.Do("GET", "/api/v1/incidents/"+id, w.Carol, nil)
		if g.Body["affected"] != float64(2) || len(g.Body["certificates"].([]any)) != 2 {
			t.Fatalf("the frozen set: %s", g.Raw)
		}
		rep, err := w.App.Incidents.Render(ctx, actor.CLIActor("test"), id, incident.FormatFull)
		if err != nil || !strings.Contains(rep.Markdown, "- **Total number of certificates:** 2 (2 revoked, 0 expired)") || !strings.Contains(string(rep.CSV), c2) {
			t.Fatalf("report (%v) does not count the same-key certificate:\n%s", err, rep.Markdown)
		}
		if got := w.reason(t, unrelated); got != "valid" {
			t.Fatalf("a certificate with another key is %s", got)
		}
		w.Deliver()
		for to, serials := range map[string][2]string{"jane@acme-widgets.com": {c1, c2}, "ops@acme-widgets.eu": {c2, c1}} {
			m := w.SMTP.To(to)
			if len(m) != 2 {
				t.Fatalf("%d mails to %s, want one before and one after", len(m), to)
			}
			// Each account is told which of its certificates, and only its.
			for _, mail := range m {
				if !strings.Contains(mail.Body, serials[0]) || strings.Contains(mail.Body, serials[1]) {
					t.Errorf("mail %q to %s: want it to name %s and not %s:\n%s", mail.Subject, to, serials[0], serials[1], mail.Body)
				}
			}
		}
	})
}

// A certificate revoked by another path while a run goes on counts as
// already revoked, not as nothing: affected = alreadyRevoked + expired +
// revoked, and serials is always an array.
func TestBulkRevocationCountsAddUp(t *testing.T) {
	const n = 4
	each(t, func(t *testing.T, w *world) {
		serials := w.certificates(t, n)
		id := w.open(t, incidentBody(w.Clock.Now().Add(-time.Hour), serials)).Body["id"].(string)
		last := slices.Max(serials)
		var meanwhile int
		res, err := w.App.Incidents.Revoke(context.Background(), w.Compliance, id, incident.RevokeOptions{Workers: 1, Batch: 1,
			Progress: func(done, _ int, _ string) {
				if done == 1 {
					meanwhile = w.Do("POST", "/api/v1/certificates/"+last+"/revoke", w.AccTok, map[string]any{"reason": "cessationOfOperation"}).Status
				}
			}})
		if err != nil || meanwhile != 200 {
			t.Fatalf("run: %v; revocation meanwhile: %d", err, meanwhile)
		}
		if res.Affected != n || res.Revoked != n-1 || res.AlreadyRevoked != 1 || res.Expired != 0 || slices.Contains(res.Serials, last) {
			t.Fatalf("counts %+v, want %d revoked and 1 already revoked of %d", res, n-1, n)
		}
		again := w.Do("POST", "/api/v1/incidents/"+id+"/revoke", w.Carol, nil)
		if again.Status != 200 || strs(again.Body["serials"]) == nil || again.Body["alreadyRevoked"] != float64(n) {
			t.Fatalf("a run with nothing left: %d %s", again.Status, again.Raw)
		}
	})
}
