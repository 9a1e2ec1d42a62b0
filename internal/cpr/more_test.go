package cpr_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/cpr"
	"github.com/vetca/vetca/internal/store"
)

// A false report matching nothing (BR §4.9.5 "whether or not the report
// proves true"): a preliminary report to the reporter alone meets the
// obligation, and the case closes with its reasons recorded.
func TestFalseReportNeedsOnlyTheReporter(t *testing.T) {
	each(t, func(t *testing.T, d *desk) {
		ctx := context.Background()
		id := report(t, d, map[string]any{"reporterEmail": "rp@example.org", "category": "other", "description": "your CA is evil"})
		if _, err := d.App.CPR.SendPreliminaryReport(ctx, d.Compliance, id, cpr.PreliminaryInput{Findings: "no certificate of ours is concerned"}); err != nil {
			t.Fatal(err)
		}
		obs, err := d.App.CPR.Obligations(ctx, d.Clock.Now().Add(48*time.Hour))
		if err != nil || len(obs) != 0 {
			t.Fatalf("obligations after a report to the reporter of a report matching nothing: %+v %v", obs, err)
		}
		r := d.Do("POST", "/api/v1/problem-reports/"+id+"/close", d.Carol, map[string]any{"reasons": "no certificate concerned; nothing to do"})
		if r.Status != 200 || r.Body["status"] != "closed" || r.Body["closeReason"] != "no certificate concerned; nothing to do" {
			t.Fatalf("close: %d %s", r.Status, r.Raw)
		}
		sent := r.Body["reportsSent"].([]any)
		if len(sent) != 2 || sent[0].(map[string]any)["role"] != "reporter" {
			t.Errorf("reportsSent %v: the preliminary and the final report to the reporter", sent)
		}
		d.Clock.Advance(25 * time.Hour)
		tick(t, d)
		if n := breaches(t, d, id); n != 0 {
			t.Errorf("%d breaches of a met obligation", n)
		}
	})
}

