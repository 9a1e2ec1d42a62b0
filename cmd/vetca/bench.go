package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vetca/vetca/internal/bench"
	"github.com/vetca/vetca/internal/store"
)

func newBenchCmd(g *globals) *cobra.Command {
	var n, certs, conc int
	var dur time.Duration
	var postgres string
	var hsm bool
	c := &cobra.Command{
		Use:   "bench issue|crl|ocsp|audit",
		Short: "Measure whole-pipeline throughput next to the raw cost of the same work, in the same run",
		Long: `bench runs on a scratch database next to --db (a temporary SQLite file, or a
temporary schema on the --db PostgreSQL server) and never touches your data.

  issue  starts 'vetca serve' on loopback and drives it over HTTP with
         --concurrency clients: the full flow (order, two approvals,
         finalize) and finalize alone, each against x509.CreateCertificate +
         zlint on the same template on --concurrency goroutines, with p50/p99
         latencies; with --hsm also one order at a time in process through a
         SoftHSM2 token (softhsm2-util must be installed)
  crl    one shard CRL with --n entries (default 1,000,000) read from the
         database, against x509.CreateRevocationList on the same entries;
         each side in a child process, with its own peak RSS
  ocsp   OCSP responses per second from vetca's handler on loopback (from
         memory; a minimal HTTP client, and net/http's in the notes),
         against ocsp.CreateResponse
  audit  audited inserts against plain inserts of the same rows

--json prints {"what","n","perSecond","rawPerSecond","ratio","peakRSSBytes"}
(ratio = perSecond / rawPerSecond) for the --db backend, with every variant
measured under "results".`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || !strings.Contains(" issue crl ocsp audit ", " "+args[0]+" ") {
				return usageErr("bench takes one of: issue, crl, ocsp, audit")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkBenchFlags(n, certs, conc, dur); err != nil {
				return err
			}
			if err := checkBenchPostgres(postgres); err != nil {
				return err
			}
			// Interrupted, a benchmark stops and removes its scratch
			// database, keys and servers, as a run that ends does; a
			// second signal ends the process at once.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			context.AfterFunc(ctx, stop)
			dsn := g.db
			if dsn == "" {
				dsn = store.DefaultDSN
			}
			dsns := []string{dsn}
			if postgres != "" {
				dsns = append(dsns, postgres)
			}
			var results []bench.Result
			for _, d := range dsns {
				var r bench.Result
				var err error
				switch args[0] {
				case "issue":
					count := n
					if count == 0 {
						count = 300
					}
					if os.Getenv("VETCA_BENCH_HSM_CHILD") == "1" {
						r, err = benchHSM(ctx, d, count)
						break
					}
					self, xerr := os.Executable()
					if xerr != nil {
						return fmt.Errorf("bench issue: find the vetca executable to run serve from: %w", xerr)
					}
					rs, ierr := bench.IssueHTTP(ctx, bench.IssueHTTPOptions{DSN: d, N: count, Concurrency: conc, Binary: self, Log: g.stderr})
					if ierr != nil {
						return fmt.Errorf("bench issue on %s: %w", d, ierr)
					}
					results = append(results, rs...)
					if !hsm || d != dsn {
						continue
					}
					r, err = benchHSM(ctx, d, count)
				case "crl":
					if spec := os.Getenv(bench.CRLChildEnv); spec != "" {
						return bench.CRLChild(ctx, spec, g.stdout) // one side, in a child process
					}
					count := n
					if count == 0 {
						count = 1000000
					}
					self, _ := os.Executable() // each side in its own process; in this one if unknown
					r, err = bench.CRL(ctx, bench.CRLOptions{DSN: d, N: count, Self: self})
				case "ocsp":
					r, err = bench.OCSP(ctx, d, certs, conc, dur)
				case "audit":
					count := n
					if count == 0 {
						count = 2000
					}
					r, err = bench.Audit(ctx, d, count)
				}
				if err != nil {
					return fmt.Errorf("bench %s on %s: %w", args[0], d, err)
				}
				results = append(results, r)
			}
			return printBench(g, results)
		},
	}
	f := c.Flags()
	f.IntVar(&n, "n", 0, "how many (issue: 300 certificates; crl: 1000000 entries; audit: 2000 rows)")
	f.StringVar(&postgres, "postgres", "", "also run on this PostgreSQL DSN (a temporary schema is used)")
	f.BoolVar(&hsm, "hsm", false, "issue: also issue through a SoftHSM2 token created for the run")
	f.IntVar(&certs, "certs", 50, "ocsp: certificates to serve responses for")
	f.IntVar(&conc, "concurrency", 8, "issue, ocsp: concurrent clients (and raw goroutines)")
	f.DurationVar(&dur, "duration", 5*time.Second, "ocsp: how long to drive load")
	return c
}

