package order

import (
	"context"
	"encoding/json"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/domain"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/vetting"
)

// EvidenceSource returns the domain evidence a certificate relied on
// (package domain).
type EvidenceSource interface {
	IssuanceEvidence(ctx context.Context, q store.Querier, serial string) ([]domain.Reliance, []domain.CAAResult, error)
}

// Filter selects certificates (the inventory, docs/api.md).
type Filter struct {
	OrganizationID string
	AccountID      string
	Status         string
	NotAfterBefore time.Time
}

// Certificates lists one page of certificates, newest first, for staff, or
// a subscriber's own.
func (s *Service) Certificates(ctx context.Context, by actor.Actor, f Filter, p store.Page) ([]issuance.Certificate, string, error) {
	switch {
	case by.Kind == actor.Subscriber:
		if f.AccountID != "" && f.AccountID != by.AccountID {
			return nil, "", apperr.Forbidden(apperr.CodeForbidden, "accountId", "this token acts for account %s", by.AccountID)
		}
		f.AccountID = by.AccountID
	case by.IsStaff():
	default:
		return nil, "", apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "not allowed")
	}
	var where store.Where
	if f.OrganizationID != "" {
		where.Add("organization_id = ?", f.OrganizationID)
	}
	if f.AccountID != "" {
		where.Add("account_id = ?", f.AccountID)
	}
	if f.Status != "" {
		where.Add("status = ?", f.Status)
	}
	if !f.NotAfterBefore.IsZero() {
		where.Add("not_after < ?", store.FormatTime(f.NotAfterBefore))
	}
	tail, err := store.Keyset{Cols: []string{"created_at", "id"}, Desc: true}.Apply(&where, p)
	if err != nil {
		return nil, "", err
	}
	list, err := audit.Select[issuance.Certificate](ctx, s.rec, s.db, "certificates", "SELECT * FROM certificates"+where.Clause()+tail, where.Args()...)
	if err != nil {
		return nil, "", err
	}
	list, next := store.Finish(list, p, func(c issuance.Certificate) []string { return []string{store.FormatTime(c.CreatedAt), c.ID} })
	return list, next, nil
}

// Evidence is a certificate's chain of evidence: everything the decision
// to issue it rested on.
type Evidence struct {
	Order               Order              `json:"order"`
	Approvals           []Approval         `json:"approvals"`
	OrganizationVersion vetting.Version    `json:"organizationVersion"`
	DomainValidations   []domain.Reliance  `json:"domainValidations"`
	CAA                 []domain.CAAResult `json:"caa"`
	Intent              issuance.Intent    `json:"intent"`
	Snapshot            json.RawMessage    `json:"snapshot"`
}

// Record is GET /certificates/{serial}.
type Record struct {
	issuance.Certificate
	Evidence *Evidence `json:"evidence,omitempty"`
}

// Certificate returns one certificate with its chain of evidence.
func (s *Service) Certificate(ctx context.Context, by actor.Actor, serial string, ev EvidenceSource) (Record, error) {
	c, err := issuance.GetCertificate(ctx, s.rec, s.db, serial)
	if err != nil {
		return Record{}, err
	}
	if by.Kind == actor.Subscriber && by.AccountID != c.AccountID {
		return Record{}, apperr.NotFound(apperr.CodeNotFound, "serial", "no certificate with serial %s", serial)
	}
	if by.Kind != actor.Subscriber && !by.IsStaff() {
		return Record{}, apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "not allowed")
	}
	rec := Record{Certificate: c}
	var o Order
	if err := s.rec.Get(ctx, s.db, "orders", c.OrderID, &o); err != nil {
		return Record{}, err
	}
	_, all, err := s.approvals(ctx, s.db, o)
	if err != nil {
		return Record{}, err
	}
	var used []Approval
	for _, a := range all {
		if a.SnapshotHash == o.SnapshotHash && a.VoidedAt == nil {
			used = append(used, a)
		}
	}
	vs, err := audit.Select[vetting.Version](ctx, s.rec, s.db, "organization_versions",
		`SELECT * FROM organization_versions WHERE organization_id = ? AND version = ?`, c.OrganizationID, c.OrganizationVersion)
	if err != nil {
		return Record{}, err
	}
	in, _, err := issuance.GetIntent(ctx, s.rec, s.db, serial)
	if err != nil {
		return Record{}, err
	}
	e := &Evidence{Order: o, Approvals: used, Intent: in, Snapshot: json.RawMessage(o.Snapshot)}
	if len(vs) == 1 {
		e.OrganizationVersion = vs[0]
	}
	if ev != nil {
		if e.DomainValidations, e.CAA, err = ev.IssuanceEvidence(ctx, s.db, serial); err != nil {
			return Record{}, err
		}
	}
	rec.Evidence = e
	return rec, nil
}
