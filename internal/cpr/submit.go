package cpr

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/plaintext"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/serial"
	"github.com/vetca/vetca/internal/store"
)

// Limits of a submission.
const (
	MaxDescription  = 20000
	MaxSerials      = 1000
	MaxCertificates = 100
)

// Submission is a problem report as the reporter sends it: the body of
// POST /api/v1/problem-reports and of the /report form, or a mail
// (FromMail).
type Submission struct {
	ReporterEmail string   `json:"reporterEmail"`
	Category      string   `json:"category"`
	Description   string   `json:"description"`
	Serials       []string `json:"serials"`
	Certificates  []string `json:"certificates"` // PEM
	PrivateKey    string   `json:"privateKey"`   // PEM: PKCS#1, PKCS#8 or SEC1; never stored
	CSR           string   `json:"csr"`          // PEM, signed by the compromised key
	// Channel is set by the intake (web, api, email), never by the reporter.
	Channel Channel `json:"-"`
	// Attachments are raw blobs (PEM or DER certificates, keys, CSRs), as
	// mail carries them; ParseEvidence classifies them.
	Attachments [][]byte `json:"-"`
	// mailText is a mailed report's text as received (its evidence blocks
	// replaced by markers), kept as evidence when FromMail had to cut the
	// description. Only FromMail sets it.
	mailText string
}

// keyProof is a key the report names by its private key or a CSR signed
// by it, and where it came from. Every such key is matched; only one that
// proves shows the key compromised and decides the report on receipt.
type keyProof struct {
	spki  string
	by    MatchedBy // ByKey or ByCSR
	field string    // the input that carried it
	// csrDER is the CSR, for ByCSR.
	csrDER []byte
	// proves: a private key always proves; a CSR proves only in a
	// keyCompromise report, and only if vetca never received that exact
	// CSR before (see provingCSRs).
	proves bool
}

// checked is a submission that passed every check.
type checked struct {
	sub      Submission
	category Category
	email    string
	serials  []string
	certs    []*x509.Certificate
	proofs   []keyProof
	skipped  int
	// csrs are the CSRs the report carries (its csr field and its
	// attachments), in PEM, each once: the case keeps them as evidence.
	csrs []string
}

// proven reports whether the report proves a key compromised: a private
// key, or a key-compromise report with a fresh CSR signed by the key.
func (c checked) proven() bool { return len(c.provenKeys()) > 0 }

// provenKeys are the SPKI SHA-256s of the keys the report proves
// compromised, each once.
func (c checked) provenKeys() []string {
	var out []string
	for _, p := range c.proofs {
		if p.proves {
			out = appendOnce(out, p.spki)
		}
	}
	return out
}

// evidenceRecord is what a case keeps of its evidence: never a private key.
type evidenceRecord struct {
	Serials         []string `json:"serials,omitempty"`
	Certificates    []string `json:"certificates,omitempty"` // PEM, as sent
	CSRs            []string `json:"csrs,omitempty"`         // PEM
	CompromisedKeys []string `json:"compromisedKeys,omitempty"`
	// ReportedKeys are keys of CSRs that prove nothing (another category,
	// or a CSR vetca already held): matched, left to compliance.
	ReportedKeys []string `json:"reportedKeys,omitempty"`
	Skipped      int      `json:"skippedAttachments,omitempty"`
	// MailText is a mailed report's whole text when its description had to
	// be cut (FromMail), so that nothing the reporter wrote is lost.
	MailText string `json:"mailText,omitempty"`
	// DecisionScope is what a staff decision covers: the serials the case
	// had matched when it was taken (a revoke proposal included), and the
	// certificates it revoked for sharing their key. nil until a staff
	// decision, and on cases decided before the scope was kept (covers).
	DecisionScope *[]string `json:"decisionScope,omitempty"`
}

// check validates a submission completely, before anything is written.
func check(sub Submission) (checked, error) {
	c := checked{sub: sub}
	var err error
	if c.email, err = checkEmail(sub.ReporterEmail); err != nil {
		return c, err
	}
	if c.category, err = checkCategory(sub.Category); err != nil {
		return c, err
	}
	if err := checkDescription(sub.Description); err != nil {
		return c, err
	}
	if c.serials, err = checkSerials(sub.Serials); err != nil {
		return c, err
	}
	if len(sub.Certificates) > MaxCertificates {
		return c, apperr.Invalid(apperr.CodeTooLong, "certificates", "at most %d certificates", MaxCertificates)
	}
	if c.certs, err = parseCertsPEM(sub.Certificates); err != nil {
		return c, err
	}
	if err := c.addFields(); err != nil {
		return c, err
	}
	return c, c.addAttachments()
}

