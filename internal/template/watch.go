package template

import (
	"context"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/vetting"
)

// VersionWatch voids the approvals of an organization's templates when a
// new version of it is verified, in the transaction that verifies it
// (vetting.VersionObserver). So a template approved against the old
// identity is pending again the moment the new one is current, whether or
// not anything asks Match. It needs only the recorder and the clock, so it
// is built before the vetting service that calls it.
type VersionWatch struct{ b binder }

// NewVersionWatch returns the observer vetting.New takes.
func NewVersionWatch(rec *audit.Recorder, clk clock.Clock) VersionWatch {
	return VersionWatch{b: newBinder(rec, clk)}
}

// VersionVerified rebinds every template of v's organization that is not
// disabled to v (the organization's new current verified version, read
// integrity-checked in tx): each whose hash changes has its approvals
// voided, goes back to pending_approval under the new hash, and gets a
// template.mismatch event.
func (w VersionWatch) VersionVerified(ctx context.Context, tx *store.Tx, by actor.Actor, v vetting.Version) error {
	ts, err := w.b.tab.templates.Select(ctx, tx, `WHERE organization_id = ? AND status <> ? ORDER BY created_at, id`, v.OrganizationID, StatusDisabled)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if err := w.b.tab.templates.Lock(ctx, tx, t.ID, &t); err != nil {
			return err
		}
		if t.Status == StatusDisabled {
			continue
		}
		if _, _, err := w.b.rebind(ctx, tx, by, t, v); err != nil {
			return err
		}
	}
	return nil
}
