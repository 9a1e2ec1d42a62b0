package validation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/caa"
	"github.com/vetca/vetca/internal/dnsname"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/mpic"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/validation/dcv"
)

// FieldDNSNames is the JSON field issuance errors name (POST /orders).
const FieldDNSNames = "dnsNames"

// Error codes of the issuance checks.
const (
	CodeNotValidated = apperr.CodeDomainNotValidated // no reusable validation covers a SAN
	CodeCAAForbidden = apperr.CodeCAAForbidden       // CAA refuses, a lookup failed, or perspectives did not corroborate
	CodeCAAStale     = apperr.CodeCAAStale           // the CAA result is older than BR §3.2.2.8 allows
)

// sans normalizes the SANs of a request (wildcards allowed) and removes
// exact duplicates, keeping order. Errors name dnsNames.
func sans(dnsNames []string) ([]string, error) {
	if len(dnsNames) == 0 {
		return nil, apperr.Invalid(apperr.CodeMissingField, FieldDNSNames, "dnsNames must name at least one domain")
	}
	seen := map[string]bool{}
	var out []string
	for _, n := range dnsNames {
		norm, err := dnsname.Normalize(n, true)
		if err != nil {
			e, _ := apperr.As(err)
			code, msg := apperr.CodeInvalidDomain, err.Error()
			if e != nil {
				code, msg = e.Code, e.Message
			}
			return nil, apperr.Invalid(code, FieldDNSNames, "%s", msg)
		}
		if !seen[norm] {
			seen[norm] = true
			out = append(out, norm)
		}
	}
	return out, nil
}

// RequireValidated returns, for each SAN, the validation of the account it
// relies on: a valid validation whose method covers the SAN
// (dcv.Method.Covers: dns-change covers subdomains and wildcards of the
// validated name, website-change only the exact name) and whose latest
// valid attempt is still within the BR §4.2.1 reuse period at at. The
// newest such validation is chosen. Reads are integrity-checked. A SAN
// without one is a 400 naming dnsNames with code domain_not_validated.
func (s *Service) RequireValidated(ctx context.Context, q store.Querier, accountID string, dnsNames []string, at time.Time) ([]Reliance, error) {
	names, err := sans(dnsNames)
	if err != nil {
		return nil, err
	}
	vs, err := s.reliable(ctx, q, accountID)
	if err != nil {
		return nil, err
	}
	out := make([]Reliance, 0, len(names))
	for _, n := range names {
		found := reusable(vs, n, at)
		if found == nil {
			return nil, apperr.Invalid(CodeNotValidated, FieldDNSNames,
				"%s is not covered by a domain validation of account %s that is still reusable on %s (BR §3.2.2.4, §4.2.1: %d days); validate it with POST /api/v1/accounts/%s/domains",
				n, accountID, at.UTC().Format(time.DateOnly), int(br.DomainValidationReuse(at)/br.Day), accountID)
		}
		out = append(out, Reliance{DNSName: n, ValidationID: found.ID, AttemptID: found.ValidAttemptID, Domain: found.Domain,
			Method: found.Method, MethodSection: found.MethodSection, MethodVersion: found.MethodVersion, ValidatedAt: *found.ValidatedAt})
	}
	return out, nil
}

