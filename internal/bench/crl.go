package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/revocation/crl"
	"github.com/vetca/vetca/internal/signer"
	"github.com/vetca/vetca/internal/store"
)

// CRLOptions configure the CRL benchmark.
type CRLOptions struct {
	DSN string // sqlite:... or postgres://...; a scratch database is made next to it
	N   int    // revoked entries in the shard
	// Self is the path of a vetca binary. When set, each side runs in a
	// child process of its own (`vetca bench crl` with CRLChildEnv set), so
	// that each peak RSS is that side's alone: peak RSS is process-wide.
	// When empty (tests), both sides run here and share one peak.
	Self string
}

// CRLChildEnv names the environment variable that makes `vetca bench crl`
// run one side of the CRL benchmark (CRLChild): it holds the path of the
// side's specification.
const CRLChildEnv = "VETCA_BENCH_CRL_CHILD"

// crlSpec is what a child process needs to run one side.
type crlSpec struct {
	Side          string   `json:"side"` // "vetca" or "raw"
	DSN           string   `json:"dsn"`
	KeyDir        string   `json:"keyDir"`
	PublicURL     string   `json:"publicUrl"`
	DNSResolver   string   `json:"dnsResolver"`
	CAAIdentities []string `json:"caaIdentities"`
	IssuerID      string   `json:"issuerId"`
	URL           string   `json:"url"`
	N             int      `json:"n"`
	Seed          uint64   `json:"seed"`
	Now           int64    `json:"now"` // Unix seconds the entries were dated from
	IssuerPEM     string   `json:"issuerPem"`
	KeyURI        string   `json:"keyUri"`
}

// crlSide is what one side measured.
type crlSide struct {
	Build    float64 `json:"build"`    // seconds: vetca's Build, or raw x509.CreateRevocationList
	Checks   float64 `json:"checks"`   // seconds: vetca's Record (lints, self-check, store)
	Entries  int     `json:"entries"`  // entries in the CRL
	DERBytes int     `json:"derBytes"` // size of the CRL
	PeakRSS  int64   `json:"peakRSS"`  // the process's peak resident set
}

// crlSeed makes the bench's serials and dates reproducible, so that a child
// process can rebuild the raw side's entries without reading them back.
const crlSeed = 0x5eed_c41

// crlEntries calls fn with the n entries of the benchmark shard: serials
// like vetca's (0x10 and 128 bits), dates over the day before now, one
// entry in six without a reason (no reasonCode) and the others superseded.
func crlEntries(seed uint64, n int, now time.Time, fn func(serial []byte, at time.Time, code int) error) error {
	r := mrand.New(mrand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), byte(seed >> 24)}))
	var sn [17]byte
	sn[0] = 0x10
	for i := 0; i < n; i++ {
		for j := 1; j < len(sn); j += 8 {
			v := r.Uint64()
			for k := 0; k < 8 && j+k < len(sn); k++ {
				sn[j+k] = byte(v >> (8 * k))
			}
		}
		code := 4
		if i%6 == 0 {
			code = 0
		}
		if err := fn(sn[:], now.Add(-time.Duration(i%86400)*time.Second), code); err != nil {
			return err
		}
	}
	return nil
}

