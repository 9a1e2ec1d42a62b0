package app

import (
	"context"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/store"
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
	if err := rec.Get(ctx, q, "settings", id, &s); err != nil {
		if apperr.IsKind(err, apperr.KindNotFound) {
			return "", false, nil
		}
		return "", false, err
	}
	return s.Value, true, nil
}

// SetSetting records a setting (audited) when it changed.
func (a *App) SetSetting(ctx context.Context, by actor.Actor, id, value string) error {
	return a.DB.InTx(ctx, func(tx *store.Tx) error {
		cur, ok, err := getSetting(ctx, a.Recorder, tx, id)
		if err != nil || (ok && cur == value) {
			return err
		}
		s := Setting{ID: id, Value: value, UpdatedAt: a.Clock.Now()}
		if ok {
			return a.Recorder.Update(ctx, tx, by.String(), "setting.changed", "settings", s)
		}
		return a.Recorder.Insert(ctx, tx, by.String(), "setting.changed", "settings", s)
	})
}
