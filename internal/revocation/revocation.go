// Package revocation revokes certificates under the BR reason rules (BR
// §4.9.1.1, §7.2.2; MRSP §6.1.1), publishes sharded CRLs (BR §4.9.7, §7.2,
// §7.2.2.1) and serves pre-signed OCSP responses (RFC 6960, RFC 5019, BR
// §4.9.9).
//
// A subscriber may choose no reason (the default), keyCompromise,
// affiliationChanged, superseded or cessationOfOperation; privilegeWithdrawn
// is the CA's; certificateHold and every other code are refused. Staff
// revoke by naming the BR §4.9.1.1 trigger, and the reason and deadline are
// derived from it. A later keyCompromise upgrades an entry's reason and may
// backdate its revocationDate, never before the certificate's notBefore
// (br.KeyCompromiseDate, for a first revocation and an upgrade alike).
// keyCompromise blocks the key for future orders (BR §6.1.1.3(4)) and, in
// the same transaction, revokes every other unexpired certificate with the
// key (BR §4.9.1.1(3)).
package revocation

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/store"
)

// Sources of a revocation.
const (
	SourceSubscriber = "subscriber"
	SourceStaff      = "staff"
	SourceRecovery   = "recovery" // an interrupted issuance resolved at start-up
	SourceReport     = "problem-report"
	SourceIncident   = "incident"
	SourceKeyHolder  = "key-holder" // a request signed by the certificate's own key (ACME revokeCert)
	// SourceSameKey: another certificate with the same key was revoked
	// with keyCompromise (BR §4.9.1.1(3)); the evidence names its serial.
	SourceSameKey = "same-key"
)

// Revocation is one revoked serial.
type Revocation struct {
	ID          string     `db:"id" json:"-"`
	Serial      string     `db:"serial" json:"serial"`
	IssuerID    string     `db:"issuer_id" json:"issuerId"`
	Shard       int        `db:"shard" json:"crlShard"`
	CRLURL      string     `db:"crl_url" json:"crlUrl"`
	Reason      string     `db:"reason" json:"reason"`
	ReasonCode  int        `db:"reason_code" json:"reasonCode"`
	RevokedAt   time.Time  `db:"revoked_at" json:"revokedAt"`
	RecordedAt  time.Time  `db:"recorded_at" json:"recordedAt"`
	RequestedBy string     `db:"requested_by" json:"requestedBy"`
	Source      string     `db:"source" json:"source"`
	Trigger     string     `db:"br_trigger" json:"trigger,omitempty"`
	Evidence    string     `db:"evidence" json:"evidence,omitempty"`
	EvidenceAt  time.Time  `db:"evidence_at" json:"evidenceAt"`
	Deadline    *time.Time `db:"deadline" json:"deadline,omitempty"`
	NotAfter    time.Time  `db:"not_after" json:"notAfter"`

	// sameKey are the revocations this keyCompromise caused in the same
	// transaction (revokeSameKey). It is no column: it travels with the
	// value so that Published, called by whoever committed, tells the
	// listeners about them too, and no caller of RevokeInTx must know.
	sameKey []Revocation
}

// SameKey returns the revocations of other certificates with the same key
// that this keyCompromise revocation made in its transaction (BR
// §4.9.1.1(3)); nil for any other.
func (r Revocation) SameKey() []Revocation { return r.sameKey }

// Changed is told about every revocation so status can be republished
// promptly (the CRL publisher and OCSP signer).
type Changed interface {
	Revoked(ctx context.Context, r Revocation)
}

// Service is the revocation service.
type Service struct {
	db     *store.DB
	rec    *audit.Recorder
	tab    tables
	clk    clock.Clock
	notify []Changed
}

// New returns the revocation service.
func New(db *store.DB, rec *audit.Recorder, clk clock.Clock) *Service {
	return &Service{db: db, rec: rec, tab: newTables(rec), clk: clk}
}

// OnRevoke registers a listener.
func (s *Service) OnRevoke(c Changed) { s.notify = append(s.notify, c) }

