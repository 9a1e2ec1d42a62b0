package order_test

import (
	"context"
	"crypto/x509/pkix"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/order"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/validation"
)

// Service-level tests of Finalize's named steps. The order service runs on
// the real database and audit trail, but its collaborators are fakes that
// record what Finalize asked of them and can refuse on cue, so each test
// can say which step decided.

// spyEngine is the real issuance engine with a log of the steps called.
type spyEngine struct {
	order.Engine
	mu    sync.Mutex
	calls []string
	lint  error // returned by Prepare instead of preparing, when set
}

func (e *spyEngine) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, s)
}

func (e *spyEngine) log() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

func (e *spyEngine) Prepare(ctx context.Context, r issuance.Request) (*issuance.Prepared, error) {
	e.add("prepare")
	if e.lint != nil {
		return nil, e.lint
	}
	return e.Engine.Prepare(ctx, r)
}

func (e *spyEngine) RecordIntent(ctx context.Context, tx *store.Tx, by actor.Actor, orderID string, p *issuance.Prepared) (issuance.Intent, error) {
	e.add("intent")
	return e.Engine.RecordIntent(ctx, tx, by, orderID, p)
}

func (e *spyEngine) Sign(ctx context.Context, p *issuance.Prepared) ([]byte, error) {
	e.add("sign")
	return e.Engine.Sign(ctx, p)
}

func (e *spyEngine) Store(ctx context.Context, tx *store.Tx, by actor.Actor, p *issuance.Prepared, der []byte, m issuance.Meta) (issuance.Certificate, error) {
	e.add("store")
	return e.Engine.Store(ctx, tx, by, p, der, m)
}

// fakeDomains passes validation and CAA, records the calls, and can refuse
// CAA or run a change while CAA is "looked up".
type fakeDomains struct {
	order.Domains
	mu         sync.Mutex
	validated  int
	caaChecked int
	caaRefusal error
	duringCAA  func()
}

func (d *fakeDomains) RequireValidated(ctx context.Context, q store.Querier, accountID string, names []string, at time.Time) ([]validation.Reliance, error) {
	d.mu.Lock()
	d.validated++
	d.mu.Unlock()
	return d.Domains.RequireValidated(ctx, q, accountID, names, at)
}

func (d *fakeDomains) CheckCAA(ctx context.Context, names []string) ([]validation.CAAResult, error) {
	d.mu.Lock()
	d.caaChecked++
	refusal, during := d.caaRefusal, d.duringCAA
	d.mu.Unlock()
	if during != nil {
		during()
	}
	if refusal != nil {
		return nil, refusal
	}
	return d.Domains.CheckCAA(ctx, names)
}

func (d *fakeDomains) counts() (validated, caa int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.validated, d.caaChecked
}

type abandoned struct{ f *apptest.OrderFixture }

func (a abandoned) RecordAbandoned(ctx context.Context, tx *store.Tx, by actor.Actor, in issuance.Intent) error {
	_, err := a.f.App.Revocations.RecordAbandoned(ctx, tx, by, in)
	return err
}

func (a abandoned) PublishAbandoned(ctx context.Context, serial string) {
	a.f.App.Revocations.PublishSerial(ctx, serial)
}

type noSettingsGuard struct{}

func (noSettingsGuard) Check(context.Context, store.Querier) error { return nil }

// serviceFixture is an approved order and an order service whose engine
// and domains are the spies above.
type serviceFixture struct {
	*apptest.OrderFixture
	svc     *order.Service
	engine  *spyEngine
	domains *fakeDomains
	orderID string
	account actor.Actor
}

