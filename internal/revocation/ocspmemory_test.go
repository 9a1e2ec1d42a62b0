package revocation_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/store"
)

// askGET asks a server about cert by GET (the path answered from memory)
// and returns the response's bytes and what they say.
func askGET(t *testing.T, server string, iss, cert *x509.Certificate, h crypto.Hash) ([]byte, *ocsp.Response) {
	t.Helper()
	req, err := ocsp.CreateRequest(cert, iss, &ocsp.RequestOptions{Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(server + "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(req)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r, err := ocsp.ParseResponseForCert(body, cert, iss)
	if err != nil {
		t.Fatalf("OCSP response for %x: %v (HTTP %d)", cert.SerialNumber, err, resp.StatusCode)
	}
	return body, r
}

// fromMemory asks again after removing the serial's stored responses: the
// same bytes come back only if they were answered from memory (a response
// signed again differs: ECDSA signatures are randomized).
func fromMemory(t *testing.T, db *apptest.Env, server string, iss, cert *x509.Certificate, serial string, want []byte) bool {
	t.Helper()
	if _, err := db.App.DB.Exec(context.Background(), `DELETE FROM ocsp_responses WHERE serial = ?`, serial); err != nil {
		t.Fatal(err)
	}
	got, _ := askGET(t, server, iss, cert, crypto.SHA256)
	return bytes.Equal(got, want)
}

// Two replicas on one database (both backends): B answers a certificate
// good from its memory. A revokes it. A answers revoked at once (the
// revocation replaced its memory before the call returned). B answers
// good from memory no longer than the staleness bound after the
// revocation: here, at once after its next poll of the audit trail (the
// next test: with no poll, at the bound). Times come from the replicas'
// injected clocks; nothing sleeps.
func TestRevocationOnAnotherReplicaEndsGoodWithinTheBound(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		b := f.Replica()
		iss := f.IssuerCertificate()

		// B holds X's and Y's good answers in memory; A holds X's.
		serialX, pemX := f.Issue(site)
		serialY, pemY := f.Issue(site)
		certX, certY := parse(t, pemX), parse(t, pemY)
		goodAX, r := askGET(t, f.Server.URL, iss, certX, crypto.SHA256)
		if r.Status != ocsp.Good {
			t.Fatalf("A: X is %d", r.Status)
		}
		goodBX, _ := askGET(t, b.Server.URL, iss, certX, crypto.SHA256)
		goodBY, r := askGET(t, b.Server.URL, iss, certY, crypto.SHA256)
		if r.Status != ocsp.Good {
			t.Fatalf("B: Y is %d", r.Status)
		}
		if !fromMemory(t, b, b.Server.URL, iss, certX, serialX, goodBX) || !fromMemory(t, b, b.Server.URL, iss, certY, serialY, goodBY) ||
			!fromMemory(t, f.Env, f.Server.URL, iss, certX, serialX, goodAX) {
			t.Fatal("the good answers were not held in memory")
		}

		// A revokes X and Y; its memory answers revoked at once, its clock
		// not moved.
		for _, sn := range []string{serialX, serialY} {
			if rr := f.Do("POST", "/api/v1/certificates/"+sn+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); rr.Status != 200 {
				t.Fatalf("revoke: %d %s", rr.Status, rr.Raw)
			}
		}
		if _, r := askGET(t, f.Server.URL, iss, certX, crypto.SHA256); r.Status != ocsp.Revoked {
			t.Fatalf("A right after its own revocation: status %d", r.Status)
		}

		// B has not polled since: what it holds is at most the bound old.
		if _, r := askGET(t, b.Server.URL, iss, certX, crypto.SHA256); r.Status != ocsp.Good {
			t.Fatalf("B before its poll: status %d (this test assumes B's memory still answers)", r.Status)
		}
		// On PostgreSQL nothing has sealed the revocation's events yet (no
		// sealer runs here): the poll must find them above the chain head.
		if f.App.DB.Dialect() == store.Postgres {
			var unsealed int
			if err := f.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE entity_type = 'revocations'
				AND seq > (SELECT seq FROM audit_head WHERE id = 1)`).Scan(&unsealed); err != nil || unsealed == 0 {
				t.Fatalf("unsealed revocation events: %d, %v", unsealed, err)
			}
		}
		// B's next poll (the Watch loop's, every DefaultOCSPPollTick): X is
		// revoked at once.
		if err := b.App.OCSP.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if _, r := askGET(t, b.Server.URL, iss, certX, crypto.SHA256); r.Status != ocsp.Revoked || r.RevocationReason != ocsp.Superseded {
			t.Fatalf("B after its poll: status %d reason %d", r.Status, r.RevocationReason)
		}
		if _, r := askGET(t, b.Server.URL, iss, certY, crypto.SHA256); r.Status != ocsp.Revoked {
			t.Fatalf("B after its poll: Y is %d", r.Status)
		}
		// Once sealed, the same events are walked in order, and B still
		// answers revoked.
		if f.App.Sealer != nil {
			if err := f.App.Sealer.SealAll(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.App.OCSP.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if _, r := askGET(t, b.Server.URL, iss, certX, crypto.SHA256); r.Status != ocsp.Revoked {
			t.Fatalf("B after the seal: X is %d", r.Status)
		}
	})
}

// A replica that polled, then polls no more (its poller stopped, or its
// database unreachable), answers from memory until the staleness bound
// after its last poll and not at or after it: its next answer comes from
// the database, which says revoked.
func TestMemoryStopsAnsweringAtTheBoundWithoutAPoll(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		b := f.Replica()
		iss := f.IssuerCertificate()
		bound := 2 * revocation.DefaultOCSPPoll // the default staleness bound
		serial, pemCert := f.Issue(site)
		cert := parse(t, pemCert)
		good, _ := askGET(t, b.Server.URL, iss, cert, crypto.SHA256) // B polls, then holds it
		if !fromMemory(t, b, b.Server.URL, iss, cert, serial, good) {
			t.Fatal("not held in memory")
		}
		if rr := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "keyCompromise"}); rr.Status != 200 {
			t.Fatalf("revoke: %d %s", rr.Status, rr.Raw)
		}
		b.Clock.Advance(bound - time.Second)
		if got, r := askGET(t, b.Server.URL, iss, cert, crypto.SHA256); r.Status != ocsp.Good || !bytes.Equal(got, good) {
			t.Fatalf("B within the bound: status %d (from memory: %v)", r.Status, bytes.Equal(got, good))
		}
		b.Clock.Advance(time.Second) // exactly the bound since B's last poll
		if _, r := askGET(t, b.Server.URL, iss, cert, crypto.SHA256); r.Status != ocsp.Revoked || r.RevocationReason != ocsp.KeyCompromise {
			t.Fatalf("B at the bound: status %d reason %d", r.Status, r.RevocationReason)
		}
	})
}

// A hole in the sealed audit trail (an event deleted by SQL) seen by the
// poller empties the replica's memory: answers come from the database,
// whose reads fail closed.
func TestAuditGapEmptiesTheMemory(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		b := f.Replica()
		iss := f.IssuerCertificate()
		_, pemCert := f.Issue(site)
		askGET(t, b.Server.URL, iss, parse(t, pemCert), crypto.SHA256)
		if b.App.OCSP.MemoryLen() == 0 {
			t.Fatal("nothing held")
		}
		other, _ := f.Issue(site)
		if rr := f.Do("POST", "/api/v1/certificates/"+other+"/revoke", f.AccTok, map[string]any{"reason": "superseded"}); rr.Status != 200 {
			t.Fatalf("revoke: %d %s", rr.Status, rr.Raw)
		}
		if f.App.Sealer != nil { // PostgreSQL: chain the events, so that the hole is below the head
			if err := f.App.Sealer.SealAll(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.App.DB.Exec(ctx, `DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) - 1 FROM audit_events WHERE hash <> '')`); err != nil {
			t.Fatal(err)
		}
		if err := b.App.OCSP.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if n := b.App.OCSP.MemoryLen(); n != 0 {
			t.Fatalf("%d responses still held after a gap in the trail", n)
		}
	})
}

// Between a revocation's commit on replica A and A's re-sign of the
// serial's responses (Published; batch after batch in a bulk revocation),
// replica B learns of it at its next poll and answers from the database,
// where the response A stored before still says good. That response is
// vetca's own, not one put back: B answers revoked, signing afresh, and
// records no refused replay (the alarm an insider's replay raises).
func TestRequestBeforeARevocationsResignIsNoReplay(t *testing.T) {
	each(t, func(t *testing.T, f *apptest.OrderFixture) {
		ctx := context.Background()
		b := f.Replica()
		iss := f.IssuerCertificate()
		serial, pemCert := f.Issue(site)
		cert := parse(t, pemCert)
		if _, r := askGET(t, f.Server.URL, iss, cert, crypto.SHA256); r.Status != ocsp.Good {
			t.Fatalf("A: status %d", r.Status)
		}
		var rev revocation.Revocation
		err := f.App.DB.InTx(ctx, func(tx *store.Tx) error {
			c, err := issuance.GetCertificate(ctx, f.App.Recorder, tx, serial)
			if err != nil {
				return err
			}
			d := revocation.Decision{Reason: br.Superseded, Source: revocation.SourceStaff, EvidenceAt: f.Clock.Now()}
			rev, err = f.App.Revocations.RevokeInTx(ctx, tx, actor.SystemActor("test"), c, d, revocation.Input{Evidence: "replica test"})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		b.Clock.Advance(time.Second)
		if err := b.App.OCSP.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if _, r := askGET(t, b.Server.URL, iss, cert, crypto.SHA256); r.Status != ocsp.Revoked || r.RevocationReason != ocsp.Superseded {
			t.Fatalf("B before A's re-sign: status %d reason %d", r.Status, r.RevocationReason)
		}
		f.App.Revocations.Published(ctx, rev) // A's re-sign lands
		var n int
		if err := f.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE action = 'ocsp.replay_refused'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("%d replays refused: vetca's own response, not yet re-signed, taken for one put back", n)
		}
	})
}
