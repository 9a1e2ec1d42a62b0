package crl_test

import (
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"sync"
	"testing"

	"github.com/vetca/vetca/internal/revocation/crl"
)

var benchEntries = sync.OnceValues(func() ([]crl.Entry, []crl.Entry) {
	return makeEntries(100_000, 100), makeEntries(1_000_000, 1000)
})

// BenchmarkBuild compares Build with x509.CreateRevocationList over the same
// entries (every allowed reason, so 5 in 6 entries carry a reasonCode) and the
// same Issuing Distribution Point. The goal (README.md) is for Build to stay within 1.5x
// of the standard library in time and sensibly in memory; compare ns/op and
// B/op of the "vetca" and "x509" rows. Run with
//
//	go test -run '^$' -bench Build -benchtime 3x ./internal/revocation/crl/
func BenchmarkBuild(b *testing.B) {
	small, large := benchEntries()
	ca := ecdsaCA()
	for _, entries := range [][]crl.Entry{small, large} {
		p := params(ca, entries)
		b.Run(fmt.Sprintf("n=%d/vetca", len(entries)), func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				der, err := crl.Build(p)
				if err != nil {
					b.Fatal(err)
				}
				size = len(der)
			}
			b.ReportMetric(float64(size), "DER-bytes")
		})
		b.Run(fmt.Sprintf("n=%d/x509", len(entries)), func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				// The template conversion is part of the cost a caller of the
				// standard library pays, as Build's input is the same Entries.
				der, err := x509.CreateRevocationList(rand.Reader, stdlibTemplate(p), ca.cert, ca.key)
				if err != nil {
					b.Fatal(err)
				}
				size = len(der)
			}
			b.ReportMetric(float64(size), "DER-bytes")
		})
	}
}

// BenchmarkInspect measures reading a shard back, as `vetca crl verify` does.
func BenchmarkInspect(b *testing.B) {
	small, _ := benchEntries()
	ca := ecdsaCA()
	der, err := crl.Build(params(ca, small))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := crl.Inspect(der, ca.cert); err != nil {
			b.Fatal(err)
		}
	}
}
