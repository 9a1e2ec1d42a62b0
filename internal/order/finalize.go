package order

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/keypolicy"
	"github.com/vetca/vetca/internal/profile"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/validation"
	"github.com/vetca/vetca/internal/vetting"
)

// Issued is the result of Finalize.
type Issued struct {
	Serial      string
	PEM         string
	ChainPEM    string
	Certificate issuance.Certificate
}

// finalizing carries what Finalize's steps learn along the way.
type finalizing struct {
	by    actor.Actor
	order Order
	snap  Snapshot
	ver   vetting.Version
	pub   any
	rel   []validation.Reliance
	caa   []validation.CAAResult
	prep  *issuance.Prepared
	iss   issuance.Issuer
	// abandoned: the transaction running recorded the serial abandoned
	// (answered as revoked); publish it once that transaction committed.
	abandoned bool
}

// Finalize issues an approved order (docs/design.md, "Issuance"): lint
// before sign, record before sign. Its steps, each below:
//
//  1. open: the order exists, the caller may finalize it, it is approved;
//  2. confirmApproval: the snapshot recomputed from current data still has
//     the approved hash (else the approvals are voided: 409
//     snapshot_mismatch), with enough distinct, independent approvers;
//  3. checkReliance: the identity reuse period, each SAN's validation, the
//     key policy and blocklist;
//  4. prepareWithCAA: build and lint the TBS while CAA is checked for every
//     SAN; a CAA refusal wins over a lint failure;
//  5. recordIntent: in one transaction holding the order's lock, check
//     everything that can change during step 4 again — status, snapshot
//     (organization version and row hash, issuer, settings), the
//     identity reuse period, blocklist,
//     approvals — and durably record the intent; at most one live intent
//     per order exists, so concurrent finalizes sign once;
//  6. sign with the real key;
//  7. storeCertificate, unless the order was rejected while it was signed
//     (then the serial is abandoned and answered as revoked).
func (s *Service) Finalize(ctx context.Context, by actor.Actor, id string) (Issued, error) {
	f, err := s.open(ctx, by, id)
	if err != nil {
		return Issued{}, err
	}
	if err := s.confirmApproval(ctx, f); err != nil {
		return Issued{}, err
	}
	if err := s.checkReliance(ctx, f); err != nil {
		return Issued{}, err
	}
	if err := s.prepareWithCAA(ctx, f); err != nil {
		return Issued{}, err
	}
	if err := s.recordIntent(ctx, f); err != nil {
		return Issued{}, err
	}
	// From here the serial is in flight: recovery leaves it alone until it
	// lands, stored or given up.
	defer s.engine.Land(f.prep.SerialHex)
	der, err := s.engine.Sign(ctx, f.prep)
	if err != nil {
		s.abandon(ctx, f, "signing failed: "+err.Error())
		return Issued{}, err
	}
	cert, err := s.storeCertificate(ctx, f, der)
	if err != nil {
		return Issued{}, err
	}
	s.engine.AfterStore()
	return Issued{Serial: cert.Serial, PEM: cert.PEM, ChainPEM: f.iss.CertPEM, Certificate: cert}, nil
}

// open is step 1.
func (s *Service) open(ctx context.Context, by actor.Actor, id string) (*finalizing, error) {
	o, err := s.load(ctx, s.db, by, id)
	if err != nil {
		return nil, err
	}
	if by.IsStaff() {
		if err := by.Require(actor.Verifier, actor.Admin); err != nil {
			return nil, err
		}
	}
	if err := s.requireApproved(o); err != nil {
		if o.Status == StatusPendingApproval {
			if stale, serr := s.approvedBefore(ctx, o); serr != nil || stale != "" {
				if serr != nil {
					return nil, serr
				}
				return nil, mismatchErr(stale, o.SnapshotHash)
			}
		}
		return nil, err
	}
	return &finalizing{by: by, order: o}, nil
}

// approvedBefore returns the snapshot hash an order pending approval was
// approved for before its snapshot changed (a new organization version
// verified voids the approvals of the organization's open orders at once,
// VersionVerified), or "" if it has an approval of its current snapshot or
// none at all. Finalize then answers snapshot_mismatch, as it does when it
// finds the change itself: the approvals are void, the order needs
// approving again.
func (s *Service) approvedBefore(ctx context.Context, o Order) (string, error) {
	counting, all, err := s.approvals(ctx, s.db, o)
	if err != nil || len(counting) > 0 {
		return "", err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if all[i].SnapshotHash != o.SnapshotHash {
			return all[i].SnapshotHash, nil
		}
	}
	return "", nil
}

