package incident

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/cpr"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/store"
)

// Report formats (docs/api.md, Incidents): the CCADB IRG v3.2 Preliminary,
// Full and Closure reports, and the older seven-topic format (IRG 1.0).
const (
	FormatPreliminary = "preliminary"
	FormatFull        = "full"
	FormatClosure     = "closure"
	FormatLegacy      = "legacy"
)

// NA marks a field that does not apply (IRG v3.2: such fields must still
// appear).
const NA = "N/A"

// AppendixColumns are the IRG v3.2 Appendix CSV columns, in order; vetca
// adds the crt.sh link to their right.
var AppendixColumns = []string{"Precertificate SHA-256 hash", "Certificate SHA-256 hash", "Subject", "Issuer", "Not before", "Not after",
	"Serial # (hex)", "dNSNames", "Is revoked?", "Revocation date", "Revocation reason"}

// Report is a rendered incident report and its Appendix CSV.
type Report struct {
	Markdown string
	CSV      []byte
}

// reportData is what a report is rendered from.
type reportData struct {
	inc      Incident
	trigger  br.Trigger
	rows     []appendixRow
	timeline []timelineEntry
	related  []Incident
	delays   []Event
	items    []ActionItem
	analysis Analysis
	at       time.Time
}

type appendixRow struct {
	cert    issuance.Certificate
	issuer  string
	revoked string // Yes, Planned, Delayed or N/A
	revAt   string
	reason  string
	valid   bool
	// until is when the certificate stopped being valid: when its
	// revocation was first recorded (revokedAt may be backdated to a key's
	// compromise, BR §7.2.2, and recordedAt moves with each update of the
	// entry), or its expiry; zero while it is valid.
	until time.Time
}

type timelineEntry struct {
	at   time.Time
	text string
}

// Render renders incident id's report in format, with its Appendix CSV.
func (s *Service) Render(ctx context.Context, by actor.Actor, id, format string) (Report, error) {
	if err := require(by, readRoles...); err != nil {
		return Report{}, err
	}
	if format != FormatPreliminary && format != FormatFull && format != FormatClosure && format != FormatLegacy {
		return Report{}, apperr.Invalid(apperr.CodeInvalidValue, "format", "format %q is not preliminary, full, closure or legacy", format)
	}
	d, err := s.reportData(ctx, by, id)
	if err != nil {
		return Report{}, err
	}
	var md string
	switch format {
	case FormatPreliminary:
		md = d.preliminary()
	case FormatFull:
		md = d.full()
	case FormatClosure:
		md = d.closure()
	default:
		md = d.legacy()
	}
	return Report{Markdown: md, CSV: d.appendixCSV()}, nil
}

func (s *Service) reportData(ctx context.Context, by actor.Actor, id string) (reportData, error) {
	d := reportData{at: s.now()}
	if err := s.tab.incidents.Get(ctx, s.db, id, &d.inc); err != nil {
		return d, err
	}
	t, err := br.ParseTrigger(d.inc.Trigger)
	if err != nil {
		return d, err
	}
	d.trigger = t
	if d.rows, err = s.appendix(ctx, d.inc, d.at); err != nil {
		return d, err
	}
	if d.timeline, d.delays, err = s.timeline(ctx, by, d.inc); err != nil {
		return d, err
	}
	d.timeline = withRevocations(d.timeline, d.rows)
	if d.items, err = s.actionItems(ctx, s.db, id); err != nil {
		return d, err
	}
	if d.analysis, err = s.analysis(ctx, s.db, id); err != nil {
		return d, err
	}
	d.related, err = s.tab.incidents.Select(ctx, s.db, `WHERE id <> ? AND created_at >= ? ORDER BY created_at, id`, id, store.FormatTime(d.at.AddDate(-2, 0, 0)))
	return d, err
}