// printBench prints the results: the first one's figures at the top level
// of --json (README.md), every one under "results".
func printBench(g *globals, results []bench.Result) error {
	if g.jsonOut {
		out := map[string]any{"what": results[0].What, "n": results[0].N, "perSecond": results[0].PerSecond,
			"rawPerSecond": results[0].RawPerSecond, "ratio": results[0].Ratio, "peakRSSBytes": results[0].PeakRSSBytes,
			"backend": results[0].Backend, "results": results}
		return g.printJSON(out)
	}
	for _, r := range results {
		label := r.Backend
		if r.Signer != "" {
			label += ", " + r.Signer
		}
		fmt.Fprintf(g.stdout, "%-14s %-30s n=%-8d vetca %10.1f/s   raw %10.1f/s   ratio %.3f (%.2fx the raw cost)   peak RSS %d MiB\n",
			r.What, label, r.N, r.PerSecond, r.RawPerSecond, r.Ratio, 1/r.Ratio, r.PeakRSSBytes>>20)
		if r.Concurrency > 0 {
			fmt.Fprintf(g.stdout, "               concurrency %d: p50 %.2f ms, p99 %.2f ms; raw p50 %.2f ms, p99 %.2f ms\n",
				r.Concurrency, r.P50Ms, r.P99Ms, r.RawP50Ms, r.RawP99Ms)
		}
		if r.Notes != "" {
			fmt.Fprintf(g.stdout, "       %s\n", r.Notes)
		}
	}
	return nil
}

// checkBenchFlags refuses, as usage errors before a scratch database is
// made, the counts and durations no benchmark can run with: a negative
// --n, no --certs to ask OCSP about (a division by zero), no --concurrency
// or no --duration (nothing measured: a rate of NaN, which JSON cannot
// hold).
func checkBenchFlags(n, certs, conc int, dur time.Duration) error {
	switch {
	case n < 0:
		return usageErr("--n %d: must be at least 1 (0: the benchmark's default)", n)
	case certs < 1:
		return usageErr("--certs %d: must be at least 1", certs)
	case conc < 1:
		return usageErr("--concurrency %d: must be at least 1", conc)
	case dur < minBenchDuration:
		return usageErr("--duration %s: must be at least %s", dur, minBenchDuration)
	}
	return nil
}

// checkBenchPostgres refuses a --postgres that is no PostgreSQL DSN: the
// scratch database is made on the backend the DSN names, so anything else
// ran a second SQLite benchmark in its place.
func checkBenchPostgres(dsn string) error {
	if dsn == "" || store.IsPostgresDSN(dsn) {
		return nil
	}
	return usageErr("--postgres %q: want a postgres:// URL", dsn)
}

// minBenchDuration is the shortest --duration: each side runs for half of
// it, twice, and must answer at least once.
const minBenchDuration = 100 * time.Millisecond

// benchHSM issues through a SoftHSM2 token made for the run. SoftHSM reads
// its configuration once per process, so it runs in a child process with
// SOFTHSM2_CONF set.
func benchHSM(ctx context.Context, dsn string, n int) (bench.Result, error) {
	if os.Getenv("SOFTHSM2_CONF") != "" && os.Getenv("VETCA_BENCH_HSM_CHILD") == "1" {
		return bench.Issue(ctx, bench.IssueOptions{DSN: dsn, N: n, IssuerKeyURI: os.Getenv("VETCA_BENCH_HSM_URI"),
			PKCS11Module: "/usr/lib/softhsm/libsofthsm2.so", PKCS11PIN: os.Getenv("VETCA_BENCH_HSM_PIN"), Label: "SoftHSM2 PKCS#11"})
	}
	if _, err := exec.LookPath("softhsm2-util"); err != nil {
		return bench.Result{}, fmt.Errorf("--hsm: softhsm2-util is not installed (Debian package softhsm2)")
	}
	dir, err := os.MkdirTemp("", "vetca-bench-hsm-")
	if err != nil {
		return bench.Result{}, err
	}
	defer os.RemoveAll(dir)
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.MkdirAll(filepath.Join(dir, "tokens"), 0o700); err != nil {
		return bench.Result{}, err
	}
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\n"), 0o600); err != nil {
		return bench.Result{}, err
	}
	env := append(os.Environ(), "SOFTHSM2_CONF="+conf)
	initTok := exec.Command("softhsm2-util", "--init-token", "--free", "--label", "vetca-bench", "--pin", "1234", "--so-pin", "5678")
	initTok.Env = env
	if out, err := initTok.CombinedOutput(); err != nil {
		return bench.Result{}, fmt.Errorf("softhsm2-util: %v: %s", err, out)
	}
	self, err := os.Executable()
	if err != nil {
		return bench.Result{}, err
	}
	child := exec.CommandContext(ctx, self, "bench", "issue", "--json", "--hsm", "--n", fmt.Sprint(n), "--db", dsn)
	// Stopped, the child is asked to stop as this process was, so that it
	// removes its scratch database and token too; killed only if it does
	// not end.
	child.Cancel = func() error { return child.Process.Signal(syscall.SIGTERM) }
	child.WaitDelay = time.Minute
	child.Env = append(env, "VETCA_BENCH_HSM_CHILD=1", "VETCA_BENCH_HSM_URI=pkcs11:token=vetca-bench;object=bench-issuing", "VETCA_BENCH_HSM_PIN=1234")
	child.Stderr = os.Stderr
	out, err := child.Output()
	if err != nil {
		return bench.Result{}, fmt.Errorf("HSM run: %w", err)
	}
	var doc struct {
		Results []bench.Result `json:"results"`
	}
	if err := jsonUnmarshal(out, &doc); err != nil || len(doc.Results) == 0 {
		return bench.Result{}, fmt.Errorf("HSM run printed %q: %v", out, err)
	}
	return doc.Results[len(doc.Results)-1], nil
}