// Input is the body of POST /certificates/{serial}/revoke.
type Input struct {
	Reason string `json:"reason"`
	// Trigger names the BR §4.9.1.1 item ("4.9.1.1#N"); staff only.
	Trigger string `json:"trigger"`
	// Evidence describes why (staff); CompromisedAt backdates a
	// keyCompromise (BR §7.2.2); EvidenceAt is when the CA obtained the
	// evidence, which starts the BR clock (default now).
	Evidence      string     `json:"evidence"`
	CompromisedAt *time.Time `json:"compromisedAt"`
	EvidenceAt    *time.Time `json:"evidenceAt"`
}

// Decision is what a request resolves to.
type Decision struct {
	Reason     br.Reason
	Trigger    *br.Trigger
	Source     string
	EvidenceAt time.Time
	Deadline   *time.Time
}

// Decide applies the reason rules to a request by `by` (POST /certificates/{serial}/revoke).
// Revocation cannot be undone, so a request must say why: a reason, or
// for staff a trigger with its evidence. A request naming neither (an
// empty body, {}) is refused with missing_field naming reason, never
// taken as unspecified; unspecified is a reason one may send
// (docs/api.md, Orders and certificates).
func Decide(by actor.Actor, in Input, now time.Time) (Decision, error) {
	evidenceAt, err := checkTimes(in, now)
	if err != nil {
		return Decision{}, err
	}
	d := Decision{EvidenceAt: evidenceAt}
	switch {
	case by.Kind == actor.Subscriber:
		if in.Trigger != "" {
			return Decision{}, apperr.Forbidden(apperr.CodeForbidden, "trigger", "only CA staff revoke by BR §4.9.1.1 trigger; choose a reason")
		}
		if strings.TrimSpace(in.Reason) == "" {
			return Decision{}, apperr.Invalid(apperr.CodeMissingField, "reason",
				"name the reason for revoking: one of %s (unspecified puts no reason in the CRL entry)", reasonNames(br.SubscriberReasons()))
		}
		r, err := br.ParseSubscriberReason(in.Reason)
		if err != nil {
			return Decision{}, err
		}
		d.Reason, d.Source = r, SourceSubscriber
		// BR §4.9.1.1(1): the subscriber's written request, 24 hours.
		dl := br.SubscriberRequestDeadline(d.EvidenceAt)
		d.Deadline = &dl
	case by.IsStaff():
		if err := by.Require(actor.Compliance, actor.Admin); err != nil {
			return Decision{}, err
		}
		d.Source = SourceStaff
		if in.Trigger != "" {
			if in.Reason != "" {
				return Decision{}, apperr.Invalid(apperr.CodeReasonWithTrigger, "reason", "name either a trigger or a reason; the trigger determines the reason")
			}
			t, err := br.ParseTrigger(in.Trigger)
			if err != nil {
				return Decision{}, err
			}
			d.Reason, d.Trigger = t.Reason, &t
			dl := t.Deadline(d.EvidenceAt)
			d.Deadline = &dl
		} else {
			if strings.TrimSpace(in.Reason) == "" {
				return Decision{}, apperr.Invalid(apperr.CodeMissingField, "reason",
					"name the reason for revoking, one of %s (unspecified puts no reason in the CRL entry), or instead a BR §4.9.1.1 trigger with its evidence", reasonNames(br.CAReasons()))
			}
			r, err := br.ParseReason(in.Reason)
			if err != nil {
				return Decision{}, err
			}
			d.Reason = r
		}
		if strings.TrimSpace(in.Evidence) == "" && d.Trigger != nil {
			return Decision{}, apperr.Invalid(apperr.CodeMissingField, "evidence", "record the evidence for a trigger revocation (BR §5.4.1)")
		}
	default:
		return Decision{}, apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "not allowed")
	}
	if in.CompromisedAt != nil && d.Reason != br.KeyCompromise {
		return Decision{}, apperr.Invalid(apperr.CodeInvalidField, "compromisedAt", "compromisedAt applies to keyCompromise only")
	}
	return d, nil
}