func (s *Service) requireApproved(o Order) error {
	switch o.Status {
	case StatusApproved:
		return nil
	case StatusIssued:
		return apperr.Conflict(apperr.CodeAlreadyIssued, apperr.NoField, "order %s was issued as %s", o.ID, o.Serial)
	case StatusPendingApproval:
		return apperr.Conflict(apperr.CodeOrderNotApproved, apperr.NoField, "order %s needs %d approvals first", o.ID, s.cfg.ApprovalsRequired)
	}
	return apperr.Conflict(apperr.CodeOrderNotApproved, apperr.NoField, "order %s is %s", o.ID, o.Status)
}

// confirmApproval is step 2. A changed snapshot voids the approvals (that
// is committed) and is refused with 409 snapshot_mismatch.
func (s *Service) confirmApproval(ctx context.Context, f *finalizing) error {
	// Almost always nothing changed: check in a read-only transaction
	// (one snapshot on both backends), which neither takes the write lock
	// nor commits anything. Only a changed snapshot needs the write
	// transaction below that voids the approvals. (recordIntent checks
	// again under the order's lock.)
	var changed bool
	err := s.db.ReadTx(ctx, func(tx *store.Tx) error {
		snap, ver, same, err := s.unchanged(ctx, tx, f.order)
		if err != nil || !same {
			changed = !same
			return err
		}
		f.snap, f.ver = snap, ver
		return s.requireApprovals(ctx, tx, f.order)
	})
	if err != nil || !changed {
		return err
	}
	var mismatch error
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		mismatch = nil
		o, snap, ver, changed, err := s.refresh(ctx, tx, f.by, f.order)
		if err != nil {
			return err
		}
		if changed {
			mismatch = mismatchErr(f.order.SnapshotHash, o.SnapshotHash)
			return nil
		}
		f.snap, f.ver = snap, ver
		return s.requireApprovals(ctx, tx, o)
	})
	if err != nil {
		return err
	}
	return mismatch
}

// requireApprovals counts the distinct approvers of the current snapshot
// who still did not act for the requester; for an order placed under a
// standing template, it confirms the template instead.
func (s *Service) requireApprovals(ctx context.Context, q store.Querier, o Order) error {
	return s.requireApprovalsAsOf(ctx, q, o, time.Time{})
}

// requireApprovalsAsOf is requireApprovals counting as acting for the
// account only what was done no later than asOf (everything when it is
// zero): an issued order is judged as of its issuance, and an approver who
// acted for the account only since did not break its dual control. For an
// order placed under a template, a zero asOf confirms the template as it
// is now (finalize); any other judges it as of asOf: its approvals, status
// and the acts for the account then (template.Service.ConfirmIssued).
func (s *Service) requireApprovalsAsOf(ctx context.Context, q store.Querier, o Order, asOf time.Time) error {
	b, bound, err := s.binding(ctx, q, o.ID)
	if err != nil {
		return err
	}
	if bound && asOf.IsZero() {
		return s.confirmTemplate(ctx, q, o, b)
	}
	if bound {
		return s.confirmTemplateIssued(ctx, q, o, b, asOf)
	}
	counting, _, err := s.approvals(ctx, q, o)
	if err != nil {
		return err
	}
	acting, err := s.accounts.StaffActingBefore(ctx, q, o.AccountID, o.OrganizationID, asOf)
	if err != nil {
		return err
	}
	if asOf.IsZero() {
		// Finalize: an approver disabled since, or no longer a verifier,
		// no longer vouches for the order (an issued order is judged as
		// of its issuance, when they were).
		if counting, err = s.activeApprovals(ctx, q, counting); err != nil {
			return err
		}
	}
	independent := counting[:0:0]
	for _, a := range counting {
		if _, ok := acting[a.ApproverID]; !ok {
			independent = append(independent, a)
		}
	}
	if n := distinctApprovers(independent); n < s.cfg.ApprovalsRequired {
		return apperr.Conflict(apperr.CodeOrderNotApproved, apperr.NoField, "order %s has %d of %d independent approvals for its current snapshot", o.ID, n, s.cfg.ApprovalsRequired)
	}
	return nil
}

