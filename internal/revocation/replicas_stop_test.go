package revocation_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/store"
	"golang.org/x/crypto/ocsp"
)

// A revocation commits, and the replica stops (crashes) before it
// re-signs the serial's stored OCSP responses. Nothing was changed outside
// vetca: the response served says revoked at once (a stored answer that
// disagrees with the audited state is never served), and the refresher's
// next pass re-signs the stored one (resignMissed), so audit verify finds
// nothing. Before, the stale response stayed until its refresh time,
// days, and every scheduled verify reported it as one put back.
func TestRevocationWhoseResignNeverRanIsRepairedByTheRefresher(t *testing.T) {
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.Postgres, opt)
	f := apptest.NewOrderFixture(t, e, dns, site)
	ctx := context.Background()
	serial, pemCert := f.Issue(site)
	cert := parse(t, pemCert)
	if r := f.AskOCSP(cert, crypto.SHA256); r.Status != ocsp.Good { // stored in ocsp_responses
		t.Fatalf("before: %d", r.Status)
	}
	// revokeOne's transaction, committed; its Published(ctx, ...) never
	// gets to re-sign (ctx ended).
	by := f.Actor(f.AccTok)
	in := revocation.Input{Reason: "superseded"}
	d, err := revocation.Decide(by, in, f.Clock.Now().UTC().Truncate(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	err = f.App.DB.InTx(ctx, func(tx *store.Tx) error {
		c, err := issuance.GetCertificate(ctx, f.App.Recorder, tx, serial)
		if err != nil {
			return err
		}
		_, err = f.App.Revocations.RevokeInTx(ctx, tx, by, c, d, in)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	f.Clock.Advance(2 * time.Minute)
	if n, err := f.App.OCSP.Refresh(ctx); err != nil || n != 1 {
		t.Fatalf("the refresher's next pass: %d re-signed (%v), want the stale one", n, err)
	}
	f.RequireAuditClean()
	if r := f.AskOCSP(cert, crypto.SHA256); r.Status != ocsp.Revoked {
		t.Errorf("OCSP after the revocation: %d", r.Status)
	}
}

// Subscribers whose HTTP clients give up on their revocation request (a
// client timeout) while it is being answered: each revocation that
// commits is published (its OCSP answers re-signed) whatever became of
// its request. Before, the re-sign ran under the request's context, and
// 2 to 12 of about 25 such revocations per run left a stored `good`
// response that audit verify reported as tampering a minute later.
func TestRevocationRequestAbandonedByItsClientIsPublished(t *testing.T) {
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.Postgres, opt)
	f := apptest.NewOrderFixture(t, e, dns, site)
	ctx := context.Background()
	type issued struct {
		serial string
		cert   *x509.Certificate
	}
	var certs []issued
	for i := 0; i < 40; i++ {
		s, p := f.Issue(site)
		c := parse(t, p)
		f.AskOCSP(c, crypto.SHA256)
		certs = append(certs, issued{s, c})
	}
	revoke := func(serial string, timeout time.Duration) {
		body := strings.NewReader(`{"reason":"superseded"}`)
		req, _ := http.NewRequest("POST", f.Server.URL+"/api/v1/certificates/"+serial+"/revoke", body)
		req.Header.Set("Authorization", "Bearer "+f.AccTok)
		req.Header.Set("Content-Type", "application/json")
		if resp, err := (&http.Client{Timeout: timeout}).Do(req); err == nil {
			resp.Body.Close()
		}
	}
	// How long one revocation takes here, answered: the clients give up
	// at times spread over three times that, so that some give up before the commit,
	// some during it and some while the answers are re-signed.
	start := time.Now()
	revoke(certs[0].serial, time.Minute)
	took := time.Since(start)
	for i, c := range certs[1:] {
		revoke(c.serial, 3*took*time.Duration(i+1)/time.Duration(len(certs)-1))
	}
	committed := 0
	f.Server.Close() // returns once every handler has finished, published answers included
	var stale []string
	for _, c := range certs {
		var n int
		if err := f.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM revocations WHERE serial = ?`, c.serial).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			continue
		}
		committed++
		var der string
		if err := f.App.DB.QueryRow(ctx, `SELECT der FROM ocsp_responses WHERE serial = ? AND hash_alg = 'sha256'`, c.serial).Scan(&der); err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(der)
		if r, err := ocsp.ParseResponse(raw, nil); err == nil && r.Status == ocsp.Good {
			stale = append(stale, c.serial)
		}
	}
	t.Logf("%d of %d revocations committed (one takes %v); %d left a stored good response", committed, len(certs), took, len(stale))
	f.Clock.Advance(2 * time.Minute)
	f.RequireAuditClean()
}

// The refresher (lease ocsp) re-signs due responses and logs the batch
// in the audit trail (BR §5.4.1). Its loop's context ends (Background.Stop
// at shutdown) just after a response was re-signed and stored: that
// signature is still logged (before, the pass returned without its note).
func TestRefreshStoppedMidBatchLogsItsSignatures(t *testing.T) {
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, apptest.Postgres, opt)
	f := apptest.NewOrderFixture(t, e, dns, site)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		_, p := f.Issue(site)
		f.AskOCSP(parse(t, p), crypto.SHA256)
	}
	f.Clock.Advance(5 * 24 * time.Hour) // every stored response is due
	var before string
	if err := f.App.DB.QueryRow(ctx, `SELECT MIN(this_update) FROM ocsp_responses`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	loop, stop := context.WithCancel(ctx)
	f.App.OCSP.AfterNextStore(stop)
	n, err := f.App.OCSP.Refresh(loop)
	var resigned, notes int
	if err := f.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM ocsp_responses WHERE this_update > ?`, before).Scan(&resigned); err != nil {
		t.Fatal(err)
	}
	if err := f.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE action = 'ocsp.responses_refreshed'`).Scan(&notes); err != nil {
		t.Fatal(err)
	}
	t.Logf("Refresh: %d, %v; %d responses re-signed and stored, %d refresh notes", n, err, resigned, notes)
	if resigned > 0 && notes == 0 {
		t.Fatalf("%d OCSP responses were re-signed and stored by the refresher, and its batch was never logged in the audit trail (BR §5.4.1)", resigned)
	}
}

// A revocation whose answers were re-signed after its commit, as usual,
// gives the refresher's repair pass nothing to do: it re-signs only what
// still says good, or was signed before the revocation was recorded.
func TestRefreshLeavesAPublishedRevocationAlone(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		serial, pemCert := f.Issue(site)
		f.AskOCSP(parse(t, pemCert), crypto.SHA256)
		if r := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		if n, err := f.App.OCSP.Refresh(context.Background()); err != nil || n != 0 {
			t.Fatalf("refresh after a published revocation: %d re-signed (%v), want none", n, err)
		}
	})
}
