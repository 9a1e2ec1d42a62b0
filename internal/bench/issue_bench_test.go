package bench

import (
	"context"
	"testing"
)

// BenchmarkIssuePipeline profiles the whole issuance pipeline on SQLite
// (go test -bench IssuePipeline -cpuprofile).
func BenchmarkIssuePipeline(b *testing.B) {
	r, err := Issue(context.Background(), IssueOptions{DSN: "sqlite:bench.db", N: b.N})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(r.Ratio, "ratio")
}
