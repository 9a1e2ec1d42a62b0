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

// runQuery resolves a query over the certificate inventory. A query that
// names a value nothing stored has (an organization with no certificate, a
// validation method version never used) is refused naming that field, and
// one that selects no certificate is refused too (invalid_query): an
// incident's affected set is never empty by mistake (docs/api.md,
// Incidents).
func (s *Service) runQuery(ctx context.Context, by actor.Actor, q Query) ([]issuance.Certificate, error) {
	sc, err := scopeOf(q)
	if err != nil {
		return nil, err
	}
	if q.ValidationMethod != "" {
		if sc.Serials, err = s.reliedOn(ctx, by, q); err != nil {
			return nil, err
		}
	}
	if q.Lint != "" {
		if sc.Serials, err = s.failing(ctx, q.Lint, sc.Serials); err != nil {
			return nil, err
		}
	}
	var certs []issuance.Certificate
	if sc.Serials == nil || len(sc.Serials) > 0 {
		if certs, err = s.deps.Inventory.CertificatesInScope(ctx, s.db, sc); err != nil {
			return nil, err
		}
	}
	if len(certs) == 0 {
		return nil, s.selectsNothing(ctx, q)
	}
	return certs, nil
}

// scopeOf checks a query's own fields and turns them into an inventory
// scope.
func scopeOf(q Query) (issuance.Scope, error) {
	sc := issuance.Scope{OrganizationID: q.OrganizationID, OrganizationVersion: q.OrganizationVersion, IssuerID: q.IssuerID}
	if q.OrganizationVersion < 0 {
		return sc, apperr.Invalid(apperr.CodeInvalidQuery, "query.organizationVersion", "organizationVersion must be positive")
	}
	if q.ValidationMethodVersion != "" && q.ValidationMethod == "" {
		return sc, apperr.Invalid(apperr.CodeInvalidQuery, "query.validationMethodVersion", "validationMethodVersion needs validationMethod")
	}
	if q.IssuedAfter != nil {
		sc.IssuedAfter = q.IssuedAfter.UTC()
	}
	if q.IssuedBefore != nil {
		sc.IssuedBefore = q.IssuedBefore.UTC()
		if sc.IssuedBefore.IsZero() {
			// A Scope reads the zero time as no bound; a given
			// issuedBefore of 0001-01-01T00:00:00Z bounds the set to
			// the certificates issued before it, which are none.
			sc.IssuedBefore = sc.IssuedBefore.Add(time.Nanosecond)
		}
	}
	if !sc.IssuedAfter.IsZero() && !sc.IssuedBefore.IsZero() && !sc.IssuedAfter.Before(sc.IssuedBefore) {
		return sc, apperr.Invalid(apperr.CodeInvalidQuery, "query.issuedBefore", "issuedBefore must be after issuedAfter")
	}
	if sc.OrganizationID == "" && sc.OrganizationVersion == 0 && sc.IssuerID == "" && sc.IssuedAfter.IsZero() && sc.IssuedBefore.IsZero() &&
		q.ValidationMethod == "" && q.Lint == "" {
		return sc, apperr.Invalid(apperr.CodeInvalidQuery, "query", "a query must set at least one field")
	}
	return sc, nil
}

// selectsNothing is the refusal of a query that selected no certificate:
// naming organizationId when no certificate of that organization is
// stored at all (an unknown organization), else the query.
func (s *Service) selectsNothing(ctx context.Context, q Query) error {
	if q.OrganizationID != "" {
		some, err := s.deps.Inventory.CertificatesInScope(ctx, s.db, issuance.Scope{OrganizationID: q.OrganizationID})
		if err != nil {
			return err
		}
		if len(some) == 0 {
			return apperr.Invalid(apperr.CodeInvalidQuery, "query.organizationId",
				"no certificate of organization %q is stored: the organization is unknown or was never issued a certificate", q.OrganizationID)
		}
	}
	return apperr.Invalid(apperr.CodeInvalidQuery, "query", "the query selects no certificate; an incident needs at least one")
}

// reliedOn lists the serials that relied on the query's validation method
// (and version). A method or version that no stored domain validation
// has is refused naming its field.
func (s *Service) reliedOn(ctx context.Context, by actor.Actor, q Query) ([]string, error) {
	if s.deps.Validations == nil {
		return nil, apperr.Invalid(apperr.CodeInvalidQuery, "query.validationMethod", "domain validations are not available")
	}
	res, err := s.deps.Validations.Search(ctx, by, validation.SearchInput{Method: q.ValidationMethod, Version: q.ValidationMethodVersion})
	if e, ok := apperr.As(err); ok && e.Kind == apperr.KindInvalid {
		field := map[string]string{"method": "query.validationMethod", "version": "query.validationMethodVersion"}[e.Field]
		if field == "" {
			field = "query"
		}
		return nil, apperr.Invalid(apperr.CodeInvalidQuery, field, "%s", e.Message)
	}
	if err != nil {
		return nil, err
	}
	if q.ValidationMethodVersion != "" && len(res.Validations) == 0 {
		return nil, apperr.Invalid(apperr.CodeInvalidQuery, "query.validationMethodVersion",
			"no stored %s validation has version %q", q.ValidationMethod, q.ValidationMethodVersion)
	}
	if res.Certificates == nil {
		res.Certificates = []string{}
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
	out := []string{} // none in both selects nothing, not everything
	for _, sn := range serials {
		if in[sn] {
			out = append(out, sn)
		}
	}
	return out, nil
}
