package cpr_test

import (
	"context"
	"crypto/elliptic"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/cpr"
	"github.com/vetca/vetca/internal/store"
)

// matchOf returns the match of serial in a case as the API shows it.
func matchOf(t *testing.T, v apptest.Response, serial string) map[string]any {
	t.Helper()
	for _, m := range v.Body["matches"].([]any) {
		if mm := m.(map[string]any); mm["serial"] == serial {
			return mm
		}
	}
	t.Fatalf("case has no match %s: %s", serial, v.Raw)
	return nil
}

// sentTo returns the addresses a case sent a report of kind to.
func sentTo(v apptest.Response, kind string) []string {
	var out []string
	list, _ := v.Body["reportsSent"].([]any)
	for _, r := range list {
		if rr := r.(map[string]any); rr["report"] == kind {
			out = append(out, rr["to"].(string))
		}
	}
	return out
}

func revoked(t *testing.T, d *desk, serial string) bool {
	t.Helper()
	return d.Do("GET", "/api/v1/certificates/"+serial, d.Carol, nil).Body["status"] == "revoked"
}

func hasObligation(obs []cpr.Obligation, kind, ref string) bool {
	return slices.ContainsFunc(obs, func(o cpr.Obligation) bool { return o.Kind == kind && o.Ref == ref })
}

// A decision covers exactly the certificates it was taken on (BR §4.9.5:
// the CA establishes, for each certificate, whether it will be revoked).
// A duplicate merged into a case already decided "revoke" brings another
// account's certificate: that certificate is not revoked by the decision
// nobody took about it, its subscriber gets no final report, the case
// shows it awaiting a decision, and the duplicate, which keeps its own
// clocks, decides it.
func TestMergedMatchesAwaitTheirOwnDecision(t *testing.T) {
	each(t, func(t *testing.T, d *desk) {
		ctx := context.Background()
		b1, a2 := issue(t, d.OrderFixture, apptest.Key(t)), issue(t, d.Other, apptest.Key(t))
		tid := report(t, d, map[string]any{"reporterEmail": "rp@example.org", "category": "misissuance", "description": "wrong locality", "serials": []string{b1}})
		if r := d.Do("POST", "/api/v1/problem-reports/"+tid+"/decide", d.Carol, map[string]any{"decision": "revoke", "trigger": "4.9.1.1#13", "reason": "locality wrong"}); r.Status != 200 || !revoked(t, d, b1) {
			t.Fatalf("decide: %d %s", r.Status, r.Raw)
		}
		did := report(t, d, map[string]any{"reporterEmail": "rp2@example.org", "category": "misissuance", "description": "these too", "serials": []string{b1, a2}})
		if r := d.Do("POST", "/api/v1/problem-reports/"+did+"/merge", d.Carol, map[string]any{"into": tid}); r.Status != 200 {
			t.Fatalf("merge: %d %s", r.Status, r.Raw)
		}
		d.Clock.Advance(30 * time.Second)
		tick(t, d)
		if revoked(t, d, a2) {
			t.Fatal("the merged-in certificate of another account was revoked by a decision taken before it was matched")
		}
		v := d.Do("GET", "/api/v1/problem-reports/"+tid, d.Carol, nil)
		if matchOf(t, v, b1)["awaitingDecision"] != false || matchOf(t, v, a2)["awaitingDecision"] != true {
			t.Errorf("matches %v: want %s decided and %s awaiting a decision", v.Body["matches"], b1, a2)
		}
		if slices.Contains(sentTo(v, "final"), "jan@acme-widgets.eu") {
			t.Errorf("the merged-in certificate's subscriber got the final report of a decision about another certificate")
		}
		obs, err := d.App.CPR.Obligations(ctx, d.Clock.Now())
		if err != nil || hasObligation(obs, cpr.ObligationRevocation, a2) || !hasObligation(obs, cpr.ObligationPreliminaryReport, did) {
			t.Fatalf("obligations %+v (%v): want the duplicate's preliminary report (BR §4.9.5), no revocation of %s", obs, err, a2)
		}
		// The duplicate decides its own matches, from its own receipt.
		r := d.Do("POST", "/api/v1/problem-reports/"+did+"/decide", d.Carol, map[string]any{"decision": "revoke", "trigger": "4.9.1.1#13", "reason": "also wrong"})
		if r.Status != 200 || !revoked(t, d, a2) || !slices.Contains(sentTo(r, "final"), "jan@acme-widgets.eu") {
			t.Fatalf("deciding the duplicate: %d %s", r.Status, r.Raw)
		}
		v = d.Do("GET", "/api/v1/problem-reports/"+tid, d.Carol, nil)
		if matchOf(t, v, a2)["awaitingDecision"] != false {
			t.Errorf("after the duplicate's decision, %s still awaits one: %v", a2, v.Body["matches"])
		}
		// Each subscriber's final report of the duplicate names its own
		// certificates, and only those.
		d.Deliver()
		for to, serials := range map[string][2]string{"jane@acme-widgets.com": {b1, a2}, "jan@acme-widgets.eu": {a2, b1}} {
			n := 0
			for _, m := range d.SMTP.To(to) {
				if !strings.Contains(m.Subject, "final report on certificate problem report "+did) {
					continue
				}
				n++
				if !strings.Contains(m.Body, serials[0]) || strings.Contains(m.Body, serials[1]) {
					t.Errorf("final report to %s: want it to name %s and not %s:\n%s", to, serials[0], serials[1], m.Body)
				}
			}
			if n != 1 {
				t.Errorf("%d final reports to %s, want 1", n, to)
			}
		}
	})
}