// checkReliance is step 3.
func (s *Service) checkReliance(ctx context.Context, f *finalizing) error {
	now := s.clk.Now()
	if f.ver.VerifiedAt == nil || !br.SubjectIdentityReusable(*f.ver.VerifiedAt, now) {
		return apperr.Conflict(apperr.CodeReverificationRequired, "organizationId", "the organization's identity must be verified again (BR §4.2.1)")
	}
	rel, err := s.domains.RequireValidated(ctx, s.db, f.order.AccountID, f.order.DNSNames, now)
	if err != nil {
		return err
	}
	spki, err := base64.StdEncoding.DecodeString(f.snap.PublicKey.SPKI)
	if err != nil {
		return fmt.Errorf("order %s key: %w", f.order.ID, err)
	}
	pub, err := x509.ParsePKIXPublicKey(spki)
	if err != nil {
		return fmt.Errorf("order %s key: %w", f.order.ID, err)
	}
	if err := s.keys.Check(ctx, pub); err != nil {
		return err
	}
	f.rel, f.pub = rel, pub
	return nil
}

// prepareWithCAA is step 4. CAA is network-bound and building and linting
// the TBS is CPU-bound, so the lookups run while the TBS is linted. Their
// outcomes are read in the pipeline's order: a CAA refusal wins over a lint
// failure, and nothing is recorded or signed before both are known.
func (s *Service) prepareWithCAA(ctx context.Context, f *finalizing) error {
	type caaOutcome struct {
		results []validation.CAAResult
		err     error
	}
	caaDone := make(chan caaOutcome, 1)
	go func() {
		r, err := s.domains.CheckCAA(ctx, f.order.DNSNames)
		caaDone <- caaOutcome{r, err}
	}()
	prep, iss, prepErr := s.prepare(ctx, f)
	co := <-caaDone
	f.caa = co.results
	if co.err != nil {
		s.recordCAARefusal(ctx, f, co.err)
		return co.err
	}
	var lf *issuance.LintFailure
	if errors.As(prepErr, &lf) {
		s.markFailed(ctx, f.by, f.order.ID, "pre-issuance lint failed: "+strings.Join(lf.Lints, ", "), map[string]any{"lints": lf.Lints, "error": lf.Error()})
		return apperr.Unprocessable(apperr.CodeLintFailed, apperr.NoField,
			"pre-issuance lint failed (%s); nothing was signed: %v", strings.Join(lf.Lints, ", "), lf.Err)
	}
	if prepErr != nil {
		return prepErr
	}
	f.prep, f.iss = prep, iss
	return nil
}

// prepare builds the TBS from the snapshot under the active issuer and
// lints a throwaway-key copy, checking the subject against both the
// approved snapshot and the current verified version.
func (s *Service) prepare(ctx context.Context, f *finalizing) (*issuance.Prepared, issuance.Issuer, error) {
	iss, issCert, err := s.engine.ActiveIssuer(ctx, s.db)
	if err != nil {
		return nil, iss, err
	}
	if iss.ID != f.snap.Issuer.ID {
		return nil, iss, mismatchErr(f.order.SnapshotHash, "(issuer changed)")
	}
	vetted := f.snap.Subject.ProfileSubject()
	current := subjectOf(f.ver).ProfileSubject()
	prep, err := s.engine.Prepare(ctx, issuance.Request{Issuer: iss, IssuerCert: issCert, Subject: vetted, DNSNames: f.order.DNSNames,
		PublicKey: f.pub, ValidityDays: f.snap.ValidityDays, Expected: []profile.Subject{vetted, current}})
	return prep, iss, err
}

// recordCAARefusal keeps every SAN's CAA evidence of a refusal (BR
// §3.2.2.8, §5.4.1). It runs even if the request was cancelled; a failure
// to record is logged with the order id.
func (s *Service) recordCAARefusal(ctx context.Context, f *finalizing, refusal error) {
	ctx = context.WithoutCancel(ctx)
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		if len(f.caa) > 0 {
			if err := s.domains.RecordCAAChecks(ctx, tx, f.by, f.order.ID, "", f.caa); err != nil {
				return err
			}
		}
		return s.rec.Note(ctx, tx, f.by, actOrderCaaRefused, "orders", f.order.ID, map[string]string{"error": refusal.Error()})
	})
	if err != nil {
		s.log.Error("CAA refusal evidence not recorded", "order", f.order.ID, "err", err)
	}
}

