package order_test

import (
	"context"
	"crypto"
	"crypto/x509/pkix"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"

	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/issuance"
)

// approvedOrder places an order for site with key and has bob and carol
// approve it; it returns the order id.
func approvedOrder(t *testing.T, f *apptest.OrderFixture, key crypto.Signer) string {
	t.Helper()
	r := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, key, pkix.Name{}, site)})
	if r.Status != 201 {
		t.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
	for _, tok := range []string{f.Bob, f.Carol} {
		if a := f.Do("POST", "/api/v1/orders/"+id+"/approve", tok, map[string]any{"snapshotHash": hash}); a.Status != 200 {
			t.Fatalf("approve: %d %s", a.Status, a.Raw)
		}
	}
	return id
}

func count(t *testing.T, f *apptest.OrderFixture, query string, args ...any) int {
	t.Helper()
	var n int
	if err := f.App.DB.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func auditClean(t *testing.T, f *apptest.OrderFixture) {
	t.Helper()
	rep, err := f.App.VerifyAudit(context.Background(), "")
	if err != nil || !rep.OK {
		t.Fatalf("audit verify: %v %+v", err, rep)
	}
}

// An order is signed at most once: of eight concurrent finalizes of one
// approved order, one gets 200 and the others 409, there is one
// certificate, and nothing reads as tampered. They run free, and then
// again with the first one held in signing, so that the others surely
// arrive while its intent is live.
func TestConcurrentFinalizesSignOnce(t *testing.T) {
	for _, held := range []bool{false, true} {
		for _, b := range []string{apptest.SQLite, apptest.Postgres} {
			t.Run(fmt.Sprintf("%s/held=%v", b, held), func(t *testing.T) {
				f, h := heldFixture(t, b)
				id := approvedOrder(t, f, apptest.Key(t))
				h.holding.Store(held)
				const n = 8
				results := make(chan apptest.Response, n)
				for i := 0; i < n; i++ {
					go func() { results <- f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil) }()
				}
				var res []apptest.Response
				if held {
					<-h.at // one is signing; every other must be refused meanwhile
					for len(res) < n-1 {
						select {
						case r := <-results:
							res = append(res, r)
						case <-h.at:
							close(h.release)
							t.Fatal("a second finalize of the same order reached signing")
						}
					}
					close(h.release)
				}
				for len(res) < n {
					res = append(res, <-results)
				}
				ok := 0
				for _, r := range res {
					switch {
					case r.Status == 200:
						ok++
					case r.Status == 409:
					default:
						t.Fatalf("a concurrent finalize answered %d: %s", r.Status, r.Raw)
					}
					if strings.Contains(string(r.Raw), "integrity") {
						t.Fatalf("a concurrent finalize reported tampering: %s", r.Raw)
					}
				}
				if ok != 1 {
					t.Fatalf("%d of %d concurrent finalizes succeeded", ok, n)
				}
				if c := count(t, f, `SELECT COUNT(*) FROM certificates WHERE order_id = ?`, id); c != 1 {
					t.Fatalf("%d certificates for one approval", c)
				}
				if c := count(t, f, `SELECT COUNT(*) FROM issuance_intents WHERE order_id = ?`, id); c != 1 {
					t.Fatalf("%d intents for one approval", c)
				}
				auditClean(t, f)
			})
		}
	}
}

// Whatever changes while finalize waits on CAA is seen before anything is
// recorded or signed: a newly verified organization version gives 409
// snapshot_mismatch, a key blocked meanwhile gives 400 key_blocked.
func TestChangesDuringCAAAreRefused(t *testing.T) {
	t.Run("new organization version", func(t *testing.T) {
		each(t, func(t *testing.T, f *apptest.OrderFixture) {
			id := approvedOrder(t, f, apptest.Key(t))
			fin := finalizeHeldOnCAA(t, f, id, func() {
				if p := f.Do("POST", "/api/v1/organizations/"+f.OrgID+"/versions", f.Alice, map[string]any{"localityName": "Oakland"}); p.Status != 201 {
					t.Errorf("propose: %d %s", p.Status, p.Raw)
				}
				f.VerifyVersion(2, f.Bob, f.Dave)
			})
			if fin.Status != 409 || errOf(fin)["code"] != "snapshot_mismatch" {
				t.Fatalf("finalize across a verified identity change: %d %s", fin.Status, fin.Raw)
			}
			nothingSigned(t, f, id)
			if g := f.Do("GET", "/api/v1/orders/"+id, f.Bob, nil); g.Body["status"] != "pending_approval" || len(g.Body["approvals"].([]any)) != 0 {
				t.Fatalf("the approvals must be void: %s", g.Raw)
			}
		})
	})
	t.Run("key blocked", func(t *testing.T) {
		each(t, func(t *testing.T, f *apptest.OrderFixture) {
			key := apptest.Key(t)
			first := approvedOrder(t, f, key)
			r := f.Do("POST", "/api/v1/orders/"+first+"/finalize", f.AccTok, nil)
			if r.Status != 200 {
				t.Fatalf("first certificate: %d %s", r.Status, r.Raw)
			}
			serial := r.Body["serial"].(string)
			id := approvedOrder(t, f, key)
			fin := finalizeHeldOnCAA(t, f, id, func() {
				if rv := f.Do("POST", "/api/v1/certificates/"+serial+"/revoke", f.AccTok, map[string]any{"reason": "keyCompromise"}); rv.Status != 200 {
					t.Errorf("revoke: %d %s", rv.Status, rv.Raw)
				}
			})
			if fin.Status != 400 || errOf(fin)["code"] != "key_blocked" || errOf(fin)["field"] != "publicKey" {
				t.Fatalf("finalize across a key compromise: %d %s", fin.Status, fin.Raw)
			}
			nothingSigned(t, f, id)
		})
	})
}

