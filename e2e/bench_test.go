package e2e

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
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
