package incident

import (
	"context"
	"encoding/json"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/cpr"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/serial"
	"github.com/vetca/vetca/internal/store"
)

// MaxTitle is the longest title accepted, in characters.
const MaxTitle = 200

// MaxSerials is the most serials one incident may list by hand.
const MaxSerials = 100000

// CreateInput is the body of POST /api/v1/incidents (docs/api.md).
type CreateInput struct {
	Title           string     `json:"title"`
	Source          string     `json:"source"`
	Trigger         string     `json:"trigger"`
	AwareAt         *time.Time `json:"awareAt"`
	Serials         []string   `json:"serials"`
	Query           *Query     `json:"query"`
	ProblemReportID string     `json:"problemReportId"`
}

// Created is the answer to POST /api/v1/incidents.
type Created struct {
	ID               string    `json:"id"`
	RevocationDue    time.Time `json:"revocationDue"`
	InitialReportDue time.Time `json:"initialReportDue"`
	Affected         int       `json:"affected"`
}

// Create opens an incident: it checks the input, resolves the affected set
// (the serials given, or the saved query run now), computes the deadlines
// from awareAt and records the incident with its frozen set in one
// transaction. A refused request writes nothing.
func (s *Service) Create(ctx context.Context, by actor.Actor, in CreateInput) (Created, error) {
	if err := require(by, staffRoles...); err != nil {
		return Created{}, err
	}
	inc, err := s.checkInput(ctx, by, in)
	if err != nil {
		return Created{}, err
	}
	certs, err := s.resolve(ctx, by, in)
	if err != nil {
		return Created{}, err
	}
	inc.Affected = len(certs)
	err = s.db.InTx(ctx, func(tx *store.Tx) error { return s.insert(ctx, tx, by, inc, certs) })
	if err != nil {
		return Created{}, err
	}
	return Created{ID: inc.ID, RevocationDue: inc.RevocationDue, InitialReportDue: inc.InitialReportDue, Affected: inc.Affected}, nil
}

// checkInput validates everything but the affected set and returns the
// incident to record, its deadlines computed from awareAt.
func (s *Service) checkInput(ctx context.Context, by actor.Actor, in CreateInput) (Incident, error) {
	if err := checkTitle(in.Title); err != nil {
		return Incident{}, err
	}
	src := Source(in.Source)
	if src != SourceSelf && src != SourceThirdParty && src != SourceAudit {
		return Incident{}, apperr.Invalid(apperr.CodeInvalidSource, "source", "source %q is not self, third-party or audit", in.Source)
	}
	if in.Trigger == "" {
		return Incident{}, apperr.Invalid(apperr.CodeMissingField, "trigger", "trigger is required (%s1 to %s16)", br.TriggerPrefix, br.TriggerPrefix)
	}
	t, err := br.ParseTrigger(in.Trigger)
	if err != nil {
		return Incident{}, err
	}
	now := s.now()
	if in.AwareAt == nil {
		return Incident{}, apperr.Invalid(apperr.CodeMissingField, "awareAt", "awareAt, when the CA became aware of the problem, is required")
	}
	aware := in.AwareAt.UTC().Truncate(time.Second)
	if aware.After(now) {
		return Incident{}, apperr.Invalid(apperr.CodeInvalidTime, "awareAt", "awareAt %s is in the future", aware.Format(time.RFC3339))
	}
	if aware.IsZero() {
		// The store writes the zero time as NULL, which the column refuses.
		return Incident{}, apperr.Invalid(apperr.CodeInvalidTime, "awareAt", "awareAt %s is not a time the CA became aware of anything", aware.Format(time.RFC3339))
	}
	if err := s.checkProblemReport(ctx, by, in.ProblemReportID, aware); err != nil {
		return Incident{}, err
	}
	return Incident{
		ID: ids.New("inc"), Title: in.Title, Kind: KindIncident, Source: src, Trigger: t.Ref(), AwareAt: aware,
		RevocationDue: t.Deadline(aware), InitialReportDue: br.IncidentInitialReportDue(aware), Status: StatusOpen,
		ProblemReportID: in.ProblemReportID, Query: queryJSON(in.Query), CreatedBy: by.String(), CreatedAt: now,
	}, nil
}

// checkTitle enforces the Bugzilla summary form "CA Name: short description".
func checkTitle(title string) error {
	bad := func(why string) error {
		return apperr.Invalid(apperr.CodeInvalidTitle, "title", "title %s; use the form \"CA Name: short description\"", why)
	}
	if !utf8.ValidString(title) || strings.IndexFunc(title, unicode.IsControl) >= 0 {
		return bad("has a control character or is not UTF-8")
	}
	if strings.TrimSpace(title) != title || title == "" {
		return bad("is empty or has surrounding white space")
	}
	if utf8.RuneCountInString(title) > MaxTitle {
		return bad("is longer than 200 characters")
	}
	ca, desc, ok := strings.Cut(title, ": ")
	if !ok || strings.TrimSpace(ca) == "" || strings.TrimSpace(desc) == "" {
		return bad("has no CA name and description")
	}
	return nil
}

// checkProblemReport checks a linked problem report exists and that the
// incident does not claim to have become known after the report was
// received: the BR clock runs from the evidence (BR §4.9.5), so awareAt
// may not be later than the receipt.
func (s *Service) checkProblemReport(ctx context.Context, by actor.Actor, id string, aware time.Time) error {
	if id == "" {
		return nil
	}
	v, err := s.problemReport(ctx, by, id)
	if err != nil {
		return err
	}
	if aware.After(v.ReceivedAt) {
		return apperr.Invalid(apperr.CodeInvalidTime, "awareAt", "awareAt %s is after problem report %s was received (%s); the CA was aware from the receipt",
			aware.Format(time.RFC3339), id, v.ReceivedAt.UTC().Format(time.RFC3339))
	}
	return nil
}

