package eab

import "github.com/vetca/vetca/internal/audit"

// tables are the audited tables package eab owns: every audited read and
// write of them goes through these handles.
type tables struct {
	keys *audit.Table[Key]
}

func newTables(rec *audit.Recorder) tables {
	return tables{
		keys: audit.TableOf[Key](rec, "eab_keys"),
	}
}

// The actions package eab records in the audit trail.
const (
	actEABKeyCreated audit.Action = "eab_key.created"
	actEABKeyRevoked audit.Action = "eab_key.revoked"
	actEABKeyBound   audit.Action = "eab_key.bound"
)
