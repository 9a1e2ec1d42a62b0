package incident

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/notify"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/store"
)

// DefaultWorkers is how many transactions bulk revocation runs at once.
const DefaultWorkers = 4

// DefaultBatch is the most certificates bulk revocation revokes in one
// transaction. A smaller set is cut finer, so that every worker has several
// batches and an interruption stops a run early.
const DefaultBatch = 50

// RevokeOptions tune a bulk revocation.
type RevokeOptions struct {
	DryRun  bool
	Workers int
	// Batch is the most certificates revoked in one transaction
	// (DefaultBatch when zero).
	Batch int
	// Progress, when set, is called for each certificate once the
	// transaction that revoked it has committed (from any worker).
	Progress func(done, total int, serial string)
}

// RevokeResult is what a bulk revocation did (or, dry, would do).
type RevokeResult struct {
	Incident       string   `json:"incident"`
	DryRun         bool     `json:"dryRun"`
	Affected       int      `json:"affected"`
	AlreadyRevoked int      `json:"alreadyRevoked"`
	Expired        int      `json:"expired"`
	Revoked        int      `json:"revoked"`
	Reason         string   `json:"reason"`
	Serials        []string `json:"serials"` // revoked now, or to revoke when dry
}

// Revoke revokes every affected certificate not yet revoked, with the
// reason the incident's trigger requires (BR §4.9.1.1), a batch of
// certificates per transaction: for each it holds the certificate's row
// lock, skips it if already revoked and records the revocation (id
// rev_<serial>) and the row together, so a run killed at any point is
// resumed by running it again and nothing is revoked twice. The subscribers of every account with a
// certificate to revoke are mailed once before the first run and once after
// the run that completes the set.
//
// A keyCompromise (BR §4.9.1.1(3)) is about the key, not one certificate
// (docs/design.md §15): a certificate revoked already for another reason
// is revoked again with keyCompromise (its entry upgraded, BR §7.2.2, and
// its key blocked, BR §6.1.1.3(4)), and every other unexpired certificate
// with the key of an affected one, of any account, joins the affected set
// before the run (the dry run lists them), and so does any the revocation
// of the key reaches during the run. A certificate revoked meanwhile by
// another run or path counts as already revoked, so that affected is
// always alreadyRevoked + expired + revoked once the run completes.
func (s *Service) Revoke(ctx context.Context, by actor.Actor, id string, opt RevokeOptions) (RevokeResult, error) {
	if err := require(by, staffRoles...); err != nil {
		return RevokeResult{}, err
	}
	var inc Incident
	if err := s.tab.incidents.Get(ctx, s.db, id, &inc); err != nil {
		return RevokeResult{}, err
	}
	t, err := br.ParseTrigger(inc.Trigger)
	if err != nil {
		return RevokeResult{}, err
	}
	extra, err := s.sameKeyCandidates(ctx, inc, t)
	if err == nil && !opt.DryRun {
		_, err = s.join(ctx, by, inc.ID, extra, nil)
		extra = nil
	}
	if err != nil {
		return RevokeResult{}, err
	}
	res, todo, err := s.plan(ctx, inc, t, extra)
	if err != nil {
		return res, err
	}
	res.Reason, res.DryRun = t.Reason.String(), opt.DryRun
	if opt.DryRun {
		for _, c := range todo {
			res.Serials = append(res.Serials, c.Serial)
		}
		return res, nil
	}
	if err := s.notifyOnce(ctx, by, inc, t, todo, phaseBefore); err != nil {
		return res, err
	}
	run, err := s.revokeAll(ctx, by, inc, t, todo, opt)
	joined, jerr := s.join(context.WithoutCancel(ctx), by, inc.ID, run.outside(), run.revoked)
	res.add(run, joined)
	if err != nil || jerr != nil {
		return res, errors.Join(err, jerr)
	}
	if err := s.notifyOnce(ctx, by, inc, t, todo, phaseAfter); err != nil {
		return res, err
	}
	return res, nil
}

// plan sorts the frozen set, and extra (the certificates a dry run would
// join), into already revoked, expired and to revoke.
func (s *Service) plan(ctx context.Context, inc Incident, t br.Trigger, extra []issuance.Certificate) (RevokeResult, []Certificate, error) {
	res := RevokeResult{Incident: inc.ID, Serials: []string{}}
	certs, err := s.certificates(ctx, s.db, inc.ID)
	if err != nil {
		return res, nil, err
	}
	for _, c := range extra {
		row, err := s.freeze(ctx, s.db, inc.ID, c)
		if err != nil {
			return res, nil, err
		}
		certs = append(certs, row)
	}
	res.Affected = len(certs)
	now := s.now()
	var todo []Certificate
	for _, c := range certs {
		st, err := s.planState(ctx, c, t, now)
		if err != nil {
			return res, nil, err
		}
		switch st {
		case "revoked":
			res.AlreadyRevoked++
		case "expired":
			res.Expired++
		default:
			todo = append(todo, c)
		}
	}
	return res, todo, nil
}

