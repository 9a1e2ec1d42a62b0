package audit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/store/storetest"
)

// BenchmarkWrites compares an audited insert (row + chained event) with a
// plain insert of the same row, one transaction each, on both backends.
func BenchmarkWrites(b *testing.B) {
	for _, backend := range []string{"sqlite", "postgres"} {
		b.Run(backend, func(b *testing.B) {
			var db *store.DB
			if backend == "sqlite" {
				db = storetest.OpenSQLite(b)
			} else {
				db = storetest.OpenPostgres(b)
			}
			ctx := context.Background()
			rec := newTestRecorder(b, db, clock.Real{}, nil, newTestKey(b))
			now := time.Now()
			seq := 0 // ids stay unique across the harness's repeated runs
			b.Run("plain", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					seq++
					err := db.InTx(ctx, func(tx *store.Tx) error {
						_, err := tx.Exec(ctx, `INSERT INTO accounts (id, name, created_at, created_by, row_hash) VALUES (?, ?, ?, 'b', '')`,
							fmt.Sprintf("p%d", seq), "Bench", store.FormatTime(now))
						return err
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run("audited", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					seq++
					err := db.InTx(ctx, func(tx *store.Tx) error {
						return rec.insert(ctx, tx, "bench", "bench", "accounts", account{ID: fmt.Sprintf("a%d", seq), Name: "Bench", CreatedAt: now, CreatedBy: "b"})
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