// checkTimes checks the times a request names and returns when the CA
// obtained the evidence (now unless evidenceAt says otherwise). Neither
// may be the zero time: the store writes it as NULL, which the evidence_at
// column refuses, and a compromisedAt of year 1 is no compromise time (a
// client's unset time), whose backdating (BR §7.2.2) cannot be guessed.
func checkTimes(in Input, now time.Time) (time.Time, error) {
	if in.CompromisedAt != nil && in.CompromisedAt.UTC().Truncate(time.Second).IsZero() {
		return time.Time{}, apperr.Invalid(br.CodeBadCompromiseAt, "compromisedAt", "compromisedAt %s is not a time the key was compromised; leave it out when the time is not known", in.CompromisedAt.UTC().Format(time.RFC3339))
	}
	if in.EvidenceAt == nil {
		return now, nil
	}
	if in.EvidenceAt.After(now) {
		return time.Time{}, apperr.Invalid(apperr.CodeInvalidTime, "evidenceAt", "evidenceAt is in the future")
	}
	if in.EvidenceAt.UTC().Truncate(time.Second).IsZero() {
		return time.Time{}, apperr.Invalid(apperr.CodeInvalidTime, "evidenceAt", "evidenceAt %s is not a time the CA obtained evidence", in.EvidenceAt.UTC().Format(time.RFC3339))
	}
	return in.EvidenceAt.UTC(), nil
}

// reasonNames lists reasons for people: "unspecified, keyCompromise, …".
func reasonNames(rs []br.Reason) string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.String()
	}
	return strings.Join(names, ", ")
}

// Revoke revokes a certificate (or upgrades its revocation to
// keyCompromise) and returns the revocation.
func (s *Service) Revoke(ctx context.Context, by actor.Actor, serial string, in Input) (Revocation, issuance.Certificate, error) {
	now := s.clk.Now().UTC().Truncate(time.Second)
	d, err := Decide(by, in, now)
	if err != nil {
		return Revocation{}, issuance.Certificate{}, err
	}
	return s.revokeOne(ctx, by, serial, d, in, now)
}

// revokeOne revokes serial as d decided, in a transaction of its own, and
// tells the listeners. A subscriber's request for a certificate of
// another account finds nothing.
func (s *Service) revokeOne(ctx context.Context, by actor.Actor, serial string, d Decision, in Input, now time.Time) (Revocation, issuance.Certificate, error) {
	var out Revocation
	var cert issuance.Certificate
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		cert, err = issuance.GetCertificate(ctx, s.rec, tx, serial)
		if err != nil {
			return err
		}
		if by.Kind == actor.Subscriber && cert.AccountID != by.AccountID {
			return apperr.NotFound(apperr.CodeNotFound, "serial", "no certificate with serial %s", serial)
		}
		out, err = s.revokeInTx(ctx, tx, by, cert, d, in, now)
		return err
	})
	if err != nil {
		return Revocation{}, issuance.Certificate{}, err
	}
	s.Published(ctx, out)
	return out, cert, nil
}

// RevokeProvenCompromise revokes serial with keyCompromise for whoever
// proved possession of its private key by signing the request with it
// (RFC 8555 §7.6, a revokeCert signed by the certificate key), and blocks
// the key (BR §6.1.1.3(4)). Proof of possession by someone who should not
// have the key is a Key Compromise (BR §4.9.1.1(3): 24 hours), whoever
// asks; evidence describes the proof. A revoked certificate is upgraded
// to keyCompromise (BR §7.2.2).
func (s *Service) RevokeProvenCompromise(ctx context.Context, by actor.Actor, serial, evidence string) (Revocation, issuance.Certificate, error) {
	now := s.clk.Now().UTC().Truncate(time.Second)
	t, err := keyCompromiseTrigger()
	if err != nil {
		return Revocation{}, issuance.Certificate{}, err
	}
	dl := t.Deadline(now)
	d := Decision{Reason: br.KeyCompromise, Trigger: &t, Source: SourceKeyHolder, EvidenceAt: now, Deadline: &dl}
	return s.revokeOne(ctx, by, serial, d, Input{Evidence: evidence}, now)
}

// keyCompromiseTrigger is BR §4.9.1.1 item 3: evidence that the key
// suffered a Key Compromise (24 hours, keyCompromise).
func keyCompromiseTrigger() (br.Trigger, error) {
	t, ok := br.TriggerByNumber(3)
	if !ok || t.Reason != br.KeyCompromise {
		return br.Trigger{}, fmt.Errorf("revocation: BR §4.9.1.1(3) is not the key compromise trigger")
	}
	return t, nil
}

