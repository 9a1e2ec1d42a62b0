package app

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/order"
	"github.com/vetca/vetca/internal/profile"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/vetting"
)

// Setting is an audited instance setting.
type Setting struct {
	ID        string    `db:"id"`
	Value     string    `db:"value"`
	UpdatedAt time.Time `db:"updated_at"`
}

// SettingPublicURL is the public URL the serving process last put into
// certificates; commands run without --public-url use it.
const SettingPublicURL = "public_url"

func getSetting(ctx context.Context, rec *audit.Recorder, q store.Querier, id string) (string, bool, error) {
	var s Setting
	if err := settingsTable(rec).Get(ctx, q, id, &s); err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return "", false, nil
		}
		return "", false, err
	}
	return s.Value, true, nil
}

// SetSetting records a setting (audited) when it changed. Replicas started
// together may both find a setting missing and both insert it; the one
// whose insert loses runs again (store.DB.InTx), and then finds the
// other's row (the same value: nothing to write; another: an update).
func (a *App) SetSetting(ctx context.Context, by actor.Actor, id, value string) error {
	return a.DB.InTx(ctx, func(tx *store.Tx) error {
		cur, ok, err := getSetting(ctx, a.Recorder, tx, id)
		if err != nil || (ok && cur == value) {
			return err
		}
		s := Setting{ID: id, Value: value, UpdatedAt: a.Clock.Now()}
		if ok {
			return settingsTable(a.Recorder).Update(ctx, tx, by, actSettingChanged, s)
		}
		return settingsTable(a.Recorder).Insert(ctx, tx, by, actSettingChanged, s)
	})
}

// SettingIssuance records the settings of the serving replicas that reach
// certificates or decide issuance. Every replica must run with the same:
// otherwise each computes a different snapshot for the same order and they
// take turns voiding each other's approvals.
const SettingIssuance = "issuance"

// IssuanceSettings are the settings recorded under SettingIssuance.
type IssuanceSettings struct {
	PublicURL             string   `json:"publicUrl"`
	CRLShards             int      `json:"crlShards"`
	OCSP                  bool     `json:"ocsp"`
	CPSPolicyOID          string   `json:"cpsPolicyOid"`
	CAAIdentities         []string `json:"caaIdentities"`
	Profile               string   `json:"profile"`
	ApprovalsRequired     int      `json:"approvalsRequired"`
	VerificationsRequired int      `json:"verificationsRequired"`
	// SanctionedCountries is nil in settings recorded before it was
	// one; such a record is not compared on it (the first replica to
	// start records it).
	SanctionedCountries []string `json:"sanctionedCountries"`
}