// recordIntent is step 5: one transaction that locks the order, checks
// again everything that may have changed while step 4 waited on CAA and
// the linter, and records the intent before anything is signed.
func (s *Service) recordIntent(ctx context.Context, f *finalizing) error {
	var refused error
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		refused = nil
		var cur Order
		if err := s.tab.orders.Lock(ctx, tx, f.order.ID, &cur); err != nil {
			return err
		}
		// A snapshot changed meanwhile (a new organization version
		// verified re-snapshots open orders and voids their approvals)
		// is a mismatch first, whatever the status it left.
		if cur.SnapshotHash != f.order.SnapshotHash {
			return mismatchErr(f.order.SnapshotHash, cur.SnapshotHash)
		}
		if err := s.requireApproved(cur); err != nil {
			return err
		}
		// The snapshot from current data: organization version and its row
		// hash, issuer, settings. A change voids the approvals (committed).
		o, _, ver, changed, err := s.refresh(ctx, tx, f.by, cur)
		if err != nil {
			return err
		}
		if changed {
			refused = mismatchErr(f.order.SnapshotHash, o.SnapshotHash)
			return nil
		}
		if err := s.stillCertifiable(ctx, tx, f, ver.VerifiedAt); err != nil {
			return err
		}
		if err := s.requireApprovals(ctx, tx, cur); err != nil {
			return err
		}
		// The intent and the issuance evidence: their event numbers in
		// one round trip.
		if err := s.rec.Reserve(ctx, tx, 1+validation.IssuanceEvents(f.rel, f.caa)); err != nil {
			return err
		}
		if _, err := s.engine.RecordIntent(ctx, tx, f.by, cur.ID, f.prep); err != nil {
			return err
		}
		return s.domains.RecordIssuance(ctx, tx, f.by, cur.ID, f.prep.SerialHex, f.rel, f.caa)
	})
	if err != nil {
		return err
	}
	return refused
}

// stillCertifiable checks again, under the order's lock, what may have
// changed while step 4 waited: the identity's reuse period (BR §4.2.1),
// verified at verifiedAt, may have ended; the key may have been reported
// compromised or registered as an ACME account key since.
func (s *Service) stillCertifiable(ctx context.Context, tx *store.Tx, f *finalizing, verifiedAt *time.Time) error {
	if verifiedAt == nil || !br.SubjectIdentityReusable(*verifiedAt, s.clk.Now()) {
		return apperr.Conflict(apperr.CodeReverificationRequired, "organizationId", "the organization's identity must be verified again (BR §4.2.1)")
	}
	blocked, err := s.blocklist.Blocked(ctx, tx, f.snap.PublicKey.SPKISHA256)
	if err != nil {
		return err
	}
	if blocked {
		return apperr.Invalid(keypolicy.CodeKeyBlocked, "publicKey",
			"this key was reported compromised while the order was finalized and may not be certified (BR §6.1.1.3(4)); SPKI SHA-256 %s", f.snap.PublicKey.SPKISHA256)
	}
	return s.notAccountKey(ctx, tx, f.pub) // an ACME account registered with this key since the order was placed
}

// storeAttempts bounds the retries of the store step; between them it
// waits storeBackoff, doubled each time. A store step that still fails
// leaves the intent to recovery, which resolves it without a restart.
const (
	storeAttempts = 3
	storeBackoff  = 200 * time.Millisecond
)

