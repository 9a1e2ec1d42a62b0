package app

import (
	"context"
	"time"

	"github.com/vetca/vetca/internal/incident"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/scan"
)

// LeaseIncidentDeadlines is the lease that makes one replica at a time run
// the incident deadline watch.
const LeaseIncidentDeadlines = "incident-deadlines"

// wireIncidents builds the incident service (after revocation and the
// problem-report desk).
func (a *App) wireIncidents() {
	a.Incidents = incident.New(a.DB, a.Recorder, a.Clock, incident.Deps{
		Inventory: issuance.NewInventory(a.Recorder), Validations: a.Domains, Revoker: a.Revocations,
		Contacts: a.Accounts, Outbox: a.Outbox, ProblemReports: a.CPR, Findings: scan.Findings{DB: a.DB, Rec: a.Recorder},
	}, a.Log)
}

// RunIncidentWatchOnce runs one pass of the incident deadline watch
// (incident.Tick: breaches and delayed-revocation incidents) if this
// replica holds the lease; ok is false when another replica does.
func (a *App) RunIncidentWatchOnce(ctx context.Context) (res incident.TickResult, ok bool, err error) {
	ok, err = a.DB.AcquireLease(ctx, LeaseIncidentDeadlines, a.Replica, a.Clock.Now(), a.Cfg.CPRTick*3+time.Minute)
	if err != nil || !ok {
		return res, false, err
	}
	res, err = a.Incidents.Tick(ctx)
	return res, true, err
}

// runIncidentWatch runs a pass every interval until ctx ends, giving the
// lease back at the end.
func (a *App) runIncidentWatch(ctx context.Context, every time.Duration) {
	defer func() { _ = a.DB.ReleaseLease(context.WithoutCancel(ctx), LeaseIncidentDeadlines, a.Replica) }()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if res, _, err := a.RunIncidentWatchOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			a.Log.Error("incident deadlines", "err", err)
		} else if res.Opened > 0 {
			a.Log.Warn("incident deadlines: revocation deadline breached, delayed-revocation incident opened", "opened", res.Opened)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
