// Package ocspresp signs and serves OCSP responses for vetca issuers
// (RFC 6960, the RFC 5019 lightweight profile, BR §4.9.9 and §7.3).
//
// Signing. A Signer is made once per issuer (NewSigner) and signs responses
// for that issuer with either the issuer's own key or a delegated responder
// certificate (ResponderTemplate makes its BR §7.1.2.8 template). Sign checks
// every response against the rules before it is signed: status good or
// revoked only (never unknown), a BR §7.2.2 reason code, a validity interval
// of at least 8 hours and at most 10 days (BR §4.9.9), nextUpdate within the
// signing certificate's validity (MRSP §6), thisUpdate not after producedAt
// (RFC 6960 §2.4), and no reasonCode CRL entry extension in singleExtensions
// (BR §7.3.2; Sign writes no singleExtensions at all). The response is encoded
// directly rather than through ocsp.CreateResponse because that function
// stamps producedAt from the wall clock and identifies the responder by name;
// here producedAt is the caller's (injected) time and the responder is
// identified byKey, as RFC 5019 §2.2.2 recommends. Responses are read back
// with golang.org/x/crypto/ocsp in the tests. RefreshDue implements the BR
// §4.9.9 schedule for pre-signed responses.
//
// Serving. Handler answers RFC 6960 Appendix A requests by GET and POST from
// a Source of pre-signed responses that the caller implements over its
// database. A Source that does not know the serial returns ErrNotFound and
// the client gets the unsigned "unauthorized" status (RFC 5019 §2.2.3), never
// "good": vetca never answers for a serial it did not issue (BR §4.9.9).
// A Source that also implements MemorySource is asked first, without the
// request parsed in full: the Handler decodes a GET into a pooled buffer,
// reads the CertID in place (ParseCertID, which declines unusual shapes
// rather than read them differently) and serves a Prepared response with
// its headers computed once. Everything else takes the full path.
package ocspresp
