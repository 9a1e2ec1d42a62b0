package scan

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"regexp"
	"strings"

	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/vetting"
)

// cert is one certificate under check and what was found so far.
type cert struct {
	rec      issuance.Certificate
	x        *x509.Certificate
	findings []Finding
}

func (c *cert) add(lintName, field string, sev Severity, format string, args ...any) {
	c.findings = append(c.findings, Finding{Serial: c.rec.Serial, Lint: lintName, Field: field, Severity: sev, Message: fmt.Sprintf(format, args...)})
}

// check runs every check on one certificate. The error is for a failure
// to read (the database is gone), never for a finding; a row that fails its
// integrity check is a finding.
func (s *Scanner) check(ctx context.Context, serial string) ([]Finding, error) {
	rec, ok, err := s.d.Inventory.CertificateBySerial(ctx, s.d.DB, serial)
	c := &cert{rec: issuance.Certificate{Serial: serial}}
	if err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("certificate %s is gone", serial)
		}
		if err := c.integrity(CheckIntegrity, err); err != nil {
			return nil, err
		}
		return c.findings, nil
	}
	c.rec = rec
	if c.x, err = rec.X509(); err != nil {
		c.add(CheckIntegrity, "pem", SeverityError, "the stored certificate does not parse: %v", err)
		return c.findings, nil
	}
	for _, step := range []func(context.Context, *cert) error{s.lints, s.subjects, s.chain, s.rules, s.flagged, s.dualControl} {
		if err := step(ctx, c); err != nil {
			return nil, err
		}
	}
	return c.findings, nil
}

// lints runs every current certificate lint: zlint's and vetca's (and any
// the Linter was built with). Each lint decides itself whether it applies
// to a certificate of this date (NE before its effective date).
func (s *Scanner) lints(_ context.Context, c *cert) error {
	rep, err := s.d.Linter.LintCertificate(c.x.Raw)
	if err != nil {
		c.add(CheckIntegrity, "pem", SeverityError, "zlint cannot parse the certificate: %v", err)
		return nil
	}
	for _, f := range rep.Findings {
		if !f.Failing() {
			continue
		}
		sev := map[zlint.LintStatus]Severity{zlint.Warn: SeverityWarn, zlint.Error: SeverityError, zlint.Fatal: SeverityFatal}[f.Status]
		msg := f.Details
		if f.Citation != "" {
			msg = strings.TrimSpace(msg + " (" + f.Citation + ")")
		}
		c.add(f.Lint, "", sev, "%s", msg)
	}
	return nil
}

// subjects compares the subject with the organization version it was
// issued from and with the organization's current verified version.
func (s *Scanner) subjects(ctx context.Context, c *cert) error {
	v, ok, err := s.d.Organizations.VersionOf(ctx, s.d.DB, c.rec.OrganizationID, c.rec.OrganizationVersion)
	switch {
	case err != nil:
		if err := c.integrity(CheckIssuedVersion, err); err != nil {
			return err
		}
	case !ok:
		c.add(CheckIssuedVersion, "organizationId", SeverityError, "organization %s has no version %d", c.rec.OrganizationID, c.rec.OrganizationVersion)
	default:
		c.compare(CheckIssuedVersion, fmt.Sprintf("version %d", v.Version), v.Fields)
	}
	cur, err := s.d.Organizations.CurrentVerified(ctx, s.d.DB, c.rec.OrganizationID)
	if err != nil {
		if apperr.IsKind(err, apperr.KindConflict) || apperr.IsKind(err, apperr.KindNotFound) {
			c.add(CheckCurrentOrg, "organizationId", SeverityError, "%s", err.Error())
			return nil
		}
		return c.integrity(CheckCurrentOrg, err)
	}
	c.compare(CheckCurrentOrg, fmt.Sprintf("the current verified version (%d)", cur.Version), cur.Fields)
	return nil
}