// CRL builds one shard's CRL with n revoked entries read from the
// database, through the publisher's whole path (read, build, zlint CRL
// lints, self-check, record), and in the same run x509.CreateRevocationList
// over the same entries with the same key, each side in its own process
// when o.Self is set.
func CRL(ctx context.Context, o CRLOptions) (Result, error) {
	f, err := newFixture(ctx, o.DSN, "", "", "")
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
	const batch = 500
	var sb strings.Builder
	var args []any
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		err := a.DB.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, sb.String(), args...)
			return err
		})
		sb.Reset()
		args = args[:0]
		if err != nil {
			return fmt.Errorf("insert bench revocations: %w", err)
		}
		return nil
	}
	err = crlEntries(crlSeed, o.N, now, func(serial []byte, at time.Time, code int) error {
		if len(args) == 0 {
			sb.WriteString(`INSERT INTO revocations (id, serial, issuer_id, shard, crl_url, reason, reason_code, revoked_at, recorded_at,
			requested_by, source, br_trigger, evidence, evidence_at, deadline, not_after, row_hash) VALUES `)
		} else {
			sb.WriteString(",")
		}
		sb.WriteString("(?, ?, ?, 0, ?, ?, ?, ?, ?, 'bench', 'bench', '', '', ?, NULL, ?, '')")
		sn, reason, ts := hex.EncodeToString(serial), "superseded", store.FormatTime(at)
		if code == 0 {
			reason = "unspecified"
		}
		args = append(args, "rev_bench_"+sn, sn, iss.ID, url, reason, code, ts, ts, ts, store.FormatTime(now.AddDate(0, 3, 0)))
		if len(args) == batch*10 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return Result{}, err
	}
	spec := crlSpec{DSN: a.Cfg.DB, KeyDir: a.Cfg.KeyDir, PublicURL: a.Cfg.PublicURL, DNSResolver: a.Cfg.DNSResolver,
		CAAIdentities: a.Cfg.CAAIdentities, IssuerID: iss.ID, URL: url, N: o.N, Seed: crlSeed, Now: now.Unix(),
		IssuerPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: issCert.Raw})), KeyURI: iss.KeyURI}

	var ours, raw crlSide
	where := "both sides in this process, so both peaks are this process's (peak RSS is process-wide)"
	if o.Self != "" {
		where = "each side in a child process of its own, peak RSS per process"
		if ours, err = runCRLChild(ctx, o.Self, spec, "vetca"); err != nil {
			return Result{}, err
		}
		if raw, err = runCRLChild(ctx, o.Self, spec, "raw"); err != nil {
			return Result{}, err
		}
	} else {
		if ours, err = crlVetca(ctx, a, spec); err != nil {
			return Result{}, err
		}
		if raw, err = crlRaw(ctx, spec); err != nil {
			return Result{}, err
		}
	}
	if ours.Entries != o.N || raw.Entries != o.N {
		return Result{}, fmt.Errorf("built %d entries, raw %d, want %d", ours.Entries, raw.Entries, o.N)
	}
	r := Result{What: "crl", Backend: a.DB.Dialect().String(), N: o.N, PerSecond: float64(o.N) / ours.Build, RawPerSecond: float64(o.N) / raw.Build,
		PeakRSSBytes: ours.PeakRSS, RawPeakRSSBytes: raw.PeakRSS,
		Notes: fmt.Sprintf("one shard: read %d entries from the database in serial order, a batch at a time, and stream them into the signed CRL (%.2fs, %.1f MB); "+
			"then zlint CRL lints by windows, the one-pass self-check and the record before publication (%.2fs more; %.2fs in all); "+
			"x509.CreateRevocationList on the same entries (%.2fs; its input, the entries, built in memory first); "+
			"peak RSS vetca %d MiB, raw %d MiB (%.2fx); %s; GOMAXPROCS=%d",
			o.N, ours.Build, float64(ours.DERBytes)/1e6, ours.Checks, ours.Build+ours.Checks, raw.Build,
			ours.PeakRSS>>20, raw.PeakRSS>>20, float64(ours.PeakRSS)/float64(max(raw.PeakRSS, 1)), where, runtime.GOMAXPROCS(0))}
	r.Ratio = r.PerSecond / r.RawPerSecond
	return r, nil
}

// runCRLChild runs one side in a child process of self and reads back what
// it measured.
func runCRLChild(ctx context.Context, self string, spec crlSpec, side string) (crlSide, error) {
	spec.Side = side
	b, err := json.Marshal(spec)
	if err != nil {
		return crlSide{}, err
	}
	dir, err := os.MkdirTemp("", "vetca-bench-crl-")
	if err != nil {
		return crlSide{}, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "spec.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return crlSide{}, err
	}
	cmd := exec.CommandContext(ctx, self, "bench", "crl")
	cmd.Env = append(scratchEnv(), CRLChildEnv+"="+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return crlSide{}, fmt.Errorf("%s side of bench crl: %w: %s", side, err, stderr.String())
	}
	var res crlSide
	if err := json.Unmarshal(out, &res); err != nil {
		return crlSide{}, fmt.Errorf("%s side of bench crl printed %q: %w", side, out, err)
	}
	return res, nil
}