// With ConfirmRevocation the decision is taken when proposed: a merge
// between the proposal and its confirmation does not widen it, and a
// proposal awaiting confirmation is not merged away (it would then be
// carried out unconfirmed).
func TestConfirmationCoversWhatWasProposed(t *testing.T) {
	each(t, func(t *testing.T, d *desk) {
		ctx := context.Background()
		dk := cpr.New(d.App.DB, d.App.Recorder, d.Clock, deps(d), cpr.Config{ConfirmRevocation: true}, d.App.Log)
		b1, a2 := issue(t, d.OrderFixture, apptest.Key(t)), issue(t, d.Other, apptest.Key(t))
		tid := report(t, d, map[string]any{"reporterEmail": "rp@example.org", "category": "misissuance", "description": "wrong", "serials": []string{b1}})
		if _, err := dk.Decide(ctx, d.Compliance, tid, cpr.DecideInput{Decision: "revoke", Trigger: "4.9.1.1#13", Reason: "locality wrong"}); err != nil {
			t.Fatal(err)
		}
		did := report(t, d, map[string]any{"reporterEmail": "rp2@example.org", "category": "misissuance", "description": "dup", "serials": []string{b1, a2}})
		if _, err := dk.Merge(ctx, d.Compliance, did, tid); err != nil {
			t.Fatal(err)
		}
		if _, err := dk.Confirm(ctx, d.Staff("erin", "compliance"), tid); err != nil {
			t.Fatal(err)
		}
		if !revoked(t, d, b1) || revoked(t, d, a2) {
			t.Fatalf("after confirmation: %s revoked %v (want true), %s revoked %v (want false)", b1, revoked(t, d, b1), a2, revoked(t, d, a2))
		}
		pid := report(t, d, map[string]any{"reporterEmail": "rp3@example.org", "category": "misissuance", "description": "x", "serials": []string{a2}})
		if _, err := dk.Decide(ctx, d.Compliance, pid, cpr.DecideInput{Decision: "revoke", Trigger: "4.9.1.1#13", Reason: "x"}); err != nil {
			t.Fatal(err)
		}
		if _, err := dk.Merge(ctx, d.Compliance, pid, tid); err == nil {
			t.Fatal("a proposal awaiting confirmation was merged")
		}
	})
}

