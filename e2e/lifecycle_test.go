package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// terminate sends SIGTERM to the server, as a service manager stops it,
// and returns its exit code.
func (in *Instance) terminate() int {
	in.t.Helper()
	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		in.t.Fatal(err)
	}
	return in.Wait()
}

// shutdownSteps are the log lines of serve's ordered shutdown
// (docs/architecture.md, "Lifecycle").
var shutdownSteps = []string{"shutting down", "HTTP server stopped", "background loops stopped", "database closed"}

// checkShutdownLog fails unless every shutdown step is logged once, in
// order, and nothing was logged after the database closed.
func checkShutdownLog(t *testing.T, logs string) {
	t.Helper()
	var msgs []string
	for _, l := range lines(logs) {
		var rec struct{ Msg string }
		if json.Unmarshal([]byte(l), &rec) == nil {
			msgs = append(msgs, rec.Msg)
		}
	}
	next := 0
	for _, m := range msgs {
		if next < len(shutdownSteps) && m == shutdownSteps[next] {
			next++
		} else if next == len(shutdownSteps) {
			t.Errorf("logged %q after the database closed", m)
		}
	}
	if next != len(shutdownSteps) {
		t.Fatalf("shutdown log lines %q not all in order (got to %d):\n%s", shutdownSteps, next, logs)
	}
}

// On SIGTERM, serve stops taking requests, stops its background loops
// and waits for them, and only then closes the database; it exits 0, and
// its replica lease is released (the heartbeat loop's last write).
func TestServeShutsDownInOrderOnSIGTERM(t *testing.T) {
	Each(t, func(t *testing.T, in *Instance) {
		in.Serve()
		if r := in.Do("GET", "/api/v1/me", in.AdminToken, nil); r.Status != 200 {
			t.Fatalf("request before shutdown: %d %s", r.Status, r.Raw)
		}
		if n := in.SQL("SELECT COUNT(*) FROM leases WHERE name LIKE 'replica:%'"); n != "1" {
			t.Fatalf("%s replica leases while serving", n)
		}
		if code := in.terminate(); code != 0 {
			t.Fatalf("exit %d after SIGTERM:\n%s", code, in.Logs())
		}
		checkShutdownLog(t, in.Logs())
		if n := in.SQL("SELECT COUNT(*) FROM leases WHERE name LIKE 'replica:%'"); n != "0" {
			t.Fatalf("%s replica leases left after a clean shutdown", n)
		}
	})
}

// A finalize in flight when SIGTERM arrives completes: serve drains it
// before it stops the loops, so its replica lease is still held meanwhile
// (no other replica could take the issuance for abandoned) and the
// certificate is issued; then serve exits 0.
func TestServeDrainsIssuanceInFlightOnSIGTERM(t *testing.T) {
	in := New(t, "sqlite")
	c := setupCA(t, in)
	id := c.approved(t)
	in.Stop()
	hold := filepath.Join(t.TempDir(), "hold")
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	in.Bin, in.Env = hooksBin, []string{"VETCA_TEST_HOLD_FILE=" + hold}
	in.Serve(serveArgs(c.dns)...)
	done := make(chan int, 1)
	go func() {
		status, _ := c.rawFinalize(id)
		done <- status
	}()
	waitLog := func(s string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !strings.Contains(in.Logs(), s); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log:\n%s", s, in.Logs())
			}
		}
	}
	waitLog("holding after the intent")
	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitLog(`"msg":"shutting down"`)
	time.Sleep(500 * time.Millisecond)
	if strings.Contains(in.Logs(), "background loops stopped") {
		t.Fatalf("the loops stopped while a request was in flight:\n%s", in.Logs())
	}
	if n := c.SQL("SELECT COUNT(*) FROM leases WHERE name LIKE 'replica:%'"); n != "1" {
		t.Fatalf("%s replica leases while an issuance is in flight", n)
	}
	if err := os.Remove(hold); err != nil {
		t.Fatal(err)
	}
	if status := <-done; status != 200 {
		t.Fatalf("finalize in flight at SIGTERM: %d\n%s", status, in.Logs())
	}
	if code := in.Wait(); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, in.Logs())
	}
	checkShutdownLog(t, in.Logs())
	if st := c.SQL("SELECT status FROM issuance_intents WHERE order_id = '" + id + "'"); st != "issued" {
		t.Fatalf("the drained issuance: intent %s", st)
	}
	if n := c.SQL("SELECT COUNT(*) FROM leases WHERE name LIKE 'replica:%'"); n != "0" {
		t.Fatalf("%s replica leases left after a clean shutdown", n)
	}
}
