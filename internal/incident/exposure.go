package incident

import (
	"context"
	"fmt"
	"time"
)

// Exposure is an open incident's claim on one certificate: the
// certificate is in the incident's frozen affected set, is not yet
// revoked, and must be revoked by Due (BR §4.9.1.1). ACME Renewal
// Information (RFC 9773) turns it into a suggested window that ends before
// Due, so that automated subscribers replace the certificate before the
// CA revokes it.
type Exposure struct {
	IncidentID string
	Due        time.Time
}

// Exposure returns the open incident with the earliest revocation
// deadline for the certificate serialHex, and false when no open incident
// holds it unrevoked. It reads through the audited tables, so an edited
// incident or affected-set row fails the read instead of moving a window.
func (s *Service) Exposure(ctx context.Context, serialHex string) (Exposure, bool, error) {
	certs, err := s.tab.certs.Select(ctx, s.db, `WHERE serial = ? AND revoked_at IS NULL ORDER BY incident_id`, serialHex)
	if err != nil {
		return Exposure{}, false, fmt.Errorf("incident: exposure of %s: %w", serialHex, err)
	}
	var out Exposure
	found := false
	for _, c := range certs {
		var inc Incident
		if err := s.tab.incidents.Get(ctx, s.db, c.IncidentID, &inc); err != nil {
			return Exposure{}, false, fmt.Errorf("incident: exposure of %s: %w", serialHex, err)
		}
		if inc.Status != StatusOpen {
			continue
		}
		if !found || inc.RevocationDue.Before(out.Due) {
			out, found = Exposure{IncidentID: inc.ID, Due: inc.RevocationDue}, true
		}
	}
	return out, found, nil
}

// RevocationDue is the earliest revocation deadline an open incident sets
// for the certificate serialHex (see Exposure).
func (s *Service) RevocationDue(ctx context.Context, serialHex string) (time.Time, bool, error) {
	e, ok, err := s.Exposure(ctx, serialHex)
	return e.Due, ok, err
}
