package incident

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/br"
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
	res, todo, err := s.plan(ctx, inc)
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
	if err := s.notifyOnce(ctx, by, inc, todo, phaseBefore); err != nil {
		return res, err
	}
	revoked, err := s.revokeAll(ctx, by, inc, t, todo, opt)
	res.Revoked, res.Serials = len(revoked), revoked
	if err != nil {
		return res, err
	}
	if err := s.notifyOnce(ctx, by, inc, todo, phaseAfter); err != nil {
		return res, err
	}
	return res, nil
}

// plan sorts the frozen set into already revoked, expired and to revoke.
func (s *Service) plan(ctx context.Context, inc Incident) (RevokeResult, []Certificate, error) {
	res := RevokeResult{Incident: inc.ID, Serials: []string{}}
	certs, err := s.certificates(ctx, s.db, inc.ID)
	if err != nil {
		return res, nil, err
	}
	res.Affected = len(certs)
	now := s.now()
	var todo []Certificate
	for _, c := range certs {
		st, err := s.stateAt(ctx, s.db, c, now)
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

// revokeAll revokes todo in batches on opt.Workers workers and returns the
// serials revoked by this run, sorted.
func (s *Service) revokeAll(ctx context.Context, by actor.Actor, inc Incident, t br.Trigger, todo []Certificate, opt RevokeOptions) ([]string, error) {
	workers := opt.Workers
	if workers <= 0 {
		workers = DefaultWorkers
	}
	size := batchSize(len(todo), workers, opt.Batch)
	jobs := make(chan []Certificate)
	var (
		mu       sync.Mutex
		done     []string
		firstErr error
		wg       sync.WaitGroup
		count    int
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for batch := range jobs {
				did, err := s.revokeBatch(ctx, by, inc, t, batch)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				done = append(done, did...)
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
	sort.Strings(done)
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return done, firstErr
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
// certificate's row lock, and returns the serials it revoked (not those
// revoked already). On an error the transaction is rolled back and nothing
// of the batch is revoked.
func (s *Service) revokeBatch(ctx context.Context, by actor.Actor, inc Incident, t br.Trigger, batch []Certificate) ([]string, error) {
	var revs []revocation.Revocation
	// A revocation once begun is finished whatever happens to the run: an
	// interruption (the caller's context ending) is honoured between
	// batches, never inside one's transaction, where a cancelled COMMIT
	// could have committed while reporting an error and the run would
	// miscount what it revoked. A crash still rolls back or commits.
	ctx = context.WithoutCancel(ctx)
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		revs = revs[:0] // a retried transaction starts again
		for _, c := range batch {
			r, did, err := s.revokeInTx(ctx, tx, by, inc, t, c)
			if err != nil {
				return fmt.Errorf("revoke %s: %w", c.Serial, err)
			}
			if did {
				revs = append(revs, r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	serials := make([]string, 0, len(revs))
	for _, r := range revs {
		s.deps.Revoker.Published(ctx, r)
		serials = append(serials, r.Serial)
	}
	return serials, nil
}

// revokeInTx revokes one certificate of the set in tx, holding its row's
// lock; did is false when it was revoked already.
func (s *Service) revokeInTx(ctx context.Context, tx *store.Tx, by actor.Actor, inc Incident, t br.Trigger, c Certificate) (revocation.Revocation, bool, error) {
	var row Certificate
	if err := s.tab.certs.Lock(ctx, tx, c.ID, &row); err != nil {
		return revocation.Revocation{}, false, err
	}
	if row.RevokedAt != nil {
		return revocation.Revocation{}, false, nil
	}
	cert, ok, err := s.deps.Inventory.CertificateBySerial(ctx, tx, row.Serial)
	if err != nil || !ok {
		return revocation.Revocation{}, false, err
	}
	prior, had, err := s.deps.Revoker.Get(ctx, tx, row.Serial)
	if err != nil {
		return revocation.Revocation{}, false, err
	}
	did := false
	if !had {
		due := inc.RevocationDue
		d := revocation.Decision{Reason: t.Reason, Trigger: &t, Source: revocation.SourceIncident, EvidenceAt: inc.AwareAt, Deadline: &due}
		if prior, err = s.deps.Revoker.RevokeInTx(ctx, tx, by, cert, d, revocation.Input{Evidence: "incident " + inc.ID + ": " + inc.Title}); err != nil {
			return revocation.Revocation{}, false, err
		}
		did = true
	}
	row.RevocationID, row.RevokedAt = prior.ID, &prior.RecordedAt
	return prior, did, s.tab.certs.Update(ctx, tx, by, actCertificateMet, row)
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
func (s *Service) notifyOnce(ctx context.Context, by actor.Actor, inc Incident, todo []Certificate, phase string) error {
	if phase == phaseAfter {
		_, left, err := s.plan(ctx, inc)
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
		accounts, err := s.accountsOf(ctx, tx, inc, todo, phase)
		if err != nil {
			return err
		}
		for _, acc := range accounts {
			if err := s.mailAccount(ctx, tx, by, inc, acc, phase); err != nil {
				return err
			}
		}
		return s.event(ctx, tx, by, Event{ID: evID, IncidentID: inc.ID, Kind: EventNotified, Ref: phase,
			Detail: fmt.Sprintf("%d account(s) notified %s bulk revocation", len(accounts), phase)})
	})
}

// accountsOf lists the accounts to notify: those with a certificate in
// todo before the run; after it, those whose certificates this incident
// revoked.
func (s *Service) accountsOf(ctx context.Context, q store.Querier, inc Incident, todo []Certificate, phase string) ([]string, error) {
	set := map[string]bool{}
	if phase == phaseBefore {
		for _, c := range todo {
			set[c.AccountID] = true
		}
	} else {
		certs, err := s.certificates(ctx, q, inc.ID)
		if err != nil {
			return nil, err
		}
		for _, c := range certs {
			if c.StateAtFreeze == "valid" && c.RevokedAt != nil {
				set[c.AccountID] = true
			}
		}
	}
	var out []string
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out, nil
}

// mailAccount queues one message to each contact of an account.
func (s *Service) mailAccount(ctx context.Context, tx *store.Tx, by actor.Actor, inc Incident, accountID, phase string) error {
	contacts, err := s.deps.Contacts.ContactsForAccount(ctx, tx, accountID)
	if err != nil {
		return err
	}
	subject, body := revocationMail(inc, phase)
	for _, c := range contacts {
		m := notify.Message{Kind: "incident_revocation_" + phase, To: c.Email, RecipientRole: c.Role, Subject: subject, Body: body,
			RefType: "incident", RefID: inc.ID}
		if _, err := s.deps.Outbox.Enqueue(ctx, tx, by, m); err != nil {
			return err
		}
	}
	return nil
}

func revocationMail(inc Incident, phase string) (subject, body string) {
	if phase == phaseBefore {
		return "Certificates will be revoked: " + inc.Title,
			fmt.Sprintf("Certificates of your account are affected by incident %s (%s).\nThey will be revoked by %s, as BR §4.9.1.1 (%s) requires; this deadline cannot be extended.\n",
				inc.ID, inc.Title, inc.RevocationDue.Format(time.RFC3339), inc.Trigger)
	}
	return "Certificates revoked: " + inc.Title,
		fmt.Sprintf("The certificates of your account affected by incident %s (%s) are now revoked.\n", inc.ID, inc.Title)
}