// planState is c's state for a bulk revocation: as stateAt, except that
// under a keyCompromise trigger an unexpired certificate revoked for
// another reason is still to revoke ("valid"): its entry is upgraded to
// keyCompromise (BR §7.2.2) and its key blocked (BR §6.1.1.3(4)).
func (s *Service) planState(ctx context.Context, c Certificate, t br.Trigger, now time.Time) (string, error) {
	st, err := s.stateAt(ctx, s.db, c, now)
	if err != nil || st != "revoked" || t.Reason != br.KeyCompromise || !c.NotAfter.After(now) {
		return st, err
	}
	r, ok, err := s.deps.Revoker.Get(ctx, s.db, c.Serial)
	if err != nil {
		return "", err
	}
	if ok && r.Reason != br.KeyCompromise.String() {
		return "valid", nil
	}
	return st, nil
}

// runResult is what the batches of one run did: the revocations they
// recorded by serial (those of the affected certificates and those the
// revocation of a compromised key made of other certificates with it), the
// certificates they found revoked already (by another run or path), and
// the serials the run set out to revoke.
type runResult struct {
	revoked map[string]revocation.Revocation
	skipped []string
	inSet   map[string]bool
}

func newRun(todo []Certificate) runResult {
	run := runResult{revoked: map[string]revocation.Revocation{}, inSet: map[string]bool{}}
	for _, c := range todo {
		run.inSet[c.Serial] = true
	}
	return run
}

// outside lists the certificates the run revoked that are not in the
// affected set: those with a compromised key that the revocation reached.
func (r runResult) outside() []issuance.Certificate {
	var out []issuance.Certificate
	for _, sn := range slices.Sorted(maps.Keys(r.revoked)) {
		if !r.inSet[sn] {
			out = append(out, issuance.Certificate{Serial: sn})
		}
	}
	return out
}

// add counts a run into res: joined certificates joined the set during
// it; a certificate found revoked that the run did not revoke itself was
// revoked meanwhile and counts as already revoked.
func (res *RevokeResult) add(run runResult, joined int) {
	res.Affected += joined
	res.Serials = slices.Sorted(maps.Keys(run.revoked))
	if res.Serials == nil {
		res.Serials = []string{}
	}
	res.Revoked = len(res.Serials)
	for _, sn := range slices.Compact(slices.Sorted(slices.Values(run.skipped))) {
		if _, ok := run.revoked[sn]; !ok {
			res.AlreadyRevoked++
		}
	}
}

// revokeAll revokes todo in batches on opt.Workers workers.
func (s *Service) revokeAll(ctx context.Context, by actor.Actor, inc Incident, t br.Trigger, todo []Certificate, opt RevokeOptions) (runResult, error) {
	workers := opt.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	size := batchSize(len(todo), workers, opt.Batch)
	jobs := make(chan []Certificate)
	run := newRun(todo)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
		count    int
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range jobs {
				did, skipped, err := s.revokeBatch(ctx, by, inc, t, batch)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				run.record(did, skipped)
				mu.Unlock()
				if err != nil {
					continue // rolled back: nothing of the batch was revoked
				}
				for _, c := range batch {
					mu.Lock()
					count++
					n := count
					mu.Unlock()
					if opt.Progress != nil {
						opt.Progress(n, len(todo), c.Serial)
					}
				}
			}
		}()
	}
	for i := 0; i < len(todo); i += size {
		mu.Lock()
		stop := firstErr != nil
		mu.Unlock()
		if stop || ctx.Err() != nil {
			break
		}
		jobs <- todo[i:min(i+size, len(todo))]
	}
	close(jobs)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return run, firstErr
}

// record adds a committed batch's revocations, with those each caused of
// other certificates with a compromised key (SameKey), and the serials it
// found revoked already.
func (r *runResult) record(did []revocation.Revocation, skipped []string) {
	for _, rev := range did {
		r.revoked[rev.Serial] = rev
		for _, sk := range rev.SameKey() {
			r.revoked[sk.Serial] = sk
		}
	}
	r.skipped = append(r.skipped, skipped...)
}

// batchSize is how many certificates go in one transaction: at most limit
// (DefaultBatch when zero), and few enough that each worker gets about four
// batches.
func batchSize(todo, workers, limit int) int {
	if limit <= 0 {
		limit = DefaultBatch
	}
	return min(limit, todo/(workers*4)+1)
}

