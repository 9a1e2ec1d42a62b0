package incident

import (
	"context"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/serial"
	"github.com/vetca/vetca/internal/store"
)

// CertificateView is one affected certificate with its state now.
type CertificateView struct {
	Certificate
	State string `json:"state"` // valid, revoked or expired, now
}

// View is GET /api/v1/incidents/{id}: the incident, its saved query, its
// affected certificates with each one's state, and its timeline.
type View struct {
	Incident
	Query        *Query            `json:"query,omitempty"`
	Certificates []CertificateView `json:"certificates"`
	Events       []Event           `json:"events"`
	ActionItems  []ActionItem      `json:"actionItems"`
	Analysis     Analysis          `json:"analysis"`
}

// Get returns an incident with its affected certificates and timeline.
func (s *Service) Get(ctx context.Context, by actor.Actor, id string) (View, error) {
	if err := require(by, readRoles...); err != nil {
		return View{}, err
	}
	var inc Incident
	if err := s.tab.incidents.Get(ctx, s.db, id, &inc); err != nil {
		return View{}, err
	}
	v := View{Incident: inc, Query: parseQuery(inc.Query), Certificates: []CertificateView{}}
	certs, err := s.certificates(ctx, s.db, id)
	if err != nil {
		return View{}, err
	}
	now := s.now()
	for _, c := range certs {
		st, err := s.stateAt(ctx, s.db, c, now)
		if err != nil {
			return View{}, err
		}
		v.Certificates = append(v.Certificates, CertificateView{Certificate: c, State: st})
	}
	if v.Events, err = s.tab.events.Select(ctx, s.db, `WHERE incident_id = ? ORDER BY at, `+s.tab.events.InsertOrder()+`, id`, id); err != nil {
		return View{}, err
	}
	if v.ActionItems, err = s.actionItems(ctx, s.db, id); err != nil {
		return View{}, err
	}
	if v.ActionItems == nil {
		v.ActionItems = []ActionItem{}
	}
	v.Analysis, err = s.analysis(ctx, s.db, id)
	return v, err
}

// stateAt is a certificate's state at at: revoked (by any path), expired
// or valid.
func (s *Service) stateAt(ctx context.Context, q store.Querier, c Certificate, at time.Time) (string, error) {
	if c.RevokedAt != nil && !c.RevokedAt.After(at) {
		return "revoked", nil
	}
	r, ok, err := s.deps.Revoker.Get(ctx, q, c.Serial)
	if err != nil {
		return "", err
	}
	switch {
	case ok && !r.RecordedAt.After(at):
		return "revoked", nil
	case !c.NotAfter.After(at):
		return "expired", nil
	}
	return "valid", nil
}

func (s *Service) certificates(ctx context.Context, q store.Querier, id string) ([]Certificate, error) {
	return s.tab.certs.Select(ctx, q, `WHERE incident_id = ? ORDER BY serial`, id)
}

// List returns one page of incidents, newest first.
func (s *Service) List(ctx context.Context, by actor.Actor, p store.Page) ([]Incident, string, error) {
	if err := require(by, readRoles...); err != nil {
		return nil, "", err
	}
	var where store.Where
	list, next, err := s.tab.incidents.NewestFirst(ctx, s.db, where, p, func(i Incident) (time.Time, string) { return i.CreatedAt, i.ID })
	if err != nil {
		return nil, "", err
	}
	return list, next, nil
}

// DelayInput is the body of POST /api/v1/incidents/{id}/delays: a
// customer's request to delay revocation, with its justification.
type DelayInput struct {
	Serial        string `json:"serial"` // optional: one certificate; empty for the whole set
	RequestedBy   string `json:"requestedBy"`
	Justification string `json:"justification"`
}

// MaxJustification bounds a delay's justification, in bytes.
const MaxJustification = 10000

// RecordDelay records a customer's request to delay revocation. It is
// evidence for the report and moves no deadline: revocationDue stays what
// awareAt and the trigger made it (docs/design.md §13).
func (s *Service) RecordDelay(ctx context.Context, by actor.Actor, id string, in DelayInput) (Event, error) {
	if err := require(by, staffRoles...); err != nil {
		return Event{}, err
	}
	if in.Justification == "" {
		return Event{}, apperr.Invalid(apperr.CodeMissingField, "justification", "justification is required")
	}
	if len(in.Justification) > MaxJustification || len(in.RequestedBy) > 500 {
		return Event{}, apperr.Invalid(apperr.CodeTooLong, "justification", "justification is longer than %d bytes", MaxJustification)
	}
	if in.Serial != "" {
		// Spelled as the incident's serials may be (upper case, colons,
		// leading zeros), it names the same certificate.
		sn, err := serial.Normalize(in.Serial)
		if err != nil {
			return Event{}, apperr.Invalid(apperr.CodeUnknownSerial, "serial", "serial %q is not a certificate serial: %v", in.Serial, err)
		}
		in.Serial = sn
	}
	e := Event{IncidentID: id, Kind: EventDelayRequested, Ref: in.Serial, Detail: in.RequestedBy + ": " + in.Justification}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var inc Incident
		if err := s.tab.incidents.Lock(ctx, tx, id, &inc); err != nil {
			return err
		}
		if in.Serial != "" {
			if _, ok, err := s.tab.certs.First(ctx, tx, `WHERE incident_id = ? AND serial = ?`, id, in.Serial); err != nil || !ok {
				if err == nil {
					err = apperr.Invalid(apperr.CodeUnknownSerial, "serial", "serial %s is not in incident %s", in.Serial, id)
				}
				return err
			}
		}
		e.ID, e.At = "", s.now()
		return s.event(ctx, tx, by, e)
	})
	e.Actor = by.String()
	return e, err
}
