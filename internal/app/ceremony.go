package app

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/signer"
	"github.com/vetca/vetca/internal/store"
)

// writeCeremony writes the signed record of a CA's creation to the key
// directory (or path) and returns where it went.
func (a *App) writeCeremony(ctx context.Context, by actor.Actor, kind string, iss issuance.Issuer, parent *issuance.Issuer, path string) (string, error) {
	if err := a.RequireAuditKey(); err != nil {
		return "", err
	}
	desc, err := issuance.DescribeIssuer(iss)
	if err != nil {
		return "", err
	}
	rec := &issuance.CeremonyRecord{Version: 1, Kind: kind, At: store.FormatTime(a.Clock.Now()), Operator: by.String(),
		Database: a.DB.DSN(), Issuer: desc}
	if parent != nil {
		p, err := issuance.DescribeIssuer(*parent)
		if err != nil {
			return "", err
		}
		p.Certificate = ""
		rec.Parent = &p
	}
	if rec.AuditHead.Seq, rec.AuditHead.Hash, err = audit.ChainHead(ctx, a.DB); err != nil {
		return "", err
	}
	if err := rec.Sign(a.AuditKey); err != nil {
		return "", err
	}
	if path == "" {
		path = filepath.Join(a.Cfg.KeyDir, "ceremony-"+iss.ID+".json")
	}
	return path, rec.Write(path)
}

// IntermediateCeremony creates a new issuing CA under the root in a key
// ceremony and writes its signed record.
func (a *App) IntermediateCeremony(ctx context.Context, by actor.Actor, o issuance.IntermediateOptions, recordPath string) (issuance.Issuer, string, error) {
	issuers, err := issuance.ListIssuers(ctx, a.Recorder, a.DB)
	if err != nil {
		return issuance.Issuer{}, "", err
	}
	var root *issuance.Issuer
	for i := range issuers {
		if issuers[i].Kind == issuance.KindRoot {
			root = &issuers[i]
		}
	}
	if root == nil {
		return issuance.Issuer{}, "", fmt.Errorf("no root CA: run `vetca init` first")
	}
	if err := rootNames(*root, &o); err != nil {
		return issuance.Issuer{}, "", err
	}
	if o.KeyDir == "" {
		o.KeyDir = a.Cfg.KeyDir
	}
	// The root's CRL and certificate URLs in the new CA's certificate are
	// http, as init makes them (BR §7.1.2.11.2, §7.1.2.10.3).
	if o.PublicURL == "" {
		o.PublicURL = a.Cfg.PublicURL
	}
	o.PublicURL = statusURL(o.PublicURL)
	if o.Alg == "" {
		o.Alg = signer.ECDSAP256
	}
	o.Signer, o.Now = a.Cfg.SignerConfig(), a.Clock.Now()
	iss, err := issuance.CreateIntermediate(ctx, a.DB, a.Recorder, by, *root, o)
	if err != nil {
		return issuance.Issuer{}, "", err
	}
	path, err := a.writeCeremony(ctx, by, "intermediate-ca-created", iss, root, recordPath)
	return iss, path, err
}

// rootNames gives o the root's organizationName and countryName where the
// ceremony was given none: the new CA is the same CA's (BR §7.1.2.10.2).
func rootNames(root issuance.Issuer, o *issuance.IntermediateOptions) error {
	rc, err := root.Certificate()
	if err != nil {
		return err
	}
	if o.Organization == "" && len(rc.Subject.Organization) > 0 {
		o.Organization = rc.Subject.Organization[0]
	}
	if o.Country == "" && len(rc.Subject.Country) > 0 {
		o.Country = rc.Subject.Country[0]
	}
	return nil
}