// A reporter address the outbox cannot mail is refused at intake, naming
// the field, and nothing is stored (BR §4.9.5: the preliminary report goes
// there): before, a quoted local part was stored unquoted and every later
// report on the case failed.
func TestReporterAddressMustBeMailable(t *testing.T) {
	each(t, func(t *testing.T, d *desk) {
		for _, addr := range []string{`"John Smith"@example.org`, `"a b"@example.org`, `"a,b <c@evil.org>"@example.org`, "Finder <finder@example.org>"} {
			r := d.Do("POST", "/api/v1/problem-reports", "", map[string]any{"reporterEmail": addr, "category": "other", "description": "a question"})
			if f, code := r.ErrField(); r.Status != 400 || f != "reporterEmail" || code != "invalid_email" {
				t.Errorf("%s: %d %s %s, want 400 invalid_email naming reporterEmail", addr, r.Status, f, code)
			}
		}
		list, _, err := d.App.CPR.List(context.Background(), d.Compliance, cpr.Filter{}, store.Page{})
		if err != nil || len(list) != 0 {
			t.Fatalf("%d cases after refused reports (%v)", len(list), err)
		}
	})
}

// A key compromise proven on receipt (BR §4.9.1.1 #3) sends the final
// report as a staff decision does: to the reporter and the subscriber of
// each certificate revoked, not to the subscriber of a certificate named
// beside the proof, which awaits a decision; closing sends no second one.
func TestProofOnReceiptSendsTheFinalReport(t *testing.T) {
	each(t, func(t *testing.T, d *desk) {
		key := ecKey(t, elliptic.P256())
		mine, beside := issue(t, d.OrderFixture, key), issue(t, d.Other, apptest.Key(t))
		id := report(t, d, map[string]any{"reporterEmail": "finder@example.org", "category": "keyCompromise", "description": "found on a paste site",
			"privateKey": pkcs8(t, key), "serials": []string{beside}})
		v := d.Do("GET", "/api/v1/problem-reports/"+id, d.Carol, nil)
		final := sentTo(v, "final")
		if !slices.Contains(final, "finder@example.org") || !slices.Contains(final, "jane@acme-widgets.com") || slices.Contains(final, "jan@acme-widgets.eu") {
			t.Fatalf("final report sent to %v: want the reporter and the subscriber of %s only", final, mine)
		}
		if matchOf(t, v, beside)["awaitingDecision"] != true || matchOf(t, v, mine)["awaitingDecision"] != false {
			t.Errorf("matches %v: the serial beside the proof awaits a decision", v.Body["matches"])
		}
		c := d.Do("POST", "/api/v1/problem-reports/"+id+"/close", d.Carol, map[string]any{"reasons": "revoked"})
		if c.Status != 200 || len(sentTo(c, "final")) != len(final) {
			t.Fatalf("close: %d, final reports %v, want %v", c.Status, sentTo(c, "final"), final)
		}
	})
}

// A keyCompromise decision (BR §4.9.1.1 #3) revokes every certificate with
// the key, of any account: those revoked for sharing the key join the case
// (matched, covered by the decision) and their subscribers get the final
// report.
func TestSameKeyRevocationsJoinTheCase(t *testing.T) {
	each(t, func(t *testing.T, d *desk) {
		key := ecKey(t, elliptic.P256())
		f1, f2 := issue(t, d.OrderFixture, key), issue(t, d.Other, key)
		id := report(t, d, map[string]any{"reporterEmail": "rp@example.org", "category": "other", "description": "the key of this one leaked", "serials": []string{f1}})
		v := d.Do("POST", "/api/v1/problem-reports/"+id+"/decide", d.Carol, map[string]any{"decision": "revoke", "trigger": "4.9.1.1#3", "reason": "the key is public"})
		if v.Status != 200 || !revoked(t, d, f2) {
			t.Fatalf("decide: %d %s", v.Status, v.Raw)
		}
		m := matchOf(t, v, f2)
		if m["accountId"] != d.Other.AccountID || m["revoked"] != true || m["awaitingDecision"] != false {
			t.Errorf("match %v: want %s of account %s, revoked, decided", m, f2, d.Other.AccountID)
		}
		if final := sentTo(v, "final"); !slices.Contains(final, "jan@acme-widgets.eu") || !slices.Contains(final, "jane@acme-widgets.com") {
			t.Errorf("final report sent to %v: want both accounts' subscribers", final)
		}
	})
}