// issuanceSettings are this process's settings.
func (a *App) issuanceSettings() IssuanceSettings {
	ids := slices.Clone(a.Cfg.CAAIdentities)
	for i := range ids {
		ids[i] = strings.ToLower(strings.TrimSuffix(ids[i], "."))
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if ids == nil {
		ids = []string{}
	}
	sanctioned := slices.Clone(a.Cfg.SanctionedCountries)
	if sanctioned == nil {
		sanctioned = slices.Clone(vetting.DefaultSanctioned)
	}
	slices.Sort(sanctioned)
	sanctioned = append([]string{}, slices.Compact(sanctioned)...) // "[]", never null: none is a setting too
	return IssuanceSettings{
		PublicURL: a.Cfg.PublicURL, CRLShards: a.Cfg.CRLShards, OCSP: !a.Cfg.NoOCSP, CPSPolicyOID: a.Cfg.CPSPolicyOID,
		CAAIdentities: ids, Profile: fmt.Sprintf("%s/v%d", profile.Name, profile.Version),
		ApprovalsRequired: a.Cfg.ApprovalsRequired, VerificationsRequired: a.Cfg.VerificationsRequired,
		SanctionedCountries: sanctioned,
	}
}

func (s IssuanceSettings) encode() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// differences names the settings that differ, as flag names with both values.
func (s IssuanceSettings) differences(recorded string) []string {
	var r IssuanceSettings
	if err := json.Unmarshal([]byte(recorded), &r); err != nil {
		return []string{"the recorded settings do not parse: " + err.Error()}
	}
	var out []string
	diff := func(flag string, mine, theirs any) {
		if fmt.Sprint(mine) != fmt.Sprint(theirs) {
			out = append(out, fmt.Sprintf("%s %v (recorded %v)", flag, mine, theirs))
		}
	}
	diff("--public-url", s.PublicURL, r.PublicURL)
	diff("--crl-shards", s.CRLShards, r.CRLShards)
	diff("--no-ocsp", !s.OCSP, !r.OCSP)
	diff("--cps-policy-oid", s.CPSPolicyOID, r.CPSPolicyOID)
	diff("--caa-identity", s.CAAIdentities, r.CAAIdentities)
	diff("profile", s.Profile, r.Profile)
	diff("--approvals-required", s.ApprovalsRequired, r.ApprovalsRequired)
	diff("--verifications-required", s.VerificationsRequired, r.VerificationsRequired)
	if r.SanctionedCountries != nil {
		diff("--sanctioned-countries", strings.Join(s.SanctionedCountries, ","), strings.Join(r.SanctionedCountries, ","))
	}
	return out
}

// RecordSettings compares this replica's issuance settings with the
// installation's, as serve starts. It records them when none are recorded
// yet, or when reconfigure is set (an operator changing the installation's
// settings on purpose; replicas still running with the old ones then
// refuse to issue until restarted). Otherwise a difference is refused,
// naming each setting.
func (a *App) RecordSettings(ctx context.Context, by actor.Actor, reconfigure bool) error {
	mine := a.issuanceSettings()
	cur, ok, err := getSetting(ctx, a.Recorder, a.DB, SettingIssuance)
	if err != nil {
		return err
	}
	if ok && !reconfigure {
		if d := mine.differences(cur); len(d) > 0 {
			return fmt.Errorf("this replica's settings differ from the installation's, which every replica must share: %s; start it with the recorded settings, or pass --reconfigure to record these for the installation", strings.Join(d, "; "))
		}
	}
	if !ok && !reconfigure {
		// The first serve: init recorded the public URL it put into the CA
		// certificates (their CRL and caIssuers URLs), which a serve with
		// another one (say, one derived from --listen) must not replace
		// unasked.
		pub, had, err := getSetting(ctx, a.Recorder, a.DB, SettingPublicURL)
		if err != nil {
			return err
		}
		if had && pub != a.Cfg.PublicURL {
			return fmt.Errorf("this replica's settings differ from the installation's: --public-url %s (recorded %s by vetca init, and in the CA certificates' CRL and caIssuers URLs); start it with --public-url %s, or pass --reconfigure to record this one for the installation", a.Cfg.PublicURL, pub, pub)
		}
	}
	if err := a.SetSetting(ctx, by, SettingIssuance, mine.encode()); err != nil {
		return err
	}
	// Other commands (crl publish, crl verify) use the recorded public URL.
	return a.SetSetting(ctx, by, SettingPublicURL, a.Cfg.PublicURL)
}

// settingsGuard refuses issuance steps on a replica whose settings no
// longer match the installation's (another replica was started with
// --reconfigure).
func (a *App) settingsGuard() order.SettingsGuard {
	return settingsGuard{rec: a.Recorder, want: a.issuanceSettings()}
}

type settingsGuard struct {
	rec  *audit.Recorder
	want IssuanceSettings
}

func (g settingsGuard) Check(ctx context.Context, q store.Querier) error {
	cur, ok, err := getSetting(ctx, g.rec, q, SettingIssuance)
	if err != nil || !ok {
		return err
	}
	if d := g.want.differences(cur); len(d) > 0 {
		return apperr.Unavailable(apperr.CodeSettingsMismatch, apperr.NoField, "this replica's settings differ from the installation's (%s); restart it with the recorded settings", strings.Join(d, "; "))
	}
	return nil
}
