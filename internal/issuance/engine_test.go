package issuance_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/keypolicy"
	"github.com/vetca/vetca/internal/order"
	"github.com/vetca/vetca/internal/profile"
	"github.com/vetca/vetca/internal/store"
)

// Service-level tests of the issuance engine's record-before-sign steps
// (docs/design.md §6), the blocklist and the inventory, called directly on
// the in-process vetca. Orders come from the real order service, since an
// intent and a certificate belong to an order.

var backends = []string{apptest.SQLite, apptest.Postgres}

const site = "shop.acme-widgets.com"

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if !apperr.HasCode(err, code) {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

// fixture is a placed order and what the engine needs to prepare its
// certificate.
type fixture struct {
	*apptest.OrderFixture
	ctx     context.Context
	engine  *issuance.Engine
	by      actor.Actor
	orderID string
	snap    order.Snapshot
	key     crypto.Signer
}

func newFixture(t *testing.T, backend string) *fixture {
	t.Helper()
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, backend, opt)
	f := &fixture{OrderFixture: apptest.NewOrderFixture(t, e, dns, site), ctx: context.Background(), engine: e.App.Engine,
		by: actor.SystemActor("issuance-test"), key: apptest.Key(t)}
	r := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, f.key, pkix.Name{}, site)})
	if r.Status != 201 {
		t.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	f.orderID = r.Body["id"].(string)
	v, err := e.App.Orders.Get(f.ctx, e.Staff("olga", actor.Verifier), f.orderID)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(v.Snapshot, &f.snap); err != nil {
		t.Fatal(err)
	}
	return f
}

// prepare builds and lints a certificate for the order, with a fresh serial.
func (f *fixture) prepare(t *testing.T) *issuance.Prepared {
	t.Helper()
	iss, cert, err := f.engine.ActiveIssuer(f.ctx, f.App.DB)
	if err != nil {
		t.Fatal(err)
	}
	subject := f.snap.Subject.ProfileSubject()
	p, err := f.engine.Prepare(f.ctx, issuance.Request{Issuer: iss, IssuerCert: cert, Subject: subject, DNSNames: f.snap.DNSNames,
		PublicKey: f.key.Public(), ValidityDays: f.snap.ValidityDays, Expected: []profile.Subject{subject}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.engine.Land(p.SerialHex) })
	return p
}

func (f *fixture) record(p *issuance.Prepared) (issuance.Intent, error) {
	var in issuance.Intent
	err := f.App.DB.InTx(f.ctx, func(tx *store.Tx) error {
		var err error
		in, err = f.engine.RecordIntent(f.ctx, tx, f.by, f.orderID, p)
		return err
	})
	return in, err
}

func (f *fixture) store(p *issuance.Prepared, der []byte) (issuance.Certificate, error) {
	var c issuance.Certificate
	err := f.App.DB.InTx(f.ctx, func(tx *store.Tx) error {
		var err error
		c, err = f.engine.Store(f.ctx, tx, f.by, p, der, issuance.Meta{OrderID: f.orderID, AccountID: f.AccountID,
			OrganizationID: f.OrgID, OrganizationVersion: f.snap.Organization.Version, DNSNames: f.snap.DNSNames, SPKISHA256: f.snap.PublicKey.SPKISHA256})
		return err
	})
	return c, err
}

