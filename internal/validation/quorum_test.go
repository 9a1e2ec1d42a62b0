package validation_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/mpic"
)

// BR §3.2.2.9: with four remote perspectives on
// loopback (each with its own DNS server) and some seeing a different
// answer, the quorum holds or fails as the BR says on the date of the
// check, and every perspective's answer and the quorum are stored
// (BR §5.4.1).
func TestQuorumDNSChange(t *testing.T) {
	for _, b := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(b, func(t *testing.T) {
			ps, opt := apptest.WithPerspectives(t, 4, 0)
			w := newWorld(t, b, opt)
			start := w.Clock.Now() // 2026-11-23: 4 remote perspectives, quorum enforced, 2 RIRs
			cases := []struct {
				name       string
				at         time.Time
				primary    bool // the primary perspective sees the value
				dissenting int  // perspectives that see another value
				status     string
				quorum     string
			}{
				{"all four corroborate", start, true, 0, "valid", "4/4 corroborated, quorum met"},
				{"one dissents: 1 non-corroboration allowed with 2-5 perspectives", start, true, 1, "valid", "3/4 corroborated, quorum met"},
				{"two dissent: quorum fails", start, true, 2, "invalid", "2/4 corroborated, quorum not met"},
				{"none corroborates", start, true, 4, "invalid", "0/4 corroborated, quorum not met"},
				{"2025-06-01: MPIC mandatory, quorum not yet enforced", time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), true, 2, "valid", "not yet enforced"},
				{"primary does not see it: nobody else is asked", start, false, 0, "invalid", "corroboration not performed"},
			}
			for i, c := range cases {
				w.Clock.Set(c.at)
				name := fmt.Sprintf("q%d.acme-widgets.com", i)
				v, err := w.App.Domains.Start(ctx, w.Sub, w.AccID, name, "dns-change")
				if err != nil {
					t.Fatal(err)
				}
				if c.primary {
					w.DNS.AddTXT(v.RecordName, v.RandomValue)
				}
				for j, p := range ps.List {
					if j < c.dissenting {
						p.DNS.AddTXT(v.RecordName, "a-different-value-seen-from-this-network-path")
					} else {
						p.DNS.AddTXT(v.RecordName, v.RandomValue)
					}
				}
				a, err := w.App.Domains.Validate(ctx, w.Sub, w.AccID, v.ID)
				if err != nil {
					t.Fatal(err)
				}
				if a.Status != c.status || !strings.Contains(a.Quorum, c.quorum) {
					t.Fatalf("%s: status %s quorum %q (%s)", c.name, a.Status, a.Quorum, a.Reason)
				}
				// The stored evidence: each perspective's answer and the quorum.
				view, err := w.App.Domains.Get(ctx, vera, w.AccID, v.ID)
				if err != nil {
					t.Fatal(err)
				}
				got := view.Attempts[0]
				if got.Status != c.status || got.Corroboration.Quorum != a.Quorum {
					t.Fatalf("%s: stored %+v", c.name, got)
				}
				if !c.primary {
					if got.Corroboration.Performed || len(got.Corroboration.Perspectives) != 0 {
						t.Fatalf("%s: perspectives asked although the primary failed: %+v", c.name, got.Corroboration)
					}
					for _, p := range ps.List {
						if q := p.DNS.QueriesFor(v.RecordName); len(q) != 0 {
							t.Fatalf("%s: perspective %s was queried", c.name, p.ID)
						}
					}
					continue
				}
				if !got.Corroboration.Performed || len(got.Corroboration.Perspectives) != 4 || got.Corroboration.Corroborations != 4-c.dissenting {
					t.Fatalf("%s: stored corroboration %+v", c.name, got.Corroboration)
				}
				seen := map[string]bool{}
				for j, p := range got.Corroboration.Perspectives {
					seen[p.Perspective] = true
					if p.Region == "" || p.Corroborated != (j >= c.dissenting) || p.Reason == "" {
						t.Fatalf("%s: perspective %+v", c.name, p)
					}
				}
				if len(seen) != 4 {
					t.Fatalf("%s: perspective ids %v", c.name, seen)
				}
				out := got.Evidence.Corroboration
				if out.Results[0].Answer == nil || out.Results[0].Answer.DCV == nil || out.Results[0].Answer.DCV.Query != v.RecordName {
					t.Fatalf("%s: a perspective's own evidence is missing: %+v", c.name, out.Results[0])
				}
			}
			auditClean(t, w.Env)
		})
	}
}

// BR §3.2.2.9 applies to CAA too: CAA permission seen by the primary must
// be corroborated; a perspective that sees a forbidding CAA RRset is a
// non-corroboration, and two of four fail the quorum.
func TestQuorumCAA(t *testing.T) {
	for _, backend := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			ps, opt := apptest.WithPerspectives(t, 4, 0)
			w := newWorld(t, backend, opt)
			ps.List[0].DNS.AddCAA("one.acme-widgets.com", 0, "issue", "other-ca.example")
			ps.List[0].DNS.AddCAA("two.acme-widgets.com", 0, "issue", "other-ca.example")
			ps.List[1].DNS.AddCAA("two.acme-widgets.com", 0, "issue", "other-ca.example")

			res, err := w.App.Domains.CheckCAA(ctx, []string{"one.acme-widgets.com"})
			if err != nil || !res[0].Permitted || res[0].Quorum != "3/4 corroborated, quorum met" {
				t.Fatalf("one dissent: %v %+v", err, res)
			}
			var ev struct {
				Corroboration mpic.Outcome `json:"corroboration"`
			}
			if err := json.Unmarshal(res[0].Evidence, &ev); err != nil || len(ev.Corroboration.Results) != 4 || ev.Corroboration.Results[0].Corroborated {
				t.Fatalf("CAA corroboration evidence: %v %+v", err, ev.Corroboration)
			}

			res, err = w.App.Domains.CheckCAA(ctx, []string{"one.acme-widgets.com", "two.acme-widgets.com"})
			e := wantErr(t, err, apperr.KindForbidden, "dnsNames", "caa_forbidden")
			if !strings.Contains(e.Message, "CAA for two.acme-widgets.com") || !strings.Contains(e.Message, "2/4 corroborated, quorum not met") {
				t.Fatalf("message %q", e.Message)
			}
			if len(res) != 2 || !res[0].Permitted || res[1].Permitted || !res[1].IssueBefore.IsZero() {
				t.Fatalf("results %+v", res)
			}
		})
	}
}
