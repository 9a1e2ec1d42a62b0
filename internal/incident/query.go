package incident

import (
	"context"
	"encoding/json"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/validation"
)

// Query is a saved affected-set query: stored with the incident, in this
// JSON form, so that anyone can run it again over the inventory. Every
// field set must match; at least one must be set.
type Query struct {
	// Lint selects the certificates a scan found failing the lint.
	Lint                string `json:"lint,omitempty"`
	OrganizationID      string `json:"organizationId,omitempty"`
	OrganizationVersion int    `json:"organizationVersion,omitempty"`
	IssuerID            string `json:"issuerId,omitempty"`
	// IssuedAfter and IssuedBefore bound notBefore (inclusive, exclusive).
	IssuedAfter  *time.Time `json:"issuedAfter,omitempty"`
	IssuedBefore *time.Time `json:"issuedBefore,omitempty"`
	// ValidationMethod (and ValidationMethodVersion) select certificates
	// that relied on a domain validation of that method.
	ValidationMethod        string `json:"validationMethod,omitempty"`
	ValidationMethodVersion string `json:"validationMethodVersion,omitempty"`
}

// runQuery resolves a query over the certificate inventory.
func (s *Service) runQuery(ctx context.Context, by actor.Actor, q Query) ([]issuance.Certificate, error) {
	if q.OrganizationVersion < 0 {
		return nil, apperr.Invalid(apperr.CodeInvalidQuery, "query.organizationVersion", "organizationVersion must be positive")
	}
	sc := issuance.Scope{OrganizationID: q.OrganizationID, OrganizationVersion: q.OrganizationVersion, IssuerID: q.IssuerID}
	if q.IssuedAfter != nil {
		sc.IssuedAfter = q.IssuedAfter.UTC()
	}
	if q.IssuedBefore != nil {
		sc.IssuedBefore = q.IssuedBefore.UTC()
	}
	if !sc.IssuedAfter.IsZero() && !sc.IssuedBefore.IsZero() && !sc.IssuedAfter.Before(sc.IssuedBefore) {
		return nil, apperr.Invalid(apperr.CodeInvalidQuery, "query.issuedBefore", "issuedBefore must be after issuedAfter")
	}
	if q.ValidationMethod != "" {
		serials, err := s.reliedOn(ctx, by, q)
		if err != nil || len(serials) == 0 {
			return nil, err
		}
		sc.Serials = serials
	}
	if q.Lint != "" {
		serials, err := s.failing(ctx, q.Lint, sc.Serials)
		if err != nil || len(serials) == 0 {
			return nil, err
		}
		sc.Serials = serials
	}
	if sc.OrganizationID == "" && sc.OrganizationVersion == 0 && sc.IssuerID == "" && sc.IssuedAfter.IsZero() && sc.IssuedBefore.IsZero() && sc.Serials == nil {
		return nil, apperr.Invalid(apperr.CodeInvalidQuery, "query", "a query must set at least one field")
	}
	return s.deps.Inventory.CertificatesInScope(ctx, s.db, sc)
}

// reliedOn lists the serials that relied on the query's validation method.
func (s *Service) reliedOn(ctx context.Context, by actor.Actor, q Query) ([]string, error) {
	if s.deps.Validations == nil {
		return nil, apperr.Invalid(apperr.CodeInvalidQuery, "query.validationMethod", "domain validations are not available")
	}
	res, err := s.deps.Validations.Search(ctx, by, validation.SearchInput{Method: q.ValidationMethod, Version: q.ValidationMethodVersion})
	if err != nil {
		if e, ok := apperr.As(err); ok && e.Kind == apperr.KindInvalid {
			e.Field = "query." + map[string]string{"method": "validationMethod", "version": "validationMethodVersion"}[e.Field]
		}
		return nil, err
	}
	return res.Certificates, nil
}

// parseQuery reads a stored query; nil for an incident opened from serials.
func parseQuery(s string) *Query {
	if s == "" {
		return nil
	}
	var q Query
	if json.Unmarshal([]byte(s), &q) != nil {
		return nil
	}
	return &q
}

// failing lists the serials scans found failing lintName, narrowed to
// within when it is not nil.
func (s *Service) failing(ctx context.Context, lintName string, within []string) ([]string, error) {
	if s.deps.Findings == nil {
		return nil, apperr.Invalid(apperr.CodeInvalidQuery, "query.lint", "scan findings are not available")
	}
	serials, err := s.deps.Findings.SerialsFailing(ctx, lintName)
	if err != nil {
		return nil, err
	}
	if len(serials) == 0 {
		return nil, apperr.Invalid(apperr.CodeInvalidQuery, "query.lint", "no scan found a certificate failing %q; run vetca scan, or list the serials", lintName)
	}
	if within == nil {
		return serials, nil
	}
	in := make(map[string]bool, len(within))
	for _, sn := range within {
		in[sn] = true
	}
	var out []string
	for _, sn := range serials {
		if in[sn] {
			out = append(out, sn)
		}
	}
	return out, nil
}
