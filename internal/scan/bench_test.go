package scan_test

import (
	"context"
	"encoding/pem"
	"runtime"
	"sync"
	"testing"

	"github.com/zmap/zcrypto/x509"
	zlintv3 "github.com/zmap/zlint/v3"
	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/scan"
)

// BenchmarkScan compares a whole scan (every check, findings stored, on
// GOMAXPROCS workers) with a raw zlint loop over the same certificates on
// the same cores. Both report certs/s; the figure is in the README.
func BenchmarkScan(b *testing.B) {
	const n = 60
	f, serials, _ := fixture(b, apptest.SQLite, n)
	ctx := context.Background()
	workers := runtime.GOMAXPROCS(0)
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			if _, err := f.App.Scanner(nil).Run(ctx, scan.Options{Workers: workers, Restart: true}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "certs/s")
	})
	var certs []*x509.Certificate
	for _, sn := range serials {
		c, err := issuance.GetCertificate(ctx, f.App.Recorder, f.App.DB, sn)
		if err != nil {
			b.Fatal(err)
		}
		blk, _ := pem.Decode([]byte(c.PEM))
		x, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			b.Fatal(err)
		}
		certs = append(certs, x)
	}
	b.Run("raw_zlint", func(b *testing.B) {
		reg := zlint.GlobalRegistry()
		for b.Loop() {
			next := make(chan *x509.Certificate)
			var wg sync.WaitGroup
			for range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for c := range next {
						zlintv3.LintCertificateEx(c, reg)
					}
				}()
			}
			for _, c := range certs {
				next <- c
			}
			close(next)
			wg.Wait()
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "certs/s")
	})
}
