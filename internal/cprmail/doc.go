// Package cprmail is the email channel for Certificate Problem Reports
// (BR §4.9.3): an SMTP intake, like an MX, that accepts mail addressed to
// any recipient at its listener, turns each message into a Report (reporter,
// subject, text body and every attachment, including PEM blocks pasted into
// the body) and hands it to a Submitter. It never relays and offers no AUTH:
// the Submitter is the only place a message goes.
//
// The durability rule: the server answers 250 to the end of DATA only after
// Submitter.SubmitMail has returned nil, that is after the report is stored
// durably as a case, and the 250 names the case id. Until then the sending
// MTA still holds the message. A Submitter error that is (or wraps) a
// *Rejection is answered 550 with its message, so the sender gets a bounce
// naming the reason; any other error is answered 451 so the sender retries.
// A message that cannot be parsed, or that has neither a body nor an
// attachment, or no reporter address, is refused with a 5xx before the
// Submitter is called. An unexpected panic while handling a message is
// recovered, logged and answered 451.
package cprmail