// appendix reads each affected certificate with its revocation.
func (s *Service) appendix(ctx context.Context, inc Incident, at time.Time) ([]appendixRow, error) {
	certs, err := s.certificates(ctx, s.db, inc.ID)
	if err != nil {
		return nil, err
	}
	rows := make([]appendixRow, 0, len(certs))
	for _, c := range certs {
		row, err := s.appendixRow(ctx, inc, c, at)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func (s *Service) appendixRow(ctx context.Context, inc Incident, c Certificate, at time.Time) (appendixRow, error) {
	cert, ok, err := s.deps.Inventory.CertificateBySerial(ctx, s.db, c.Serial)
	if err != nil || !ok {
		return appendixRow{}, err
	}
	row := appendixRow{cert: cert, issuer: NA, revoked: NA, revAt: NA, reason: NA}
	if x, err := cert.X509(); err == nil {
		row.issuer = x.Issuer.String()
	}
	r, revoked, err := s.deps.Revoker.Get(ctx, s.db, c.Serial)
	switch {
	case err != nil:
		return row, err
	case revoked:
		// When it was revoked: not RecordedAt, which a later update of the
		// entry (a keyCompromise backdating it) moves.
		first, err := s.deps.Revoker.FirstRecorded(ctx, s.db, r)
		if err != nil {
			return row, err
		}
		row.revoked, row.revAt, row.reason, row.until = "Yes", minute(r.RevokedAt), r.Reason, first
	case !cert.NotAfter.After(at):
		row.until = cert.NotAfter
	case inc.RevocationDue.After(at):
		row.revoked, row.valid = "Planned", true
	default:
		row.revoked, row.valid = "Delayed", true
	}
	return row, nil
}

// timeline merges the incident's events, its problem report's and its
// revocations, in time order; it also returns the recorded delays.
func (s *Service) timeline(ctx context.Context, by actor.Actor, inc Incident) ([]timelineEntry, []Event, error) {
	out := []timelineEntry{{inc.AwareAt, "CA became aware of the incident (" + inc.Trigger + ")"}}
	evs, err := s.tab.events.Select(ctx, s.db, `WHERE incident_id = ? ORDER BY at, `+s.tab.events.InsertOrder()+`, id`, inc.ID)
	if err != nil {
		return nil, nil, err
	}
	var delays []Event
	for _, e := range evs {
		if e.Kind == EventDelayRequested {
			delays = append(delays, e)
		}
		out = append(out, timelineEntry{e.At, eventText(e)})
	}
	if inc.ParentID != "" {
		// A delayed-revocation incident's delay requests were recorded on
		// the incident whose deadline passed, before this one existed;
		// its Analysis must give them (MRSP §6.1.3).
		pevs, err := s.tab.events.Select(ctx, s.db, `WHERE incident_id = ? AND kind = ? ORDER BY at, id`, inc.ParentID, EventDelayRequested)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range pevs {
			delays = append(delays, e)
			out = append(out, timelineEntry{e.At, eventText(e) + " (recorded on incident " + inc.ParentID + ")"})
		}
	}
	if inc.ProblemReportID != "" && s.deps.ProblemReports != nil {
		cevs, err := s.deps.ProblemReports.Timeline(ctx, by, inc.ProblemReportID)
		if err != nil {
			return nil, nil, err
		}
		for _, e := range cevs {
			out = append(out, timelineEntry{e.At, problemReportText(inc.ProblemReportID, e)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at.Before(out[j].at) })
	return out, delays, nil
}

// withRevocations adds the revocation of the affected set to the timeline
// (IRG v3.2 Timeline: actual revocation completion): the first revocation,
// and its completion once no certificate remains valid.
func withRevocations(tl []timelineEntry, rows []appendixRow) []timelineEntry {
	var first, last time.Time
	n := 0
	for _, r := range rows {
		if r.revoked != "Yes" {
			continue
		}
		n++
		if first.IsZero() || r.until.Before(first) {
			first = r.until
		}
		if r.until.After(last) {
			last = r.until
		}
	}
	if n == 0 {
		return tl
	}
	tl = append(tl, timelineEntry{first, "Revocation of the affected certificates started"})
	if end, ok := nonComplianceEnd(rows); ok && !end.Before(last) {
		tl = append(tl, timelineEntry{last, fmt.Sprintf("Revocation of the affected certificates completed (%d revoked)", n)})
	}
	sort.SliceStable(tl, func(i, j int) bool { return tl[i].at.Before(tl[j].at) })
	return tl
}

// nonComplianceEnd is when the last affected certificate stopped being
// valid (revoked or expired); false while one is still valid.
func nonComplianceEnd(rows []appendixRow) (time.Time, bool) {
	var end time.Time
	for _, r := range rows {
		if r.valid || r.until.IsZero() {
			return time.Time{}, false
		}
		if r.until.After(end) {
			end = r.until
		}
	}
	return end, len(rows) > 0
}

// problemReportText is a problem report's timeline entry; a report sent
// says which (IRG v3.2 Timeline: the preliminary report to the filer and
// to the Subscriber(s), BR §4.9.5) and to which subscriber account.
func problemReportText(id string, e cpr.Event) string {
	what := strings.ReplaceAll(string(e.Kind), "_", " ")
	if e.Kind == cpr.EventReportSent && e.Ref != "" {
		what = e.Ref + " " + what
	}
	text := fmt.Sprintf("Problem report %s: %s", id, what)
	if e.Role != "" {
		text += " to the " + e.Role
	}
	if e.Role == cpr.RoleSubscriber && e.AccountID != "" {
		text += " (account " + e.AccountID + ")"
	}
	return text
}

func eventText(e Event) string {
	text := strings.ReplaceAll(string(e.Kind), "_", " ")
	if e.Ref != "" {
		text += " " + e.Ref
	}
	switch {
	case e.Kind == EventActionItem || e.Kind == EventAnalysis:
		// Their detail is the record as JSON; the report renders the
		// record in its own sections.
		text += " recorded"
	case e.Detail != "":
		text += ": " + e.Detail
	}
	return strings.ToUpper(text[:1]) + text[1:]
}

// minute formats t in UTC to the minute (IRG v3.2 timelines).
func minute(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") + " UTC" }

func (d reportData) sourceText() string {
	return map[Source]string{SourceSelf: "Self Reported", SourceThirdParty: "Third Party Reported", SourceAudit: "Audit"}[d.inc.Source]
}

func (d reportData) description() string {
	desc := d.inc.Title
	if _, after, ok := strings.Cut(desc, ": "); ok {
		desc = after
	}
	return fmt.Sprintf("%s. %d certificate(s) affected; revocation required by BR §4.9.1.1 item %d (%s), due %s.",
		desc, len(d.rows), d.trigger.Number, d.trigger.Reason, minute(d.inc.RevocationDue))
}

func (d reportData) policies() string {
	return fmt.Sprintf("CA/Browser Forum TLS Baseline Requirements v2.2.6, §4.9.1.1 (%d): %s", d.trigger.Number, d.trigger.Text)
}

func (d reportData) counts() (total, valid, revoked, expired int) {
	for _, r := range d.rows {
		switch {
		case r.revoked == "Yes":
			revoked++
		case r.valid:
			valid++
		default:
			expired++
		}
	}
	return len(d.rows), valid, revoked, expired
}

func field(b *strings.Builder, name, value string) {
	if strings.TrimSpace(value) == "" {
		value = NA
	}
	fmt.Fprintf(b, "- **%s:** %s\n", name, value)
}

func (d reportData) preliminary() string {
	var b strings.Builder
	b.WriteString("## Preliminary Incident Report\n\n### Summary\n\n")
	field(&b, "Incident description", d.description())
	field(&b, "Relevant policies", d.policies())
	field(&b, "Source of incident disclosure", d.sourceText())
	return b.String()
}

func (d reportData) full() string {
	var b strings.Builder
	b.WriteString("## Full Incident Report\n\n")
	d.summary(&b)
	d.impact(&b)
	d.timelineSection(&b)
	d.relatedSection(&b)
	d.rootCauseSection(&b)
	d.lessonsSection(&b)
	d.actionItemsSection(&b)
	d.appendixSection(&b)
	return b.String()
}

func (d reportData) summary(b *strings.Builder) {
	b.WriteString("### Summary\n\n")
	field(b, "CA Owner CCADB unique ID", "")
	field(b, "Incident description", d.description())
	start, end := NA, NA
	if len(d.rows) > 0 {
		first := d.rows[0].cert.NotBefore
		for _, r := range d.rows {
			if r.cert.NotBefore.Before(first) {
				first = r.cert.NotBefore
			}
		}
		start = minute(first)
	}
	if last, ok := nonComplianceEnd(d.rows); ok {
		end = minute(last)
	}
	field(b, "Timeline summary", fmt.Sprintf("Non-compliance start date: %s; Non-compliance identified date: %s; Non-compliance end date: %s", start, minute(d.inc.AwareAt), end))
	field(b, "Relevant policies", d.policies())
	field(b, "Source of incident disclosure", d.sourceText())
	b.WriteString("\n")
}

func (d reportData) impact(b *strings.Builder) {
	total, valid, revoked, expired := d.counts()
	b.WriteString("### Impact\n\n")
	field(b, "Total number of certificates", fmt.Sprintf("%d (%d revoked, %d expired)", total, revoked, expired))
	field(b, "Total number of \"remaining valid\" certificates", strconv.Itoa(valid))
	field(b, "Affected certificate types", "OV (2.23.140.1.2.2)")
	heuristic := "The full list of certificates is in the Appendix."
	if d.inc.Query != "" {
		heuristic = "vetca saved query over the certificate inventory: `" + d.inc.Query + "`; the full list is in the Appendix."
	}
	field(b, "Incident heuristic", heuristic)
	field(b, "Was issuance stopped in response to this incident, and why or why not?", d.analysis.IssuanceStopped)
	analysis := d.analysis.ImpactAnalysis
	if d.inc.Kind == KindDelayedRevocation || len(d.delays) > 0 {
		var parts []string
		for _, e := range d.delays {
			parts = append(parts, fmt.Sprintf("%s: %s", minute(e.At), e.Detail))
		}
		analysis = strings.TrimSpace(analysis + " Delay requests recorded (none moved the deadline): " + strings.Join(parts, "; "))
	}
	field(b, "Analysis", analysis)
	field(b, "Additional considerations", "")
	b.WriteString("\n")
}

// timelineSection lists the timeline with the revocation deadline in its
// place among the events: IRG v3.2 asks for a time-ordered sequence, and
// events (a late revocation, a breach, reports posted) follow the deadline.
func (d reportData) timelineSection(b *strings.Builder) {
	b.WriteString("### Timeline\n\nAll times are UTC.\n\n")
	entries := append(append([]timelineEntry{}, d.timeline...), timelineEntry{d.inc.RevocationDue, "Revocation deadline (BR §4.9.1.1)"})
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].at.Before(entries[j].at) })
	for _, e := range entries {
		fmt.Fprintf(b, "- %s: %s\n", minute(e.at), e.text)
	}
	b.WriteString("\n")
}

func (d reportData) relatedSection(b *strings.Builder) {
	b.WriteString("### Related Incidents\n\n| Bug | Date | Description |\n|---|---|---|\n")
	if len(d.related) == 0 {
		b.WriteString("| N/A | N/A | N/A |\n")
	}
	for _, r := range d.related {
		fmt.Fprintf(b, "| %s | %s | %s |\n", r.ID, r.AwareAt.UTC().Format("2006-01-02"), strings.ReplaceAll(r.Title, "|", "\\|"))
	}
	b.WriteString("\n")
}

func (d reportData) appendixSection(b *strings.Builder) {
	b.WriteString("### Appendix\n\nThe Appendix CSV lists every affected certificate (columns: " + strings.Join(AppendixColumns, ", ") + ").\n\n")
	for _, r := range d.rows {
		fmt.Fprintf(b, "- https://crt.sh/?sha256=%s\n", r.cert.CertSHA256)
	}
}

func (d reportData) closure() string {
	var b strings.Builder
	b.WriteString("## Closure Report\n\n### Report Closure Summary\n\n")
	field(&b, "Incident description", d.description())
	field(&b, "Incident Root Cause(s)", d.rootCauses())
	_, valid, revoked, _ := d.counts()
	field(&b, "Remediation description", strings.TrimSpace(fmt.Sprintf("%d certificate(s) revoked; %d remaining valid. %s", revoked, valid, d.analysis.Remediation)))
	var commitments []string
	for _, a := range d.items {
		commitments = append(commitments, fmt.Sprintf("%s (%s)", a.Title, a.Status))
	}
	field(&b, "Commitment summary", strings.Join(commitments, "; "))
	if valid > 0 {
		// A closure is refused while one is valid with no delay recorded
		// (checkClosable).
		fmt.Fprintf(&b, "\n%d certificate(s) of this incident remain valid (BR §4.9.1.1 requires their revocation; recorded delay requests are in the timeline), so this report does not request its closure.\n", valid)
		return b.String()
	}
	b.WriteString("\nAll Action Items disclosed in this report have been completed as described, and we request its closure.\n")
	return b.String()
}

func (d reportData) legacy() string {
	var b strings.Builder
	total, valid, revoked, _ := d.counts()
	fmt.Fprintf(&b, "1. How your CA first became aware of the problem, and the time and date: %s (%s), %s.\n\n", d.sourceText(), d.inc.Title, minute(d.inc.AwareAt))
	b.WriteString("2. A timeline of the actions your CA took in response:\n\n")
	for _, e := range d.timeline {
		fmt.Fprintf(&b, "   - %s: %s\n", minute(e.at), e.text)
	}
	fmt.Fprintf(&b, "\n3. Whether your CA has stopped, or has not yet stopped, certificate issuance or the process giving rise to the problem: %s\n\n", orNA(d.analysis.IssuanceStopped))
	first, last := NA, NA
	if len(d.rows) > 0 {
		ts := make([]time.Time, 0, len(d.rows))
		for _, r := range d.rows {
			ts = append(ts, r.cert.NotBefore)
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
		first, last = minute(ts[0]), minute(ts[len(ts)-1])
	}
	fmt.Fprintf(&b, "4. A summary of the problematic certificates: %d certificate(s), first issued %s, last issued %s; %d revoked, %d remaining valid.\n\n", total, first, last, revoked, valid)
	b.WriteString("5. The complete certificate data for the problematic certificates:\n\n")
	for _, r := range d.rows {
		fmt.Fprintf(&b, "   - https://crt.sh/?sha256=%s\n", r.cert.CertSHA256)
	}
	fmt.Fprintf(&b, "\n6. Explanation about how and why the mistakes were made or bugs introduced, and how they avoided detection until now: %s\n\n", orNA(d.legacyCauses()))
	fmt.Fprintf(&b, "7. List of steps your CA is taking to resolve the situation and ensure that such a situation or incident will not be repeated in the future: %s\n", orNA(d.legacySteps()))
	return b.String()
}

func orNA(v string) string {
	if strings.TrimSpace(v) == "" {
		return NA
	}
	return v
}

// legacyCauses is topic 6 of the seven-topic format: each contributing
// factor with its description and detection.
func (d reportData) legacyCauses() string {
	var out []string
	for _, f := range d.analysis.Factors {
		parts := []string{}
		for _, p := range []string{f.Title, f.Description, f.Detection} {
			if p = strings.TrimSpace(p); p != "" {
				parts = append(parts, p)
			}
		}
		if len(parts) > 0 {
			out = append(out, strings.Join(parts, ". "))
		}
	}
	return strings.Join(out, "; ")
}

// legacySteps is topic 7: each action item with its kind, status and due
// date (IRG 1.0 asks for status and completion date per step).
func (d reportData) legacySteps() string {
	var out []string
	for _, a := range d.items {
		due := NA
		if a.Due != nil {
			due = a.Due.UTC().Format(time.DateOnly)
		}
		out = append(out, fmt.Sprintf("%s (%s, %s, due %s)", a.Title, a.Kind, a.Status, due))
	}
	return strings.Join(out, "; ")
}

// appendixCSV is the IRG v3.2 Appendix: the eleven columns in order, then
// the crt.sh link.
func (d reportData) appendixCSV() []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(append(append([]string{}, AppendixColumns...), "crt.sh"))
	for _, r := range d.rows {
		c := r.cert
		_ = w.Write([]string{NA, c.CertSHA256, c.Subject, r.issuer, c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339),
			c.Serial, strings.Join(c.DNSNames, " "), r.revoked, r.revAt, r.reason, "https://crt.sh/?sha256=" + c.CertSHA256})
	}
	w.Flush()
	return buf.Bytes()
}

// DisclosureInput is the body of POST /api/v1/incidents/{id}/disclosures:
// a report posted (preliminary, full, update or closure), when, and the
// "Next update" date it set.
type DisclosureInput struct {
	Kind       string     `json:"kind"`
	PostedAt   *time.Time `json:"postedAt"`
	NextUpdate *time.Time `json:"nextUpdate"`
}

// RecordDisclosure records a report posted on the incident: the first one
// meets the initial report, a full report the full report, and every one
// is an update (and sets the next update date). It meets obligations; it
// moves no deadline (revocationDue and initialReportDue stay). A closure
// is refused while a certificate of the set is still valid with no delay
// recorded for it (checkClosable).
func (s *Service) RecordDisclosure(ctx context.Context, by actor.Actor, id string, in DisclosureInput) (Incident, error) {
	if err := require(by, staffRoles...); err != nil {
		return Incident{}, err
	}
	if in.Kind != FormatPreliminary && in.Kind != FormatFull && in.Kind != "update" && in.Kind != FormatClosure {
		return Incident{}, apperr.Invalid(apperr.CodeInvalidValue, "kind", "kind %q is not preliminary, full, update or closure", in.Kind)
	}
	now := s.now()
	at := now
	if in.PostedAt != nil {
		at = in.PostedAt.UTC().Truncate(time.Second)
	}
	if at.After(now) {
		return Incident{}, apperr.Invalid(apperr.CodeInvalidTime, "postedAt", "postedAt is in the future")
	}
	var inc Incident
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if err := s.tab.incidents.Lock(ctx, tx, id, &inc); err != nil {
			return err
		}
		if at.Before(inc.AwareAt) {
			return apperr.Invalid(apperr.CodeInvalidTime, "postedAt", "postedAt is before awareAt")
		}
		if in.Kind == FormatClosure {
			if err := s.checkClosable(ctx, tx, inc); err != nil {
				return err
			}
		}
		applyDisclosure(&inc, in, at)
		if err := s.tab.incidents.Update(ctx, tx, by, actIncidentUpdated, inc); err != nil {
			return err
		}
		return s.event(ctx, tx, by, Event{IncidentID: id, Kind: EventReportPosted, At: at, Ref: in.Kind})
	})
	return inc, err
}