// `vetca deadlines --at` a past time lists obligations as they stood then:
// none of a case received later, and no revocation of a decision taken
// later.
func TestObligationsAtAPastTime(t *testing.T) {
	each(t, func(t *testing.T, d *desk) {
		ctx := context.Background()
		before := d.Clock.Now().UTC().Truncate(time.Second)
		d.Clock.Advance(time.Hour)
		serial := issue(t, d.OrderFixture, apptest.Key(t))
		id := report(t, d, map[string]any{"reporterEmail": "rp@example.org", "category": "misissuance", "description": "wrong", "serials": []string{serial}})
		received := d.Clock.Now().UTC().Truncate(time.Second)
		d.Clock.Advance(2 * time.Hour)
		revokeAt := received.Add(4 * 24 * time.Hour)
		if _, err := d.App.CPR.Decide(ctx, d.Compliance, id, cpr.DecideInput{Decision: "revoke", Trigger: "4.9.1.1#12", Reason: "x", RevokeAt: &revokeAt}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name            string
			at              time.Time
			prelim, revoked bool
		}{
			{"before receipt", before, false, false},
			{"after receipt, before the decision", received.Add(time.Hour), true, false},
			{"after the decision", d.Clock.Now(), true, true},
		} {
			obs, err := d.App.CPR.Obligations(ctx, c.at)
			if err != nil {
				t.Fatal(err)
			}
			if hasObligation(obs, cpr.ObligationPreliminaryReport, id) != c.prelim || hasObligation(obs, cpr.ObligationRevocation, serial) != c.revoked {
				t.Errorf("%s: obligations %+v, want preliminary report %v, revocation %v", c.name, obs, c.prelim, c.revoked)
			}
		}
	})
}

// A preliminary report whose delivery failed for good (SMTP 550) does not
// meet BR §4.9.5: the case shows the failed delivery, the obligation stays
// open (and so in `vetca deadlines`), and a report sent again that is
// delivered meets it, late if after its due time.
func TestFailedDeliveryKeepsThePreliminaryReportOpen(t *testing.T) {
	each(t, func(t *testing.T, d *desk) {
		ctx := context.Background()
		id := report(t, d, map[string]any{"reporterEmail": "rp@example.org", "category": "other", "description": "a question"})
		d.SMTP.RejectAll(true)
		if r := d.Do("POST", "/api/v1/problem-reports/"+id+"/preliminary-report", d.Carol, map[string]any{"findings": "nothing of ours"}); r.Status != 200 {
			t.Fatalf("preliminary report: %d %s", r.Status, r.Raw)
		}
		d.Deliver()
		tick(t, d)
		v := d.Do("GET", "/api/v1/problem-reports/"+id, d.Carol, nil)
		sent := v.Body["reportsSent"].([]any)
		if len(sent) != 1 || sent[0].(map[string]any)["delivery"] != "failed" || v.Body["preliminaryReportComplete"] != false {
			t.Fatalf("case after a 550: %s", v.Raw)
		}
		if obs, err := d.App.CPR.Obligations(ctx, d.Clock.Now()); err != nil || !hasObligation(obs, cpr.ObligationPreliminaryReport, id) {
			t.Fatalf("obligations %+v (%v): the preliminary report was never delivered", obs, err)
		}
		d.SMTP.RejectAll(false)
		d.Clock.Advance(25 * time.Hour)
		if r := d.Do("POST", "/api/v1/problem-reports/"+id+"/preliminary-report", d.Carol, map[string]any{"findings": "nothing of ours"}); r.Status != 200 {
			t.Fatalf("preliminary report again: %d %s", r.Status, r.Raw)
		}
		d.Deliver()
		tick(t, d)
		v = d.Do("GET", "/api/v1/problem-reports/"+id, d.Carol, nil)
		if v.Body["preliminaryReportComplete"] != true || len(v.Body["breaches"].([]any)) != 1 {
			t.Fatalf("case after a delivered report 25 hours after receipt: %s", v.Raw)
		}
		if obs, _ := d.App.CPR.Obligations(ctx, d.Clock.Now()); hasObligation(obs, cpr.ObligationPreliminaryReport, id) {
			t.Errorf("obligations %+v after a delivered report", obs)
		}
		if strings.Count(string(v.Raw), `"delivery":"sent"`) != 1 {
			t.Errorf("reportsSent %v: want the second one sent", v.Body["reportsSent"])
		}
	})
}
