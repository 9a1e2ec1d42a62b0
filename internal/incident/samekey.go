package incident

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/store"
)

// EventSameKeyJoined is the timeline entry of certificates that joined
// the affected set because they share a compromised key with it.
const EventSameKeyJoined EventKind = "same_key_joined"

// sameKeyCandidates lists, under a keyCompromise trigger, every unexpired
// certificate not in inc's affected set whose key (SPKI SHA-256) is the key
// of an affected certificate, of any account: BR §4.9.1.1(3) is about the
// key, so they are affected too (docs/design.md §15). Nil for any other
// trigger.
func (s *Service) sameKeyCandidates(ctx context.Context, inc Incident, t br.Trigger) ([]issuance.Certificate, error) {
	if t.Reason != br.KeyCompromise {
		return nil, nil
	}
	certs, err := s.certificates(ctx, s.db, inc.ID)
	if err != nil {
		return nil, err
	}
	inSet := make(map[string]bool, len(certs))
	keys := map[string]bool{}
	for _, c := range certs {
		inSet[c.Serial] = true
		cert, ok, err := s.deps.Inventory.CertificateBySerial(ctx, s.db, c.Serial)
		if err != nil {
			return nil, err
		}
		if ok && cert.SPKISHA256 != "" {
			keys[cert.SPKISHA256] = true
		}
	}
	now := s.now()
	var out []issuance.Certificate
	for _, spki := range slices.Sorted(maps.Keys(keys)) {
		others, err := s.deps.Inventory.CertificatesWithKey(ctx, s.db, spki)
		if err != nil {
			return nil, err
		}
		for _, o := range others {
			if !inSet[o.Serial] && o.NotAfter.After(now) {
				inSet[o.Serial] = true
				out = append(out, o)
			}
		}
	}
	return out, nil
}

// join adds certificates to incident id's frozen affected set, each with
// its state now, and counts them in the incident's affected; a certificate
// in revokedNow was revoked by the run that joins it, so it joins as valid
// (its state before) with that revocation. Certificates in the set
// already are left; the set is changed under the incident's row lock and
// the join is recorded on the timeline. It returns how many joined.
func (s *Service) join(ctx context.Context, by actor.Actor, id string, certs []issuance.Certificate, revokedNow map[string]revocation.Revocation) (int, error) {
	if len(certs) == 0 {
		return 0, nil
	}
	n := 0
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		n = 0 // a retried transaction starts again
		var inc Incident
		if err := s.tab.incidents.Lock(ctx, tx, id, &inc); err != nil {
			return err
		}
		var serials []string
		for _, c := range certs {
			row, ok, err := s.joinRow(ctx, tx, id, c.Serial, revokedNow)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if err := s.tab.certs.Insert(ctx, tx, by, actCertificateFrozen, row); err != nil {
				return err
			}
			serials = append(serials, row.Serial)
		}
		if n = len(serials); n == 0 {
			return nil
		}
		inc.Affected += n
		if err := s.tab.incidents.Update(ctx, tx, by, actIncidentUpdated, inc); err != nil {
			return err
		}
		return s.event(ctx, tx, by, Event{IncidentID: id, Kind: EventSameKeyJoined,
			Detail: fmt.Sprintf("%d certificate(s) with the key of an affected certificate joined the affected set (BR §4.9.1.1(3)): %s", n, joinSerials(serials))})
	})
	return n, err
}

// joinRow is the frozen row of the certificate serial joining incident
// id's set; ok is false when it is in the set already or not stored.
func (s *Service) joinRow(ctx context.Context, tx *store.Tx, id, serial string, revokedNow map[string]revocation.Revocation) (Certificate, bool, error) {
	if _, in, err := s.tab.certs.First(ctx, tx, `WHERE incident_id = ? AND serial = ?`, id, serial); err != nil || in {
		return Certificate{}, false, err
	}
	cert, ok, err := s.deps.Inventory.CertificateBySerial(ctx, tx, serial)
	if err != nil || !ok {
		return Certificate{}, false, err
	}
	row, err := s.freeze(ctx, tx, id, cert)
	if err != nil {
		return Certificate{}, false, err
	}
	if r, ok := revokedNow[serial]; ok {
		at := r.RecordedAt
		row.StateAtFreeze, row.RevocationID, row.RevokedAt = "valid", r.ID, &at
	}
	return row, true, nil
}

// joinSerials names serials for the timeline, at most ten.
func joinSerials(serials []string) string {
	const most = 10
	if len(serials) <= most {
		return strings.Join(serials, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(serials[:most], ", "), len(serials)-most)
}
