// Package issuancetest writes certificate records for tests that need many
// certificates where issuing each through the pipeline would be too slow.
package issuancetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/store"
)

// StoreCopies stores n copies of the certificate record of serial under
// fresh serials (7e…), through the issuance engine's own audited table, and
// returns their serials.
func StoreCopies(t testing.TB, rec *audit.Recorder, db *store.DB, serial string, n int) []string {
	t.Helper()
	ctx := context.Background()
	tab := audit.TableOf[issuance.Certificate](rec, "certificates")
	c, ok, err := issuance.NewInventory(rec).CertificateBySerial(ctx, db, serial)
	if err != nil || !ok {
		t.Fatalf("certificate %s: %v", serial, err)
	}
	var serials []string
	err = db.InTx(ctx, func(tx *store.Tx) error {
		serials = serials[:0]
		for i := 1; i <= n; i++ {
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
