package incident_test

import (
	"context"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/incident"
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

// fileProblemReport files a problem report about serials at /report's API,
// as a researcher would, and returns the accepted answer.
func (w *world) fileProblemReport(t *testing.T, serials []string) apptest.Response {
	t.Helper()
	c := w.Do("POST", "/api/v1/problem-reports", "", map[string]any{"reporterEmail": "researcher@example.org", "category": "misissuance",
		"description": "wrong countryName", "serials": serials})
	if c.Status != 202 {
		t.Fatalf("problem report: %d %s", c.Status, c.Raw)
	}
	return c
}

// fullReport renders incident id's full report (IRG v3.2).
func (w *world) fullReport(t *testing.T, id string) incident.Report {
	t.Helper()
	rep, err := w.App.Incidents.Render(context.Background(), actor.CLIActor("test"), id, incident.FormatFull)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// discloseFull records the incident's full report as posted.
func (w *world) discloseFull(t *testing.T, id string) {
	t.Helper()
	if d := w.Do("POST", "/api/v1/incidents/"+id+"/disclosures", w.Carol, map[string]any{"kind": "full"}); d.Status != 200 {
		t.Fatalf("disclosure: %d %s", d.Status, d.Raw)
	}
}
