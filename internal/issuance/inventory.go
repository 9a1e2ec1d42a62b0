package issuance

import (
	"context"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/store"
)

// Inventory finds certificates and issuance intents for the problem-report
// desk (package cpr): by serial, by certificate hash and by key, across all
// accounts. Every row is read integrity-checked, because what it finds is
// revoked.
type Inventory struct {
	tab tables
}

// NewInventory returns the inventory over rec's audited tables.
func NewInventory(rec *audit.Recorder) Inventory { return Inventory{tab: newTables(rec)} }

// CertificateBySerial returns the stored certificate with serialHex, if any.
func (i Inventory) CertificateBySerial(ctx context.Context, q store.Querier, serialHex string) (Certificate, bool, error) {
	return i.tab.certificates.First(ctx, q, `WHERE serial = ?`, serialHex)
}

// CertificateByHash returns the stored certificate whose DER has the
// SHA-256 certHex, if any.
func (i Inventory) CertificateByHash(ctx context.Context, q store.Querier, certHex string) (Certificate, bool, error) {
	return i.tab.certificates.First(ctx, q, `WHERE cert_sha256 = ?`, certHex)
}

// CertificatesWithKey returns every stored certificate whose public key
// has the SPKI SHA-256 spkiHex (keypolicy.SPKIHashHex), oldest first.
func (i Inventory) CertificatesWithKey(ctx context.Context, q store.Querier, spkiHex string) ([]Certificate, error) {
	return i.tab.certificates.Select(ctx, q, `WHERE spki_sha256 = ? ORDER BY created_at, id`, spkiHex)
}

// IntentBySerial returns the issuance intent of serialHex, if any.
func (i Inventory) IntentBySerial(ctx context.Context, q store.Querier, serialHex string) (Intent, bool, error) {
	return i.tab.issuanceIntents.First(ctx, q, `WHERE serial = ?`, serialHex)
}

// IntentsOfOrders returns the issuance intents of the given orders (an
// intent has no key of its own: its order has), oldest first.
func (i Inventory) IntentsOfOrders(ctx context.Context, q store.Querier, orderIDs []string) ([]Intent, error) {
	if len(orderIDs) == 0 {
		return nil, nil
	}
	args := make([]any, len(orderIDs))
	for n, id := range orderIDs {
		args[n] = id
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(orderIDs)), ", ")
	return i.tab.issuanceIntents.Select(ctx, q, `WHERE order_id IN (`+marks+`) ORDER BY created_at, id`, args...)
}

// Scope selects certificates for an incident's affected set (package
// incident): every field set must match. IssuedAfter and IssuedBefore
// bound notBefore (inclusive, exclusive).
type Scope struct {
	OrganizationID      string
	OrganizationVersion int
	IssuerID            string
	IssuedAfter         time.Time
	IssuedBefore        time.Time
	Serials             []string // when set, only these serials
}

// CertificatesInScope returns every stored certificate in sc, oldest
// first, integrity-checked.
func (i Inventory) CertificatesInScope(ctx context.Context, q store.Querier, sc Scope) ([]Certificate, error) {
	var where store.Where
	if sc.OrganizationID != "" {
		where.Add("organization_id = ?", sc.OrganizationID)
	}
	if sc.OrganizationVersion > 0 {
		where.Add("organization_version = ?", sc.OrganizationVersion)
	}
	if sc.IssuerID != "" {
		where.Add("issuer_id = ?", sc.IssuerID)
	}
	if !sc.IssuedAfter.IsZero() {
		where.Add("not_before >= ?", store.FormatTime(sc.IssuedAfter))
	}
	if !sc.IssuedBefore.IsZero() {
		where.Add("not_before < ?", store.FormatTime(sc.IssuedBefore))
	}
	if len(sc.Serials) > 0 {
		args := make([]any, len(sc.Serials))
		for n, s := range sc.Serials {
			args[n] = s
		}
		where.AddN("serial IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")+")", args...)
	}
	return i.tab.certificates.Select(ctx, q, where.Clause()+` ORDER BY created_at, id`, where.Args()...)
}
