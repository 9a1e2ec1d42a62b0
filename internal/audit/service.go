package audit

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/store"
)

// Service is the audit trail as staff and auditors use it: listing,
// export, verification and the published checkpoints. It checks roles
// itself (auditor or admin), next to what the roles protect.
type Service struct {
	db            *store.DB
	rec           *Recorder
	checkpointDir string
	checkers      []Checker
}

// Checker is a further check that Verify runs, for data that is derived
// from audited rows without being audited itself (such as cached OCSP
// responses and CRLs, which must agree with the audited revocation state).
// Each problem it finds is a Finding.
type Checker func(ctx context.Context) ([]Finding, error)

// NewService returns the audit service; checkpointDir is where serve
// writes checkpoints (may be empty); checkers run with every Verify.
func NewService(db *store.DB, rec *Recorder, checkpointDir string, checkers ...Checker) *Service {
	return &Service{db: db, rec: rec, checkpointDir: checkpointDir, checkers: checkers}
}

func mayAudit(by actor.Actor) error {
	if by.Kind == actor.CLI || by.Kind == actor.System {
		return nil // an operator or auditor on the server, or vetca's own scheduled check
	}
	return by.Require(actor.Auditor, actor.Admin)
}

// List returns events matching f, oldest first (auditor or admin).
func (s *Service) List(ctx context.Context, by actor.Actor, f Filter) ([]Event, error) {
	if err := mayAudit(by); err != nil {
		return nil, err
	}
	return List(ctx, s.db, f)
}

// Verify verifies the whole trail against every checkpoint in the database
// and the checkpoint directory, plus file (if given). A file that was not
// signed by the installation's key is refused with an error; a checkpoint
// found in the database or the directory that was not is a finding.
func (s *Service) Verify(ctx context.Context, by actor.Actor, file string) (*Report, error) {
	if err := mayAudit(by); err != nil {
		return nil, err
	}
	pub := s.rec.PublicKey()
	set, err := LoadCheckpoints(ctx, s.db, s.checkpointDir, pub)
	if err != nil {
		return nil, err
	}
	if file != "" {
		cp, err := ReadCheckpoint(file, pub)
		if err != nil {
			return nil, err
		}
		set.Trusted = append(set.Trusted, cp)
	}
	rep, err := Verify(ctx, s.db, s.rec.Schema(), pub, set.Trusted)
	if err != nil {
		return nil, err
	}
	rep.Findings = append(append([]Finding{}, set.Findings...), rep.Findings...)
	cut, err := s.belowHeadMark(ctx)
	if err != nil {
		return nil, err
	}
	rep.Findings = append(rep.Findings, cut...)
	for _, check := range s.checkers {
		fs, err := check(ctx)
		if e, ok := apperr.As(err); ok && e.Kind == apperr.KindIntegrity {
			// The check stopped at a row that fails its integrity check:
			// that is a finding too, and the rest of the report stands.
			fs, err = append(fs, Finding{Message: e.Message}), nil
		}
		if err != nil {
			return nil, err
		}
		rep.Findings = append(rep.Findings, fs...)
	}
	rep.OK = len(rep.Findings) == 0
	return rep, nil
}

// LatestCheckpoint returns the newest checkpoint signed by the
// installation's key, or nil. It is public: auditors fetch and keep it.
func (s *Service) LatestCheckpoint(ctx context.Context) (*Checkpoint, error) {
	set, err := LoadCheckpoints(ctx, s.db, s.checkpointDir, s.rec.PublicKey())
	if err != nil {
		return nil, err
	}
	cp := set.Newest()
	if cp != nil {
		c := *cp
		c.Source = ""
		return &c, nil
	}
	return nil, nil
}

// PublicKeyPEM is the installation's audit public key, published so that
// auditors can check the trail and the checkpoints with it.
func (s *Service) PublicKeyPEM() []byte { return s.rec.PublicKey().PEM() }

// Healthy reports whether the database holding the trail answers
// (GET /healthz).
func (s *Service) Healthy(ctx context.Context) error { return s.db.SQL().PingContext(ctx) }

// belowHeadMark compares the chain with the highest head this host has
// seen (head-seen in the checkpoint directory, headmark.go), reading the
// file only: a chain that ends below it, or holds another event at its
// number, had events deleted outside vetca since a command or serve on
// this host saw them, even when no checkpoint covers them yet.
func (s *Service) belowHeadMark(ctx context.Context) ([]Finding, error) {
	if s.checkpointDir == "" {
		return nil, nil
	}
	m := newHeadMark(s.checkpointDir, s.rec.pub, nil)
	floor, err := m.floor(ctx, s.db)
	if errors.Is(err, ErrChainCheck) {
		// Event 1 is gone or broken (the walk reports it too): which
		// trail's mark applies cannot be told until it is put back.
		return []Finding{{Table: "audit_events", RowID: "1", Field: "sig", Message: err.Error()}}, nil
	}
	if err != nil || floor.seq == 0 {
		return nil, err
	}
	head, _, err := readHeadEvent(ctx, s.db)
	if err != nil {
		return nil, fmt.Errorf("read chain head: %w", err)
	}
	c, err := cutBelow(ctx, s.db, floor, head)
	switch {
	case err != nil:
		return nil, err
	case c.below:
		return []Finding{{Table: "audit_events", RowID: strconv.FormatInt(head, 10), Field: "seq",
			Message: fmt.Sprintf("the chain ends at event %d, but this host saw it reach event %d (%s): events were deleted outside vetca, or the database was restored from a backup (after an intended restore, remove that file)", head, floor.seq, m.path)}}, nil
	case c.rewritten:
		return []Finding{{Table: "audit_events", RowID: strconv.FormatInt(floor.seq, 10), Field: "hash",
			Message: fmt.Sprintf("event %d is not the one this host saw there (chain hash %s, now %q; %s): events were deleted outside vetca and their numbers used again", floor.seq, short(floor.hash), short(c.now), m.path)}}, nil
	}
	return nil, nil
}
