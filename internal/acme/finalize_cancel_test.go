package acme_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/acme/acmetest"
	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/issuance"
)

// A client that goes away while its certificate is signed still finds its
// order valid with the certificate when it comes back (RFC 8555 §7.4: the
// client polls the order after finalize). The certificate is stored
// whatever the client does; the ACME order was marked valid under the
// request's context, so on PostgreSQL it stayed processing for ever: no
// certificate URL, its authorizations never deactivatable (409), and the
// certificate it replaces counted as replaced.
func TestFinalizeClientGoneStillMakesTheOrderValid(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			var hook func()
			f := setupWithOpen(t, b, app.Options{IssuanceHooks: &issuance.Hooks{AfterStore: func() {
				if hook != nil {
					h := hook
					hook = nil
					h()
				}
			}}})
			f.register(t)
			o := f.newOrder(t, "www.acme-widgets.com")
			if o.Status != 201 || o.Body["status"] != "ready" {
				t.Fatalf("new order: %d %s", o.Status, o.Raw)
			}
			url := o.Body["finalize"].(string)
			jws := f.c.Sign(url, map[string]any{"csr": csr(t, key(t), "www.acme-widgets.com")}, acmetest.Opts{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			hook = func() {
				cancel()
				time.Sleep(200 * time.Millisecond) // the server sees the connection closed
			}
			req, err := http.NewRequestWithContext(ctx, "POST", strings.Replace(url, f.c.Public, f.c.Base, 1), bytes.NewReader(jws))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/jose+json")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			var got acmetest.Response
			for range 50 {
				got = f.c.Post(o.Location, nil, acmetest.Opts{})
				if got.Body["status"] != "processing" {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if got.Status != 200 || got.Body["status"] != "valid" || got.Body["certificate"] == nil {
				var certs int
				_ = f.App.DB.QueryRow(context.Background(), `SELECT COUNT(*) FROM certificates`).Scan(&certs)
				t.Fatalf("the client went away while its certificate was signed; %d certificate(s) stored, yet the order is: %d %s", certs, got.Status, got.Raw)
			}
		})
	}
}
