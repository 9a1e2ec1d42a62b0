package acme_test

import (
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/acme"
	"github.com/vetca/vetca/internal/acme/acmetest"
	"github.com/vetca/vetca/internal/serial"
)

// renewalInfo is GET /acme/renewal-info/{id}, unauthenticated (RFC 9773
// §4.2): the status, the problem type or the window, and Retry-After.
func (f *fixture) renewalInfo(t *testing.T, id string) (status int, typ string, start, end time.Time, retry time.Duration) {
	t.Helper()
	resp, err := http.Get(f.Server.URL + "/acme/renewal-info/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Type            string `json:"type"`
		SuggestedWindow struct {
			Start, End time.Time
		} `json:"suggestedWindow"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("renewal-info %s: %v", id, err)
	}
	secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	return resp.StatusCode, body.Type, body.SuggestedWindow.Start, body.SuggestedWindow.End, time.Duration(secs) * time.Second
}

// RFC 9773: renewalInfo answers for a certificate vetca issued with a
// window inside its validity; an open incident that must revoke it moves
// the window to now, ending before the incident's revocation deadline
// (BR §4.9.1.1), and revocation moves it into the past. Identifiers that
// are malformed, or name no certificate of this CA, get their problem
// types.
func TestRenewalInfo(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		cert, _ := f.issue(t, key(t), "www.acme-widgets.com")
		id := acme.CertID(cert.AuthorityKeyId, cert.SerialNumber)

		st, _, start, end, retry := f.renewalInfo(t, id)
		if st != 200 || retry <= 0 {
			t.Fatalf("renewal-info: %d, Retry-After %v", st, retry)
		}
		now := f.Clock.Now()
		if !start.After(now) || !end.After(start) || !end.Before(cert.NotAfter) || start.Before(cert.NotBefore) {
			t.Fatalf("a healthy certificate's window lies ahead, inside its validity [%s, %s]: got [%s, %s] at %s",
				cert.NotBefore, cert.NotAfter, start, end, now)
		}
		defaultStart := start

		f.Clock.Advance(time.Hour)
		sn := serial.Hex(cert.SerialNumber)
		inc := f.Do("POST", "/api/v1/incidents", f.Carol, map[string]any{
			"title": "vetca Test CA: Certificates issued with a wrong countryName", "source": "self",
			"trigger": "4.9.1.1#12", "awareAt": f.Clock.Now().UTC().Format(time.RFC3339), "serials": []string{sn}})
		if inc.Status != 201 {
			t.Fatalf("open incident: %d %s", inc.Status, inc.Raw)
		}
		due, err := time.Parse(time.RFC3339, inc.Body["revocationDue"].(string))
		if err != nil {
			t.Fatalf("revocationDue: %s", inc.Raw)
		}
		now = f.Clock.Now()
		st, _, start, end, retry = f.renewalInfo(t, id)
		if st != 200 || start.After(now) || !end.After(start) || !end.Before(due) || !start.Before(defaultStart) {
			t.Fatalf("an incident must move the window to now, before the revocation deadline %s (was from %s): got %d [%s, %s] at %s",
				due, defaultStart, st, start, end, now)
		}
		if retry > time.Hour {
			t.Fatalf("a certificate under an incident is polled at least hourly, got Retry-After %v", retry)
		}

		if r := f.c.Post(f.c.URL("revokeCert"), map[string]any{"certificate": base64.RawURLEncoding.EncodeToString(cert.Raw), "reason": 4}, acmetest.Opts{}); r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Raw)
		}
		if st, _, start, end, _ = f.renewalInfo(t, id); st != 200 || end.After(f.Clock.Now()) || !end.After(start) {
			t.Fatalf("a revoked certificate's window is in the past: %d [%s, %s]", st, start, end)
		}

		other := acme.CertID([]byte("another authority"), cert.SerialNumber)
		for _, c := range []struct {
			id     string
			status int
		}{
			{"not-an-id", 400},
			{"YQ.AAE", 400}, // a serial not minimally encoded (RFC 9773 §4.1)
			{acme.CertID(cert.AuthorityKeyId, new(big.Int).Add(cert.SerialNumber, big.NewInt(1))), 404},
			{other, 404},
		} {
			if st, typ, _, _, _ := f.renewalInfo(t, c.id); st != c.status || typ != "urn:ietf:params:acme:error:malformed" {
				t.Errorf("renewal-info %s: got %d %s, want %d malformed", c.id, st, typ, c.status)
			}
		}
	})
}

// RFC 9773 §5: a new order may name the certificate it replaces; one that
// names no certificate of the account is malformed and creates nothing.
func TestNewOrderReplaces(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		cert, _ := f.issue(t, key(t), "www.acme-widgets.com")
		id := acme.CertID(cert.AuthorityKeyId, cert.SerialNumber)
		order := func(replaces string, names ...string) acmetest.Response {
			return f.c.Post(f.c.URL("newOrder"), map[string]any{"identifiers": ids(names...), "replaces": replaces}, acmetest.Opts{})
		}
		before := f.events(t)
		for _, c := range []struct{ replaces, name string }{
			{"garbage", "www.acme-widgets.com"},
			{acme.CertID([]byte("another authority"), cert.SerialNumber), "www.acme-widgets.com"},
			{id, "api.acme-widgets.com"}, // shares no name
		} {
			if r := order(c.replaces, c.name); r.Type() != "urn:ietf:params:acme:error:malformed" {
				t.Errorf("replaces %q for %s: %d %s", c.replaces, c.name, r.Status, r.Raw)
			}
		}
		if n := f.events(t); n != before {
			t.Fatalf("refused orders wrote %d audit events", n-before)
		}
		r := order(id, "www.acme-widgets.com")
		if r.Status != 201 || r.Body["replaces"] != id {
			t.Fatalf("a renewal naming the certificate it replaces: %d %s", r.Status, r.Raw)
		}
		// A ready order does not mark the certificate replaced: a second
		// renewal may still be ordered, and the first to finalize wins.
		second := order(id, "www.acme-widgets.com")
		if second.Status != 201 {
			t.Fatalf("a second renewal while the first is only ready: %d %s", second.Status, second.Raw)
		}
		k := key(t)
		if fin := f.c.Post(r.Body["finalize"].(string), map[string]any{"csr": csr(t, k, "www.acme-widgets.com")}, acmetest.Opts{}); fin.Body["status"] != "valid" {
			t.Fatalf("finalize the renewal: %d %s", fin.Status, fin.Raw)
		}
		before = f.events(t)
		const already = "urn:ietf:params:acme:error:alreadyReplaced"
		if r := order(id, "www.acme-widgets.com"); r.Status != http.StatusConflict || r.Type() != already {
			t.Errorf("RFC 9773 §5: a renewal of a replaced certificate: %d %s", r.Status, r.Raw)
		}
		if fin := f.c.Post(second.Body["finalize"].(string), map[string]any{"csr": csr(t, k, "www.acme-widgets.com")}, acmetest.Opts{}); fin.Status != http.StatusConflict || fin.Type() != already {
			t.Errorf("RFC 9773 §5: finalizing a second replacement: %d %s", fin.Status, fin.Raw)
		}
		if n := f.events(t); n != before {
			t.Fatalf("refused replacements wrote %d audit events", n-before)
		}
	})
}

// Two orders that replace the same certificate, finalized at once (from
// two replicas, say): exactly one is issued, the other is alreadyReplaced.
func TestConcurrentReplacementsIssueOnce(t *testing.T) {
	each(t, func(t *testing.T, f *fixture) {
		f.register(t)
		for round := 0; round < 3; round++ {
			cert, _ := f.issue(t, key(t), "www.acme-widgets.com")
			id := acme.CertID(cert.AuthorityKeyId, cert.SerialNumber)
			var finalize [2]string
			for i := range finalize {
				r := f.c.Post(f.c.URL("newOrder"), map[string]any{"identifiers": ids("www.acme-widgets.com"), "replaces": id}, acmetest.Opts{})
				if r.Status != 201 {
					t.Fatalf("renewal order: %d %s", r.Status, r.Raw)
				}
				finalize[i] = r.Body["finalize"].(string)
			}
			k := key(t)
			body := map[string]any{"csr": csr(t, k, "www.acme-widgets.com")}
			var got [2]acmetest.Response
			var wg sync.WaitGroup
			for i := range finalize {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got[i] = f.c.Post(finalize[i], body, acmetest.Opts{})
				}()
			}
			wg.Wait()
			valid, replaced := 0, 0
			for _, r := range got {
				switch {
				case r.Status == 200 && r.Body["status"] == "valid":
					valid++
				case r.Status == http.StatusConflict && r.Type() == "urn:ietf:params:acme:error:alreadyReplaced":
					replaced++
				default:
					t.Errorf("round %d: finalize answered %d %s", round, r.Status, r.Raw)
				}
			}
			if valid != 1 || replaced != 1 {
				t.Fatalf("round %d: %d issued and %d refused, want one of each", round, valid, replaced)
			}
		}
	})
}