// finalizeHeldOnCAA finalizes id with the CAA lookup of site held until
// change has run.
func finalizeHeldOnCAA(t *testing.T, f *apptest.OrderFixture, id string, change func()) apptest.Response {
	t.Helper()
	arrived, release := f.DNS.Hold(site, dns.TypeCAA)
	done := make(chan apptest.Response, 1)
	go func() { done <- f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil) }()
	<-arrived
	change()
	release()
	return <-done
}

func nothingSigned(t *testing.T, f *apptest.OrderFixture, id string) {
	t.Helper()
	if c := count(t, f, `SELECT COUNT(*) FROM issuance_intents WHERE order_id = ?`, id); c != 0 {
		t.Fatalf("%d intents recorded", c)
	}
	if c := count(t, f, `SELECT COUNT(*) FROM certificates WHERE order_id = ?`, id); c != 0 {
		t.Fatalf("%d certificates stored", c)
	}
}

// heldFixture is an order fixture whose issuance waits after the intent is
// recorded until released.
func heldFixture(t *testing.T, backend string) (*apptest.OrderFixture, *holdHook) {
	h := &holdHook{at: make(chan struct{}, 8), release: make(chan struct{})}
	hooks := &issuance.Hooks{AfterIntent: h.wait, StoreFails: func() bool { return h.storeFails.Load() }}
	dns, opt := apptest.WithDNS(t)
	e := apptest.NewWithHooks(t, backend, hooks, opt)
	return apptest.NewOrderFixture(t, e, dns, site), h
}

type holdHook struct {
	holding    atomic.Bool
	at         chan struct{}
	release    chan struct{}
	storeFails atomic.Bool
}

// finalize starts a finalize of order id that is held once its intent is
// recorded, and returns once it is held; its answer comes on the channel
// after h.release.
func (h *holdHook) finalize(f *apptest.OrderFixture, id string) <-chan apptest.Response {
	h.holding.Store(true)
	done := make(chan apptest.Response, 1)
	go func() { done <- f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil) }()
	<-h.at
	return done
}

func (h *holdHook) wait() {
	if !h.holding.Load() {
		return
	}
	h.at <- struct{}{}
	<-h.release
}

// A reject that lands while the certificate is signed stands: the order
// stays rejected, the certificate is never delivered or stored, and its
// serial is answered as revoked.
func TestRejectDuringSigningStands(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			f, h := heldFixture(t, b)
			id := approvedOrder(t, f, apptest.Key(t))
			done := h.finalize(f, id)
			if rj := f.Do("POST", "/api/v1/orders/"+id+"/reject", f.Carol, map[string]any{"reason": "the subscriber withdrew its request"}); rj.Status != 200 {
				t.Fatalf("reject during signing: %d %s", rj.Status, rj.Raw)
			}
			close(h.release)
			fin := <-done
			if fin.Status != 409 || errOf(fin)["code"] != "order_changed" || fin.Body["certificate"] != nil {
				t.Fatalf("finalize after a reject during signing: %d %s", fin.Status, fin.Raw)
			}
			if g := f.Do("GET", "/api/v1/orders/"+id, f.Bob, nil); g.Body["status"] != "rejected" {
				t.Fatalf("the reject was overwritten: %s", g.Raw)
			}
			if c := count(t, f, `SELECT COUNT(*) FROM certificates WHERE order_id = ?`, id); c != 0 {
				t.Fatalf("%d certificates stored for a rejected order", c)
			}
			var serial, status string
			if err := f.App.DB.QueryRow(context.Background(), `SELECT serial, status FROM issuance_intents WHERE order_id = ?`, id).Scan(&serial, &status); err != nil {
				t.Fatal(err)
			}
			if issuance.IntentStatus(status) != issuance.IntentAbandoned || count(t, f, `SELECT COUNT(*) FROM revocations WHERE serial = ?`, serial) != 1 {
				t.Fatalf("the signed serial %s is %s and not revoked", serial, status)
			}
			auditClean(t, f)
		})
	}
}

