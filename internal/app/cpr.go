package app

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/auth"
	"github.com/vetca/vetca/internal/cpr"
	"github.com/vetca/vetca/internal/cprmail"
	"github.com/vetca/vetca/internal/issuance"
)

// DefaultCPRTick is how often serve's deadline watch of problem reports
// runs (Config.CPRTick).
const DefaultCPRTick = 30 * time.Second

// LeaseCPRDeadlines is the lease that makes one replica at a time run the
// deadline watch of problem reports.
const LeaseCPRDeadlines = "cpr-deadlines"

// wireCPR builds the problem-report desk (after orders and revocation).
func (a *App) wireCPR() {
	a.CPR = cpr.New(a.DB, a.Recorder, a.Clock, cpr.Deps{
		Inventory: issuance.NewInventory(a.Recorder), Orders: a.Orders, Revoker: a.Revocations,
		Contacts: a.Accounts, Outbox: a.Outbox, Assignable: a.deskUser,
	}, cpr.Config{ConfirmRevocation: a.Cfg.ConfirmRevocation, ComplianceEmail: a.Cfg.ComplianceEmail, AlarmLead: a.Cfg.CPRAlarmLead}, a.Log)
	a.CPRWatch = newCPRWatch(a)
}

// problemReportEmailDefault is problems@ the public URL's host.
func problemReportEmailDefault(publicURL string) string {
	u, err := url.Parse(publicURL)
	if err != nil || u.Hostname() == "" {
		return "problems@localhost"
	}
	return "problems@" + u.Hostname()
}

// CPRWatch is serve's deadline watch of problem reports: scheduled
// revocations, alarms before deadlines and breaches after them (cpr.Tick),
// with the Prometheus gauges of the obligations.
type CPRWatch struct {
	app                     *App
	open, dueSoon, breached prometheus.Gauge
}

func newCPRWatch(a *App) *CPRWatch {
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	}
	w := &CPRWatch{app: a,
		open:     g("vetca_cpr_obligations_open", "Open problem-report obligations (preliminary reports and revocations, BR §4.9.5, §4.9.1.1)."),
		dueSoon:  g("vetca_cpr_obligations_due_soon", "Open problem-report obligations due within --cpr-alarm-lead."),
		breached: g("vetca_cpr_obligations_breached", "Problem-report obligations past their BR deadline and not met."),
	}
	a.Metrics.MustRegister(w.open, w.dueSoon, w.breached)
	return w
}

// RunOnce runs one pass if this replica holds the lease; ok is false when
// another replica does. Either way it sets the gauges from the current
// obligations: every replica serves /metrics, and one that lost the lease
// would otherwise go on reporting the breaches of its last pass, met since.
func (w *CPRWatch) RunOnce(ctx context.Context) (res cpr.TickResult, ok bool, err error) {
	a := w.app
	ok, err = a.DB.AcquireLease(ctx, LeaseCPRDeadlines, a.Replica, a.Clock.Now(), a.Cfg.CPRTick*3+time.Minute)
	if err != nil {
		return res, false, err
	}
	if !ok {
		now := a.Clock.Now()
		obs, err := a.CPR.Obligations(ctx, now)
		if err != nil {
			return res, false, fmt.Errorf("problem report obligations: %w", err)
		}
		w.observe(obs, now)
		return res, false, nil
	}
	res, err = a.CPR.Tick(ctx)
	if err != nil {
		return res, true, err
	}
	w.observe(res.Obligations, a.Clock.Now())
	return res, true, nil
}

func (w *CPRWatch) observe(obs []cpr.Obligation, now time.Time) {
	var soon, breached int
	for _, o := range obs {
		switch {
		case o.Breached:
			breached++
		case !now.Before(o.Due.Add(-w.app.Cfg.CPRAlarmLead)):
			soon++
		}
	}
	w.open.Set(float64(len(obs)))
	w.dueSoon.Set(float64(soon))
	w.breached.Set(float64(breached))
}

// Gauges returns the gauges' current values (open, due soon, breached).
func (w *CPRWatch) Gauges() (open, dueSoon, breached prometheus.Gauge) {
	return w.open, w.dueSoon, w.breached
}

// Run runs a pass every interval until ctx ends, giving the lease back at
// the end.
func (w *CPRWatch) Run(ctx context.Context, every time.Duration) {
	a := w.app
	defer func() { _ = a.DB.ReleaseLease(context.WithoutCancel(ctx), LeaseCPRDeadlines, a.Replica) }()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if res, _, err := w.RunOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			a.Log.Error("problem report deadlines", "err", err)
		} else if res.Breaches > 0 || res.Revoked > 0 {
			a.Log.Warn("problem report deadlines", "breaches", res.Breaches, "revoked", res.Revoked)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// mailIntake hands the reports that arrive by mail (--cpr-smtp-listen) to
// the desk: the same Submit as the API and /report, so the SMTP 250 is
// answered only once the case is durable. Input the desk refuses (a
// malformed key, a key on no certificate) is a rejection, answered 5xx;
// anything else (the database down, rate limits) is temporary, so the
// sender's server retries.
type mailIntake struct{ desk *cpr.Service }

// SubmitMail implements cprmail.Submitter.
func (m mailIntake) SubmitMail(ctx context.Context, r cprmail.Report) (string, error) {
	blobs := make([][]byte, 0, len(r.Attachments))
	for _, at := range r.Attachments {
		blobs = append(blobs, at.Data)
	}
	c, err := m.desk.Submit(ctx, cpr.FromMail(r.From, r.Subject, r.Body, blobs))
	if err == nil {
		return c.ID, nil
	}
	var e *apperr.Error
	if errors.As(err, &e) && (e.Kind == apperr.KindInvalid || e.Kind == apperr.KindTooLarge) {
		return "", &cprmail.Rejection{Field: e.Field, Message: e.Message}
	}
	return "", err
}

// startMailIntake opens --cpr-smtp-listen and starts taking mail; it
// returns nil when no mail intake is configured.
func (a *App) startMailIntake() (*cprmail.Server, error) {
	if a.Cfg.CPRSMTPListen == "" {
		return nil, nil
	}
	host := "localhost"
	if u, err := url.Parse(a.Cfg.PublicURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	srv, err := cprmail.NewServer(a.Cfg.CPRSMTPListen, mailIntake{desk: a.CPR}, a.Log, cprmail.Options{Domain: host})
	if err != nil {
		return nil, fmt.Errorf("--cpr-smtp-listen %s: %w", a.Cfg.CPRSMTPListen, err)
	}
	srv.Start()
	return srv, nil
}

// deskUser reports whether name is an active, enabled staff user with the
// compliance or admin role, to whom a problem report may be assigned.
func (a *App) deskUser(ctx context.Context, name string) (bool, error) {
	u, ok, err := a.Auth.UserByName(ctx, name)
	if err != nil || !ok || u.Disabled || u.Status != auth.UserActive {
		return false, err
	}
	return slices.Contains(u.Roles, actor.Compliance) || slices.Contains(u.Roles, actor.Admin), nil
}
