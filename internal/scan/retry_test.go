package scan_test

import (
	"context"
	"testing"

	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/lint"
	"github.com/vetca/vetca/internal/scan"
)

// TestBatchRetriedIsCountedOnce: a batch's transaction that PostgreSQL
// fails with a serialization failure is run again by InTx; the run's
// checked and found counts stored by the retry count the batch once.
func TestBatchRetriedIsCountedOnce(t *testing.T) {
	f, all, _ := fixture(t, apptest.Postgres, 3)
	ctx := context.Background()
	// The first progress update of scan_runs fails as a lost serialization
	// would (40001); a sequence is not rolled back with the transaction.
	for _, q := range []string{
		`CREATE SEQUENCE fail_once`,
		`CREATE FUNCTION fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF nextval('fail_once') = 1 THEN
				RAISE EXCEPTION 'test: serialization failure' USING ERRCODE = '40001';
			END IF;
			RETURN NEW;
		END $$`,
		`CREATE TRIGGER fail_once BEFORE UPDATE ON scan_runs FOR EACH ROW EXECUTE FUNCTION fail_once()`,
	} {
		if _, err := f.App.DB.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	l, err := lint.New()
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.App.Scanner(&counting{l: l, n: map[string]int{}}).Run(ctx, scan.Options{Workers: 1})
	if err != nil && len(res.Findings) == 0 {
		t.Fatal(err)
	}
	var checked int
	if err := f.App.DB.QueryRow(ctx, `SELECT checked FROM scan_runs WHERE id = ?`, res.RunID).Scan(&checked); err != nil {
		t.Fatal(err)
	}
	if checked != len(all) {
		t.Fatalf("stored run checked %d certificates, want %d", checked, len(all))
	}
}
