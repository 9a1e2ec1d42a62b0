package cpr

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/store"
)

// A decision covers exactly the matches it was taken on (docs/design.md
// §12): a decision on receipt the certificates and issuances with a key
// the report proves compromised; a staff decision the matches the case had
// when it was taken (recorded then, at the proposal when a second user
// confirms it), and the certificates its keyCompromise revocation revoked
// for sharing their key. A match added later, a merged duplicate's, is
// neither revoked by it nor reported as decided: it awaits a decision, the
// duplicate's own.

// recordOf is the case's evidence record.
func recordOf(c Case) evidenceRecord {
	var rec evidenceRecord
	_ = json.Unmarshal([]byte(c.Evidence), &rec)
	return rec
}

// setRecord stores rec on c (the caller writes c).
func (c *Case) setRecord(rec evidenceRecord) {
	b, _ := json.Marshal(rec)
	c.Evidence = string(b)
}

// covers reports whether the decision of c covers m, one of its matches.
func covers(c Case, rec evidenceRecord, m Match) bool {
	switch {
	case c.Decision == DecisionNone:
		return false
	case slices.Contains(rec.CompromisedKeys, m.SPKISHA256):
		return true // a proven key: every certificate with it (BR §4.9.1.1 #3)
	case rec.DecisionScope != nil:
		return slices.Contains(*rec.DecisionScope, m.Serial)
	case c.DecidedBy == system.String():
		return false // decided on receipt: the proven keys only
	case c.DecidedAt == nil:
		return true // a proposal recorded before scopes were kept
	}
	// A decision recorded before scopes were kept: what was matched by then.
	return !m.CreatedAt.After(*c.DecidedAt)
}

// recordScope sets the scope of the decision being taken on c (which the
// caller then writes): every match the case has now.
func (s *Service) recordScope(ctx context.Context, q store.Querier, c *Case) error {
	ms, err := s.tab.matches.Select(ctx, q, `WHERE report_id = ?`, c.ID)
	if err != nil {
		return err
	}
	scope := make([]string, 0, len(ms))
	for _, m := range ms {
		scope = append(scope, m.Serial)
	}
	rec := recordOf(*c)
	rec.DecisionScope = &scope
	c.setRecord(rec)
	return nil
}

// widenScope adds serials to the scope of a staff decision and writes c.
// A decision on receipt covers them already by their key.
func (s *Service) widenScope(ctx context.Context, tx *store.Tx, by actor.Actor, c *Case, serials []string) error {
	rec := recordOf(*c)
	if rec.DecisionScope == nil || len(serials) == 0 {
		return nil
	}
	scope := *rec.DecisionScope
	for _, sn := range serials {
		scope = appendOnce(scope, sn)
	}
	rec.DecisionScope = &scope
	c.setRecord(rec)
	return s.tab.reports.Update(ctx, tx, by, actReportUpdated, *c)
}

// coveredMatches returns the matches of c that its decision covers.
func (s *Service) coveredMatches(ctx context.Context, q store.Querier, c Case) ([]Match, error) {
	if c.Decision == DecisionNone {
		return nil, nil
	}
	ms, err := s.tab.matches.Select(ctx, q, `WHERE report_id = ? ORDER BY created_at, serial`, c.ID)
	if err != nil {
		return nil, err
	}
	rec := recordOf(c)
	var out []Match
	for _, m := range ms {
		if covers(c, rec, m) {
			out = append(out, m)
		}
	}
	return out, nil
}

// decidedSerials returns the serials some decision covers, as the view of
// c shows them: the decision of c, that of the case c was merged into, and
// those of the duplicates merged into c (each decides its own matches).
func (s *Service) decidedSerials(ctx context.Context, q store.Querier, c Case) (map[string]bool, error) {
	cases, err := s.tab.reports.Select(ctx, q, `WHERE merged_into = ?`, c.ID)
	if err != nil {
		return nil, err
	}
	cases = append(cases, c)
	if c.MergedInto != "" {
		var into Case
		if err := s.tab.reports.Get(ctx, q, c.MergedInto, &into); err != nil {
			return nil, err
		}
		cases = append(cases, into)
	}
	out := map[string]bool{}
	for _, d := range cases {
		ms, err := s.coveredMatches(ctx, q, d)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			out[m.Serial] = true
		}
	}
	return out, nil
}
