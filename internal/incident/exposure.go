package incident

import (
	"context"
	"fmt"
	"time"
)

// RevocationDue returns the earliest revocation deadline (BR §4.9.1.1)
// that an open incident sets for the certificate serialHex, and false when
// no open incident holds it unrevoked. ACME Renewal Information (RFC 9773)
// turns it into a suggested window that ends before the deadline, so that
// automated subscribers replace the certificate before the CA revokes it.
// It reads through the audited tables, so an edited incident or
// affected-set row fails the read instead of moving a window.
func (s *Service) RevocationDue(ctx context.Context, serialHex string) (time.Time, bool, error) {
	certs, err := s.tab.certs.Select(ctx, s.db, `WHERE serial = ? AND revoked_at IS NULL ORDER BY incident_id`, serialHex)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("incident: revocation due for %s: %w", serialHex, err)
	}
	var due time.Time
	found := false
	for _, c := range certs {
		var inc Incident
		if err := s.tab.incidents.Get(ctx, s.db, c.IncidentID, &inc); err != nil {
			return time.Time{}, false, fmt.Errorf("incident: revocation due for %s: %w", serialHex, err)
		}
		if inc.Status == StatusOpen && (!found || inc.RevocationDue.Before(due)) {
			due, found = inc.RevocationDue, true
		}
	}
	return due, found, nil
}
