package cpr_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/cpr"
	"github.com/vetca/vetca/internal/issuance"
)

const site = "shop.acme-widgets.com"

// desk is an order fixture with a second account of the same organization
// and an issuance hook that can hold a finalize after its intent.
type desk struct {
	*apptest.OrderFixture
	Other      *apptest.OrderFixture // the second account
	Compliance actor.Actor           // carol, for calling the desk directly
	hold       *holdHook
}

type holdHook struct {
	holding chan struct{} // non-nil while the next finalize is to be held
	at      chan struct{}
	release chan struct{}
}

func (h *holdHook) wait() {
	select {
	case <-h.holding:
		h.at <- struct{}{}
		<-h.release
	default:
	}
}

func each(t *testing.T, fn func(t *testing.T, d *desk)) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) { fn(t, newDesk(t, b)) })
	}
}

func newDesk(t *testing.T, backend string) *desk {
	h := &holdHook{holding: make(chan struct{}, 1), at: make(chan struct{}, 1), release: make(chan struct{}, 1)}
	dns, opt := apptest.WithDNS(t)
	e := apptest.NewWithHooks(t, backend, &issuance.Hooks{AfterIntent: h.wait}, opt)
	f := apptest.NewOrderFixture(t, e, dns, site)
	r := e.Do("POST", "/api/v1/accounts", e.AdminToken, map[string]any{"name": "Acme Widgets EU", "organizations": []string{f.OrgID}})
	if r.Status != 201 {
		t.Fatalf("second account: %d %s", r.Status, r.Raw)
	}
	other := *f
	other.AccountID, other.AccTok = r.Body["id"].(string), r.Body["token"].(string)
	e.Do("POST", "/api/v1/accounts/"+other.AccountID+"/contacts", other.AccTok, map[string]any{"name": "Jan Jansen", "email": "jan@acme-widgets.eu", "role": "technical"})
	other.ValidateDomain(site)
	return &desk{OrderFixture: f, Other: &other, Compliance: e.Actor(f.Carol), hold: h}
}

// approved places and approves an order for key as f's account.
func approved(t *testing.T, f *apptest.OrderFixture, key crypto.Signer) (id string, r apptest.Response) {
	t.Helper()
	return approvedCSR(t, f, apptest.CSR(t, key, pkix.Name{}, site))
}

// approvedCSR places and approves an order with csr as f's account.
func approvedCSR(t *testing.T, f *apptest.OrderFixture, csr string) (id string, r apptest.Response) {
	t.Helper()
	r = f.PlaceOrder(map[string]any{"dnsNames": []string{site}, "csr": csr})
	if r.Status != 201 {
		return "", r
	}
	id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
	for _, tok := range []string{f.Bob, f.Carol} {
		if a := f.Do("POST", "/api/v1/orders/"+id+"/approve", tok, map[string]any{"snapshotHash": hash}); a.Status != 200 {
			t.Fatalf("approve: %d %s", a.Status, a.Raw)
		}
	}
	return id, r
}

// issue issues a certificate for key as f's account and returns its serial.
func issue(t *testing.T, f *apptest.OrderFixture, key crypto.Signer) string {
	t.Helper()
	return issueCSR(t, f, apptest.CSR(t, key, pkix.Name{}, site))
}

// issueCSR issues a certificate for csr as f's account and returns its
// serial.
func issueCSR(t *testing.T, f *apptest.OrderFixture, csr string) string {
	t.Helper()
	id, r := approvedCSR(t, f, csr)
	if id == "" {
		t.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil)
	if fin.Status != 200 {
		t.Fatalf("finalize: %d %s", fin.Status, fin.Raw)
	}
	return fin.Body["serial"].(string)
}

// inFlight starts a finalize for key as f's account and holds it after its
// intent is recorded; release lets it store its certificate.
func (d *desk) inFlight(t *testing.T, f *apptest.OrderFixture, key crypto.Signer) (release func() apptest.Response) {
	t.Helper()
	id, r := approved(t, f, key)
	if id == "" {
		t.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	d.hold.holding <- struct{}{}
	done := make(chan apptest.Response, 1)
	go func() { done <- f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil) }()
	<-d.hold.at
	return func() apptest.Response {
		d.hold.release <- struct{}{}
		return <-done
	}
}

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func ecKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pkcs8(t *testing.T, k crypto.Signer) string {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("PRIVATE KEY", der)
}

func sec1(t *testing.T, k *ecdsa.PrivateKey) string {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pemOf("EC PRIVATE KEY", der)
}

func tick(t *testing.T, d *desk) {
	t.Helper()
	if _, ok, err := d.App.CPRWatch.RunOnce(context.Background()); err != nil || !ok {
		t.Fatalf("deadline watch: ok %v, %v", ok, err)
	}
}

func timeOf(t *testing.T, v any) time.Time {
	t.Helper()
	s, _ := v.(string)
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("not a time: %v", v)
	}
	return tm
}

func strs(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func deps(d *desk) cpr.Deps {
	a := d.App
	return cpr.Deps{Inventory: issuance.NewInventory(a.Recorder), Orders: a.Orders, Revoker: a.Revocations, Contacts: a.Accounts, Outbox: a.Outbox, Assignable: func(context.Context, string) (bool, error) { return true, nil }}
}

func postForm(t *testing.T, d *desk, form url.Values) string {
	t.Helper()
	resp, err := http.PostForm(d.Server.URL+"/report", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
