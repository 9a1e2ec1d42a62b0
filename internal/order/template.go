package order

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/template"
)

// TemplateApprovals confirms that a standing template still approves an
// order placed under it (Confirm, at placement and finalize), or approved
// an issued one as of its issuance (ConfirmIssued, for `vetca scan`)
// (package template).
type TemplateApprovals interface {
	Confirm(ctx context.Context, q store.Querier, id, templateHash, accountID, orgID string, names []string, keyType string, days int) error
	ConfirmIssued(ctx context.Context, q store.Querier, id, templateHash string, in template.Issued) error
	// Withdrawn refuses (409) when template id was disabled, or changed
	// in what it allows since it had templateHash bound to the given
	// organization version (a rebinding alone is not a withdrawal).
	Withdrawn(ctx context.Context, q store.Querier, id, templateHash, orgID string, orgVersion int, orgRowHash string) error
}

// TemplateBinding records that an order was placed on a standing
// template's approval (table order_templates; its id is the order's).
type TemplateBinding struct {
	ID           string    `db:"id" json:"-"`
	TemplateID   string    `db:"template_id" json:"templateId"`
	TemplateHash string    `db:"template_hash" json:"templateHash"`
	CreatedAt    time.Time `db:"created_at" json:"-"`
}

// PlaceUnderTemplate places an order that a standing template approves
// instead of two verifiers approving the order itself: the ACME server's
// finalize (docs/design.md, "ACME"). It is Create's checks and order row,
// plus, in the same transaction, the binding to the template and its hash,
// the template confirmed against the order (Confirm), and the order
// approved. Finalize confirms the template again under the order's lock
// before it records an intent, exactly where a per-order approval is
// counted again, so a template voided in between stops the issuance.
func (s *Service) PlaceUnderTemplate(ctx context.Context, by actor.Actor, in CreateInput, templateID, templateHash string) (Order, error) {
	if s.templates == nil {
		return Order{}, fmt.Errorf("order: no template service configured")
	}
	req, err := s.parseRequest(ctx, in)
	if err != nil {
		return Order{}, err
	}
	var ord Order
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		o, err := s.placeInTx(ctx, tx, by, in.AccountID, in, req)
		if err != nil {
			return err
		}
		b := TemplateBinding{ID: o.ID, TemplateID: templateID, TemplateHash: templateHash, CreatedAt: req.now}
		if err := s.tab.orderTemplates.Insert(ctx, tx, by, actOrderTemplateBound, b); err != nil {
			return err
		}
		if err := s.confirmTemplate(ctx, tx, o, b); err != nil {
			return err
		}
		o.Status, o.UpdatedAt = StatusApproved, req.now
		if err := s.tab.orders.Update(ctx, tx, by, actOrderStatusApproved, o); err != nil {
			return err
		}
		ord = o
		return nil
	})
	if err != nil {
		return Order{}, err
	}
	return ord, nil
}

// binding returns the template an order was placed under, if any
// (integrity-checked: a binding written outside vetca stops issuance).
func (s *Service) binding(ctx context.Context, q store.Querier, orderID string) (TemplateBinding, bool, error) {
	return s.tab.orderTemplates.First(ctx, q, `WHERE id = ?`, orderID)
}

// confirmTemplate asks the template service whether b's template still
// approves o exactly as its snapshot will be signed: its names, its key's
// type and its validity.
func (s *Service) confirmTemplate(ctx context.Context, q store.Querier, o Order, b TemplateBinding) error {
	if s.templates == nil {
		return fmt.Errorf("order %s was placed under template %s, but no template service is configured", o.ID, b.TemplateID)
	}
	_, keyType, err := snapshotKeyType(o)
	if err != nil {
		return err
	}
	return s.templates.Confirm(ctx, q, b.TemplateID, b.TemplateHash, o.AccountID, o.OrganizationID, o.DNSNames, keyType, o.ValidityDays)
}

// confirmTemplateIssued asks the template service whether b's template
// approved the issued order o as of its issuance, at: the hash b recorded,
// the organization version o's snapshot pinned, its names, its key's type
// and its validity. What was done to the template since does not count
// (docs/design.md §5).
func (s *Service) confirmTemplateIssued(ctx context.Context, q store.Querier, o Order, b TemplateBinding, at time.Time) error {
	if s.templates == nil {
		return fmt.Errorf("order %s was placed under template %s, but no template service is configured", o.ID, b.TemplateID)
	}
	snap, keyType, err := snapshotKeyType(o)
	if err != nil {
		return err
	}
	return s.templates.ConfirmIssued(ctx, q, b.TemplateID, b.TemplateHash, template.Issued{AccountID: o.AccountID, OrganizationID: o.OrganizationID,
		OrganizationVersion: snap.Organization.Version, OrganizationRowHash: snap.Organization.RowHash,
		DNSNames: o.DNSNames, KeyType: keyType, ValidityDays: o.ValidityDays, At: at})
}

// snapshotKeyType decodes o's snapshot and names the type of its key.
func snapshotKeyType(o Order) (Snapshot, string, error) {
	var snap Snapshot
	if err := json.Unmarshal([]byte(o.Snapshot), &snap); err != nil {
		return Snapshot{}, "", fmt.Errorf("order %s snapshot: %w", o.ID, err)
	}
	spki, err := base64.StdEncoding.DecodeString(snap.PublicKey.SPKI)
	if err != nil {
		return Snapshot{}, "", fmt.Errorf("order %s key: %w", o.ID, err)
	}
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return Snapshot{}, "", fmt.Errorf("order %s key: %w", o.ID, err)
	}
	keyType, err := template.KeyTypeOf(pub)
	if err != nil {
		return Snapshot{}, "", err
	}
	return snap, keyType, nil
}