func (c *checked) addFields() error {
	if strings.TrimSpace(c.sub.PrivateKey) != "" {
		k, err := parseKeyPEM(c.sub.PrivateKey)
		if err != nil {
			return err
		}
		h, err := spkiOf(k.Public(), "privateKey")
		if err != nil {
			return err
		}
		c.proofs = append(c.proofs, keyProof{spki: h, by: ByKey, field: "privateKey", proves: true})
	}
	if strings.TrimSpace(c.sub.CSR) != "" {
		csr, err := parseCSRPEM(c.sub.CSR)
		if err != nil {
			return err
		}
		h, err := spkiOf(csr.PublicKey, "csr")
		if err != nil {
			return err
		}
		c.proofs = append(c.proofs, keyProof{spki: h, by: ByCSR, field: "csr", csrDER: csr.Raw, proves: c.category == CategoryKeyCompromise})
		c.csrs = appendOnce(c.csrs, strings.TrimSpace(c.sub.CSR))
	}
	return nil
}

func (c *checked) addAttachments() error {
	if len(c.sub.Attachments) == 0 {
		return nil
	}
	ev, err := ParseEvidence(c.sub.Attachments)
	if err != nil {
		return err
	}
	c.certs, c.skipped = append(c.certs, ev.Certificates...), ev.Skipped
	for _, k := range ev.Keys {
		h, err := spkiOf(k.Public(), "attachments")
		if err != nil {
			return err
		}
		c.proofs = append(c.proofs, keyProof{spki: h, by: ByKey, field: "attachments", proves: true})
	}
	for _, r := range ev.CSRs {
		h, err := spkiOf(r.PublicKey, "attachments")
		if err != nil {
			return err
		}
		c.proofs = append(c.proofs, keyProof{spki: h, by: ByCSR, field: "attachments", csrDER: r.Raw, proves: c.category == CategoryKeyCompromise})
		c.csrs = appendOnce(c.csrs, strings.TrimSpace(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: r.Raw}))))
	}
	return nil
}

// checkEmail accepts only a plain address (name@example.org), stored as
// sent: the preliminary and final reports go there (BR §4.9.5), so an
// address the outbox could not mail, such as one with a quoted local part
// ("John Smith"@example.org) or a display name, is refused at intake
// rather than stored and found unmailable later.
func checkEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", apperr.Invalid(apperr.CodeMissingField, "reporterEmail", "reporterEmail is required: the preliminary report is sent there (BR §4.9.5)")
	}
	if err := plaintext.CheckEmail("reporterEmail", s, true); err != nil {
		return "", err
	}
	return s, nil
}

func checkCategory(s string) (Category, error) {
	switch c := Category(s); c {
	case CategoryKeyCompromise, CategoryMisissuance, CategoryOther:
		return c, nil
	case "":
		return "", apperr.Invalid(apperr.CodeMissingField, "category", "category is required: keyCompromise, misissuance or other")
	}
	return "", apperr.Invalid(apperr.CodeInvalidCategory, "category", "category %q is not keyCompromise, misissuance or other", s)
}

func checkDescription(s string) error {
	switch {
	case strings.TrimSpace(s) == "":
		return apperr.Invalid(apperr.CodeMissingField, "description", "description is required: what is the problem?")
	case !utf8.ValidString(s):
		return apperr.Invalid(apperr.CodeInvalidText, "description", "description is not valid UTF-8")
	case len(s) > MaxDescription:
		return apperr.Invalid(apperr.CodeTooLong, "description", "description is longer than %d bytes", MaxDescription)
	}
	return nil
}

func checkSerials(in []string) ([]string, error) {
	if len(in) > MaxSerials {
		return nil, apperr.Invalid(apperr.CodeTooLong, "serials", "at most %d serials", MaxSerials)
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		n, err := serial.Normalize(s)
		if err != nil {
			return nil, apperr.Invalid(apperr.CodeInvalidSerial, "serials", "serials: %q is not a certificate serial number", s)
		}
		if !seen[n] {
			seen[n], out = true, append(out, n)
		}
	}
	return out, nil
}