// compare reports each subject attribute that differs from f, by its JSON
// name (docs/api.md).
func (c *cert) compare(lintName, what string, f vetting.Fields) {
	sub := c.x.Subject
	got := map[string]string{
		"organizationName": first(sub.Organization), "countryName": first(sub.Country),
		"stateOrProvinceName": first(sub.Province), "localityName": first(sub.Locality),
		"streetAddress": first(sub.StreetAddress), "postalCode": first(sub.PostalCode),
	}
	want := map[string]string{
		"organizationName": f.OrganizationName, "countryName": f.CountryName,
		"stateOrProvinceName": f.StateOrProvinceName, "localityName": f.LocalityName,
		"streetAddress": f.StreetAddress, "postalCode": f.PostalCode,
	}
	for _, name := range []string{"organizationName", "countryName", "stateOrProvinceName", "localityName", "streetAddress", "postalCode"} {
		if got[name] != want[name] {
			c.add(lintName, name, SeverityError, "subject %s is %q; %s of organization %s has %q", name, got[name], what, c.rec.OrganizationID, want[name])
		}
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// chain checks the authenticated audit chain order → approvals → intent →
// signature, each link read through its owner.
func (s *Scanner) chain(ctx context.Context, c *cert) error {
	why, err := s.d.Orders.CheckIssuedOrder(ctx, s.d.DB, c.rec.OrderID, c.rec.Serial)
	if err == nil && why == "" {
		why, err = s.d.Inventory.CheckIssued(ctx, s.d.DB, c.rec)
	}
	if err != nil {
		return c.integrity(CheckAuditChain, err)
	}
	if why != "" {
		c.add(CheckAuditChain, "", SeverityError, "incomplete audit chain: %s", why)
	}
	return nil
}

// rules re-applies the BR rules that do not need a lint: the validity cap
// for the issuance date (BR §6.3.2), the serial's entropy (BR §7.1) and the
// keyCompromise blocklist (BR §6.1.1.3(4)).
func (s *Scanner) rules(ctx context.Context, c *cert) error {
	if err := br.CheckValidity(c.rec.CreatedAt, c.x.NotBefore, c.x.NotAfter); err != nil {
		c.add(CheckValidityCap, "validityDays", SeverityError, "%s", message(err))
	}
	if n := c.x.SerialNumber; n.BitLen() < br.SerialMinEntropyBits {
		c.add(CheckSerialLength, "serial", SeverityError, "the serial has %d bits; BR §7.1 requires at least %d bits of CSPRNG output", n.BitLen(), br.SerialMinEntropyBits)
	} else if err := br.CheckSerial(n); err != nil {
		c.add(CheckSerialLength, "serial", SeverityError, "%v", err)
	}
	blocked, err := s.d.Blocklist.Blocked(ctx, s.d.DB, c.rec.SPKISHA256)
	if err != nil {
		return err
	}
	if blocked {
		c.add(CheckKeyBlocked, "publicKey", SeverityError, "the key (SPKI SHA-256 %s) is on the keyCompromise blocklist (BR §6.1.1.3(4))", c.rec.SPKISHA256)
	}
	return nil
}

func message(err error) string {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return ae.Message
	}
	return err.Error()
}

// integrity turns an integrity violation into a finding naming the table
// and, where the audit check names it, the field (as its JSON name); any
// other error is returned.
func (c *cert) integrity(lintName string, err error) error {
	if !apperr.IsKind(err, apperr.KindIntegrity) {
		return err
	}
	table, field := integrityPlace(message(err))
	if field == "" {
		field = table
	}
	c.add(lintName, field, SeverityError, "%s", message(err))
	return nil
}

var (
	reTable = regexp.MustCompile(`integrity check failed for (\w+) row`)
	reField = regexp.MustCompile(`field (\w+)[ ,]`)
)

// integrityPlace reads the table and the first field out of an audit
// integrity message ("integrity check failed for T row R: field F differs
// ..."), the field in its JSON form (organization_name → organizationName).
func integrityPlace(msg string) (table, field string) {
	if m := reTable.FindStringSubmatch(msg); m != nil {
		table = m[1]
	}
	if m := reField.FindStringSubmatch(msg); m != nil && m[1] != "row_hash" {
		field = camel(m[1])
	}
	return table, field
}

func camel(snake string) string {
	parts := strings.Split(snake, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// flagged reports each name that relied on a domain validation whose
// method version was flagged after issuance (BR §3.2.2.4: the CA may rely
// only on validations made with a method it still trusts).
func (s *Scanner) flagged(ctx context.Context, c *cert) error {
	if s.d.Validations == nil {
		return nil
	}
	rel, why, err := s.d.Validations.FlaggedReliance(ctx, s.d.DB, c.rec.Serial)
	if err != nil {
		return c.integrity(CheckDCVFlagged, err)
	}
	for i, r := range rel {
		c.add(CheckDCVFlagged, "dnsNames", SeverityError, "%s relied on validation %s by %s version %s, flagged %s: %s",
			r.DNSName, r.ValidationID, r.Method, r.MethodVersion, why[i].FlaggedAt.Format("2006-01-02"), why[i].Reason)
	}
	return nil
}

// dualControl re-checks the dual control an order's approvals were held
// to, against the current integrity-checked rows (BR §5.2.2,
// docs/design.md §5): the required number of distinct approvers, none of
// them the requester, none of them anyone who acted for the account by the
// rule approval and finalize apply (account.Service.StaffActingFor).
// Those decisions read rows through filters, so a row moved out of a
// filter's reach while the order was approved and finalized, then put
// back, passes its integrity check and was never seen; it is seen here.
// An order placed under a template is confirmed by chain instead.
func (s *Scanner) dualControl(ctx context.Context, c *cert) error {
	if s.d.OrderApprovals == nil || s.d.Accounts == nil {
		return nil
	}
	// The order is read as the account that holds the certificate, the
	// least reader order.Service.Get answers. An order of another account
	// or none at all is chain's finding.
	holder := actor.Actor{Kind: actor.Subscriber, ID: c.rec.AccountID, AccountID: c.rec.AccountID}
	v, err := s.d.OrderApprovals.Get(ctx, holder, c.rec.OrderID)
	switch {
	case apperr.IsKind(err, apperr.KindNotFound):
		return nil
	case err != nil:
		return c.integrity(CheckDualControl, err)
	case v.Template != nil:
		return nil
	}
	// As of the issuance: finalize counted the approvals then, and an act
	// for the account since does not undo a dual control already met.
	acting, err := s.d.Accounts.StaffActingBefore(ctx, s.d.DB, v.AccountID, v.OrganizationID, c.rec.CreatedAt)
	if err != nil {
		return c.integrity(CheckDualControl, err)
	}
	var why []string
	seen := map[string]bool{}
	for _, a := range v.Approvals {
		if seen[a.ApproverID] {
			continue
		}
		seen[a.ApproverID] = true
		switch {
		case v.RequestedByID != "" && a.ApproverID == v.RequestedByID:
			why = append(why, fmt.Sprintf("approver %s (%s) requested it", a.ApproverName, a.ApproverID))
		case acting[a.ApproverID] != "":
			why = append(why, fmt.Sprintf("approver %s (%s) %s", a.ApproverName, a.ApproverID, acting[a.ApproverID]))
		}
	}
	if len(seen) < v.Required {
		why = append(why, fmt.Sprintf("it has %d distinct approvers of %d required", len(seen), v.Required))
	}
	if len(why) > 0 {
		c.add(CheckDualControl, "approvals", SeverityError, "order %s: %s; no one person may complete a dual control (BR §5.2.2)", v.ID, strings.Join(why, "; "))
	}
	return nil
}
