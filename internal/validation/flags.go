package validation

import (
	"context"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/validation/dcv"
)

// FlaggedMethod is a version of a domain validation method flagged as no
// longer to be relied on (table flagged_method_versions). Certificates
// that relied on a validation of that version are what `vetca scan`
// reports and an incident's query can select (validationMethodVersion).
type FlaggedMethod struct {
	ID        string    `db:"id" json:"id"`
	Method    string    `db:"method" json:"method"`
	Version   string    `db:"version" json:"version"`
	Reason    string    `db:"reason" json:"reason"`
	FlaggedBy string    `db:"flagged_by" json:"flaggedBy"`
	FlaggedAt time.Time `db:"flagged_at" json:"flaggedAt"`
}

// FlagInput is the body of POST /api/v1/validation-methods/flags.
type FlagInput struct {
	Method  string `json:"method"`
	Version string `json:"version"`
	Reason  string `json:"reason"`
}

// MaxFlagReason bounds a flag's reason.
const MaxFlagReason = 2000

// FlagMethodVersion flags a method version (compliance or admin). A version
// is flagged once; the flag is an audited row, so a scan's verdict cannot
// be changed by editing it out of band.
func (s *Service) FlagMethodVersion(ctx context.Context, by actor.Actor, in FlagInput) (FlaggedMethod, error) {
	if err := by.Require(actor.Compliance, actor.Admin); err != nil {
		return FlaggedMethod{}, err
	}
	m, err := dcv.MethodByName(in.Method)
	if err != nil {
		return FlaggedMethod{}, err
	}
	v, reason := strings.TrimSpace(in.Version), strings.TrimSpace(in.Reason)
	if v == "" || len(v) > 32 || v != in.Version {
		return FlaggedMethod{}, apperr.Invalid(apperr.CodeInvalidVersion, "version", "version %q is not a method version such as %q", in.Version, m.Version)
	}
	if reason == "" || len(reason) > MaxFlagReason {
		return FlaggedMethod{}, apperr.Invalid(apperr.CodeMissingField, "reason", "say why the version may not be relied on (at most %d bytes)", MaxFlagReason)
	}
	f := FlaggedMethod{ID: "dcvflag_" + m.Name + "_" + v, Method: m.Name, Version: v, Reason: reason, FlaggedBy: by.String(),
		FlaggedAt: s.clk.Now().UTC().Truncate(time.Second)}
	err = s.db.InTx(ctx, func(tx *store.Tx) error {
		if _, found, err := s.tab.flaggedMethodVersions.First(ctx, tx, `WHERE id = ?`, f.ID); err != nil || found {
			if found {
				return apperr.Conflict(apperr.CodeAlreadyFlagged, "version", "%s version %s is already flagged", m.Name, v)
			}
			return err
		}
		return s.tab.flaggedMethodVersions.Insert(ctx, tx, by, actMethodVersionFlagged, f)
	})
	return f, err
}

// FlaggedMethods lists the flagged method versions (staff).
func (s *Service) FlaggedMethods(ctx context.Context, by actor.Actor) ([]FlaggedMethod, error) {
	if by.Kind != actor.CLI {
		if err := by.Require(actor.Compliance, actor.Verifier, actor.Auditor, actor.Admin); err != nil {
			return nil, err
		}
	}
	out, err := s.tab.flaggedMethodVersions.Select(ctx, s.db, `ORDER BY flagged_at, id`)
	if out == nil {
		out = []FlaggedMethod{}
	}
	return out, err
}

// FlaggedReliance lists the names of the certificate with serial that relied on a
// validation of a flagged method version, each with its flag.
func (s *Service) FlaggedReliance(ctx context.Context, q store.Querier, serial string) ([]Reliance, []FlaggedMethod, error) {
	flags, err := s.tab.flaggedMethodVersions.Select(ctx, q, `ORDER BY id`)
	if err != nil || len(flags) == 0 {
		return nil, nil, err
	}
	links, err := s.tab.certificateDomainValidations.Select(ctx, q, `WHERE serial = ? ORDER BY dns_name, id`, serial)
	if err != nil {
		return nil, nil, err
	}
	var rel []Reliance
	var why []FlaggedMethod
	for _, l := range links {
		for _, f := range flags {
			if l.Method == f.Method && l.MethodVersion == f.Version {
				rel, why = append(rel, l.reliance()), append(why, f)
			}
		}
	}
	return rel, why, nil
}