// applyDisclosure records a report posted at at. Reports are recorded
// after the fact and not always in the order they were posted: the initial
// and full reports are met by the earliest such report, and the next
// update runs from the latest one (IRG v3.2), so a report recorded late
// with an earlier postedAt moves no clock back.
func applyDisclosure(inc *Incident, in DisclosureInput, at time.Time) {
	if inc.InitialReportAt == nil || at.Before(*inc.InitialReportAt) {
		inc.InitialReportAt = &at
	}
	if (in.Kind == FormatFull || in.Kind == FormatClosure) && (inc.FullReportAt == nil || at.Before(*inc.FullReportAt)) {
		inc.FullReportAt = &at
	}
	if inc.LastUpdateAt == nil || !at.Before(*inc.LastUpdateAt) {
		inc.LastUpdateAt, inc.NextUpdate = &at, nil
		if in.NextUpdate != nil {
			nu := in.NextUpdate.UTC().Truncate(time.Second)
			inc.NextUpdate = &nu
		}
	}
	if in.Kind == FormatClosure {
		inc.Status = StatusClosed
	}
}

func (d reportData) rootCauseSection(b *strings.Builder) {
	b.WriteString("### Root Cause Analysis\n\n")
	factors := d.analysis.Factors
	if len(factors) == 0 {
		factors = []Factor{{}}
	}
	for i, f := range factors {
		title := f.Title
		if strings.TrimSpace(title) == "" {
			title = NA
		}
		fmt.Fprintf(b, "**Contributing Factor #%d: %s**\n\n", i+1, title)
		field(b, "Description", f.Description)
		field(b, "Timeline", f.Timeline)
		field(b, "Detection", f.Detection)
		field(b, "Interaction with other factors", f.Interaction)
		field(b, "Root Cause Analysis methodology used", f.Methodology)
		b.WriteString("\n")
	}
}