func (f *fixture) abandon(t *testing.T, serial, why string) issuance.Intent {
	t.Helper()
	var in issuance.Intent
	err := f.App.DB.InTx(f.ctx, func(tx *store.Tx) error {
		var err error
		in, err = f.engine.Abandon(f.ctx, tx, f.by, serial, why)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func (f *fixture) sign(t *testing.T, p *issuance.Prepared) []byte {
	t.Helper()
	der, err := f.engine.Sign(f.ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func (f *fixture) intent(t *testing.T, serial string) (issuance.Intent, bool) {
	t.Helper()
	in, ok, err := issuance.GetIntent(f.ctx, f.App.Recorder, f.App.DB, serial)
	if err != nil {
		t.Fatal(err)
	}
	return in, ok
}

func (f *fixture) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := f.App.DB.QueryRow(f.ctx, query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// docs/design.md §6: an intent (serial, TBS hash, owner) is recorded
// before the real key signs, and at most one live (pending or issued)
// intent exists per order: a second one is refused with 409
// finalize_in_progress while the first is pending or issued, and allowed
// once the first was abandoned.
func TestRecordIntentAllowsOneLiveIntentPerOrder(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			f := newFixture(t, b)
			first := f.prepare(t)
			in, err := f.record(first)
			if err != nil {
				t.Fatal(err)
			}
			if in.Status != issuance.IntentPending || in.Serial != first.SerialHex || in.TBSSHA256 != first.TBSHash || in.Owner != f.App.Replica {
				t.Fatalf("recorded intent %+v", in)
			}
			if got, ok := f.intent(t, first.SerialHex); !ok || got.Status != issuance.IntentPending {
				t.Fatalf("stored intent %+v (found %v)", got, ok)
			}

			second := f.prepare(t)
			_, err = f.record(second)
			wantCode(t, err, apperr.CodeFinalizeInProgress)
			if _, ok := f.intent(t, second.SerialHex); ok {
				t.Fatal("a second intent was recorded while the first is pending")
			}

			f.abandon(t, first.SerialHex, "signing failed")
			if _, err := f.record(second); err != nil {
				t.Fatalf("an intent after the first was abandoned: %v", err)
			}
			if _, err := f.store(second, f.sign(t, second)); err != nil {
				t.Fatal(err)
			}
			_, err = f.record(f.prepare(t))
			wantCode(t, err, apperr.CodeFinalizeInProgress)
			if n := f.count(t, `SELECT COUNT(*) FROM issuance_intents WHERE order_id = ?`, f.orderID); n != 2 {
				t.Fatalf("%d intents for the order, want the abandoned and the issued one", n)
			}
		})
	}
}

// docs/design.md §6 (sign once, only the linted TBS): Store records a
// certificate only under the intent recorded for its prepared TBS. A
// prepared certificate with no intent, and a signed certificate whose TBS
// is not the prepared one, are refused and nothing is stored.
func TestStoreRefusesCertificateItsIntentDidNotRecord(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			f := newFixture(t, b)
			recorded := f.prepare(t)
			if _, err := f.record(recorded); err != nil {
				t.Fatal(err)
			}
			der := f.sign(t, recorded)
			unrecorded := f.prepare(t)
			other := f.sign(t, unrecorded)

			if _, err := f.store(unrecorded, other); err == nil {
				t.Fatal("stored a certificate whose intent was never recorded")
			}
			if _, err := f.store(recorded, other); err == nil {
				t.Fatal("stored a certificate whose TBS is not the prepared one")
			}
			if n := f.count(t, `SELECT COUNT(*) FROM certificates`); n != 0 {
				t.Fatalf("%d certificates stored after refusals", n)
			}
			if in, _ := f.intent(t, recorded.SerialHex); in.Status != issuance.IntentPending {
				t.Fatalf("a refused store resolved the intent: %+v", in)
			}

			c, err := f.store(recorded, der)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(der)
			if c.Serial != recorded.SerialHex || c.CertSHA256 != hex.EncodeToString(sum[:]) || c.Status != issuance.CertValid {
				t.Fatalf("stored %+v", c)
			}
			x, err := c.X509()
			if err != nil || hex.EncodeToString(x.SerialNumber.Bytes()) != recorded.SerialHex {
				t.Fatalf("the stored PEM does not carry the recorded serial: %v", err)
			}
			if in, _ := f.intent(t, recorded.SerialHex); in.Status != issuance.IntentIssued || in.ResolvedAt == nil {
				t.Fatalf("the intent after Store: %+v", in)
			}
		})
	}
}

// docs/design.md §6: Abandon resolves a pending intent without a stored
// certificate; a later Store of its signed certificate is refused with 409
// issuance_abandoned. Abandoning again changes nothing.
func TestAbandonMarksIntentAbandoned(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			f := newFixture(t, b)
			p := f.prepare(t)
			if _, err := f.record(p); err != nil {
				t.Fatal(err)
			}
			der := f.sign(t, p)
			at := f.Clock.Now()
			in := f.abandon(t, p.SerialHex, "the order was rejected while it was signed")
			if in.Status != issuance.IntentAbandoned || in.ResolvedAt == nil || !in.ResolvedAt.Equal(at) || in.Resolution != "the order was rejected while it was signed" {
				t.Fatalf("abandoned intent %+v", in)
			}
			if got, _ := f.intent(t, p.SerialHex); got.Status != issuance.IntentAbandoned {
				t.Fatalf("stored intent %+v", got)
			}

			f.Clock.Advance(time.Hour)
			again := f.abandon(t, p.SerialHex, "once more")
			if again.Status != issuance.IntentAbandoned || !again.ResolvedAt.Equal(at) || again.Resolution != in.Resolution {
				t.Fatalf("abandoning twice changed the intent: %+v", again)
			}

			_, err := f.store(p, der)
			wantCode(t, err, apperr.CodeIssuanceAbandoned)
			if n := f.count(t, `SELECT COUNT(*) FROM certificates WHERE serial = ?`, p.SerialHex); n != 0 {
				t.Fatal("the certificate of an abandoned intent was stored")
			}
			if err := f.App.DB.InTx(f.ctx, func(tx *store.Tx) error {
				_, err := f.engine.Abandon(f.ctx, tx, f.by, "7f00", "no such serial")
				return err
			}); err == nil {
				t.Fatal("abandoned a serial that has no intent")
			}
		})
	}
}

