package validation

import (
	"encoding/json"
	"time"
)

// Reliance is one certificate SAN's reliance on a domain validation (BR
// §3.2.2.4, §4.2.1). Issuance stores it with the certificate so staff can
// later find every certificate that relied on a method version.
type Reliance struct {
	DNSName       string    `json:"dnsName"`       // the SAN as it will appear in the certificate
	ValidationID  string    `json:"validationId"`  // the domain validation relied on
	AttemptID     string    `json:"attemptId"`     // the valid attempt (evidence) relied on
	Domain        string    `json:"domain"`        // the name that was validated
	Method        string    `json:"method"`        // dns-change | website-change
	MethodSection string    `json:"methodSection"` // e.g. "3.2.2.4.7"
	MethodVersion string    `json:"methodVersion"` // vetca's version of the method
	ValidatedAt   time.Time `json:"validatedAt"`
}

// CAAResult is the CAA check of one SAN at issuance (BR §3.2.2.8), with its
// multi-perspective corroboration (BR §3.2.2.9) when perspectives are
// configured.
type CAAResult struct {
	DNSName      string          `json:"dnsName"`
	Permitted    bool            `json:"permitted"`
	RelevantName string          `json:"relevantName,omitempty"`
	Reason       string          `json:"reason"`
	CheckedAt    time.Time       `json:"checkedAt"`
	IssueBefore  time.Time       `json:"issueBefore"` // BR §3.2.2.8: issue within 8 hours or the CAA TTL
	Quorum       string          `json:"quorum,omitempty"`
	Evidence     json.RawMessage `json:"evidence"` // the full CAA result and perspective outcome
}