// CRLChild runs the side of the CRL benchmark that the specification at
// specPath names and writes what it measured, as JSON, to out. `vetca bench
// crl` calls it when CRLChildEnv is set.
func CRLChild(ctx context.Context, specPath string, out io.Writer) error {
	b, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	var spec crlSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		return fmt.Errorf("bench crl specification: %w", err)
	}
	var res crlSide
	switch spec.Side {
	case "raw":
		res, err = crlRaw(ctx, spec)
	case "vetca":
		cfg := app.Config{DB: spec.DSN, KeyDir: spec.KeyDir, PublicURL: spec.PublicURL, DNSResolver: spec.DNSResolver, CAAIdentities: spec.CAAIdentities}
		var a *app.App
		a, err = app.Open(ctx, cfg, clock.Real{}, slog.New(slog.DiscardHandler), app.Options{Write: true})
		if err != nil {
			return err
		}
		defer a.Close()
		res, err = crlVetca(ctx, a, spec)
	default:
		err = fmt.Errorf("bench crl: unknown side %q", spec.Side)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(out).Encode(res)
}

// crlVetca publishes the shard through the publisher: Build (read and
// stream), then Record (lints, self-check, store).
func crlVetca(ctx context.Context, a *app.App, spec crlSpec) (crlSide, error) {
	iss, _, err := a.Engine.ActiveIssuer(ctx, a.DB)
	if err != nil {
		return crlSide{}, err
	}
	if iss.ID != spec.IssuerID {
		return crlSide{}, fmt.Errorf("the active issuer is %s, not %s", iss.ID, spec.IssuerID)
	}
	if _, err := a.Engine.Key(ctx, iss.ID); err != nil { // open the key outside the timing, as raw does
		return crlSide{}, err
	}
	target := revocation.Target{Issuer: iss, Shard: 0, URL: spec.URL}
	runtime.GC()
	start := time.Now()
	built, err := a.CRLs.Build(ctx, target)
	if err != nil {
		return crlSide{}, err
	}
	build := time.Since(start)
	start = time.Now()
	if _, err := a.CRLs.Record(ctx, built); err != nil {
		return crlSide{}, err
	}
	return crlSide{Build: build.Seconds(), Checks: time.Since(start).Seconds(), Entries: built.Entries, DERBytes: len(built.DER), PeakRSS: PeakRSS()}, nil
}

// crlRaw rebuilds the same entries in memory (x509.CreateRevocationList's
// input) and times x509.CreateRevocationList over them with the issuer's
// key.
func crlRaw(ctx context.Context, spec crlSpec) (crlSide, error) {
	blk, _ := pem.Decode([]byte(spec.IssuerPEM))
	if blk == nil {
		return crlSide{}, errors.New("bench crl: no issuer certificate")
	}
	issCert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return crlSide{}, err
	}
	key, err := signer.Open(spec.KeyURI, signer.Config{})
	if err != nil {
		return crlSide{}, err
	}
	defer key.Close()
	now := time.Unix(spec.Now, 0).UTC()
	entries := make([]x509.RevocationListEntry, 0, spec.N)
	_ = crlEntries(spec.Seed, spec.N, now, func(serial []byte, at time.Time, code int) error {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: new(big.Int).SetBytes(serial), RevocationTime: at, ReasonCode: code})
		return nil
	})
	if err := ctx.Err(); err != nil {
		return crlSide{}, err
	}
	runtime.GC()
	start := time.Now()
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(2), ThisUpdate: now, NextUpdate: now.Add(7 * 24 * time.Hour),
		RevokedCertificateEntries: entries}, issCert, key)
	if err != nil {
		return crlSide{}, err
	}
	took := time.Since(start)
	return crlSide{Build: took.Seconds(), Entries: len(entries), DERBytes: len(der), PeakRSS: PeakRSS()}, nil
}