// storeCertificate is step 7.
func (s *Service) storeCertificate(ctx context.Context, f *finalizing, der []byte) (issuance.Certificate, error) {
	wait := storeBackoff
	for attempt := 1; ; attempt++ {
		cert, err := s.storeOnce(ctx, f, der)
		if _, isApp := apperr.As(err); err == nil || isApp || attempt == storeAttempts {
			if err != nil && !isApp {
				s.log.Error("certificate not stored; recovery will resolve its intent", "order", f.order.ID, "serial", f.prep.SerialHex, "err", err)
			}
			return cert, err
		}
		s.log.Warn("storing a signed certificate failed; retrying", "order", f.order.ID, "serial", f.prep.SerialHex, "attempt", attempt, "err", err)
		select {
		case <-ctx.Done():
			return issuance.Certificate{}, err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

func (s *Service) storeOnce(ctx context.Context, f *finalizing, der []byte) (issuance.Certificate, error) {
	var cert issuance.Certificate
	var refused error
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		refused, f.abandoned = nil, false
		var cur Order
		if err := s.tab.orders.Lock(ctx, tx, f.order.ID, &cur); err != nil {
			return err
		}
		if cur.Status != StatusApproved || cur.SnapshotHash != f.order.SnapshotHash {
			// A reject (or a new snapshot) landed while the certificate was
			// signed: it stands, and the certificate is never delivered.
			why := fmt.Sprintf("order %s became %s while its certificate was signed; the certificate is not delivered", cur.ID, cur.Status)
			if err := s.abandonInTx(ctx, tx, f, why); err != nil {
				return err
			}
			refused = apperr.Conflict(apperr.CodeOrderChanged, apperr.NoField, "%s; its serial %s is answered as revoked", why, f.prep.SerialHex)
			return nil
		}
		var err error
		if refused, err = s.templateWithdrawnMeanwhile(ctx, tx, f, cur); err != nil || refused != nil {
			return err
		}
		if refused, err = s.blockedMeanwhile(ctx, tx, f, cur.ID); err != nil || refused != nil {
			return err
		}
		// The certificate stored, its intent resolved, the order issued.
		if err := s.rec.Reserve(ctx, tx, issuance.StoreEvents+1); err != nil {
			return err
		}
		cert, err = s.engine.Store(ctx, tx, f.by, f.prep, der, issuance.Meta{OrderID: cur.ID, AccountID: cur.AccountID, OrganizationID: cur.OrganizationID,
			OrganizationVersion: f.ver.Version, DNSNames: cur.DNSNames, SPKISHA256: f.snap.PublicKey.SPKISHA256})
		if err != nil {
			return err
		}
		cur.Status, cur.Serial, cur.UpdatedAt = StatusIssued, f.prep.SerialHex, s.clk.Now()
		return s.tab.orders.Update(ctx, tx, f.by, actOrderIssued, cur)
	})
	if err != nil {
		return issuance.Certificate{}, err
	}
	s.publishAbandoned(ctx, f)
	return cert, refused
}

// templateWithdrawnMeanwhile refuses to store the certificate of an
// order placed under a standing template that was disabled, or changed,
// while the certificate was signed: the template's disable is to it what
// a reject is to an order with approvals of its own, and stands the same
// way. (A template rebound to a new organization version is not a
// withdrawal: like an order's, the certificate was checked against the
// identity current at its intent, VersionVerified.) The intent is
// abandoned (its serial answered as revoked) and the order fails; the
// refusal is returned.
//
// An order finalized by an ACME account is refused the same way when the
// account was cut off meanwhile (its EAB key revoked, its key blocked):
// the account was checked when the request was authenticated, and a
// revocation that committed before this store must stop the certificate.
func (s *Service) templateWithdrawnMeanwhile(ctx context.Context, tx *store.Tx, f *finalizing, cur Order) (refused, err error) {
	b, bound, err := s.binding(ctx, tx, cur.ID)
	if err != nil || !bound {
		return nil, err
	}
	org := f.snap.Organization
	werr := s.templates.Withdrawn(ctx, tx, b.TemplateID, b.TemplateHash, org.ID, org.Version, org.RowHash)
	if werr == nil && f.by.ACMEAccountID != "" && s.acctKeys != nil {
		werr = s.acctKeys.AccountUsable(ctx, tx, f.by.ACMEAccountID)
	}
	e, isApp := apperr.As(werr)
	if werr == nil || !isApp {
		return nil, werr
	}
	why := fmt.Sprintf("%s while the certificate of order %s was signed; the certificate is not delivered", e.Message, cur.ID)
	if err := s.abandonInTx(ctx, tx, f, why); err != nil {
		return nil, err
	}
	if err := s.failInTx(ctx, tx, f.by, cur.ID, why, nil); err != nil {
		return nil, err
	}
	return apperr.Conflict(e.Code, apperr.NoField, "%s; its serial %s is answered as revoked", why, f.prep.SerialHex), nil
}

// blockedMeanwhile refuses to store a certificate whose key was put on the
// blocklist while it was signed (a keyCompromise of another certificate
// with the key): the intent is abandoned (its serial answered as revoked)
// and the order fails; the refusal is returned. LockKey orders this check
// with BlockKey's, so either the block is seen here, or the keyCompromise's
// revocation of every certificate with the key finds this one stored.
func (s *Service) blockedMeanwhile(ctx context.Context, tx *store.Tx, f *finalizing, orderID string) (refused, err error) {
	spki := f.snap.PublicKey.SPKISHA256
	if err := issuance.LockKey(ctx, tx, spki); err != nil {
		return nil, err
	}
	blocked, err := s.blocklist.Blocked(ctx, tx, spki)
	if err != nil || !blocked {
		return nil, err
	}
	why := fmt.Sprintf("the key of order %s was reported compromised while its certificate was signed; the certificate is not delivered", orderID)
	if err := s.abandonInTx(ctx, tx, f, why); err != nil {
		return nil, err
	}
	if err := s.failInTx(ctx, tx, f.by, orderID, why, nil); err != nil {
		return nil, err
	}
	return apperr.Invalid(keypolicy.CodeKeyBlocked, "publicKey", "%s; its serial %s is answered as revoked (BR §6.1.1.3(4)); SPKI SHA-256 %s", why, f.prep.SerialHex, spki), nil
}

// abandon gives up a recorded intent after a signing failure: its serial
// is answered as revoked and the order is marked failed. A failure to
// record that is logged; recovery resolves the intent then.
func (s *Service) abandon(ctx context.Context, f *finalizing, why string) {
	ctx = context.WithoutCancel(ctx)
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		f.abandoned = false
		if err := s.abandonInTx(ctx, tx, f, why); err != nil {
			return err
		}
		return s.failInTx(ctx, tx, f.by, f.order.ID, why, nil)
	})
	if err != nil {
		s.log.Error("abandoned issuance not recorded; recovery will resolve it", "order", f.order.ID, "serial", f.prep.SerialHex, "err", err)
		return
	}
	s.publishAbandoned(ctx, f)
}