// RevokeInTx revokes inside the caller's transaction (incidents, problem
// reports). Listeners are not called; the caller calls Published with
// what it returns, which also carries the revocations a keyCompromise
// caused (SameKey).
func (s *Service) RevokeInTx(ctx context.Context, tx *store.Tx, by actor.Actor, cert issuance.Certificate, d Decision, in Input) (Revocation, error) {
	return s.revokeInTx(ctx, tx, by, cert, d, in, s.clk.Now().UTC().Truncate(time.Second))
}

// Published tells listeners about revocations made with RevokeInTx, and
// about the revocations each of them caused (SameKey). The revocations
// are committed: what follows them (the re-signed OCSP answers) runs to
// its end whether or not the caller's context does (a client that gave
// up on its request, a replica stopping).
func (s *Service) Published(ctx context.Context, rs ...Revocation) {
	ctx = context.WithoutCancel(ctx)
	for _, r := range rs {
		for _, n := range s.notify {
			n.Revoked(ctx, r)
		}
		s.Published(ctx, r.sameKey...)
	}
}

// PublishSerial publishes serial's recorded revocation, as Published does
// for one at hand: the abandoned serial of an issuance that did not
// complete is revoked by RecordAbandoned inside the caller's transaction,
// and its stored OCSP answers must be re-signed once that commits. A
// serial with no revocation, or one that cannot be read, is left to the
// refresher, which re-signs every stored response in time.
func (s *Service) PublishSerial(ctx context.Context, serial string) {
	ctx = context.WithoutCancel(ctx) // the revocation is committed: publish it whatever the caller does
	if r, ok, err := s.Find(ctx, serial); err == nil && ok {
		s.Published(ctx, r)
	}
}

// revokeInTx is the one write path of a revocation: it revokes cert (or
// upgrades its revocation) and, for keyCompromise, every other certificate
// with its key (revokeSameKey).
func (s *Service) revokeInTx(ctx context.Context, tx *store.Tx, by actor.Actor, cert issuance.Certificate, d Decision, in Input, now time.Time) (Revocation, error) {
	r, err := s.revokeCertInTx(ctx, tx, by, cert, d, in, now)
	if err != nil || d.Reason != br.KeyCompromise {
		return r, err
	}
	// A subscriber's own keyCompromise, with no proof that the key is
	// compromised, is not evidence against other subscribers' certificates
	// (MRSP §6.1.1): it revokes that account's certificates with the key.
	// Every other source (the key's holder, staff with evidence, a problem
	// report decided, an incident) revokes them in every account.
	r.sameKey, err = s.revokeSameKey(ctx, tx, by, cert, r, in, now, d.Source != SourceSubscriber)
	return r, err
}

