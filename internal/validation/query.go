package validation

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/validation/dcv"
)

// SearchInput selects validations by method, optionally by vetca method
// version and by a time window [since, until) of the valid attempts
// (GET /api/v1/domain-validations?method=&version=&since=&until=). Times
// are RFC 3339.
type SearchInput struct {
	Method  string
	Version string
	Since   string
	Until   string
}

// SearchResult lists the validations that a valid attempt of the method
// (version, window) validated, each with the serials that relied on such an
// attempt, and every such serial.
type SearchResult struct {
	Method       string             `json:"method"`
	Version      string             `json:"version,omitempty"`
	Since        *time.Time         `json:"since,omitempty"`
	Until        *time.Time         `json:"until,omitempty"`
	Validations  []ReliedValidation `json:"validations"`
	Certificates []string           `json:"certificates"`
}

// ReliedValidation is a validation found by Search with the serials that
// relied on one of its matching attempts.
type ReliedValidation struct {
	ValidationView
	Certificates []string `json:"certificates"`
}

func parseWindowTime(field, v string) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, apperr.Invalid(apperr.CodeInvalidTime, field, "%s %q is not an RFC 3339 time such as 2026-11-23T00:00:00Z", field, v)
	}
	// Within the years stored times hold: the window is compared with
	// them as text, and echoed in the answer, which encoding/json cannot
	// write for other years.
	t = store.ClampTime(t)
	return &t, nil
}

// Search answers "which domain validations, and which certificates, relied
// on this method (version) (in this window)?" for staff (compliance,
// verifier, auditor, admin) and local operators. A validation is listed when
// one of its valid attempts matches; a serial when the attempt it relied on
// matches. Reads are integrity-checked: a row edited outside vetca makes
// the query fail, naming it, rather than silently drop out of an incident's
// scope.
func (s *Service) Search(ctx context.Context, by actor.Actor, in SearchInput) (SearchResult, error) {
	if by.Kind != actor.CLI {
		if err := by.Require(actor.Compliance, actor.Verifier, actor.Auditor, actor.Admin); err != nil {
			return SearchResult{}, err
		}
	}
	if in.Method == "" {
		return SearchResult{}, apperr.Invalid(apperr.CodeMissingField, "method", "method is required (%s or %s)", dcv.DNSChange.Name, dcv.WebsiteChange.Name)
	}
	m, err := dcv.MethodByName(in.Method)
	if err != nil {
		return SearchResult{}, err
	}
	if len(in.Version) > 32 || strings.TrimSpace(in.Version) != in.Version {
		return SearchResult{}, apperr.Invalid(apperr.CodeInvalidVersion, "version", "version %q is not a method version such as %q", in.Version, m.Version)
	}
	since, err := parseWindowTime("since", in.Since)
	if err != nil {
		return SearchResult{}, err
	}
	until, err := parseWindowTime("until", in.Until)
	if err != nil {
		return SearchResult{}, err
	}
	if since != nil && until != nil && !until.After(*since) {
		return SearchResult{}, apperr.Invalid(apperr.CodeInvalidWindow, "until", "until must be after since")
	}

	res := SearchResult{Method: m.Name, Version: in.Version, Since: since, Until: until,
		Validations: []ReliedValidation{}, Certificates: []string{}}
	where, args := filter(m.Name, in.Version, since, until)

	attempts, err := s.tab.domainValidationAttempts.Select(ctx, s.db, `WHERE status = ? AND `+strings.ReplaceAll(where, "{t}", "attempted_at")+` ORDER BY attempted_at, id`, append([]any{dcv.StatusValid}, args...)...)
	if err != nil {
		return SearchResult{}, err
	}
	links, err := s.tab.certificateDomainValidations.Select(ctx, s.db, `WHERE `+strings.ReplaceAll(where, "{t}", "validated_at")+` ORDER BY validated_at, serial, id`, args...)
	if err != nil {
		return SearchResult{}, err
	}
	serialsOf := map[string][]string{}
	for _, l := range links {
		if !slices.Contains(serialsOf[l.ValidationID], l.Serial) {
			serialsOf[l.ValidationID] = append(serialsOf[l.ValidationID], l.Serial)
		}
		if !slices.Contains(res.Certificates, l.Serial) {
			res.Certificates = append(res.Certificates, l.Serial)
		}
	}
	// Validations in order of their first matching attempt; a validation
	// whose matching attempt was superseded still counts.
	now := s.clk.Now()
	seen := map[string]bool{}
	for _, a := range attempts {
		if seen[a.ValidationID] {
			continue
		}
		seen[a.ValidationID] = true
		var v Validation
		if err := s.tab.domainValidations.Get(ctx, s.db, a.ValidationID, &v); err != nil {
			return SearchResult{}, err
		}
		rv := ReliedValidation{ValidationView: v.View(now), Certificates: serialsOf[v.ID]}
		if rv.Certificates == nil {
			rv.Certificates = []string{}
		}
		res.Validations = append(res.Validations, rv)
	}
	slices.Sort(res.Certificates)
	return res, nil
}

// filter builds the WHERE clause shared by the attempt and link queries;
// "{t}" stands for the time column.
func filter(method, version string, since, until *time.Time) (string, []any) {
	var where store.Where
	where.Add("method = ?", method)
	if version != "" {
		where.Add("method_version = ?", version)
	}
	if since != nil {
		where.Add("{t} >= ?", store.FormatTime(*since))
	}
	if until != nil {
		where.Add("{t} < ?", store.FormatTime(*until))
	}
	return where.Conditions(), where.Args()
}

// PendingChallengeValues returns the random values of the pending
// dns-change validations whose challenge record is recordName: what the
// development DNS responder of `serve --dev` answers. Nothing is decided
// from it (validation itself reads its attempt integrity-checked).
func PendingChallengeValues(ctx context.Context, q store.Querier, recordName string) ([]string, error) {
	type row struct {
		Value string `db:"random_value"`
	}
	rows, err := store.SelectUnchecked[row](ctx, q, `SELECT random_value FROM domain_validations WHERE record_name = ? AND status = ?`, recordName, StatusPending)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Value
	}
	return out, nil
}
