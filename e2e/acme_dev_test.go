package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/acme/acmetest"
)

// devACME reads the ACME lines serve --dev prints: the template id and
// the fresh EAB key.
func devACME(t *testing.T, in *Instance) (tmplID, kid, hmacKey string) {
	t.Helper()
	logs := in.Logs()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs, "hmacKey ") && time.Now().Before(deadline); logs = in.Logs() {
		time.Sleep(20 * time.Millisecond)
	}
	for _, l := range lines(logs) {
		f := strings.Fields(l)
		if len(f) > 2 && f[0] == "ACME:" && f[1] == "template" {
			tmplID = f[2]
		}
		if len(f) == 4 && f[0] == "kid" && f[2] == "hmacKey" {
			kid, hmacKey = f[1], f[3]
		}
	}
	if tmplID == "" || kid == "" || hmacKey == "" {
		t.Fatalf("serve --dev printed no ACME template or EAB key:\n%s", logs)
	}
	return tmplID, kid, hmacKey
}

// serve --dev makes ACME usable at once: an approved template for the
// demo domain and a fresh EAB key, printed; a client registers with it and
// gets an OV certificate for the demo domain with no challenge (the demo's
// validation is reused) and no approval. A restart keeps the template and
// prints a new key.
func TestDevDemoIssuesThroughACME(t *testing.T) {
	in := New(t, "sqlite")
	in.Serve("--dev")
	tmplID, kid, hmacKey := devACME(t, in)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c := acmetest.New(t, in.URL, in.PublicURL, key)
	if r := c.Register(kid, hmacKey); r.Status != 201 {
		t.Fatalf("register with the printed EAB key: %d %s", r.Status, r.Raw)
	}
	const domain = "shop.acme-widgets.com"
	o := c.Post(c.URL("newOrder"), map[string]any{"identifiers": []map[string]string{{"type": "dns", "value": domain}}}, acmetest.Opts{})
	if o.Status != 201 || o.Body["status"] != "ready" {
		t.Fatalf("the demo domain's order is ready at once: %d %s", o.Status, o.Raw)
	}
	certKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader) // never the account key (RFC 8555 §11.1)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{domain}}, certKey)
	fin := c.Post(o.Body["finalize"].(string), map[string]any{"csr": base64.RawURLEncoding.EncodeToString(csr)}, acmetest.Opts{})
	if fin.Body["status"] != "valid" {
		t.Fatalf("finalize: %d %s", fin.Status, fin.Raw)
	}
	cr := c.Post(fin.Body["certificate"].(string), nil, acmetest.Opts{})
	b, _ := pem.Decode(cr.Raw)
	if b == nil {
		t.Fatalf("certificate: %d %s", cr.Status, cr.Raw)
	}
	cert, err := x509.ParseCertificate(b.Bytes)
	if err != nil || len(cert.Subject.Organization) != 1 || cert.Subject.Organization[0] != "Acme Widgets Inc." {
		t.Fatalf("the certificate's subject is the vetted organization's: %v %v", err, cert.Subject)
	}

	in.Stop()
	in.Serve("--dev")
	again, kid2, _ := devACME(t, in)
	if again != tmplID || kid2 == kid {
		t.Fatalf("a restart keeps template %s (got %s) and prints a new key (got %s again)", tmplID, again, kid2)
	}
}