func newServiceFixture(t *testing.T, backend string) *serviceFixture {
	t.Helper()
	dns, opt := apptest.WithDNS(t)
	e := apptest.New(t, backend, opt)
	f := apptest.NewOrderFixture(t, e, dns, site)
	eng := &spyEngine{Engine: e.App.Engine}
	dom := &fakeDomains{Domains: e.App.Domains}
	svc := order.New(e.App.DB, e.App.Recorder, e.Clock, order.Deps{
		Vetting: e.App.Vetting, Accounts: e.App.Accounts, Domains: dom, Engine: eng, Keys: e.App.Keys,
		Blocklist: issuance.Blocklist{DB: e.App.DB, Rec: e.App.Recorder}, Abandoned: abandoned{f}, Settings: noSettingsGuard{}, Staff: e.App.Auth,
	}, order.Config{ApprovalsRequired: 2}, slog.New(slog.DiscardHandler))
	id := approvedOrder(t, f, apptest.Key(t))
	return &serviceFixture{OrderFixture: f, svc: svc, engine: eng, domains: dom, orderID: id,
		account: actor.Actor{Kind: actor.Subscriber, ID: f.AccountID, AccountID: f.AccountID}}
}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if !apperr.HasCode(err, code) {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

// The happy path calls every step, in the pipeline's order: the domains
// are checked, CAA is looked up, the TBS is prepared, the intent is
// recorded before the real key signs, and the certificate is stored.
func TestFinalizeRunsEveryStepInOrder(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			f := newServiceFixture(t, b)
			validatedBefore, _ := f.domains.counts()
			got, err := f.svc.Finalize(context.Background(), f.account, f.orderID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Serial == "" || got.Certificate.OrderID != f.orderID {
				t.Fatalf("issued %+v", got)
			}
			if want := []string{"prepare", "intent", "sign", "store"}; !slices.Equal(f.engine.log(), want) {
				t.Fatalf("engine steps %v, want %v", f.engine.log(), want)
			}
			validated, caa := f.domains.counts()
			if validated <= validatedBefore || caa != 1 {
				t.Fatalf("finalize checked domain validation %d times and CAA %d times", validated-validatedBefore, caa)
			}
			// open: an issued order is refused as such, before any other step.
			_, err = f.svc.Finalize(context.Background(), f.account, f.orderID)
			wantCode(t, err, apperr.CodeAlreadyIssued)
			if _, caa := f.domains.counts(); caa != 1 || len(f.engine.log()) != 4 {
				t.Fatalf("finalizing an issued order reached CAA or the engine: %v", f.engine.log())
			}
		})
	}
}

