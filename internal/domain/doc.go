// Package domain keeps the domains an account has proved it controls (BR
// §3.2.2.4), the evidence of every validation attempt, and the CAA checks
// made at issuance (BR §3.2.2.8), corroborated from remote perspectives
// (BR §3.2.2.9). Issuance calls RequireValidated, CheckCAA and
// RecordIssuance; see types.go for what it gets back.
package domain
