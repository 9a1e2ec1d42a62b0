package apptest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strconv"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/dnstest"
)

// Acme is the organization the order fixtures vet.
var Acme = map[string]any{"organizationName": "Acme Widgets Inc.", "countryName": "US", "stateOrProvinceName": "California",
	"localityName": "San Francisco", "streetAddress": "1 Market Street", "postalCode": "94105"}

// WithDNS points vetca's resolver at an in-process DNS server and returns
// it. The CAA identity is the public URL's host (pki.vetca-test.com).
func WithDNS(t testing.TB) (*dnstest.Server, Option) {
	d := dnstest.New(t)
	return d, func(c *app.Config) {
		c.DNSResolver = d.Addr()
		c.CAAIdentities = []string{"pki.vetca-test.com"}
	}
}

// OrderFixture is a vetted organization with an account, validated
// domains and staff to place and approve orders.
type OrderFixture struct {
	*Env
	DNS                      *dnstest.Server
	Alice, Bob, Carol, Dave  string // verifier tokens (carol also compliance)
	Auditor                  string
	OrgID, AccountID, AccTok string
	Domains                  []string
}

// NewOrderFixture builds the fixture on e, validating domains with the
// dns-change method through the domains API (docs/api.md) and real DNS.
func NewOrderFixture(t testing.TB, e *Env, dns *dnstest.Server, domains ...string) *OrderFixture {
	t.Helper()
	f := &OrderFixture{Env: e, DNS: dns, Domains: domains}
	f.Alice = e.User("alice", actor.Verifier)
	f.Bob = e.User("bob", actor.Verifier)
	f.Carol = e.User("carol", actor.Verifier, actor.Compliance)
	f.Dave = e.User("dave", actor.Verifier)
	f.Auditor = e.User("audrey", actor.Auditor)
	r := e.Do("POST", "/api/v1/organizations", f.Alice, Acme)
	if r.Status != 201 {
		t.Fatalf("create org: %d %s", r.Status, r.Raw)
	}
	f.OrgID = r.Body["id"].(string)
	f.VerifyVersion(1, f.Bob, f.Dave)
	r = e.Do("POST", "/api/v1/accounts", e.AdminToken, map[string]any{"name": "Acme Widgets", "organizations": []string{f.OrgID}})
	if r.Status != 201 {
		t.Fatalf("account: %d %s", r.Status, r.Raw)
	}
	f.AccountID, f.AccTok = r.Body["id"].(string), r.Body["token"].(string)
	e.Do("POST", "/api/v1/accounts/"+f.AccountID+"/contacts", f.AccTok, map[string]any{"name": "Jane Doe", "email": "jane@acme-widgets.com", "role": "administrative"})
	for _, d := range domains {
		f.ValidateDomain(d)
	}
	return f
}

// VerifyVersion has two verifiers verify organization version n.
func (f *OrderFixture) VerifyVersion(n int, tokens ...string) {
	f.T.Helper()
	for _, tok := range tokens {
		r := f.Do("POST", "/api/v1/organizations/"+f.OrgID+"/versions/"+strconv.Itoa(n)+"/verify", tok, map[string]any{
			"evidence": []map[string]string{{"source": "registry", "reference": "C1"}}})
		if r.Status != 200 {
			f.T.Fatalf("verify v%d: %d %s", n, r.Status, r.Raw)
		}
	}
}

// ValidateDomain proves control of a domain with dns-change.
func (f *OrderFixture) ValidateDomain(name string) {
	f.T.Helper()
	r := f.Do("POST", "/api/v1/accounts/"+f.AccountID+"/domains", f.AccTok, map[string]any{"domain": name, "method": "dns-change"})
	if r.Status != 201 {
		f.T.Fatalf("start validation of %s: %d %s", name, r.Status, r.Raw)
	}
	id, _ := r.Body["id"].(string)
	rec, _ := r.Body["recordName"].(string)
	val, _ := r.Body["value"].(string)
	f.DNS.AddTXT(rec, val)
	r = f.Do("POST", "/api/v1/accounts/"+f.AccountID+"/domains/"+id+"/validate", f.AccTok, nil)
	if r.Status != 200 || r.Body["status"] != "valid" {
		f.T.Fatalf("validate %s: %d %s", name, r.Status, r.Raw)
	}
}

// Key makes a P-256 key.
func Key(t testing.TB) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// CSR makes a PEM CSR for key with the given subject and SANs.
func CSR(t testing.TB, key crypto.Signer, subject pkix.Name, names ...string) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject, DNSNames: names}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// PlaceOrder places an order as the subscriber and returns the response.
func (f *OrderFixture) PlaceOrder(body map[string]any) Response {
	f.T.Helper()
	if _, ok := body["organizationId"]; !ok {
		body["organizationId"] = f.OrgID
	}
	return f.Do("POST", "/api/v1/orders", f.AccTok, body)
}

// Issue places, approves (bob, carol) and finalizes an order for names.
func (f *OrderFixture) Issue(names ...string) (serial string, pemCert string) {
	f.T.Helper()
	r := f.PlaceOrder(map[string]any{"dnsNames": names, "csr": CSR(f.T, Key(f.T), pkix.Name{}, names...)})
	if r.Status != 201 {
		f.T.Fatalf("order: %d %s", r.Status, r.Raw)
	}
	id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
	for _, tok := range []string{f.Bob, f.Carol} {
		if a := f.Do("POST", "/api/v1/orders/"+id+"/approve", tok, map[string]any{"snapshotHash": hash}); a.Status != 200 {
			f.T.Fatalf("approve: %d %s", a.Status, a.Raw)
		}
	}
	fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil)
	if fin.Status != 200 {
		f.T.Fatalf("finalize: %d %s", fin.Status, fin.Raw)
	}
	return fin.Body["serial"].(string), fin.Body["certificate"].(string)
}
