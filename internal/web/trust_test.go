package web_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apptest"
)

func metrics(t *testing.T, e *apptest.Env) string {
	t.Helper()
	resp, err := http.Get(e.Server.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// serve's scheduled verification exports its outcome as a Prometheus gauge
// and mails compliance once per distinct set of findings.
func TestScheduledVerifyAlarms(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		ctx := context.Background()
		rep, err := e.App.AuditWatch.RunOnce(ctx)
		if err != nil || rep == nil || !rep.OK {
			t.Fatalf("intact trail: %v %+v", err, rep)
		}
		if m := metrics(t, e); !strings.Contains(m, "vetca_audit_findings 0") || !strings.Contains(m, "vetca_audit_verify_ok 1") {
			t.Fatalf("gauges after an intact run:\n%s", m)
		}
		if _, err := e.App.DB.Exec(ctx, `UPDATE contacts SET email = 'mallory@evil.example' WHERE id = ?`, f.conID); err != nil {
			t.Fatal(err)
		}
		rep, err = e.App.AuditWatch.RunOnce(ctx)
		if err != nil || rep.OK {
			t.Fatalf("tampered trail: %v %+v", err, rep)
		}
		if m := metrics(t, e); !strings.Contains(m, "vetca_audit_findings 1") || !strings.Contains(m, "vetca_audit_verify_ok 0") {
			t.Fatalf("gauges after a finding:\n%s", m)
		}
		// Another replica, which does not hold the lease, shows what the
		// holder found (before, its gauges said "not intact" from the start
		// whatever the trail, and never changed).
		other := e.Replica()
		if rep, err := other.App.AuditWatch.RunOnce(ctx); err != nil || rep != nil {
			t.Fatalf("a replica without the lease verified: %v %+v", err, rep)
		}
		if m := metrics(t, other); !strings.Contains(m, "vetca_audit_findings 1") || !strings.Contains(m, "vetca_audit_verify_ok 0") {
			t.Fatalf("the other replica's gauges after a finding:\n%s", m)
		}
		if _, err := e.App.AuditWatch.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		e.Deliver()
		var alarms int
		for _, m := range e.SMTP.To("compliance@ca.vetca-test.com") {
			if strings.Contains(m.Subject, "audit trail NOT intact") {
				alarms++
				if !strings.Contains(m.Body, "contacts row "+f.conID+" field email") {
					t.Fatalf("the alarm does not name the row:\n%s", m.Body)
				}
			}
		}
		if alarms != 1 {
			t.Fatalf("%d alarm mails for one set of findings", alarms)
		}
		// Repaired (the contact put back by SQL, as the edit was), the
		// holder's next run is clean, and so are the other's gauges.
		if _, err := e.App.DB.Exec(ctx, `UPDATE contacts SET email = 'jane@acme.vetca-test.com' WHERE id = ?`, f.conID); err != nil {
			t.Fatal(err)
		}
		if rep, err := e.App.AuditWatch.RunOnce(ctx); err != nil || !rep.OK {
			t.Fatalf("repaired trail: %v %+v", err, rep)
		}
		if _, err := other.App.AuditWatch.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if m := metrics(t, other); !strings.Contains(m, "vetca_audit_findings 0") || !strings.Contains(m, "vetca_audit_verify_ok 1") {
			t.Fatalf("the other replica's gauges after the repair:\n%s", m)
		}
	})
}

// A message changed in the outbox by SQL is never mailed; the others are.
func TestTamperedOutboxMessageIsNotSent(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		setup(t, e)
		ctx := context.Background()
		// An identity change queues mail to the account's contact and to
		// compliance; redirect one of them.
		var id string
		if err := e.App.DB.QueryRow(ctx, `SELECT id FROM outbox WHERE status = 'pending' ORDER BY id LIMIT 1`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := e.App.DB.Exec(ctx, `UPDATE outbox SET to_addr = 'mallory@evil.example' WHERE id = ?`, id); err != nil {
			t.Fatal(err)
		}
		_, failed, err := e.Deliverer.RunOnce(ctx)
		if err != nil || failed != 1 {
			t.Fatalf("delivery: failed %d, %v", failed, err)
		}
		sent := e.SMTP.Mails()
		if len(sent) == 0 {
			t.Fatal("the intact messages were not sent")
		}
		for _, m := range sent {
			if strings.Contains(strings.Join(m.To, ","), "evil.example") {
				t.Fatalf("a tampered message was mailed: %+v", m)
			}
		}
	})
}

// No token is ever minted for an account that does not exist.
func TestNoTokenForAMissingAccount(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		before := f.eventCount(t)
		r := e.Do("POST", "/api/v1/accounts/acc_doesnotexist00000/token", f.alice, nil)
		if r.Status != 404 || r.Body["token"] != nil {
			t.Fatalf("token for a missing account: %d %s", r.Status, r.Raw)
		}
		if after := f.eventCount(t); after != before {
			t.Fatalf("the refused rotation wrote %d events", after-before)
		}
	})
}

// serve's checkpointer, as the app wires it (clock injected): a checkpoint
// of the head at once, none while nothing is due, the next after
// --checkpoint-every, into KEY-DIR/checkpoints and the database, and the
// newest published at /audit/checkpoint.
func TestServeWritesCheckpointsOnSchedule(t *testing.T) {
	apptest.Each(t, func(t *testing.T, e *apptest.Env) {
		f := setup(t, e)
		ctx := context.Background()
		first, err := e.App.Checkpoints.RunOnce(ctx)
		if err != nil || first == nil {
			t.Fatalf("first checkpoint: %+v %v", first, err)
		}
		if !strings.HasPrefix(first.Source, e.App.Cfg.CheckpointDir) {
			t.Fatalf("checkpoint written to %q, not under %s", first.Source, e.App.Cfg.CheckpointDir)
		}
		e.Do("POST", "/api/v1/accounts/"+f.accID+"/contacts", f.accToken, map[string]any{"name": "Sam", "email": "sam@acme.vetca-test.com"})
		e.Clock.Advance(e.App.Cfg.CheckpointEvery - time.Second)
		if cp, err := e.App.Checkpoints.RunOnce(ctx); err != nil || cp != nil {
			t.Fatalf("a checkpoint before it was due: %+v %v", cp, err)
		}
		e.Clock.Advance(time.Second)
		second, err := e.App.Checkpoints.RunOnce(ctx)
		if err != nil || second == nil || second.Seq <= first.Seq {
			t.Fatalf("checkpoint after --checkpoint-every: %+v %v", second, err)
		}
		r := e.Do("GET", "/audit/checkpoint", "", nil)
		if r.Status != 200 || r.Body["seq"] != float64(second.Seq) || r.Body["signature"] == "" {
			t.Fatalf("published checkpoint: %d %s", r.Status, r.Raw)
		}
		rep, err := e.App.VerifyAudit(ctx, "")
		if err != nil || !rep.OK || rep.Checkpoints != 4 {
			t.Fatalf("verify against the checkpoints (2 files, 2 rows): %v %+v", err, rep)
		}
	})
}
