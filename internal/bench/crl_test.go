package bench

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/store/storetest"
)

// CRL builds one shard with every revoked entry through the publisher's
// whole path (it fails unless the built CRL holds exactly n entries), on
// both backends, and reports figures that agree with each other.
func TestCRLBuildsEveryEntry(t *testing.T) {
	const n = 2000
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := "sqlite:scratch"
			if backend == "postgres" {
				dsn = storetest.PostgresDSN(t)
			}
			r, err := CRL(context.Background(), CRLOptions{DSN: dsn, N: n})
			if err != nil {
				t.Fatal(err)
			}
			if r.What != "crl" || r.Backend != backend || r.N != n {
				t.Fatalf("result names %q on %q with %d entries, want crl on %s with %d", r.What, r.Backend, r.N, backend, n)
			}
			if !(r.PerSecond > 0) || !(r.RawPerSecond > 0) || math.Abs(r.Ratio-r.PerSecond/r.RawPerSecond) > 1e-9*r.Ratio || math.IsInf(r.Ratio, 0) {
				t.Fatalf("figures do not add up: %+v", r)
			}
			if !strings.Contains(r.Notes, "read 2000 entries from the database") || r.PeakRSSBytes <= 0 || r.RawPeakRSSBytes <= 0 {
				t.Fatalf("notes: %s", r.Notes)
			}
		})
	}
}

// BenchmarkCRLPhases times the phases of publishing one shard of 300,000
// entries: reading and building, then the checks before publication, next
// to x509.CreateRevocationList on the same entries (go test -run '^$'
// -bench CRLPhases ./internal/bench/).
func BenchmarkCRLPhases(b *testing.B) {
	const n = 300000
	for b.Loop() {
		r, err := CRL(context.Background(), CRLOptions{DSN: "sqlite:scratch", N: n})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.PerSecond, "entries/s")
		b.ReportMetric(r.RawPerSecond, "raw-entries/s")
		b.ReportMetric(r.Ratio, "ratio")
		b.Log(r.Notes)
	}
}
