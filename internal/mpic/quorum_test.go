package mpic

import (
	"strings"
	"testing"
	"time"
)

// BR §3.2.2.9 table "Quorum Requirements".
func TestAllowedNonCorroborations(t *testing.T) {
	want := map[int]int{0: 0, 1: 0, 2: 1, 3: 1, 4: 1, 5: 1, 6: 2, 7: 2, 20: 2}
	for n, w := range want {
		if got := AllowedNonCorroborations(n); got != w {
			t.Errorf("AllowedNonCorroborations(%d) = %d; want %d [BR §3.2.2.9]", n, got, w)
		}
	}
}

// BR §3.2.2.9 "Phased Implementation Timeline".
func TestPhaseAt(t *testing.T) {
	d := func(y int, m time.Month, dd int) time.Time { return time.Date(y, m, dd, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		at                  time.Time
		min                 int
		mandatory, enforced bool
		rirs                int
	}{
		{d(2024, 9, 14), 0, false, false, 0},
		{d(2024, 9, 15), 2, false, false, 0}, // SHOULD
		{d(2025, 3, 14), 2, false, false, 0},
		{d(2025, 3, 15), 2, true, false, 0}, // MUST, MAY proceed on failure
		{d(2025, 9, 15).Add(-time.Nanosecond), 2, true, false, 0},
		{d(2025, 9, 15), 2, true, true, 0}, // MUST NOT issue on failure
		{d(2026, 3, 15), 3, true, true, 2},
		{d(2026, 6, 14), 3, true, true, 2},
		{d(2026, 6, 15), 4, true, true, 2},
		{d(2026, 12, 14), 4, true, true, 2},
		{d(2026, 12, 15), 5, true, true, 2},
		{d(2030, 1, 1), 5, true, true, 2},
	}
	for _, tc := range tests {
		p := PhaseAt(tc.at)
		if p.MinRemote != tc.min || p.Mandatory != tc.mandatory || p.Enforced != tc.enforced || p.DistinctRIRs != tc.rirs {
			t.Errorf("PhaseAt(%s) = %+v; want min %d mandatory %v enforced %v rirs %d", tc.at, p, tc.min, tc.mandatory, tc.enforced, tc.rirs)
		}
	}
}

func TestEvaluateQuorum(t *testing.T) {
	jul2026 := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC) // min 4, enforced, 2 RIRs
	jun2025 := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC) // min 2, not enforced
	jan2026 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // min 2, enforced, no RIR rule
	jan2027 := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC) // min 5
	two := []string{"ARIN", "RIPE NCC"}
	tests := []struct {
		name          string
		at            time.Time
		used, corr    int
		regions       []string
		met, mayIssue bool
		summary       string
	}{
		{"4 of 4", jul2026, 4, 4, two, true, true, "4/4 corroborated, quorum met"},
		{"3 of 4", jul2026, 4, 3, two, true, true, "3/4 corroborated, quorum met"},
		{"2 of 4", jul2026, 4, 2, two, false, false, "2/4 corroborated, quorum not met: 2 non-corroborations; at most 1"},
		{"5 of 6", jul2026, 6, 4, two, true, true, "4/6 corroborated, quorum met"},
		{"3 of 6", jul2026, 6, 3, two, false, false, "quorum not met"},
		{"too few perspectives", jul2026, 3, 3, two, false, false, "requires at least 4"},
		{"one RIR only", jul2026, 4, 4, []string{"ARIN"}, false, false, "span 1 RIR"},
		{"one RIR before the RIR rule", jan2026, 2, 2, []string{"ARIN"}, true, true, "2/2"},
		{"failure not yet enforced", jun2025, 2, 0, nil, false, true, "not yet enforced"},
		{"none used while mandatory", jun2025, 0, 0, nil, false, false, "requires at least 2"},
		{"4 perspectives after Dec 2026", jan2027, 4, 4, two, false, false, "requires at least 5"},
	}
	for _, tc := range tests {
		q := EvaluateQuorum(tc.at, tc.used, tc.corr, tc.regions)
		if q.Met != tc.met || q.MayIssue != tc.mayIssue || !strings.Contains(q.Summary, tc.summary) {
			t.Errorf("%s: met %v mayIssue %v %q; want %v %v %q [BR §3.2.2.9]", tc.name, q.Met, q.MayIssue, q.Summary, tc.met, tc.mayIssue, tc.summary)
		}
	}
}
