// Package scantest stores scan findings for tests of the packages that read
// them (incidents opened by query.lint), through the scanner's own audited
// table, as a scan that found them would.
package scantest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/store"
)

// finding is a scan_findings row (scan's findingRow, every column but
// row_hash).
type finding struct {
	ID        string    `db:"id"`
	Serial    string    `db:"serial"`
	Lint      string    `db:"lint"`
	Field     string    `db:"field"`
	Severity  string    `db:"severity"`
	Message   string    `db:"message"`
	FirstRun  string    `db:"first_run"`
	LastRun   string    `db:"last_run"`
	FirstSeen time.Time `db:"first_seen"`
	LastSeen  time.Time `db:"last_seen"`
}

// StoreFindings stores, in one transaction, an error finding of lintName on
// field for each serial, as seen by run "scan_test" at now, and returns
// the findings' ids in the order of serials.
func StoreFindings(t testing.TB, rec *audit.Recorder, db *store.DB, now time.Time, lintName, field string, serials ...string) []string {
	t.Helper()
	tab := audit.TableOf[finding](rec, "scan_findings")
	var idsOut []string
	err := db.InTx(context.Background(), func(tx *store.Tx) error {
		idsOut = idsOut[:0]
		for i, sn := range serials {
			f := finding{ID: fmt.Sprintf("sf_test_%05d", i), Serial: sn, Lint: lintName, Field: field, Severity: "error",
				Message: "found by a test", FirstRun: "scan_test", LastRun: "scan_test", FirstSeen: now, LastSeen: now}
			if err := tab.Insert(context.Background(), tx, actor.CLIActor("test"), "scan.finding_stored", f); err != nil {
				return err
			}
			idsOut = append(idsOut, f.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return idsOut
}
