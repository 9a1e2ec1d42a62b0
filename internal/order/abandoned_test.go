package order_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/vetca/vetca/internal/apptest"
)

// ocspStatus asks the OCSP responder about serial (hex) and returns its
// status.
func ocspStatus(f *apptest.OrderFixture, serial string) int {
	sn, _ := new(big.Int).SetString(serial, 16)
	return f.AskOCSP(&x509.Certificate{SerialNumber: sn}, crypto.SHA1).Status
}

// A serial in flight answers good, and that answer is stored. When the
// issuance is abandoned (a reject while it was signed, or recovery of a
// store step that failed), its revocation is published as any other is
// (docs/architecture.md, "Revocations"): the stored responses are re-signed
// revoked at once, so no stale good outlives it, and audit verify, which
// holds every stored response to the revocations, finds nothing. Before,
// the good response stayed until the next request found it "replaced
// outside vetca", and verify reported vetca's own response as tampering.
func TestAbandonedSerialIsPublishedRevoked(t *testing.T) {
	cases := []struct {
		name    string
		abandon func(t *testing.T, f *apptest.OrderFixture, h *holdHook, id string) string
	}{
		{"reject while signed", func(t *testing.T, f *apptest.OrderFixture, h *holdHook, id string) string {
			done := h.finalize(f, id)
			serial := intentSerial(t, f, id)
			if st := ocspStatus(f, serial); st != ocsp.Good {
				t.Fatalf("in flight: OCSP status %d", st)
			}
			if rj := f.Do("POST", "/api/v1/orders/"+id+"/reject", f.Carol, map[string]any{"reason": "withdrawn"}); rj.Status != 200 {
				t.Fatalf("reject: %d %s", rj.Status, rj.Raw)
			}
			close(h.release)
			<-done
			return serial
		}},
		{"recovery", func(t *testing.T, f *apptest.OrderFixture, h *holdHook, id string) string {
			h.storeFails.Store(true)
			if fin := f.Do("POST", "/api/v1/orders/"+id+"/finalize", f.AccTok, nil); fin.Status != 500 {
				t.Fatalf("finalize with a failing store step: %d %s", fin.Status, fin.Raw)
			}
			serial := intentSerial(t, f, id)
			if st := ocspStatus(f, serial); st != ocsp.Good {
				t.Fatalf("in flight: OCSP status %d", st)
			}
			if _, err := f.App.RecoverIssuance(context.Background()); err != nil {
				t.Fatal(err)
			}
			return serial
		}},
	}
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		for _, c := range cases {
			t.Run(b+"/"+c.name, func(t *testing.T) {
				f, h := heldFixture(t, b)
				serial := c.abandon(t, f, h, approvedOrder(t, f, apptest.Key(t)))
				if n := count(t, f, `SELECT COUNT(*) FROM ocsp_responses WHERE serial = ? AND status <> 'revoked'`, serial); n != 0 ||
					count(t, f, `SELECT COUNT(*) FROM ocsp_responses WHERE serial = ?`, serial) == 0 {
					t.Fatalf("BR §4.9.10: %d stored responses of abandoned serial %s are not revoked", n, serial)
				}
				f.Clock.Advance(2 * time.Minute)
				auditClean(t, f)
				if st := ocspStatus(f, serial); st != ocsp.Revoked {
					t.Fatalf("OCSP status %d", st)
				}
				if n := count(t, f, `SELECT COUNT(*) FROM audit_events WHERE action = 'ocsp.replay_refused'`); n != 0 {
					t.Fatalf("%d replays refused: vetca's own response taken for one put back", n)
				}
			})
		}
	}
}

func intentSerial(t *testing.T, f *apptest.OrderFixture, orderID string) string {
	t.Helper()
	var serial string
	if err := f.App.DB.QueryRow(context.Background(), `SELECT serial FROM issuance_intents WHERE order_id = ?`, orderID).Scan(&serial); err != nil {
		t.Fatal(err)
	}
	return serial
}