// A store step that fails is resolved by recovery (which serve runs on a
// schedule) without a restart: the intent is abandoned, its serial
// answered as revoked, and the order, still approved, finalizes again.
func TestFailedStoreIsResolvedWithoutRestart(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			f, h := heldFixture(t, b)
			id := approvedOrder(t, f, apptest.Key(t))
			h.storeFails.Store(true)
			if fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil); fin.Status != 500 {
				t.Fatalf("finalize with a failing store step: %d %s", fin.Status, fin.Raw)
			}
			if c := count(t, f, `SELECT COUNT(*) FROM issuance_intents WHERE order_id = ? AND status = 'pending'`, id); c != 1 {
				t.Fatalf("%d pending intents", c)
			}
			rec, err := f.App.RecoverIssuance(context.Background())
			if err != nil || len(rec) != 1 || rec[0].Status != issuance.IntentAbandoned {
				t.Fatalf("recovery: %v %+v", err, rec)
			}
			if c := count(t, f, `SELECT COUNT(*) FROM revocations WHERE serial = ?`, rec[0].Serial); c != 1 {
				t.Fatal("the abandoned serial is not revoked")
			}
			h.storeFails.Store(false)
			fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil)
			if fin.Status != 200 || fin.Body["serial"] == rec[0].Serial {
				t.Fatalf("finalize after recovery: %d %s", fin.Status, fin.Raw)
			}
			auditClean(t, f)
		})
	}
}

// Recovery leaves alone an intent this process is still signing.
func TestRecoveryLeavesInFlightIntentsAlone(t *testing.T) {
	for _, backend := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			f, h := heldFixture(t, backend)
			id := approvedOrder(t, f, apptest.Key(t))
			done := h.finalize(f, id)
			rec, err := f.App.RecoverIssuance(context.Background())
			if err != nil || len(rec) != 0 {
				t.Fatalf("recovery touched an intent in flight: %v %+v", err, rec)
			}
			close(h.release)
			if fin := <-done; fin.Status != 200 {
				t.Fatalf("finalize: %d %s", fin.Status, fin.Raw)
			}
		})
	}
}

// Finalize makes exactly two durable commits: the intent before signing,
// the certificate after (docs/architecture.md, "Flow of a request").
func TestFinalizeCommitsTwice(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			f, _ := heldFixture(t, b)
			id := approvedOrder(t, f, apptest.Key(t))
			before := f.App.DB.Commits()
			if r := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil); r.Status != 200 {
				t.Fatalf("finalize: %d %s", r.Status, r.Raw)
			}
			if n := f.App.DB.Commits() - before; n != 2 {
				t.Fatalf("finalize made %d commits, want 2", n)
			}
			// Each commit's event numbers were reserved at once, exactly as
			// many as it wrote: sealing records no gap.
			if f.App.Sealer != nil {
				if err := f.App.Sealer.SealAll(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if n := count(t, f, `SELECT COUNT(*) FROM audit_events WHERE op = 'gap'`); n != 0 {
				t.Fatalf("finalize left %d unused event numbers (signed gaps)", n)
			}
		})
	}
}

// A key reported compromised while a certificate for it is signed (a
// keyCompromise revocation of another certificate with the key) stops that
// certificate: it is not stored or delivered, the order fails with
// key_blocked, and its serial is answered as revoked (BR §4.9.1.1(3),
// §6.1.1.3(4)).
func TestKeyBlockedDuringSigningIsNotDelivered(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			f, h := heldFixture(t, b)
			key := apptest.Key(t)
			first := f.Do("POST", "/api/v1/orders/"+approvedOrder(t, f, key)+"/finalize", f.AccTok, nil)
			if first.Status != 200 {
				t.Fatalf("first certificate: %d %s", first.Status, first.Raw)
			}
			id := approvedOrder(t, f, key)
			done := h.finalize(f, id)
			if r := f.Do("POST", "/api/v1/certificates/"+first.Body["serial"].(string)+"/revoke", f.AccTok, map[string]any{"reason": "keyCompromise"}); r.Status != 200 {
				t.Fatalf("keyCompromise: %d %s", r.Status, r.Raw)
			}
			close(h.release)
			fin := <-done
			if fin.Status != 400 || errOf(fin)["code"] != "key_blocked" || fin.Body["certificate"] != nil {
				t.Fatalf("finalize of a key blocked while it was signed: %d %s", fin.Status, fin.Raw)
			}
			if g := f.Do("GET", "/api/v1/orders/"+id, f.Bob, nil); g.Body["status"] != "failed" {
				t.Fatalf("order after: %s", g.Raw)
			}
			list := f.Do("GET", "/api/v1/certificates?accountId="+f.AccountID, f.Bob, nil)
			for _, c := range list.Body["certificates"].([]any) {
				if c.(map[string]any)["status"] == "valid" {
					t.Fatalf("a certificate with the compromised key is valid: %s", list.Raw)
				}
			}
		})
	}
}