// BR §6.1.1.3(4): a key shown compromised is never certified again.
// BlockKey records it once however often it is called, and the blocklist
// reports it (and no other key).
func TestBlockKeyIsIdempotent(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			e := apptest.New(t, b)
			ctx := context.Background()
			spki, err := keypolicy.SPKIHashHex(apptest.Key(t).Public())
			if err != nil {
				t.Fatal(err)
			}
			other, err := keypolicy.SPKIHashHex(apptest.Key(t).Public())
			if err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				if err := e.App.DB.InTx(ctx, func(tx *store.Tx) error {
					return issuance.BlockKey(ctx, tx, e.App.Recorder, actor.CLIActor("test"), spki, "keyCompromise", "test", e.Clock.Now())
				}); err != nil {
					t.Fatalf("block %d: %v", i+1, err)
				}
			}
			var rows, events int
			if err := e.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM blocked_keys WHERE spki_sha256 = ?`, spki).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if err := e.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE action = ?`, "key.blocked").Scan(&events); err != nil {
				t.Fatal(err)
			}
			if rows != 1 || events != 1 {
				t.Fatalf("blocking one key three times: %d rows, %d key.blocked events", rows, events)
			}
			bl := issuance.Blocklist{DB: e.App.DB, Rec: e.App.Recorder}
			if ok, err := bl.Blocked(ctx, e.App.DB, spki); err != nil || !ok {
				t.Fatalf("Blocked(blocked key) = %v, %v", ok, err)
			}
			if ok, err := bl.Blocked(ctx, e.App.DB, other); err != nil || ok {
				t.Fatalf("Blocked(another key) = %v, %v", ok, err)
			}
			var sum [32]byte
			raw, _ := hex.DecodeString(spki)
			copy(sum[:], raw)
			if ok, err := bl.IsBlocked(ctx, sum); err != nil || !ok {
				t.Fatalf("IsBlocked(blocked key) = %v, %v", ok, err)
			}
		})
	}
}

// BR §6.1.1.3(4) and docs/design.md §7 (reads for decisions fail closed):
// a blocklist row changed outside vetca is an integrity violation naming
// the table, never a silent "not blocked", whichever field was changed; a
// lookup without the recorder fails rather than read unchecked.
func TestBlocklistReadFailsClosed(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			e := apptest.New(t, b)
			ctx := context.Background()
			spki, err := keypolicy.SPKIHashHex(apptest.Key(t).Public())
			if err != nil {
				t.Fatal(err)
			}
			if err := e.App.DB.InTx(ctx, func(tx *store.Tx) error {
				return issuance.BlockKey(ctx, tx, e.App.Recorder, actor.CLIActor("test"), spki, "keyCompromise", "test", e.Clock.Now())
			}); err != nil {
				t.Fatal(err)
			}
			bl := issuance.Blocklist{DB: e.App.DB, Rec: e.App.Recorder}
			var sum [32]byte
			raw, _ := hex.DecodeString(spki)
			copy(sum[:], raw)
			for _, edit := range []string{
				`UPDATE blocked_keys SET reason = 'superseded' WHERE spki_sha256 = ?`,
				`UPDATE blocked_keys SET source = 'sql' WHERE spki_sha256 = ?`,
			} {
				var was issuance.BlockedKey
				if err := e.App.DB.QueryRow(ctx, `SELECT reason, source FROM blocked_keys WHERE spki_sha256 = ?`, spki).Scan(&was.Reason, &was.Source); err != nil {
					t.Fatal(err)
				}
				if _, err := e.App.DB.Exec(ctx, edit, spki); err != nil {
					t.Fatal(err)
				}
				ok, err := bl.Blocked(ctx, e.App.DB, spki)
				if !apperr.IsKind(err, apperr.KindIntegrity) || !strings.Contains(err.Error(), "blocked_keys") {
					t.Fatalf("%s: Blocked = %v, %v; want an integrity violation naming blocked_keys", edit, ok, err)
				}
				if _, err := bl.IsBlocked(ctx, sum); !apperr.IsKind(err, apperr.KindIntegrity) {
					t.Fatalf("%s: IsBlocked error %v, want an integrity violation", edit, err)
				}
				if _, err := e.App.DB.Exec(ctx, `UPDATE blocked_keys SET reason = ?, source = ? WHERE spki_sha256 = ?`, was.Reason, was.Source, spki); err != nil {
					t.Fatal(err)
				}
				if ok, err := bl.Blocked(ctx, e.App.DB, spki); err != nil || !ok {
					t.Fatalf("restored row: Blocked = %v, %v", ok, err)
				}
			}
			if _, err := (issuance.Blocklist{DB: e.App.DB}).Blocked(ctx, e.App.DB, spki); err == nil {
				t.Fatal("a blocklist without the recorder read blocked_keys unchecked")
			}
		})
	}
}