// open: an order without its approvals is refused before anything else.
func TestFinalizeRefusesUnapprovedOrder(t *testing.T) {
	f := newServiceFixture(t, apptest.SQLite)
	r := f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": apptest.CSR(t, apptest.Key(t), pkix.Name{}, site)})
	if r.Status != 201 {
		t.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	_, err := f.svc.Finalize(context.Background(), f.account, r.Body["id"].(string))
	wantCode(t, err, apperr.CodeOrderNotApproved)
	if _, caa := f.domains.counts(); caa != 0 || len(f.engine.log()) != 0 {
		t.Fatalf("an unapproved order reached CAA (%d) or the engine %v", caa, f.engine.log())
	}
}

// confirmApproval: a new verified organization version changes the
// snapshot; finalize refuses with snapshot_mismatch before any CAA lookup
// or TBS, and the approvals are voided.
func TestFinalizeSnapshotMismatchStopsBeforeCAA(t *testing.T) {
	f := newServiceFixture(t, apptest.SQLite)
	if r := f.Do("POST", "/api/v1/organizations/"+f.OrgID+"/versions", f.Alice, map[string]any{"localityName": "Oakland"}); r.Status != 201 {
		t.Fatalf("propose: %d %s", r.Status, r.Raw)
	}
	f.VerifyVersion(2, f.Bob, f.Dave)
	_, err := f.svc.Finalize(context.Background(), f.account, f.orderID)
	wantCode(t, err, apperr.CodeSnapshotMismatch)
	if _, caa := f.domains.counts(); caa != 0 || len(f.engine.log()) != 0 {
		t.Fatalf("a changed snapshot reached CAA (%d) or the engine %v", caa, f.engine.log())
	}
	v := f.Do("GET", "/api/v1/orders/"+f.orderID, f.AccTok, nil)
	if v.Body["status"] != string(order.StatusPendingApproval) {
		t.Fatalf("order after a snapshot mismatch: %s", v.Raw)
	}
}

// checkReliance: a domain whose validation no longer holds stops finalize
// before CAA and the engine.
func TestFinalizeChecksDomainValidationAgain(t *testing.T) {
	f := newServiceFixture(t, apptest.SQLite)
	f.Clock.Advance(400 * 24 * time.Hour) // past the BR §4.2.1 reuse period of the validation
	_, err := f.svc.Finalize(context.Background(), f.account, f.orderID)
	if err == nil {
		t.Fatal("finalize succeeded on validations past their reuse period")
	}
	if _, caa := f.domains.counts(); caa != 0 || len(f.engine.log()) != 0 {
		t.Fatalf("expired reliance reached CAA (%d) or the engine %v", caa, f.engine.log())
	}
}

// prepareWithCAA: a CAA refusal wins over a lint failure (BR §3.2.2.8),
// and nothing is recorded as an intent or signed.
func TestFinalizeCAARefusalWinsOverLint(t *testing.T) {
	f := newServiceFixture(t, apptest.SQLite)
	f.domains.caaRefusal = apperr.Forbidden(apperr.CodeCAAForbidden, "dnsNames", "CAA at %s names another CA", site)
	f.engine.lint = &issuance.LintFailure{Lints: []string{"e_forced"}, Err: apperr.Invalid(apperr.CodeLintFailed, apperr.NoField, "forced")}
	_, err := f.svc.Finalize(context.Background(), f.account, f.orderID)
	wantCode(t, err, apperr.CodeCAAForbidden)
	if got := f.engine.log(); !slices.Equal(got, []string{"prepare"}) {
		t.Fatalf("engine steps after a CAA refusal: %v", got)
	}
	f.domains.caaRefusal = nil
	_, err = f.svc.Finalize(context.Background(), f.account, f.orderID)
	wantCode(t, err, apperr.CodeLintFailed)
	if slices.Contains(f.engine.log(), "sign") {
		t.Fatal("a certificate that failed lint was signed")
	}
}

// recordIntent: the key is blocked while CAA is looked up; the intent
// transaction sees it and nothing is recorded or signed.
func TestFinalizeRechecksBlocklistInIntentTransaction(t *testing.T) {
	f := newServiceFixture(t, apptest.SQLite)
	ctx := context.Background()
	var snap struct {
		SPKI string `json:"spkiSha256"`
	}
	v := f.Do("GET", "/api/v1/orders/"+f.orderID, f.AccTok, nil)
	snap.SPKI, _ = v.Body["spkiSha256"].(string)
	if snap.SPKI == "" {
		t.Fatalf("order view has no spkiSha256: %s", v.Raw)
	}
	f.domains.duringCAA = func() {
		err := f.App.DB.InTx(ctx, func(tx *store.Tx) error {
			return issuance.BlockKey(ctx, tx, f.App.Recorder, actor.CLIActor("test"), snap.SPKI, "reported compromised", "test", f.Clock.Now())
		})
		if err != nil {
			t.Error(err)
		}
	}
	_, err := f.svc.Finalize(ctx, f.account, f.orderID)
	if err == nil || !apperr.HasCode(err, apperr.CodeKeyBlocked) {
		t.Fatalf("finalize of a key blocked during CAA: %v", err)
	}
	if got := f.engine.log(); !slices.Equal(got, []string{"prepare"}) {
		t.Fatalf("engine steps: %v", got)
	}
}

// recordIntent and sign: concurrent finalizes of one order sign once.
func TestFinalizeConcurrentCallsSignOnce(t *testing.T) {
	f := newServiceFixture(t, apptest.SQLite)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.Finalize(context.Background(), f.account, f.orderID)
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case apperr.IsKind(err, apperr.KindConflict):
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	signs := 0
	for _, c := range f.engine.log() {
		if c == "sign" {
			signs++
		}
	}
	if ok != 1 || signs != 1 {
		t.Fatalf("%d successes and %d signatures for one approved order", ok, signs)
	}
}
