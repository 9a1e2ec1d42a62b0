package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/store/storetest"
)

// `vetca bench issue` runs a real serve and drives it over HTTP: its JSON
// keeps the documented top-level fields (README.md) and lists both variants, each with
// its concurrency and latencies. (A run this small measures nothing; the
// figures in README.md come from full runs.)
func TestBenchIssueDrivesServeOverHTTP(t *testing.T) {
	cmd := exec.Command(vetcaBin, "bench", "issue", "--n", "4", "--concurrency", "2", "--json", "--db", "sqlite:"+filepath.Join(t.TempDir(), "unused.db"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bench issue: %v\n%s", err, out)
	}
	var doc struct {
		What         string   `json:"what"`
		N            int      `json:"n"`
		PerSecond    float64  `json:"perSecond"`
		RawPerSecond float64  `json:"rawPerSecond"`
		Ratio        *float64 `json:"ratio"`
		PeakRSS      int64    `json:"peakRSSBytes"`
		Results      []struct {
			What        string  `json:"what"`
			Concurrency int     `json:"concurrency"`
			PerSecond   float64 `json:"perSecond"`
			P50         float64 `json:"p50Ms"`
			P99         float64 `json:"p99Ms"`
			RawP50      float64 `json:"rawP50Ms"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if doc.What != "issue" || doc.N != 4 || doc.PerSecond <= 0 || doc.RawPerSecond <= 0 || doc.Ratio == nil || doc.PeakRSS <= 0 {
		t.Fatalf("top-level fields: %s", out)
	}
	seen := map[string]bool{}
	for _, r := range doc.Results {
		seen[r.What] = true
		if r.Concurrency != 2 || r.PerSecond <= 0 || r.P50 <= 0 || r.P99 < r.P50 || r.RawP50 <= 0 {
			t.Errorf("%s: %+v", r.What, r)
		}
	}
	if !seen["issue"] || !seen["issue-finalize"] {
		t.Fatalf("variants: %s", out)
	}
}

// An interrupted `vetca bench` (Ctrl-C) removes what it made, as a run
// that ends does: its scratch directory (SQLite) or its scratch schema
// (PostgreSQL) on the server of --db, never left behind to accumulate.
func TestBenchInterruptedRemovesItsScratchDatabase(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			tmp := t.TempDir()
			dsn := "sqlite:" + filepath.Join(tmp, "unused.db")
			scratch := func() []string {
				m, _ := filepath.Glob(filepath.Join(tmp, "vetca-bench-*"))
				return m
			}
			if backend == "postgres" {
				dsn = storetest.PostgresDSN(t)
				scratch = func() []string { return benchSchemas(t, dsn) }
			}
			if s := scratch(); len(s) > 0 {
				t.Fatalf("before the run: %v", s)
			}
			cmd := exec.Command(vetcaBin, "bench", "audit", "--n", "10000000", "--db", dsn)
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
			var errb bytes.Buffer
			cmd.Stderr = &errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			for i := 0; len(scratch()) == 0; i++ {
				if i == 600 {
					_ = cmd.Process.Kill()
					t.Fatalf("no scratch database after 60 s: %s", errb.String())
				}
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(500 * time.Millisecond) // inside the measured loop
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Fatalf("bench did not stop on SIGINT: %s", errb.String())
			}
			if s := scratch(); len(s) > 0 {
				t.Fatalf("after SIGINT, left behind: %v (stderr: %s)", s, errb.String())
			}
		})
	}
}

// benchSchemas lists the scratch schemas of `vetca bench` on dsn's server.
func benchSchemas(t *testing.T, dsn string) []string {
	t.Helper()
	out, err := exec.Command("psql", "-qAt", pgBase(t, dsn), "-c",
		"SELECT nspname FROM pg_namespace WHERE nspname LIKE 'vetca\\_bench\\_%'").CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v: %s", err, out)
	}
	return lines(string(out))
}

// The `vetca serve` that bench issue starts runs on the scratch
// installation alone: an operator's VETCA_* settings (here the production
// checkpoint directory and SMTP relay) are not its settings. It once wrote
// the scratch trail's signed checkpoint and head-seen mark into the
// production checkpoint directory, where `vetca audit verify` reads them.
func TestBenchIssueServeIgnoresTheOperatorsSettings(t *testing.T) {
	prod := filepath.Join(t.TempDir(), "prod")
	cmd := exec.Command(vetcaBin, "bench", "issue", "--n", "2", "--concurrency", "1", "--json", "--db", "sqlite:"+filepath.Join(t.TempDir(), "unused.db"))
	cmd.Env = append(os.Environ(), "VETCA_CHECKPOINT_DIR="+filepath.Join(prod, "checkpoints"), "VETCA_SMTP=127.0.0.1:1",
		"VETCA_AUDIT_PUBLIC_KEY="+filepath.Join(prod, "audit.pub"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bench issue: %v\n%s", err, out)
	}
	if _, err := os.Stat(prod); !os.IsNotExist(err) {
		t.Fatalf("bench wrote into the operator's checkpoint directory: %v", listFiles(t, prod))
	}
}

// listFiles lists the files under dir.
func listFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			out = append(out, p)
		}
		return nil
	})
	return out
}