func (d reportData) lessonsSection(b *strings.Builder) {
	b.WriteString("### Lessons Learned\n\n")
	field(b, "What went well", d.analysis.WentWell)
	field(b, "What didn't go well", d.analysis.DidNotGoWell)
	field(b, "Where we got lucky", d.analysis.Lucky)
	field(b, "Additional", d.analysis.Additional)
	b.WriteString("\n")
}

func (d reportData) actionItemsSection(b *strings.Builder) {
	b.WriteString("### Action Items\n\n| Action Item | Kind | Corresponding Root Cause(s) | Evaluation Criteria | Due Date | Status |\n|---|---|---|---|---|---|\n")
	if len(d.items) == 0 {
		b.WriteString("| N/A | N/A | N/A | N/A | N/A | N/A |\n")
	}
	cell := func(v string) string {
		if strings.TrimSpace(v) == "" {
			return NA
		}
		return strings.ReplaceAll(strings.ReplaceAll(v, "|", "\\|"), "\n", " ")
	}
	for _, a := range d.items {
		due := NA
		if a.Due != nil {
			due = a.Due.UTC().Format(time.DateOnly)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", cell(a.Title), a.Kind, cell(a.RootCauses), cell(a.Evaluation), due, a.Status)
	}
	b.WriteString("\n")
}

// rootCauses is the closure report's one-line list of contributing factors.
func (d reportData) rootCauses() string {
	var out []string
	for _, f := range d.analysis.Factors {
		if t := strings.TrimSpace(f.Title); t != "" {
			out = append(out, t)
		}
	}
	return strings.Join(out, "; ")
}