// revokeSameKey revokes with keyCompromise every other unexpired
// certificate, of any account (of cert's only unless anyAccount), whose
// key (SPKI SHA-256) is cause's: BR
// §4.9.1.1(3) requires every certificate with a compromised key revoked
// within 24 hours, not only the one the evidence came with. One revoked
// before for another reason has its entry upgraded to keyCompromise (BR
// §7.2.2: relying parties must be able to tell the key is compromised). It
// finds them as the problem-report desk does (issuance.Inventory) and
// revokes each through revokeCertInTx, under its lock, audited.
//
// It runs in cause's transaction rather than as a step after it: the only
// durable trace of the compromise is that commit, so a crash between the
// two would leave the other certificates valid with nothing to resume
// from. The price is that two keyCompromise revocations of one key at once
// on PostgreSQL can lock the same certificates in opposite orders; the
// database then aborts one of them as a deadlock, and store.InTx runs it
// again, when it finds the others already revoked.
//
// It runs after a repeated keyCompromise too (nothing changed on cause),
// so a certificate that shares the key and was left valid is revoked then.
// One revoked with keyCompromise already has its revocationDate moved back
// when this compromise time is earlier (BR §7.2.2): the time is the key's.
func (s *Service) revokeSameKey(ctx context.Context, tx *store.Tx, by actor.Actor, cert issuance.Certificate, cause Revocation, in Input, now time.Time, anyAccount bool) ([]Revocation, error) {
	others, err := issuance.NewInventory(s.rec).CertificatesWithKey(ctx, tx, cert.SPKISHA256)
	if err != nil {
		return nil, err
	}
	t, err := keyCompromiseTrigger()
	if err != nil {
		return nil, err
	}
	dl := t.Deadline(cause.EvidenceAt)
	d := Decision{Reason: br.KeyCompromise, Trigger: &t, Source: SourceSameKey, EvidenceAt: cause.EvidenceAt, Deadline: &dl}
	// The compromise time is the key's, so it applies to each certificate
	// (within its own validity: br.KeyCompromiseDate).
	sin := Input{
		Evidence: fmt.Sprintf("the key (SPKI SHA-256 %s) of serial %s was revoked with keyCompromise; every certificate with it is revoked (BR §4.9.1.1(3))",
			cert.SPKISHA256, cause.Serial),
		CompromisedAt: in.CompromisedAt,
	}
	var out []Revocation
	for _, c := range others {
		if c.ID == cert.ID || !c.NotAfter.After(now) || !anyAccount && c.AccountID != cert.AccountID {
			continue
		}
		prior, had, err := s.Get(ctx, tx, c.Serial)
		if err != nil {
			return nil, err
		}
		kc := had && prior.Reason == br.KeyCompromise.String()
		if kc && in.CompromisedAt == nil {
			continue // nothing this revocation says could change its entry
		}
		r, err := s.revokeCertInTx(ctx, tx, by, c, d, sin, now)
		if err != nil {
			return nil, fmt.Errorf("revoke serial %s, which shares the compromised key of %s: %w", c.Serial, cause.Serial, err)
		}
		if kc && r.RevokedAt.Equal(prior.RevokedAt) {
			continue // the compromise was no earlier than its revocationDate
		}
		out = append(out, r)
	}
	return out, nil
}

// Locked takes cert's lock, which every revocation of it takes, and
// returns its revocation as of then. A caller deciding from the prior
// revocation whether to revoke (a problem report's decision, an incident's
// run) reads it here, so one another path committed meanwhile is seen:
// read before the lock, it would be refused already_revoked at RevokeInTx,
// or counted as the caller's own.
func (s *Service) Locked(ctx context.Context, tx *store.Tx, cert issuance.Certificate) (Revocation, bool, error) {
	if _, err := issuance.LockCertificate(ctx, s.rec, tx, cert.ID); err != nil {
		return Revocation{}, false, err
	}
	return s.Get(ctx, tx, cert.Serial)
}

