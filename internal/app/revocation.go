package app

import (
	"time"

	"github.com/vetca/vetca/internal/revocation"
)

// wireRevocation builds the revocation service, the CRL publisher and the
// OCSP responder, and lets revocations republish status at once.
func (a *App) wireRevocation() {
	a.CRLs = revocation.NewPublisher(a.DB, a.Recorder, a.Clock, a.Engine, a.Engine.Linter(), revocation.PublisherConfig{
		PublicURL: a.Cfg.StatusURL(), Shards: a.Cfg.CRLShards, Validity: a.Cfg.CRLValidity, Republish: a.Cfg.CRLRepublish,
	}, a.Log)
	a.OCSP = revocation.NewResponder(a.DB, a.Recorder, a.Clock, a.Engine, a.Engine.Linter(), a.Revocations, revocation.ResponderConfig{
		Validity: a.Cfg.OCSPValidity, Staleness: 2 * a.Cfg.OCSPPollTick,
	}, a.Log)
	a.Revocations.OnRevoke(a.CRLs)
	a.Revocations.OnRevoke(a.OCSP)
}

// Revocation timing defaults (BR §4.9.7, §4.9.9).
const (
	DefaultCRLValidity  = 7 * 24 * time.Hour
	DefaultCRLRepublish = 3 * 24 * time.Hour
	DefaultOCSPValidity = 96 * time.Hour
)