func (s *Service) problemReport(ctx context.Context, by actor.Actor, id string) (cpr.View, error) {
	if s.deps.ProblemReports == nil {
		return cpr.View{}, apperr.Invalid(apperr.CodeInvalidValue, "problemReportId", "problem reports are not available")
	}
	v, err := s.deps.ProblemReports.Get(ctx, by, id)
	if apperr.IsKind(err, apperr.KindNotFound) {
		return v, apperr.Invalid(apperr.CodeInvalidValue, "problemReportId", "no problem report %s", id)
	}
	return v, err
}

// reportedSerials is the affected set of an incident opened from a problem
// report without serials or a query: the stored certificates it matched.
func (s *Service) reportedSerials(ctx context.Context, by actor.Actor, id string) ([]string, error) {
	v, err := s.problemReport(ctx, by, id)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range v.Matches {
		if m.Kind == cpr.MatchCertificate {
			out = append(out, m.Serial)
		}
	}
	if len(out) == 0 {
		return nil, apperr.Invalid(apperr.CodeMissingField, "serials", "problem report %s matched no stored certificate; list the serials or give a query", id)
	}
	return out, nil
}

func queryJSON(q *Query) string {
	if q == nil {
		return ""
	}
	b, _ := json.Marshal(q)
	return string(b)
}

// insert records the incident, its frozen set and its opening event.
func (s *Service) insert(ctx context.Context, tx *store.Tx, by actor.Actor, inc Incident, certs []issuance.Certificate) error {
	if err := s.tab.incidents.Insert(ctx, tx, by, actIncidentOpened, inc); err != nil {
		return err
	}
	for _, c := range certs {
		row, err := s.freeze(ctx, tx, inc.ID, c)
		if err != nil {
			return err
		}
		if err := s.tab.certs.Insert(ctx, tx, by, actCertificateFrozen, row); err != nil {
			return err
		}
	}
	detail := inc.Title + " (" + inc.Trigger + ", " + string(inc.Source) + ")"
	return s.event(ctx, tx, by, Event{IncidentID: inc.ID, Kind: EventOpened, At: inc.CreatedAt, Detail: detail})
}

// freeze is one certificate's row of a frozen set, with its state now:
// valid, revoked or expired.
func (s *Service) freeze(ctx context.Context, q store.Querier, incID string, c issuance.Certificate) (Certificate, error) {
	row := Certificate{ID: ids.New("inc_crt"), IncidentID: incID, Serial: c.Serial, AccountID: c.AccountID, IssuerID: c.IssuerID,
		CertSHA256: c.CertSHA256, NotBefore: c.NotBefore, NotAfter: c.NotAfter, StateAtFreeze: "valid"}
	r, revoked, err := s.deps.Revoker.Get(ctx, q, c.Serial)
	if err != nil {
		return row, err
	}
	switch {
	case revoked:
		row.StateAtFreeze, row.RevocationID, row.RevokedAt = "revoked", r.ID, &r.RecordedAt
	case !c.NotAfter.After(s.now()):
		row.StateAtFreeze = "expired"
	}
	return row, nil
}

// event records a timeline entry.
func (s *Service) event(ctx context.Context, tx *store.Tx, by actor.Actor, e Event) error {
	if e.ID == "" {
		e.ID = ids.New("ine")
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	e.Actor = by.String()
	return s.tab.events.Insert(ctx, tx, by, actIncidentEvent, e)
}

// resolve returns the affected set: the serials given, or the query's
// certificates.
func (s *Service) resolve(ctx context.Context, by actor.Actor, in CreateInput) ([]issuance.Certificate, error) {
	switch {
	case in.Query != nil && in.Serials != nil:
		return nil, apperr.Invalid(apperr.CodeInvalidQuery, "query", "give either serials or a query, not both")
	case in.Query != nil:
		return s.runQuery(ctx, by, *in.Query)
	case in.Serials == nil && in.ProblemReportID != "":
		serials, err := s.reportedSerials(ctx, by, in.ProblemReportID)
		if err != nil {
			return nil, err
		}
		return s.bySerials(ctx, serials)
	case len(in.Serials) == 0:
		return nil, apperr.Invalid(apperr.CodeMissingField, "serials", "serials or a query is required")
	}
	return s.bySerials(ctx, in.Serials)
}

// bySerials finds each listed serial's certificate, once.
func (s *Service) bySerials(ctx context.Context, serials []string) ([]issuance.Certificate, error) {
	if len(serials) > MaxSerials {
		return nil, apperr.Invalid(apperr.CodeInvalidValue, "serials", "at most %d serials; use a query", MaxSerials)
	}
	seen := map[string]bool{}
	var out []issuance.Certificate
	for _, raw := range serials {
		sn, err := serial.Normalize(raw)
		if err != nil {
			return nil, apperr.Invalid(apperr.CodeInvalidSerial, "serials", "serial %q is not lower-case hex without colons or leading 00", raw)
		}
		if seen[sn] {
			continue
		}
		seen[sn] = true
		c, ok, err := s.deps.Inventory.CertificateBySerial(ctx, s.db, sn)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, apperr.Invalid(apperr.CodeUnknownSerial, "serials", "no certificate with serial %s", sn)
		}
		out = append(out, c)
	}
	return out, nil
}
