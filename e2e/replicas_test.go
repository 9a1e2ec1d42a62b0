package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Two serve replicas on one PostgreSQL database.
func replicas(t *testing.T) (*ca, *Instance) {
	t.Helper()
	in := New(t, "postgres")
	c := setupCA(t, in)
	b := in.Replica()
	b.Serve(serveArgs(c.dns)...)
	return c, b
}

// Eight concurrent finalizes of one approved order, split across two
// replicas: exactly one 200, 409 for the rest, one certificate, and no
// integrity violation in the answers or the logs.
func TestReplicasSignEachOrderOnce(t *testing.T) {
	c, b := replicas(t)
	for round := 0; round < 3; round++ {
		id := c.approved(t)
		type answer struct {
			status int
			body   string
		}
		answers := make(chan answer, 8)
		for i := 0; i < 8; i++ {
			srv := c.Instance
			if i%2 == 1 {
				srv = b
			}
			go func() {
				r := srv.Do("POST", "/api/v1/orders/"+id+"/finalize", c.accTok, nil)
				answers <- answer{r.Status, string(r.Raw)}
			}()
		}
		ok := 0
		for i := 0; i < 8; i++ {
			a := <-answers
			switch a.status {
			case 200:
				ok++
			case 409:
			default:
				t.Fatalf("finalize answered %d: %s", a.status, a.body)
			}
			if strings.Contains(a.body, "integrity") {
				t.Fatalf("an answer reports tampering: %s", a.body)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d finalizes succeeded", round, ok)
		}
		if n := c.SQL("SELECT COUNT(*) FROM certificates WHERE order_id = '" + id + "'"); n != "1" {
			t.Fatalf("round %d: %s certificates for one approval", round, n)
		}
	}
	for _, l := range []string{c.Logs(), b.Logs()} {
		if strings.Contains(l, "integrity") {
			t.Fatalf("a replica logged an integrity violation:\n%s", l)
		}
	}
	if _, _, code := c.CLI("audit", "verify"); code != 0 {
		t.Fatal("audit trail not intact")
	}
}

// A replica whose settings that reach certificates differ from the
// installation's refuses to start, naming them; with --reconfigure it
// records its own, and the replica still running with the old ones
// refuses to issue (503) instead of voiding approvals.
func TestReplicaWithOtherSettingsRefusesToStart(t *testing.T) {
	c, _ := replicas(t)
	other := c.Replica()
	args := append(serveArgs(c.dns), "--public-url", "http://pki2.vetca-test.com")
	code, out := other.ServeFails(args...)
	if code == 0 || !strings.Contains(out, "--public-url http://pki2.vetca-test.com (recorded http://pki.vetca-test.com)") {
		t.Fatalf("replica with another public URL: exit %d\n%s", code, out)
	}
	id := c.approved(t)
	other.Serve(append(args, "--reconfigure")...)
	r := c.Do("POST", "/api/v1/orders/"+id+"/finalize", c.accTok, nil)
	if r.Status != 503 || !strings.Contains(string(r.Raw), "settings_mismatch") {
		t.Fatalf("finalize on the replica with the old settings: %d %s", r.Status, r.Raw)
	}
	if g := c.Do("GET", "/api/v1/orders/"+id, c.bob, nil); g.Status != 503 && g.Body["status"] != "approved" {
		t.Fatalf("the approvals were voided: %s", g.Raw)
	}
	r = other.Do("POST", "/api/v1/orders/"+id+"/finalize", c.accTok, nil)
	if r.Status != 409 || !strings.Contains(string(r.Raw), "snapshot_mismatch") {
		t.Fatalf("the reconfigured replica sees the changed snapshot: %d %s", r.Status, r.Raw)
	}
}

// A replica that restarts leaves alone an issuance another live replica is
// signing (held there by the test build); once the other is really gone,
// its intent is resolved at once.
func TestRestartLeavesAnotherReplicasIssuanceAlone(t *testing.T) {
	c, b := replicas(t)
	b.Stop()
	hold := filepath.Join(t.TempDir(), "hold")
	b.Bin, b.Env = hooksBin, []string{"VETCA_TEST_HOLD_FILE=" + hold}
	b.Serve(serveArgs(c.dns)...)

	held := func() (string, chan int) {
		if err := os.WriteFile(hold, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		id := c.approved(t)
		done := make(chan int, 1)
		go func() {
			// b may be killed while this waits: no t.Fatal here.
			status, _ := (&ca{Instance: b, accTok: c.accTok}).rawFinalize(id)
			done <- status
		}()
		deadline := time.Now().Add(60 * time.Second)
		for strings.Count(b.Logs(), "holding after the intent") < 1 || c.SQL("SELECT COUNT(*) FROM issuance_intents WHERE order_id = '"+id+"' AND status = 'pending'") != "1" {
			if time.Now().After(deadline) {
				t.Fatalf("replica b did not reach signing:\n%s", b.Logs())
			}
			time.Sleep(50 * time.Millisecond)
		}
		return id, done
	}

	id, done := held()
	c.Stop()
	c.Serve(serveArgs(c.dns)...) // start-up recovery runs
	if st := c.SQL("SELECT status FROM issuance_intents WHERE order_id = '" + id + "'"); st != "pending" {
		t.Fatalf("the restarted replica resolved the other's intent in flight: %s\n%s", st, c.Logs())
	}
	if n := c.SQL("SELECT COUNT(*) FROM revocations"); n != "0" {
		t.Fatalf("the restarted replica revoked %s serials", n)
	}
	if err := os.Remove(hold); err != nil {
		t.Fatal(err)
	}
	if status := <-done; status != 200 {
		t.Fatalf("the held replica's finalize: %d\n%s", status, b.Logs())
	}
	serial := c.SQL("SELECT serial FROM issuance_intents WHERE order_id = '" + id + "'")
	if st := c.SQL("SELECT status FROM issuance_intents WHERE order_id = '" + id + "'"); st != "issued" || c.ocspStatus(t, serial).Status != ocsp.Good {
		t.Fatalf("the held issuance: intent %s", st)
	}

	// Hold again, then b dies for real: a's recovery resolves it at once.
	hold2 := hold
	id, _ = held()
	b.Kill()
	if err := os.Remove(hold2); err != nil {
		t.Fatal(err)
	}
	c.Stop()
	c.Serve(serveArgs(c.dns)...)
	if st := c.SQL("SELECT status FROM issuance_intents WHERE order_id = '" + id + "'"); st != "abandoned" {
		t.Fatalf("the dead replica's intent: %s\n%s", st, c.Logs())
	}
	serial = c.SQL("SELECT serial FROM issuance_intents WHERE order_id = '" + id + "'")
	if c.ocspStatus(t, serial).Status != ocsp.Revoked {
		t.Fatal("the abandoned serial is not answered as revoked")
	}
}

// Load split between two replicas: eight clients run the whole flow (order
// on one replica, approvals on the other, finalize raced on both) for 80
// orders at once. Nothing is lost, each order is issued once, and the
// audit trail, whose events the replicas write concurrently and one of
// them seals, verifies clean, both during the load and after it.
func TestReplicasUnderLoadLoseNothing(t *testing.T) {
	c, b := replicas(t)
	const clients, perClient = 8, 10
	servers := []*Instance{c.Instance, b}
	errs := make(chan string, clients*perClient+1)
	done := make(chan struct{}, clients)
	// An auditor runs verify while both replicas write, from the start of
	// the load to its end: whatever moment its snapshot catches (events
	// numbered and not yet committed, committed and not yet sealed), it
	// must report nothing.
	stop, verified := make(chan struct{}), make(chan int, 1)
	go func() {
		n := 0
		defer func() { verified <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			n++
			if out, _, code := c.CLI("audit", "verify"); code != 0 {
				errs <- "audit verify during the load: " + out
				return
			}
		}
	}()
	for w := 0; w < clients; w++ {
		go func(w int) {
			defer func() { done <- struct{}{} }()
			mine, other := servers[w%2], servers[(w+1)%2]
			for i := 0; i < perClient; i++ {
				r := mine.Do("POST", "/api/v1/orders", c.accTok, map[string]any{"organizationId": c.orgID, "dnsNames": []string{site}, "csr": csrPEM(t)})
				if r.Status != 201 {
					errs <- "order: " + string(r.Raw)
					return
				}
				id, hash := r.Body["id"].(string), r.Body["snapshotHash"].(string)
				for _, tok := range []string{c.bob, c.carol} {
					if a := other.Do("POST", "/api/v1/orders/"+id+"/approve", tok, map[string]any{"snapshotHash": hash}); a.Status != 200 {
						errs <- "approve: " + string(a.Raw)
						return
					}
				}
				got := make(chan int, 2)
				for _, srv := range servers {
					go func() { got <- srv.Do("POST", "/api/v1/orders/"+id+"/finalize", c.accTok, nil).Status }()
				}
				if s1, s2 := <-got, <-got; !(s1 == 200 && s2 == 409 || s1 == 409 && s2 == 200) {
					errs <- "finalize raced on both replicas answered " + itoa(int64(s1)) + " and " + itoa(int64(s2))
				}
			}
		}(w)
	}
	for w := 0; w < clients; w++ {
		<-done
	}
	close(stop)
	t.Logf("%d audit verifies started during the load", <-verified)
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if t.Failed() {
		return
	}
	want := itoa(clients * perClient)
	if n := c.SQL("SELECT COUNT(*) FROM orders WHERE status = 'issued'"); n != want {
		t.Fatalf("%s orders issued, want %s", n, want)
	}
	if n := c.SQL("SELECT COUNT(*) FROM certificates"); n != want {
		t.Fatalf("%s certificates for %s orders", n, want)
	}
	if n := c.SQL("SELECT COUNT(*) FROM (SELECT order_id FROM certificates GROUP BY order_id HAVING COUNT(*) > 1) x"); n != "0" {
		t.Fatalf("%s orders signed more than once", n)
	}
	for _, l := range []string{c.Logs(), b.Logs()} {
		if strings.Contains(l, "integrity") {
			t.Fatalf("a replica logged an integrity violation:\n%s", l)
		}
	}
	if out, _, code := c.CLI("audit", "verify"); code != 0 {
		t.Fatalf("audit verify: %s", out)
	}
}
