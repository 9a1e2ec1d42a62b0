package incident_test

import (
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
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

// certificates issues one certificate and stores n-1 copies of it
// (OrderFixture.IssueCopies); it returns every serial.
func (w *world) certificates(t *testing.T, n int) []string {
	t.Helper()
	return w.IssueCopies(site, n)
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