// revokeCertInTx locks the certificate first: two revocations of one
// certificate at once (its subscriber and the CA, an incident's bulk
// revocation beside a problem report's, on one replica or two) then take
// turns, and the second sees the first's revocation and upgrades it or
// leaves it, instead of inserting a second one.
func (s *Service) revokeCertInTx(ctx context.Context, tx *store.Tx, by actor.Actor, cert issuance.Certificate, d Decision, in Input, now time.Time) (Revocation, error) {
	cert, err := issuance.LockCertificate(ctx, s.rec, tx, cert.ID)
	if err != nil {
		return Revocation{}, err
	}
	prior, had, err := s.Get(ctx, tx, cert.Serial)
	if err != nil {
		return Revocation{}, err
	}
	var existing []Revocation
	if had {
		existing = append(existing, prior)
	}
	var compromisedAt time.Time
	if in.CompromisedAt != nil {
		compromisedAt = in.CompromisedAt.UTC().Truncate(time.Second)
	}
	evidence, err := json.Marshal(map[string]any{"text": in.Evidence, "compromisedAt": in.CompromisedAt, "actor": by.String()})
	if err != nil {
		return Revocation{}, fmt.Errorf("revocation evidence: %w", err)
	}
	if len(existing) == 1 {
		r := existing[0]
		prev := br.Entry{Reason: mustReason(r.Reason), RevokedAt: r.RevokedAt}
		upd, changed, err := br.UpdateEntry(prev, d.Reason, compromisedAt, cert.NotBefore, now)
		if err != nil {
			return Revocation{}, err
		}
		if !changed {
			return r, nil
		}
		r.Reason, r.ReasonCode, r.RevokedAt = upd.Reason.String(), upd.Reason.Code(), upd.RevokedAt
		r.RecordedAt, r.RequestedBy, r.Evidence, r.EvidenceAt = now, by.String(), string(evidence), d.EvidenceAt
		if d.Trigger != nil {
			r.Trigger = d.Trigger.Ref()
		}
		if err := s.tab.revocations.Update(ctx, tx, by, actCertificateRevocationUpdated, r); err != nil {
			return Revocation{}, err
		}
		if err := s.blockIfCompromised(ctx, tx, by, cert, d.Reason, r.Serial); err != nil {
			return Revocation{}, err
		}
		return r, nil
	}
	revokedAt := now
	if d.Reason == br.KeyCompromise {
		// The same rule as for an upgrade (br.UpdateEntry).
		at, err := br.KeyCompromiseDate(compromisedAt, cert.NotBefore, now)
		if err != nil {
			return Revocation{}, err
		}
		if !at.IsZero() {
			revokedAt = at
		}
	}
	r := Revocation{
		ID: RevocationID(cert.Serial), Serial: cert.Serial, IssuerID: cert.IssuerID, Shard: cert.Shard, CRLURL: cert.CRLURL,
		Reason: d.Reason.String(), ReasonCode: d.Reason.Code(), RevokedAt: revokedAt, RecordedAt: now,
		RequestedBy: by.String(), Source: d.Source, Evidence: string(evidence), EvidenceAt: d.EvidenceAt,
		Deadline: d.Deadline, NotAfter: cert.NotAfter,
	}
	if d.Trigger != nil {
		r.Trigger = d.Trigger.Ref()
	}
	if err := s.tab.revocations.Insert(ctx, tx, by, actCertificateRevoked, r); err != nil {
		return Revocation{}, err
	}
	if err := issuance.MarkRevoked(ctx, tx, s.rec, by, cert); err != nil {
		return Revocation{}, err
	}
	if err := s.blockIfCompromised(ctx, tx, by, cert, d.Reason, r.Serial); err != nil {
		return Revocation{}, err
	}
	return r, nil
}

func mustReason(name string) br.Reason {
	r, err := br.ParseReason(name)
	if err != nil {
		return br.Unspecified
	}
	return r
}

// blockIfCompromised adds the certificate's key to the blocklist on
// keyCompromise (BR §6.1.1.3(4)).
func (s *Service) blockIfCompromised(ctx context.Context, tx *store.Tx, by actor.Actor, cert issuance.Certificate, r br.Reason, serial string) error {
	if r != br.KeyCompromise {
		return nil
	}
	return issuance.BlockKey(ctx, tx, s.rec, by, cert.SPKISHA256, "keyCompromise revocation of "+serial, "revocation", s.clk.Now())
}

