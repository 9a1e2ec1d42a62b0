// Package domain keeps the domains an account has proved it controls (BR
// §3.2.2.4), the evidence of every validation attempt, and the CAA checks
// made at issuance (BR §3.2.2.8), corroborated from remote network
// perspectives (BR §3.2.2.9). Issuance calls RequireValidated, CheckCAA and
// RecordIssuance; see types.go for what it gets back.
//
// # Validations and attempts
//
// Start creates a validation: a fresh Random Value (package dcv, 256 bits)
// that expires per br.RandomValueExpiry (BR §3.2.2.4.7: 30 days at most),
// and where to publish it: a TXT record at "_vetca-challenge.<domain>" for
// dns-change (BR §3.2.2.4.7), or a file under /.well-known/pki-validation/
// for website-change (BR §3.2.2.4.18). Only dns-change accepts a wildcard.
//
// Validate runs the check now, from the primary perspective and then, when
// the primary saw the value and remote perspectives are configured, from
// every remote perspective; the BR §3.2.2.9 quorum in force on that date
// decides. The network I/O happens before, never inside, a database
// transaction. Every attempt, valid or not, is stored in
// domain_validation_attempts with the method name, BR section and vetca
// method version, the exact name or URL queried, the answer seen, the
// resolver, the time, the result, each perspective's answer and the quorum
// (BR §5.4.1). A validation becomes "valid" at its first valid attempt and
// stays valid (a later failed re-check is stored but does not undo it);
// validated_at is the time of its latest valid attempt, which is what the
// BR §4.2.1 reuse period counts from.
//
// # Issuance
//
// RequireValidated finds, for each SAN, a valid validation of the account
// that covers it (dcv.Method.Covers) and is still reusable at the issuance
// time. CheckCAA checks CAA for every SAN (RFC 8659), failing closed on any
// lookup failure, and corroborates a permission from the remote
// perspectives. RecordIssuance, inside the issuer's transaction, links the
// serial to the validations relied on and stores every SAN's CAA result;
// it refuses a CAA result older than BR §3.2.2.8 allows.
//
// # Queries
//
// Search answers the incident question "which validations, and which
// certificates, relied on method M (version V) (between T1 and T2)?" from
// the attempts and the serial links. It returns serials only: the
// certificate inventory belongs to the order service. A serial is linked
// when its issuance intent is recorded, just before signing, so a serial
// whose signing then failed can also appear; for scoping an incident that
// errs on the safe side.
//
// # Storage and API
//
// Tables (migration 00002, both dialects, all audited): domain_validations,
// domain_validation_attempts, certificate_domain_validations (serial ->
// validation and attempt relied on, per SAN) and caa_checks (per SAN, with
// the serial and order; an empty serial for a refused finalization, see
// RecordCAAChecks). The HTTP API (package web) is the Domains section of
// docs/api.md: POST /accounts/{id}/domains, POST .../{domainId}/validate,
// GET /accounts/{id}/domains[/{domainId}] and GET /domain-validations.
//
// Every write goes through audit.Recorder inside db.InTx, and every read
// that feeds a decision is integrity-checked (audit.Select, Recorder.Get),
// so a row edited outside vetca stops issuance instead of being relied on.
package validation
