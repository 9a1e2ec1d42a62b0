package incident

import (
	"context"
	"fmt"
	"strings"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/store"
)

// maxNamed is how many serials a refusal names before it only counts.
const maxNamed = 10

// checkClosable refuses to close inc while a certificate of its affected
// set is still valid (not revoked, not expired) and no delay request was
// recorded for it (or for the whole set) on inc or the incident it was
// opened from: BR §4.9.1.1 requires its revocation, and closing would
// hide the obligation, its breach and the delayed-revocation incident
// (docs/design.md §13). It answers 409 naming the certificates.
func (s *Service) checkClosable(ctx context.Context, tx *store.Tx, inc Incident) error {
	certs, err := s.certificates(ctx, tx, inc.ID)
	if err != nil {
		return err
	}
	delayed, all, err := s.delayedSerials(ctx, tx, inc)
	if err != nil || all {
		return err
	}
	now := s.now()
	var valid []string
	for _, c := range certs {
		st, err := s.stateAt(ctx, tx, c, now)
		if err != nil {
			return err
		}
		if st == "valid" && !delayed[c.Serial] {
			valid = append(valid, c.Serial)
		}
	}
	if len(valid) == 0 {
		return nil
	}
	named := strings.Join(valid[:min(len(valid), maxNamed)], ", ")
	if len(valid) > maxNamed {
		named += fmt.Sprintf(" and %d more", len(valid)-maxNamed)
	}
	return apperr.Conflict(apperr.CodeRevocationOutstanding, "kind",
		"incident %s cannot be closed: %d certificate(s) of its affected set are still valid and unexpired, with no delay recorded (%s); "+
			"revoke them (POST /api/v1/incidents/%s/revoke) as BR §4.9.1.1 requires, or record the customer's delay request first",
		inc.ID, len(valid), named, inc.ID)
}

// delayedSerials lists the serials a recorded delay request covers, on inc
// and on the incident it was opened from; all is true when one covers the
// whole set.
func (s *Service) delayedSerials(ctx context.Context, q store.Querier, inc Incident) (map[string]bool, bool, error) {
	ids := []any{inc.ID}
	if inc.ParentID != "" {
		ids = append(ids, inc.ParentID)
	}
	evs, err := s.tab.events.Select(ctx, q, `WHERE kind = ? AND incident_id IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")+`)`,
		append([]any{EventDelayRequested}, ids...)...)
	if err != nil {
		return nil, false, err
	}
	out := map[string]bool{}
	for _, e := range evs {
		if e.Ref == "" {
			return out, true, nil
		}
		out[e.Ref] = true
	}
	return out, false, nil
}