// RecordAbandoned revokes the serial of an interrupted issuance (see
// issuance.Engine.Recover): no certificate was stored or returned, but one
// may have been signed, so the serial is published as revoked, with no
// reasonCode (unspecified: none of the BR reasons describes it).
func (s *Service) RecordAbandoned(ctx context.Context, tx *store.Tx, by actor.Actor, in issuance.Intent) (Revocation, error) {
	now := s.clk.Now().UTC().Truncate(time.Second)
	var n int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM revocations WHERE serial = ?`, in.Serial).Scan(&n); err != nil || n > 0 {
		return Revocation{}, err
	}
	ev, _ := json.Marshal(map[string]string{"text": "issuance interrupted before the certificate was stored", "intent": in.ID})
	r := Revocation{ID: RevocationID(in.Serial), Serial: in.Serial, IssuerID: in.IssuerID, Shard: in.Shard, CRLURL: in.CRLURL, Reason: br.Unspecified.String(),
		ReasonCode: br.Unspecified.Code(), RevokedAt: now, RecordedAt: now, RequestedBy: by.String(), Source: SourceRecovery,
		Evidence: string(ev), EvidenceAt: now, NotAfter: in.NotAfter}
	return r, s.tab.revocations.Insert(ctx, tx, by, actCertificateRevoked, r)
}

// RevocationID is the id of a serial's revocation row. It is derived from
// the serial rather than random so that a lookup by serial goes through
// the id: a revocation row deleted outside vetca is then found missing by
// the audit trail (its latest event says it exists) instead of reading as
// "never revoked", which would let a revoked certificate answer good.
func RevocationID(serial string) string { return "rev_" + serial }

// FirstRecorded is when r was first recorded, that is when its
// certificate stopped being valid: RecordedAt moves with every update of
// the entry (a keyCompromise upgrade or backdating, BR §7.2.2), while the
// event that inserted the row keeps the time of the revocation itself.
// Without that event (it cannot be later), RecordedAt is the answer.
func (s *Service) FirstRecorded(ctx context.Context, q store.Querier, r Revocation) (time.Time, error) {
	at, ok, err := s.tab.revocations.InsertedAt(ctx, q, r.ID)
	if err != nil || !ok || !at.Before(r.RecordedAt) {
		return r.RecordedAt, err
	}
	return at, nil
}

// Get returns the revocation of a serial, if any. A revocation row that
// the audit trail records but the table lacks is an integrity error.
func (s *Service) Get(ctx context.Context, q store.Querier, serial string) (Revocation, bool, error) {
	var r Revocation
	err := s.tab.revocations.Get(ctx, q, RevocationID(serial), &r)
	if err == nil {
		return r, true, nil
	}
	if !apperr.IsKind(err, apperr.KindNotFound) {
		return Revocation{}, false, err
	}
	// Rows recorded before revocation ids were derived from the serial.
	rs, err := s.tab.revocations.Select(ctx, q, `WHERE serial = ?`, serial)
	if err != nil || len(rs) == 0 {
		return Revocation{}, false, err
	}
	return rs[0], true, nil
}

// Find returns the revocation of a serial, if any, read integrity-checked
// from the database. Revocation status is public (CRLs, OCSP), so it
// takes no actor; the certificate record it completes was authorized by
// its own service.
func (s *Service) Find(ctx context.Context, serial string) (Revocation, bool, error) {
	return s.Get(ctx, s.db, serial)
}

// Status is a serial's authoritative status for CRL and OCSP.
type Status struct {
	Known     bool // false: vetca never issued (nor meant to issue) this serial
	Revoked   bool
	RevokedAt time.Time
	// RecordedAt is when vetca recorded the revocation (or its last
	// change of reason): the serial's responses are re-signed just after.
	RecordedAt time.Time
	Reason     br.Reason
	IssuerID   string
	NotAfter   time.Time
	// InFlight: the serial is an issuance not yet stored (good until it
	// lands or is abandoned, which may happen without a revocation call).
	InFlight bool
	// recorded: the status is the serial's revocation row (else there is
	// none: good, in flight, or an abandoned issuance).
	recorded bool
}

// StatusOf answers for every serial that has a certificate or an intent:
// revoked when revoked (including abandoned intents), good for a stored
// certificate or an issuance in flight, and unknown to vetca otherwise.
func (s *Service) StatusOf(ctx context.Context, q store.Querier, serial string) (Status, error) {
	if r, ok, err := s.Get(ctx, q, serial); err != nil {
		return Status{}, err
	} else if ok {
		return Status{Known: true, Revoked: true, RevokedAt: r.RevokedAt, RecordedAt: r.RecordedAt, Reason: mustReason(r.Reason), IssuerID: r.IssuerID, NotAfter: r.NotAfter, recorded: true}, nil
	}
	in, ok, err := issuance.GetIntent(ctx, s.rec, q, serial)
	if err != nil {
		return Status{}, err
	}
	if !ok {
		return Status{}, nil
	}
	if in.Status == issuance.IntentAbandoned {
		at := in.CreatedAt
		if in.ResolvedAt != nil {
			at = *in.ResolvedAt
		}
		return Status{Known: true, Revoked: true, RevokedAt: at, RecordedAt: at, Reason: br.Unspecified, IssuerID: in.IssuerID, NotAfter: in.NotAfter}, nil
	}
	return Status{Known: true, IssuerID: in.IssuerID, NotAfter: in.NotAfter, InFlight: in.Status == issuance.IntentPending}, nil
}