// revokeBatch revokes a batch of the set in one transaction, holding each
// certificate's row lock, and returns the revocations it recorded and the
// serials it found revoked already. On an error the transaction is rolled
// back and nothing of the batch is revoked.
func (s *Service) revokeBatch(ctx context.Context, by actor.Actor, inc Incident, t br.Trigger, batch []Certificate) ([]revocation.Revocation, []string, error) {
	var (
		revs    []revocation.Revocation
		skipped []string
	)
	// A revocation once begun is finished whatever happens to the run: an
	// interruption (the caller's context ending) is honoured between
	// batches, never inside one's transaction, where a cancelled COMMIT
	// could have committed while reporting an error and the run would
	// miscount what it revoked. A crash still rolls back or commits.
	ctx = context.WithoutCancel(ctx)
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		revs, skipped = revs[:0], skipped[:0] // a retried transaction starts again
		for _, c := range batch {
			r, did, err := s.revokeInTx(ctx, tx, by, inc, t, c)
			if err != nil {
				return fmt.Errorf("revoke %s: %w", c.Serial, err)
			}
			if did {
				revs = append(revs, r)
			} else {
				skipped = append(skipped, c.Serial)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	s.deps.Revoker.Published(ctx, revs...)
	return revs, skipped, nil
}

// revokeInTx revokes one certificate of the set in tx, holding its row's
// lock; did is false when it was revoked already (under a keyCompromise
// trigger: with keyCompromise). The row records when the certificate
// stopped being valid: the first revocation's time, which an upgrade to
// keyCompromise does not move.
func (s *Service) revokeInTx(ctx context.Context, tx *store.Tx, by actor.Actor, inc Incident, t br.Trigger, c Certificate) (revocation.Revocation, bool, error) {
	var row Certificate
	if err := s.tab.certs.Lock(ctx, tx, c.ID, &row); err != nil {
		return revocation.Revocation{}, false, err
	}
	if row.RevokedAt != nil && t.Reason != br.KeyCompromise {
		return revocation.Revocation{}, false, nil
	}
	cert, ok, err := s.deps.Inventory.CertificateBySerial(ctx, tx, row.Serial)
	if err != nil || !ok {
		return revocation.Revocation{}, false, err
	}
	prior, had, err := s.deps.Revoker.Locked(ctx, tx, cert)
	if err != nil {
		return revocation.Revocation{}, false, err
	}
	if had && !upgrades(t, prior, cert, s.now()) {
		return prior, false, s.markRow(ctx, tx, by, row, prior)
	}
	due := inc.RevocationDue
	d := revocation.Decision{Reason: t.Reason, Trigger: &t, Source: revocation.SourceIncident, EvidenceAt: inc.AwareAt, Deadline: &due}
	r, err := s.deps.Revoker.RevokeInTx(ctx, tx, by, cert, d, revocation.Input{Evidence: "incident " + inc.ID + ": " + inc.Title})
	if apperr.HasCode(err, apperr.CodeAlreadyRevoked) {
		// Revoked by another path since it was read: that revocation
		// stands (BR §7.2.2 lets only keyCompromise change it).
		if prior, _, err = s.deps.Revoker.Get(ctx, tx, row.Serial); err != nil {
			return revocation.Revocation{}, false, err
		}
		return prior, false, s.markRow(ctx, tx, by, row, prior)
	}
	if err != nil {
		return revocation.Revocation{}, false, err
	}
	if had {
		prior.ID = r.ID
	} else {
		prior = r
	}
	return r, true, s.markRow(ctx, tx, by, row, prior)
}

// upgrades reports whether an incident of trigger t revokes again a
// certificate revoked already as prior: only a keyCompromise changes an
// existing entry, of a certificate not expired (BR §7.2.2).
func upgrades(t br.Trigger, prior revocation.Revocation, cert issuance.Certificate, now time.Time) bool {
	return t.Reason == br.KeyCompromise && prior.Reason != br.KeyCompromise.String() && cert.NotAfter.After(now)
}

// markRow records on an affected certificate's row that it is revoked, as
// r, unless the row says so already.
func (s *Service) markRow(ctx context.Context, tx *store.Tx, by actor.Actor, row Certificate, r revocation.Revocation) error {
	if row.RevokedAt != nil {
		return nil
	}
	at := r.RecordedAt
	row.RevocationID, row.RevokedAt = r.ID, &at
	return s.tab.certs.Update(ctx, tx, by, actCertificateMet, row)
}

// Notification phases of a bulk revocation.
const (
	phaseBefore = "before"
	phaseAfter  = "after"
)

// notifyOnce mails, once per incident and phase, one message to the
// contacts of each account with a certificate in todo, and records the
// phase on the timeline (an event with a derived id) in the same
// transaction. The after mail waits until no certificate is left to revoke.
func (s *Service) notifyOnce(ctx context.Context, by actor.Actor, inc Incident, t br.Trigger, todo []Certificate, phase string) error {
	if phase == phaseAfter {
		_, left, err := s.plan(ctx, inc, t, nil)
		if err != nil || len(left) > 0 {
			return err
		}
	}
	evID := "ine_" + inc.ID + "_notified_" + phase
	return s.db.InTx(ctx, func(tx *store.Tx) error {
		// Two runs at once (two officers, or the CLI beside the console)
		// take turns on the incident's row: the second then finds the
		// first's event and mails no one again.
		var locked Incident
		if err := s.tab.incidents.Lock(ctx, tx, inc.ID, &locked); err != nil {
			return err
		}
		if _, ok, err := s.tab.events.First(ctx, tx, `WHERE id = ?`, evID); err != nil || ok {
			return err
		}
		accounts, err := s.accountsOf(ctx, tx, inc, t, todo, phase)
		if err != nil {
			return err
		}
		for _, acc := range slices.Sorted(maps.Keys(accounts)) {
			if err := s.mailAccount(ctx, tx, by, inc, acc, accounts[acc], phase); err != nil {
				return err
			}
		}
		return s.event(ctx, tx, by, Event{ID: evID, IncidentID: inc.ID, Kind: EventNotified, Ref: phase,
			Detail: fmt.Sprintf("%d account(s) notified %s bulk revocation", len(accounts), phase)})
	})
}

// accountsOf lists the accounts to notify, each with the serials the mail
// names: before the run, the certificates in todo; after it, those this
// incident revoked: valid when they joined the set and revoked now, or
// (under a keyCompromise trigger) revoked before for another reason and
// upgraded since.
func (s *Service) accountsOf(ctx context.Context, q store.Querier, inc Incident, t br.Trigger, todo []Certificate, phase string) (map[string][]string, error) {
	out := map[string][]string{}
	if phase == phaseBefore {
		for _, c := range todo {
			out[c.AccountID] = append(out[c.AccountID], c.Serial)
		}
		return out, nil
	}
	certs, err := s.certificates(ctx, q, inc.ID)
	if err != nil {
		return nil, err
	}
	for _, c := range certs {
		if c.RevokedAt == nil {
			continue
		}
		hit := c.StateAtFreeze == "valid"
		if !hit && t.Reason == br.KeyCompromise {
			r, ok, err := s.deps.Revoker.Get(ctx, q, c.Serial)
			if err != nil {
				return nil, err
			}
			hit = ok && r.Reason == br.KeyCompromise.String() && r.RecordedAt.After(*c.RevokedAt)
		}
		if hit {
			out[c.AccountID] = append(out[c.AccountID], c.Serial)
		}
	}
	return out, nil
}

// mailAccount queues one message to each contact of an account.
func (s *Service) mailAccount(ctx context.Context, tx *store.Tx, by actor.Actor, inc Incident, accountID string, serials []string, phase string) error {
	contacts, err := s.deps.Contacts.ContactsForAccount(ctx, tx, accountID)
	if err != nil {
		return err
	}
	subject, body := revocationMail(inc, phase, serials)
	for _, c := range contacts {
		m := notify.Message{Kind: "incident_revocation_" + phase, To: c.Email, RecipientRole: c.Role, Subject: subject, Body: body,
			RefType: "incident", RefID: inc.ID}
		if _, err := s.deps.Outbox.Enqueue(ctx, tx, by, m); err != nil {
			return err
		}
	}
	return nil
}

// revocationMail is the mail to one account: what happens, by when, and
// the serials of its certificates it is about, so the subscriber knows
// which to replace (the whole list: a subscriber cannot ask for the rest).
func revocationMail(inc Incident, phase string, serials []string) (subject, body string) {
	slices.Sort(serials)
	list := "\nThe certificates (serial numbers, hexadecimal):\n  " + strings.Join(serials, "\n  ") + "\n"
	if phase == phaseBefore {
		return "Certificates will be revoked: " + inc.Title,
			fmt.Sprintf("%d certificate(s) of your account are affected by incident %s (%s).\nThey will be revoked by %s, as BR §4.9.1.1 (%s) requires; this deadline cannot be extended.\n",
				len(serials), inc.ID, inc.Title, inc.RevocationDue.Format(time.RFC3339), inc.Trigger) + list
	}
	return "Certificates revoked: " + inc.Title,
		fmt.Sprintf("%d certificate(s) of your account affected by incident %s (%s) are now revoked.\n", len(serials), inc.ID, inc.Title) + list
}