// publishAbandoned publishes the revocation of f's serial once the
// transaction that recorded it committed.
func (s *Service) publishAbandoned(ctx context.Context, f *finalizing) {
	if f.abandoned {
		s.abandoned.PublishAbandoned(ctx, f.prep.SerialHex)
	}
}

func (s *Service) abandonInTx(ctx context.Context, tx *store.Tx, f *finalizing, why string) error {
	in, err := s.engine.Abandon(ctx, tx, f.by, f.prep.SerialHex, why)
	if err != nil {
		return err
	}
	if in.Status != issuance.IntentAbandoned {
		return nil
	}
	f.abandoned = true
	return s.abandoned.RecordAbandoned(ctx, tx, f.by, in)
}

// markFailed marks an order failed with the reason. It runs even if the
// request was cancelled; a failure to record it is logged with the order id.
func (s *Service) markFailed(ctx context.Context, by actor.Actor, orderID, reason string, details any) {
	ctx = context.WithoutCancel(ctx)
	if err := s.db.InTx(ctx, func(tx *store.Tx) error { return s.failInTx(ctx, tx, by, orderID, reason, details) }); err != nil {
		s.log.Error("order failure not recorded", "order", orderID, "reason", reason, "err", err)
	}
}

func (s *Service) failInTx(ctx context.Context, tx *store.Tx, by actor.Actor, orderID, reason string, details any) error {
	var cur Order
	if err := s.tab.orders.Lock(ctx, tx, orderID, &cur); err != nil {
		return err
	}
	if cur.Status != StatusApproved {
		return nil // rejected meanwhile: that stands
	}
	cur.Status, cur.Failure, cur.UpdatedAt = StatusFailed, reason, s.clk.Now()
	if err := s.tab.orders.Update(ctx, tx, by, actOrderFailed, cur); err != nil {
		return err
	}
	if details != nil {
		return s.rec.Note(ctx, tx, by, actOrderFailureDetails, "orders", orderID, details)
	}
	return nil
}

// subjectOf is the snapshot subject of an organization version.
func subjectOf(v vetting.Version) SnapshotSubject {
	return SnapshotSubject{CountryName: v.CountryName, StateOrProvinceName: v.StateOrProvinceName, LocalityName: v.LocalityName,
		PostalCode: v.PostalCode, StreetAddress: v.StreetAddress, OrganizationName: v.OrganizationName}
}