// docs/api.md, Lists, and docs/design.md §10: the inventory is paged,
// newest first, with a cursor to the next page and none after the last.
func TestListCertificatesPagesNewestFirst(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			f := newFixture(t, b)
			var issued []string
			for range 3 {
				serial, _ := f.Issue(site)
				issued = append(issued, serial)
				f.Clock.Advance(time.Minute)
			}
			slices.Reverse(issued)
			var got []string
			page := store.Page{Limit: 1}
			for i := 0; ; i++ {
				list, next, err := issuance.ListCertificates(f.ctx, f.App.Recorder, f.App.DB, issuance.CertificateFilter{AccountID: f.AccountID}, page)
				if err != nil {
					t.Fatal(err)
				}
				if len(list) != 1 || i > len(issued) {
					t.Fatalf("page %d has %d certificates", i+1, len(list))
				}
				got = append(got, list[0].Serial)
				if next == "" {
					break
				}
				page.Cursor = next
			}
			if !slices.Equal(got, issued) {
				t.Fatalf("pages of one: %v, want newest first %v", got, issued)
			}
			all, next, err := issuance.ListCertificates(f.ctx, f.App.Recorder, f.App.DB, issuance.CertificateFilter{}, store.Page{Limit: 10})
			if err != nil || next != "" || len(all) != len(issued) {
				t.Fatalf("one page of ten: %d certificates, next %q, %v", len(all), next, err)
			}
			none, _, err := issuance.ListCertificates(f.ctx, f.App.Recorder, f.App.DB, issuance.CertificateFilter{AccountID: "acc_other"}, store.Page{Limit: 10})
			if err != nil || len(none) != 0 {
				t.Fatalf("another account's inventory: %d certificates, %v", len(none), err)
			}
			_, _, err = issuance.ListCertificates(f.ctx, f.App.Recorder, f.App.DB, issuance.CertificateFilter{}, store.Page{Limit: 1, Cursor: "not-a-cursor"})
			wantCode(t, err, apperr.CodeInvalidCursor)
		})
	}
}

// RFC 5280 §6.1.3(a)(2), BR §7.1.2: a certificate must not outlive the
// issuing CA that signs it, since after the CA expires no path to it
// validates. An issuing CA a few days from its own notAfter refuses to
// prepare a certificate valid for longer (503 no_issuer), and prepares one
// that ends in time.
func TestPrepareRefusesCertificateOutlivingItsIssuer(t *testing.T) {
	f := newFixture(t, apptest.SQLite)
	iss, cert, err := f.engine.ActiveIssuer(f.ctx, f.App.DB)
	if err != nil {
		t.Fatal(err)
	}
	f.Clock.Set(cert.NotAfter.Add(-10 * 24 * time.Hour))
	subject := f.snap.Subject.ProfileSubject()
	req := issuance.Request{Issuer: iss, IssuerCert: cert, Subject: subject, DNSNames: f.snap.DNSNames,
		PublicKey: f.key.Public(), ValidityDays: 30, Expected: []profile.Subject{subject}}
	p, err := f.engine.Prepare(f.ctx, req)
	if err == nil {
		t.Fatalf("prepared a certificate until %s under an issuing CA that expires at %s", p.NotAfter, cert.NotAfter)
	}
	wantCode(t, err, apperr.CodeNoIssuer)
	req.ValidityDays = 5
	if p, err = f.engine.Prepare(f.ctx, req); err != nil {
		t.Fatalf("a certificate ending before its issuer: %v", err)
	}
	if p.NotAfter.After(cert.NotAfter) {
		t.Fatalf("notAfter %s after the issuer's %s", p.NotAfter, cert.NotAfter)
	}
}
