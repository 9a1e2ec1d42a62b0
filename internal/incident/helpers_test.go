package incident_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/store"
)

const site = "shop.acme-widgets.com"

// world is an order fixture with certificates for incidents to affect.
type world struct {
	*apptest.OrderFixture
	Compliance actor.Actor
}

func each(t *testing.T, fn func(t *testing.T, w *world)) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			dns, opt := apptest.WithDNS(t)
			e := apptest.New(t, b, opt)
			f := apptest.NewOrderFixture(t, e, dns, site)
			fn(t, &world{OrderFixture: f, Compliance: e.Actor(f.Carol)})
		})
	}
}

// certificates issues one certificate through the whole pipeline and
// stores n-1 copies of it under fresh serials through the issuance
// engine's own table (a test shortcut: issuing hundreds through the
// pipeline is too slow for a unit test). It returns every serial.
func (w *world) certificates(t *testing.T, n int) []string {
	t.Helper()
	first, _ := w.Issue(site)
	ctx := context.Background()
	a := w.App
	tab := audit.TableOf[issuance.Certificate](a.Recorder, "certificates")
	c, ok, err := issuance.NewInventory(a.Recorder).CertificateBySerial(ctx, a.DB, first)
	if err != nil || !ok {
		t.Fatalf("certificate %s: %v", first, err)
	}
	serials := []string{first}
	err = a.DB.InTx(ctx, func(tx *store.Tx) error {
		for i := 1; i < n; i++ {
			cp := c
			cp.ID, cp.Serial = fmt.Sprintf("crt_test_%05d", i), fmt.Sprintf("7e%014x", i)
			cp.CertSHA256 = fmt.Sprintf("%064x", i)
			if err := tab.Insert(ctx, tx, actor.CLIActor("test"), "certificate.issued", cp); err != nil {
				return err
			}
			serials = append(serials, cp.Serial)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return serials
}

// open opens an incident by the API and returns its answer.
func (w *world) open(t *testing.T, body map[string]any) apptest.Response {
	t.Helper()
	return w.Do("POST", "/api/v1/incidents", w.Carol, body)
}

func incidentBody(aware time.Time, serials []string) map[string]any {
	return map[string]any{"title": "vetca Test CA: Certificates issued with a wrong countryName", "source": "self",
		"trigger": "4.9.1.1#12", "awareAt": aware.Format(time.RFC3339), "serials": serials}
}
