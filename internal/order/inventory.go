package order

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/validation"
	"github.com/vetca/vetca/internal/vetting"
)

// EvidenceSource returns the domain evidence a certificate relied on
// (package validation).
type EvidenceSource interface {
	IssuanceEvidence(ctx context.Context, q store.Querier, serial string) ([]validation.Reliance, []validation.CAAResult, error)
}

// Filter selects certificates (the inventory, docs/api.md).
type Filter issuance.CertificateFilter

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
	return issuance.ListCertificates(ctx, s.rec, s.db, issuance.CertificateFilter(f), p)
}

// Evidence is a certificate's chain of evidence: everything the decision
// to issue it rested on.
type Evidence struct {
	Order               Order                  `json:"order"`
	Approvals           []Approval             `json:"approvals"`
	OrganizationVersion vetting.Version        `json:"organizationVersion"`
	DomainValidations   []validation.Reliance  `json:"domainValidations"`
	CAA                 []validation.CAAResult `json:"caa"`
	Intent              issuance.Intent        `json:"intent"`
	Snapshot            json.RawMessage        `json:"snapshot"`
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
	if err := s.tab.orders.Get(ctx, s.db, c.OrderID, &o); err != nil {
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
	v, _, err := s.vetting.VersionOf(ctx, s.db, c.OrganizationID, c.OrganizationVersion)
	if err != nil {
		return Record{}, err
	}
	in, _, err := issuance.GetIntent(ctx, s.rec, s.db, serial)
	if err != nil {
		return Record{}, err
	}
	e := &Evidence{Order: o, Approvals: used, OrganizationVersion: v, Intent: in, Snapshot: json.RawMessage(o.Snapshot)}
	if ev != nil {
		if e.DomainValidations, e.CAA, err = ev.IssuanceEvidence(ctx, s.db, serial); err != nil {
			return Record{}, err
		}
	}
	rec.Evidence = e
	return rec, nil
}

// KeyOrder is an order that asked for a key: what the problem-report desk
// needs to find issuances in flight with a reported key.
type KeyOrder struct {
	ID        string
	AccountID string
}

// OrdersWithKey lists every order, of every account, whose public key has
// the SPKI SHA-256 spkiHex, read integrity-checked. Issuance intents have
// no key of their own; their orders do.
func (s *Service) OrdersWithKey(ctx context.Context, q store.Querier, spkiHex string) ([]KeyOrder, error) {
	os, err := s.withKey(ctx, q, spkiHex)
	if err != nil {
		return nil, err
	}
	out := make([]KeyOrder, len(os))
	for i, o := range os {
		out[i] = KeyOrder{ID: o.ID, AccountID: o.AccountID}
	}
	return out, nil
}

// HoldsCSR reports whether an order of any account, with the public key
// whose SPKI SHA-256 is spkiHex, was placed with exactly the CSR der. Its
// rows are read integrity-checked.
func (s *Service) HoldsCSR(ctx context.Context, q store.Querier, spkiHex string, der []byte) (bool, error) {
	os, err := s.withKey(ctx, q, spkiHex)
	if err != nil {
		return false, err
	}
	for _, o := range os {
		if blk, _ := pem.Decode([]byte(o.CSRPEM)); blk != nil && bytes.Equal(blk.Bytes, der) {
			return true, nil
		}
	}
	return false, nil
}

// withKey reads every order whose public key has the SPKI SHA-256
// spkiHex, integrity-checked, oldest first.
func (s *Service) withKey(ctx context.Context, q store.Querier, spkiHex string) ([]Order, error) {
	return s.tab.orders.Select(ctx, q, `WHERE spki_sha256 = ? ORDER BY created_at, id`, spkiHex)
}

// AccountOfOrder returns the account an order was placed for.
func (s *Service) AccountOfOrder(ctx context.Context, q store.Querier, orderID string) (string, error) {
	var o Order
	if err := s.tab.orders.Get(ctx, q, orderID, &o); err != nil {
		return "", err
	}
	return o.AccountID, nil
}

// CheckIssuedOrder checks the order end of a certificate's audit chain:
// the order (integrity-checked) was issued with this serial, and its
// snapshot carries the required independent approvals, or, placed under a
// template, that template approved it; both as of the issuance
// (docs/design.md §5). It returns a description of the first break, or
// nil.
func (s *Service) CheckIssuedOrder(ctx context.Context, q store.Querier, orderID, serial string) (string, error) {
	o, ok, err := s.tab.orders.First(ctx, q, `WHERE id = ?`, orderID)
	if err != nil {
		return "", err
	}
	if !ok {
		return fmt.Sprintf("order %s is not recorded", orderID), nil
	}
	if o.Status != StatusIssued || o.Serial != serial {
		return fmt.Sprintf("order %s is %s with serial %q, not issued with this serial", o.ID, o.Status, o.Serial), nil
	}
	// As of the issuance (the order's last update, when it became
	// issued): an act for the account since breaks no dual control.
	if err := s.requireApprovalsAsOf(ctx, q, o, o.UpdatedAt); err != nil {
		if apperr.IsKind(err, apperr.KindConflict) {
			return err.Error(), nil
		}
		return "", err
	}
	return "", nil
}
