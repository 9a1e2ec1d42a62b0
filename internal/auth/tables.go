package auth

import "github.com/vetca/vetca/internal/audit"

// tables are the audited tables package auth owns: every audited read
// and write of them goes through these handles.
type tables struct {
	apiTokens       *audit.Table[Token]
	consoleSessions *audit.Table[Session]
	users           *audit.Table[User]
}

func newTables(rec *audit.Recorder) tables {
	return tables{
		apiTokens:       audit.TableOf[Token](rec, "api_tokens"),
		consoleSessions: audit.TableOf[Session](rec, "console_sessions"),
		users:           audit.TableOf[User](rec, "users"),
	}
}

// The actions package auth records in the audit trail.
const (
	actUserCreated        audit.Action = "user.created"
	actTokenIssued        audit.Action = "token.issued"
	actUserRolesRequested audit.Action = "user.roles_requested"
	actUserApproved       audit.Action = "user.approved"
	actUserDeclined       audit.Action = "user.declined"
	actTokenRevoked       audit.Action = "token.revoked"
	actSessionStarted     audit.Action = "session.started"
	actConsoleSignIn      audit.Action = "console.sign_in"
	actSessionEnded       audit.Action = "session.ended"
	actSignInFailures     audit.Action = "console.sign_in_failures"
	actSignInThrottled    audit.Action = "console.sign_in_throttled"
)