// Garbage is refused with 400 naming the field, before anything is
// written: no case exists afterwards.
func TestGarbageMakesNoCase(t *testing.T) {
	each(t, func(t *testing.T, d *desk) {
		stray := ecKey(t, elliptic.P256())
		badCSR := []byte(apptest.CSR(t, stray, pkix.Name{CommonName: "x"}))
		blk, _ := pem.Decode(badCSR)
		blk.Bytes[len(blk.Bytes)-3] ^= 0x55
		base := func(extra map[string]any) map[string]any {
			m := map[string]any{"reporterEmail": "rp@example.org", "category": "keyCompromise", "description": "key"}
			for k, v := range extra {
				m[k] = v
			}
			return m
		}
		cases := []struct {
			name  string
			body  any
			field string
		}{
			{"malformed PEM key", base(map[string]any{"privateKey": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}), "privateKey"},
			{"key on no certificate", base(map[string]any{"privateKey": pkcs8(t, stray)}), "privateKey"},
			{"CSR with a bad signature", base(map[string]any{"csr": pemOf("CERTIFICATE REQUEST", blk.Bytes)}), "csr"},
			{"CSR of a key on no certificate", base(map[string]any{"csr": apptest.CSR(t, stray, pkix.Name{})}), "csr"},
			{"malformed certificate", base(map[string]any{"certificates": []string{"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}}), "certificates"},
			{"bad serial", base(map[string]any{"serials": []string{"not-hex"}}), "serials"},
			{"bad email", map[string]any{"reporterEmail": "nobody", "category": "other", "description": "x"}, "reporterEmail"},
			{"bad category", map[string]any{"reporterEmail": "a@example.org", "category": "bogus", "description": "x"}, "category"},
			{"no description", map[string]any{"reporterEmail": "a@example.org", "category": "other"}, "description"},
			{"unknown field", base(map[string]any{"severity": "high"}), "severity"},
			{"oversize body", base(map[string]any{"description": strings.Repeat("x", 1<<20+1)}), "body"},
		}
		for _, c := range cases {
			r := d.Do("POST", "/api/v1/problem-reports", "", c.body)
			if f, code := r.ErrField(); (r.Status != 400 && r.Status != 413) || f != c.field {
				t.Errorf("%s: %d %s %s, want 400 naming %s", c.name, r.Status, f, code, c.field)
			}
		}
		list, _, err := d.App.CPR.List(context.Background(), d.Compliance, cpr.Filter{}, store.Page{})
		if err != nil || len(list) != 0 {
			t.Fatalf("%d cases after refused reports (%v)", len(list), err)
		}
	})
}

// A private key whose public half does not match is refused, as a PEM
// field and as an attachment (the mail intake's path).
func TestKeyMismatchAndEvidenceParsing(t *testing.T) {
	k := ecKey(t, elliptic.P256())
	other := ecKey(t, elliptic.P256())
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	pubOther, _ := other.PublicKey.Bytes()
	pubMine, _ := k.PublicKey.Bytes()
	forged := bytes.Replace(der, pubMine, pubOther, 1)
	if _, err := cpr.ParseEvidence([][]byte{forged}); err == nil {
		ev, _ := cpr.ParseEvidence([][]byte{forged})
		if len(ev.Keys) == 1 && ev.Keys[0].Public().(*ecdsa.PublicKey).Equal(&other.PublicKey) {
			t.Fatal("a SEC1 key carrying another key's public point was accepted as that key")
		}
	}
	ev, err := cpr.ParseEvidence([][]byte{der, []byte("hello"), []byte(pkcs8(t, other))})
	if err != nil || len(ev.Keys) != 2 || ev.Skipped != 1 {
		t.Fatalf("evidence: %d keys, %d skipped, %v", len(ev.Keys), ev.Skipped, err)
	}
}

// A revoke decision nobody acts on is carried out by the deadline watch
// before its deadline, which runs from receipt (BR §4.9.5, §4.9.1.1 #12:
// 5 days).
func TestScheduledRevocationBeforeDeadline(t *testing.T) {
	each(t, func(t *testing.T, d *desk) {
		ctx := context.Background()
		serial := issue(t, d.OrderFixture, apptest.Key(t))
		id := report(t, d, map[string]any{"reporterEmail": "rp@example.org", "category": "misissuance", "description": "wrong", "serials": []string{serial}})
		received := d.Clock.Now().UTC().Truncate(time.Second)
		d.Clock.Advance(2 * time.Hour)
		revokeAt := received.Add(5 * 24 * time.Hour)
		v, err := d.App.CPR.Decide(ctx, d.Compliance, id, cpr.DecideInput{Decision: "revoke", Trigger: "4.9.1.1#12", Reason: "not per the CPS", RevokeAt: &revokeAt})
		if err != nil {
			t.Fatal(err)
		}
		if !v.RevocationDue.Equal(received.Add(5 * 24 * time.Hour)) {
			t.Fatalf("revocationDue %v, want receipt + 5 days, not decision + 5 days", v.RevocationDue)
		}
		d.Clock.Advance(3 * 24 * time.Hour)
		tick(t, d)
		if c := d.Do("GET", "/api/v1/certificates/"+serial, d.Carol, nil); c.Body["reason"] != nil {
			t.Fatalf("revoked early: %s", c.Raw)
		}
		d.Clock.Set(v.RevocationDue.Add(-30 * time.Minute))
		tick(t, d)
		c := d.Do("GET", "/api/v1/certificates/"+serial, d.Carol, nil)
		if c.Body["reason"] != "superseded" {
			t.Fatalf("not revoked before the deadline: %s", c.Raw)
		}
		if obs, _ := d.App.CPR.Obligations(ctx, d.Clock.Now()); len(obs) != 1 || obs[0].Kind != cpr.ObligationPreliminaryReport {
			t.Errorf("obligations %+v", obs)
		}
	})
}

// With ConfirmRevocation a second compliance user confirms; the proposer
// cannot.
func TestConfirmationNeedsAnotherUser(t *testing.T) {
	d := newDesk(t, apptest.SQLite)
	dk := cpr.New(d.App.DB, d.App.Recorder, d.Clock, deps(d), cpr.Config{ConfirmRevocation: true}, d.App.Log)
	ctx := context.Background()
	serial := issue(t, d.OrderFixture, apptest.Key(t))
	id := report(t, d, map[string]any{"reporterEmail": "rp@example.org", "category": "misissuance", "description": "wrong", "serials": []string{serial}})
	v, err := dk.Decide(ctx, d.Compliance, id, cpr.DecideInput{Decision: "revoke", Trigger: "4.9.1.1#13", Reason: "locality wrong"})
	if err != nil || v.Status != cpr.StatusAwaitingConfirmation {
		t.Fatalf("decide: %v %v", v.Status, err)
	}
	if _, err := dk.Confirm(ctx, d.Compliance, id); err == nil || !strings.Contains(err.Error(), "another compliance user") {
		t.Fatalf("self-confirmation: %v", err)
	}
	second := d.Staff("erin", "compliance")
	if v, err = dk.Confirm(ctx, second, id); err != nil || v.Status != cpr.StatusDecided || !v.Matches[0].Revoked {
		t.Fatalf("confirm: %+v %v", v, err)
	}
}

// The public form: instructions, fields, and a confirmation with the case id.
func TestReportPage(t *testing.T) {
	d := newDesk(t, apptest.SQLite)
	r := d.Do("GET", "/report", "", nil)
	for _, want := range []string{`id="reporterEmail"`, `id="category"`, `id="description"`, `id="serials"`, `id="certificates"`, `id="privateKey"`, `id="csr"`, `id="submit"`, "problems@pki.vetca-test.com", "BR §4.9.3"} {
		if !strings.Contains(string(r.Raw), want) {
			t.Errorf("/report lacks %s", want)
		}
	}
	form := url.Values{"reporterEmail": {"rp@example.org"}, "category": {"keyCompromise"}, "description": {"key"}, "privateKey": {"garbage"}}
	resp := postForm(t, d, form)
	if !strings.Contains(resp, `id="error-field">privateKey<`) {
		t.Errorf("the form error does not name privateKey: %s", resp)
	}
	form = url.Values{"reporterEmail": {"rp@example.org"}, "category": {"other"}, "description": {"a question"}}
	if resp = postForm(t, d, form); !strings.Contains(resp, `id="case-id">cpr_`) || !strings.Contains(resp, "preliminary-report-due") {
		t.Errorf("no confirmation: %s", resp)
	}
}

// Public reports are rate limited per client: 429 rate_limited with Retry-After.
func TestReportRateLimit(t *testing.T) {
	d := newDesk(t, apptest.SQLite)
	var last apptest.Response
	for range 22 {
		last = d.Do("POST", "/api/v1/problem-reports", "", map[string]any{"reporterEmail": "rp@example.org", "category": "other", "description": "spam"})
	}
	if _, code := last.ErrField(); last.Status != 429 || code != "rate_limited" {
		t.Fatalf("22nd report: %d %s", last.Status, last.Raw)
	}
}

// A case moves received → investigating → preliminary_report_sent →
// decided → closed, each step by the action that makes it true; a decided
// case is not decided again.
func TestCaseLifecycle(t *testing.T) {
	each(t, func(t *testing.T, d *desk) {
		ctx := context.Background()
		id := report(t, d, map[string]any{"reporterEmail": "rp@example.org", "category": "misissuance", "description": "a wrong locality"})
		status := func(want cpr.Status) {
			t.Helper()
			v, err := d.App.CPR.Get(ctx, d.Compliance, id)
			if err != nil || v.Status != want {
				t.Fatalf("status %q (%v), want %q", v.Status, err, want)
			}
		}
		status(cpr.StatusReceived)
		if _, err := d.App.CPR.Annotate(ctx, d.Compliance, id, "looking at the subject"); err != nil {
			t.Fatal(err)
		}
		status(cpr.StatusInvestigating)
		if _, err := d.App.CPR.SendPreliminaryReport(ctx, d.Compliance, id, cpr.PreliminaryInput{Findings: "we are checking the subject"}); err != nil {
			t.Fatal(err)
		}
		status(cpr.StatusPreliminarySent)
		if _, err := d.App.CPR.Decide(ctx, d.Compliance, id, cpr.DecideInput{Decision: string(cpr.DecisionNoAction), Reason: "the locality is the vetted one"}); err != nil {
			t.Fatal(err)
		}
		status(cpr.StatusDecided)
		if _, err := d.App.CPR.Decide(ctx, d.Compliance, id, cpr.DecideInput{Decision: string(cpr.DecisionNoAction), Reason: "again"}); !apperr.IsKind(err, apperr.KindConflict) {
			t.Fatalf("deciding a decided case: %v, want a conflict", err)
		}
		if _, err := d.App.CPR.Close(ctx, d.Compliance, id, "no action: the subject matches the vetted organization"); err != nil {
			t.Fatal(err)
		}
		status(cpr.StatusClosed)
	})
}

// A deadline met late is a breach even if the watch never saw it open
// (serve was down): a preliminary report sent 25 hours after receipt (BR
// §4.9.5) and a revocation carried out after its BR §4.9.1.1 deadline are
// each recorded as one breach. Evaluated at a time before it was met, an
// obligation is listed as it stood then.
func TestLateIsABreachEvenUnwatched(t *testing.T) {
	each(t, func(t *testing.T, d *desk) {
		ctx := context.Background()
		serial := issue(t, d.OrderFixture, apptest.Key(t))
		id := report(t, d, map[string]any{"reporterEmail": "rp@example.org", "category": "misissuance", "description": "wrong", "serials": []string{serial}})
		received := d.Clock.Now().UTC().Truncate(time.Second)
		revokeAt := received.Add(5 * 24 * time.Hour)
		if _, err := d.App.CPR.Decide(ctx, d.Compliance, id, cpr.DecideInput{Decision: "revoke", Trigger: "4.9.1.1#12", Reason: "not per the CPS", RevokeAt: &revokeAt}); err != nil {
			t.Fatal(err)
		}
		d.Clock.Set(received.Add(25 * time.Hour))
		if _, err := d.App.CPR.SendPreliminaryReport(ctx, d.Compliance, id, cpr.PreliminaryInput{Findings: "late"}); err != nil {
			t.Fatal(err)
		}
		if n := breaches(t, d, id); n != 1 {
			t.Fatalf("%d breaches after a preliminary report 25h after receipt, want 1", n)
		}
		past, err := d.App.CPR.Obligations(ctx, received.Add(24*time.Hour+time.Second))
		if err != nil {
			t.Fatal(err)
		}
		kinds := map[string]bool{}
		for _, o := range past {
			kinds[o.Kind] = o.Breached || kinds[o.Kind]
		}
		if !kinds[cpr.ObligationPreliminaryReport] {
			t.Errorf("obligations as of receipt+24h+1s %+v: the preliminary report was breached then", past)
		}
		d.Clock.Set(received.Add(5*24*time.Hour + time.Hour))
		tick(t, d)
		tick(t, d)
		if c := d.Do("GET", "/api/v1/certificates/"+serial, d.Carol, nil); c.Body["reason"] == nil {
			t.Fatalf("not revoked by the watch: %s", c.Raw)
		}
		v, err := d.App.CPR.Get(ctx, d.Compliance, id)
		if err != nil || len(v.Breaches) != 2 || v.Breaches[1].Ref != cpr.ObligationRevocation+":"+serial {
			t.Fatalf("breaches %+v (%v): want the preliminary report's and the late revocation's", v.Breaches, err)
		}
		if obs, _ := d.App.CPR.Obligations(ctx, d.Clock.Now()); len(obs) != 0 {
			t.Errorf("open obligations after both were met (late): %+v", obs)
		}
	})
}