// Submit records a report. Everything is checked first; then one
// transaction records the case, everything it matches (every certificate
// and issuance in flight, of every account), and, when the report proves a
// key compromised, the decision: revocation due 24 hours after receipt
// (BR §4.9.1.1 item 3, counted from receipt, §4.9.5), every matched stored
// certificate revoked with keyCompromise, and the key blocked (BR
// §6.1.1.3(4)). The case is durable when Submit returns.
func (s *Service) Submit(ctx context.Context, sub Submission) (Case, error) {
	c, err := check(sub)
	if err != nil {
		return Case{}, err
	}
	var out Case
	var revs []revocation.Revocation
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		ms, err := s.match(ctx, tx, c)
		if err != nil {
			return err
		}
		if err := requireKeyMatches(c, ms); err != nil {
			return err
		}
		if err := s.provingCSRs(ctx, tx, &c); err != nil {
			return err
		}
		out = s.newCase(c)
		if err := s.record(ctx, tx, &out, c, ms); err != nil {
			return err
		}
		if c.proven() && len(ms) > 0 {
			revs, err = s.decideOnReceipt(ctx, tx, &out, c, ms)
		}
		return err
	})
	if err != nil {
		return Case{}, err
	}
	s.deps.Revoker.Published(ctx, revs...)
	return out, nil
}

// provingCSRs takes the proof away from a CSR that vetca already holds as
// an order's CSR. That CSR was sent to vetca, and perhaps through a
// reseller or a hosting provider; every staff user can read it from the
// order. It shows that someone once held the key, not who holds it now,
// so it must not revoke the certificate and block the key without a
// person deciding.
func (s *Service) provingCSRs(ctx context.Context, q store.Querier, c *checked) error {
	for i, p := range c.proofs {
		if p.by != ByCSR || !p.proves {
			continue
		}
		held, err := s.deps.Orders.HoldsCSR(ctx, q, p.spki, p.csrDER)
		if err != nil {
			return err
		}
		c.proofs[i].proves = !held
	}
	return nil
}

// requireKeyMatches refuses a key or CSR that is on no certificate and no
// issuance: it names the input that carried it.
func requireKeyMatches(c checked, ms []Match) error {
	for _, p := range c.proofs {
		found := false
		for _, m := range ms {
			found = found || m.SPKISHA256 == p.spki
		}
		if !found {
			return apperr.Invalid(apperr.CodeNoMatch, p.field, "the key (SPKI SHA-256 %s) is on no certificate vetca issued and no issuance in flight", p.spki)
		}
	}
	return nil
}

func (s *Service) newCase(c checked) Case {
	now := s.now()
	ev := evidenceRecord{Serials: c.serials, Skipped: c.skipped, MailText: c.sub.mailText, CSRs: c.csrs}
	for _, cert := range c.certs {
		ev.Certificates = append(ev.Certificates, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})))
	}
	ev.CompromisedKeys = c.provenKeys()
	for _, p := range c.proofs {
		if !p.proves && !slices.Contains(ev.CompromisedKeys, p.spki) {
			ev.ReportedKeys = appendOnce(ev.ReportedKeys, p.spki)
		}
	}
	evj, _ := json.Marshal(ev)
	out := Case{ID: ids.New("cpr"), ReporterEmail: c.email, Category: c.category, Description: c.sub.Description,
		Channel: c.sub.Channel, Status: StatusReceived, ReceivedAt: now, PreliminaryReportDue: br.PreliminaryReportDue(now),
		Evidence: string(evj)}
	if out.Channel == "" {
		out.Channel = ChannelAPI
	}
	if len(ev.CompromisedKeys) > 0 {
		out.SPKISHA256 = ev.CompromisedKeys[0]
	}
	return out
}

func appendOnce(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// record inserts the case, its receipt, and its matches.
func (s *Service) record(ctx context.Context, tx *store.Tx, c *Case, ch checked, ms []Match) error {
	by := reporter(c.ReporterEmail)
	if err := s.tab.reports.Insert(ctx, tx, by, actReportReceived, *c); err != nil {
		return err
	}
	detail := "channel " + string(c.Channel) + ", category " + string(c.Category)
	if err := s.event(ctx, tx, by, Event{ReportID: c.ID, Kind: EventReceived, Detail: detail}); err != nil {
		return err
	}
	return s.insertMatches(ctx, tx, by, c.ID, ms)
}

// event appends one timeline entry (its At is now unless set).
func (s *Service) event(ctx context.Context, tx *store.Tx, by actor.Actor, e Event) error {
	if e.ID == "" {
		e.ID = ids.New("cpe")
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	e.Actor = by.String()
	return s.tab.events.Insert(ctx, tx, by, actReportEvent, e)
}

// reporter is the actor of a public report.
func reporter(email string) actor.Actor {
	return actor.Actor{Kind: actor.Public, ID: "reporter", Name: email}
}

// certHash is the SHA-256 of a certificate's DER, as certificates store it.
func certHash(c *x509.Certificate) string {
	h := sha256.Sum256(c.Raw)
	return hex.EncodeToString(h[:])
}

// revocationDueOf is the BR clock of a decision: from receipt (BR §4.9.5),
// never from the decision.
func revocationDueOf(receivedAt time.Time, t br.Trigger) time.Time {
	return br.ProblemReportRevocationDue(receivedAt, t)
}
