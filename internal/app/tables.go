package app

import "github.com/vetca/vetca/internal/audit"

// settingsTable is the audited table package app owns: the settings that
// commands and replicas share.
func settingsTable(rec *audit.Recorder) *audit.Table[Setting] {
	return audit.TableOf[Setting](rec, "settings")
}

// The actions package app records in the audit trail.
const (
	actSettingChanged audit.Action = "setting.changed"
)
