package bench

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math/big"
	"runtime"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/revocation/crl"
	"github.com/vetca/vetca/internal/store"
)

// CRL builds one shard's CRL with n revoked entries read from the
// database, through the publisher's whole path (read, build, zlint CRL
// lints, self-verify, record), and in the same run
// x509.CreateRevocationList over the same entries.
func CRL(ctx context.Context, dsn string, n int) (Result, error) {
	f, err := newFixture(ctx, dsn, "", "", "")
	if err != nil {
		return Result{}, err
	}
	defer f.cleanup()
	a := f.a
	iss, issCert, err := a.Engine.ActiveIssuer(ctx, a.DB)
	if err != nil {
		return Result{}, err
	}
	url := crl.ShardURL(a.Cfg.PublicURL, iss.ID, 0)
	now := time.Now().UTC().Truncate(time.Second)
	// Bench rows are inserted directly (not audited) into the scratch
	// database, in multi-row statements.
	entries := make([]x509.RevocationListEntry, 0, n)
	const batch = 500
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		var sb strings.Builder
		var args []any
		sb.WriteString(`INSERT INTO revocations (id, serial, issuer_id, shard, crl_url, reason, reason_code, revoked_at, recorded_at,
			requested_by, source, br_trigger, evidence, evidence_at, deadline, not_after, row_hash) VALUES `)
		for i := lo; i < hi; i++ {
			var b [16]byte
			_, _ = rand.Read(b[:])
			sn := "10" + hex.EncodeToString(b[:])
			code, reason := 4, "superseded"
			if i%6 == 0 {
				code, reason = 0, "unspecified"
			}
			if i > lo {
				sb.WriteString(",")
			}
			sb.WriteString("(?, ?, ?, 0, ?, ?, ?, ?, ?, 'bench', 'bench', '', '', ?, NULL, ?, '')")
			at := store.FormatTime(now.Add(-time.Duration(i%86400) * time.Second))
			args = append(args, "rev_bench_"+sn, sn, iss.ID, url, reason, code, at, at, at, store.FormatTime(now.AddDate(0, 3, 0)))
			v, _ := new(big.Int).SetString(sn, 16)
			e := x509.RevocationListEntry{SerialNumber: v, RevocationTime: now.Add(-time.Duration(i%86400) * time.Second)}
			if code != 0 {
				e.ReasonCode = code
			}
			entries = append(entries, e)
		}
		if err := a.DB.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, sb.String(), args...)
			return err
		}); err != nil {
			return Result{}, fmt.Errorf("insert bench revocations: %w", err)
		}
	}
	key, err := a.Engine.Key(ctx, iss.ID)
	if err != nil {
		return Result{}, err
	}
	target := revocation.Target{Issuer: iss, Shard: 0, URL: url}
	runtime.GC()
	start := time.Now()
	built, err := a.CRLs.Build(ctx, target)
	if err != nil {
		return Result{}, err
	}
	ours := time.Since(start)
	if built.Entries != n {
		return Result{}, fmt.Errorf("built %d entries, want %d", built.Entries, n)
	}
	start = time.Now()
	if _, err := a.CRLs.Record(ctx, built); err != nil {
		return Result{}, err
	}
	checks := time.Since(start)
	runtime.GC()
	start = time.Now()
	if _, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(2), ThisUpdate: now, NextUpdate: now.Add(7 * 24 * time.Hour),
		RevokedCertificateEntries: entries}, issCert, key); err != nil {
		return Result{}, err
	}
	raw := time.Since(start)
	r := Result{What: "crl", Backend: a.DB.Dialect().String(), N: n, PerSecond: float64(n) / ours.Seconds(), RawPerSecond: float64(n) / raw.Seconds(),
		PeakRSSBytes: PeakRSS(),
		Notes: fmt.Sprintf("one shard: read %d entries from the database and build the signed CRL (%.2fs, %.1f MB); then zlint CRL lints, self-verify and record before publication (%.2fs more); x509.CreateRevocationList on the same entries already in memory (%.2fs)",
			n, ours.Seconds(), float64(len(built.DER))/1e6, checks.Seconds(), raw.Seconds())}
	r.Ratio = r.PerSecond / r.RawPerSecond
	return r, nil
}