// reliable returns the account's valid validations, newest first, except
// those whose method version is flagged as no longer to be relied on
// (FlagMethodVersion; BR §3.2.2.4): a flagged version backs no new
// issuance and no ACME authorization, whatever its reuse period says.
func (s *Service) reliable(ctx context.Context, q store.Querier, accountID string) ([]Validation, error) {
	vs, err := s.tab.domainValidations.Select(ctx, q, `WHERE account_id = ? AND status = ? ORDER BY validated_at DESC, id`, accountID, StatusValid)
	if err != nil {
		return nil, fmt.Errorf("valid domain validations of %s: %w", accountID, err)
	}
	flags, err := s.tab.flaggedMethodVersions.Select(ctx, q, `ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("flagged method versions: %w", err)
	}
	flagged := map[[2]string]bool{}
	for _, f := range flags {
		flagged[[2]string{f.Method, f.Version}] = true
	}
	out := vs[:0]
	for _, v := range vs {
		if !flagged[[2]string{v.Method, v.MethodVersion}] {
			out = append(out, v)
		}
	}
	return out, nil
}

// reusable is the first of vs (valid validations, newest first) whose
// method covers name and whose latest valid attempt is still within the
// BR §4.2.1 reuse period at at, or nil.
func reusable(vs []Validation, name string, at time.Time) *Validation {
	for i := range vs {
		v := &vs[i]
		if v.ValidatedAt == nil || v.ValidAttemptID == "" || !br.DomainValidationReusable(*v.ValidatedAt, at) {
			continue
		}
		m, err := dcv.MethodByName(v.Method)
		if err != nil || !m.Covers(v.Domain, name) {
			continue
		}
		return v
	}
	return nil
}

// ReusableFor returns the validation of the account RequireValidated
// would rely on for name at at, if there is one: the ACME server makes an
// authorization valid at once with it (the same reuse rule, BR §4.2.1).
func (s *Service) ReusableFor(ctx context.Context, q store.Querier, accountID, name string, at time.Time) (Validation, bool, error) {
	n, err := dnsname.Normalize(name, true)
	if err != nil {
		return Validation{}, false, err
	}
	vs, err := s.reliable(ctx, q, accountID)
	if err != nil {
		return Validation{}, false, err
	}
	if v := reusable(vs, n, at); v != nil {
		return *v, true, nil
	}
	return Validation{}, false, nil
}

// caaEvidence is what CAAResult.Evidence holds.
type caaEvidence struct {
	CAA           caa.Result   `json:"caa"`
	LookupError   string       `json:"lookupError,omitempty"`
	Corroboration mpic.Outcome `json:"corroboration"`
}

// CheckCAA checks CAA (RFC 8659, BR §3.2.2.8) for every SAN and, for each
// the primary finds permitted, has the remote perspectives corroborate it
// (BR §3.2.2.9). It touches no database. It returns a result for every
// SAN, and when any SAN is refused (CAA forbids, a lookup failed, or the
// quorum was not met) also a 403 caa_forbidden naming dnsNames, whose
// message names the first refused SAN in request order and says CAA.
func (s *Service) CheckCAA(ctx context.Context, dnsNames []string) ([]CAAResult, error) {
	names, err := sans(dnsNames)
	if err != nil {
		return nil, err
	}
	if s.chk.CAA == nil {
		return nil, apperr.Unavailable(apperr.CodeCAAUnavailable, apperr.NoField,
			"CAA cannot be checked: no issuer domain name is configured (set --caa-identity, or a --public-url whose host is a DNS name)")
	}
	results := make([]CAAResult, len(names))
	refusals := make([]string, len(names))
	errs := make([]error, len(names))
	sem := make(chan struct{}, s.cfg.Parallel)
	var wg sync.WaitGroup
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i], refusals[i], errs[i] = s.checkCAA(ctx, n)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	for i := range names {
		if refusals[i] != "" {
			return results, apperr.Forbidden(CodeCAAForbidden, FieldDNSNames, "%s", refusals[i])
		}
	}
	return results, nil
}

// checkCAA checks one normalized SAN. refusal is empty when issuance is
// permitted; err is for failures that are not a CAA outcome.
func (s *Service) checkCAA(ctx context.Context, name string) (res CAAResult, refusal string, err error) {
	r, cerr := s.chk.CAA.Check(ctx, name)
	if _, bad := apperr.As(cerr); bad {
		return CAAResult{}, "", cerr
	}
	ev := caaEvidence{CAA: r}
	permitted := cerr == nil && r.Permitted
	reason := r.Reason
	switch {
	case cerr != nil:
		ev.LookupError = cerr.Error()
		where := r.RelevantName
		if where == "" {
			where = dnsname.Base(name)
		}
		refusal = fmt.Sprintf("CAA lookup at %s failed, so issuance for %s is refused (RFC 8659 §3, BR §3.2.2.8): %v", where, name, cerr)
	case !r.Permitted:
		refusal = fmt.Sprintf("CAA at %s forbids issuance for %s: %s", r.RelevantName, name, r.Reason)
	}
	ev.Corroboration = s.corroborate(ctx, mpic.CheckRequest{Kind: mpic.KindCAA, Domain: name}, permitted)
	if permitted && !decided(true, ev.Corroboration) {
		permitted = false
		reason = r.Reason + "; but remote perspectives did not corroborate it (BR §3.2.2.9): " + ev.Corroboration.Quorum.Summary
		refusal = fmt.Sprintf("CAA for %s: remote perspectives did not corroborate that CAA permits issuance (BR §3.2.2.9): %s",
			name, ev.Corroboration.Quorum.Summary)
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		return CAAResult{}, "", fmt.Errorf("caa evidence: %w", err)
	}
	res = CAAResult{DNSName: name, Permitted: permitted, RelevantName: r.RelevantName, Reason: reason,
		CheckedAt: r.CheckedAt.UTC(), Quorum: ev.Corroboration.Quorum.Summary, Evidence: raw}
	if permitted {
		res.IssueBefore = r.IssueBefore.UTC()
	}
	return res, refusal, nil
}

// link is a certificate's reliance on a validation (table
// certificate_domain_validations).
type link struct {
	ID            string    `db:"id"`
	Serial        string    `db:"serial"`
	OrderID       string    `db:"order_id"`
	DNSName       string    `db:"dns_name"`
	ValidationID  string    `db:"validation_id"`
	AttemptID     string    `db:"attempt_id"`
	Domain        string    `db:"domain"`
	Method        string    `db:"method"`
	MethodSection string    `db:"method_section"`
	MethodVersion string    `db:"method_version"`
	ValidatedAt   time.Time `db:"validated_at"`
	CreatedAt     time.Time `db:"created_at"`
}

func (l link) reliance() Reliance {
	return Reliance{DNSName: l.DNSName, ValidationID: l.ValidationID, AttemptID: l.AttemptID, Domain: l.Domain,
		Method: l.Method, MethodSection: l.MethodSection, MethodVersion: l.MethodVersion, ValidatedAt: l.ValidatedAt}
}

// caaCheck is a stored CAA result (table caa_checks). Serial is empty for
// the checks of a refused finalization.
type caaCheck struct {
	ID           string    `db:"id"`
	Serial       string    `db:"serial"`
	OrderID      string    `db:"order_id"`
	DNSName      string    `db:"dns_name"`
	Permitted    bool      `db:"permitted"`
	RelevantName string    `db:"relevant_name"`
	Reason       string    `db:"reason"`
	CheckedAt    time.Time `db:"checked_at"`
	IssueBefore  time.Time `db:"issue_before"` // NULL when not permitted
	Quorum       string    `db:"quorum"`
	Evidence     string    `db:"evidence"`
	CreatedAt    time.Time `db:"created_at"`
}

func (c caaCheck) result() CAAResult {
	return CAAResult{DNSName: c.DNSName, Permitted: c.Permitted, RelevantName: c.RelevantName, Reason: c.Reason,
		CheckedAt: c.CheckedAt, IssueBefore: c.IssueBefore, Quorum: c.Quorum, Evidence: json.RawMessage(c.Evidence)}
}

// IssuanceEvents is how many audit events RecordIssuance writes when it
// succeeds: a link per reliance and a CAA record per result (callers
// reserve their numbers with audit.Recorder.Reserve).
func IssuanceEvents(rel []Reliance, caaResults []CAAResult) int { return len(rel) + len(caaResults) }

// RecordIssuance stores, inside the issuer's transaction, what the
// certificate with serial relies on: one link per SAN to the validation
// relied on, and every SAN's CAA result linked to the serial and the order.
// It refuses (and the issuer must not sign) when the SANs of rel and caa
// differ, a CAA result does not permit issuance, a CAA result is past its
// BR §3.2.2.8 limit (the CAA TTL or 8 hours), or a validation relied on is
// no longer valid or fails its integrity check.
func (s *Service) RecordIssuance(ctx context.Context, tx *store.Tx, by actor.Actor, orderID, serial string, rel []Reliance, caaResults []CAAResult) error {
	if orderID == "" || serial == "" {
		return errors.New("domain: RecordIssuance needs an order id and a serial")
	}
	if len(rel) == 0 {
		return errors.New("domain: RecordIssuance needs at least one reliance")
	}
	now := s.clk.Now()
	byName := map[string]CAAResult{}
	for _, c := range caaResults {
		byName[c.DNSName] = c
	}
	relied := map[string]bool{}
	for _, r := range rel {
		relied[r.DNSName] = true
		c, ok := byName[r.DNSName]
		if !ok {
			return apperr.Forbidden(CodeCAAForbidden, FieldDNSNames, "CAA was not checked for %s; it must be checked for every SAN (BR §3.2.2.8)", r.DNSName)
		}
		if !c.Permitted {
			return apperr.Forbidden(CodeCAAForbidden, FieldDNSNames, "CAA at %s forbids issuance for %s: %s", c.RelevantName, c.DNSName, c.Reason)
		}
		if c.IssueBefore.IsZero() || now.After(c.IssueBefore) {
			return apperr.Conflict(CodeCAAStale, FieldDNSNames,
				"the CAA check of %s at %s may be relied on only until %s (BR §3.2.2.8: the CAA TTL or 8 hours); check CAA again",
				c.DNSName, c.CheckedAt.Format(time.RFC3339), c.IssueBefore.Format(time.RFC3339))
		}
	}
	for n := range byName {
		if !relied[n] {
			return fmt.Errorf("domain: CAA result for %s, which no reliance names", n)
		}
	}
	for _, r := range rel {
		var v Validation
		if err := s.tab.domainValidations.Get(ctx, tx, r.ValidationID, &v); err != nil {
			return err
		}
		if v.Status != StatusValid || v.Domain != r.Domain || !br.DomainValidationReusable(r.ValidatedAt, now) {
			return apperr.Invalid(CodeNotValidated, FieldDNSNames, "the validation %s relied on for %s is no longer usable", r.ValidationID, r.DNSName)
		}
		l := link{ID: ids.New("cdv"), Serial: serial, OrderID: orderID, DNSName: r.DNSName, ValidationID: r.ValidationID,
			AttemptID: r.AttemptID, Domain: r.Domain, Method: r.Method, MethodSection: r.MethodSection, MethodVersion: r.MethodVersion,
			ValidatedAt: r.ValidatedAt, CreatedAt: now}
		if err := s.tab.certificateDomainValidations.Insert(ctx, tx, by, actCertificateDomainValidationRelied, l); err != nil {
			return err
		}
	}
	return s.RecordCAAChecks(ctx, tx, by, orderID, serial, caaResults)
}

// RecordCAAChecks stores CAA results as evidence linked to an order and,
// once there is one, a serial. RecordIssuance calls it; the order service
// should call it with an empty serial when CheckCAA refused a
// finalization, so that every SAN's CAA evidence of the refusal is kept.
func (s *Service) RecordCAAChecks(ctx context.Context, tx *store.Tx, by actor.Actor, orderID, serial string, caaResults []CAAResult) error {
	now := s.clk.Now()
	for _, c := range caaResults {
		row := caaCheck{ID: ids.New("caa"), Serial: serial, OrderID: orderID, DNSName: c.DNSName, Permitted: c.Permitted,
			RelevantName: c.RelevantName, Reason: c.Reason, CheckedAt: c.CheckedAt, IssueBefore: c.IssueBefore,
			Quorum: c.Quorum, Evidence: string(c.Evidence), CreatedAt: now}
		if row.Evidence == "" {
			row.Evidence = "null"
		}
		if err := s.tab.caaChecks.Insert(ctx, tx, by, actCertificateCaaChecked, row); err != nil {
			return err
		}
	}
	return nil
}

// IssuanceEvidence returns the validations and CAA results a certificate
// relied on (integrity-checked), ordered by SAN.
func (s *Service) IssuanceEvidence(ctx context.Context, q store.Querier, serial string) ([]Reliance, []CAAResult, error) {
	ls, err := s.tab.certificateDomainValidations.Select(ctx, q, `WHERE serial = ? ORDER BY dns_name, id`, serial)
	if err != nil {
		return nil, nil, err
	}
	cs, err := s.caaChecks(ctx, q, `serial = ?`, serial)
	if err != nil {
		return nil, nil, err
	}
	rel := make([]Reliance, 0, len(ls))
	for _, l := range ls {
		rel = append(rel, l.reliance())
	}
	return rel, cs, nil
}

// CAAChecksForOrder returns every stored CAA result of an order, those of
// refused finalizations included.
func (s *Service) CAAChecksForOrder(ctx context.Context, q store.Querier, orderID string) ([]CAAResult, error) {
	return s.caaChecks(ctx, q, `order_id = ?`, orderID)
}

func (s *Service) caaChecks(ctx context.Context, q store.Querier, where string, arg string) ([]CAAResult, error) {
	rows, err := s.tab.caaChecks.Select(ctx, q, `WHERE `+where+` ORDER BY created_at, dns_name, id`, arg)
	if err != nil {
		return nil, err
	}
	out := make([]CAAResult, 0, len(rows))
	for _, c := range rows {
		out = append(out, c.result())
	}
	return out, nil
}
