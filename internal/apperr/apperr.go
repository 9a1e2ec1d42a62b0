// Package apperr is the error type that domain services return for outcomes a
// caller must see: bad input, a missing object, a refused action. The web
// layer turns an *Error into the error shape of docs/api.md (Errors)
// {"error":{"code","message","field"}} with the status its Kind implies; the
// CLI prints it and exits non-zero. Anything that is not an *Error is an
// internal failure.
package apperr

import (
	"errors"
	"fmt"
)

// Kind classifies an error; it decides the HTTP status.
type Kind int

// The kinds of application errors.
const (
	KindInvalid         Kind = iota + 1 // 400: the input is wrong
	KindUnauthenticated                 // 401: no or unknown credentials
	KindForbidden                       // 403: authenticated, but not allowed
	KindNotFound                        // 404
	KindConflict                        // 409: the state does not allow it
	KindTooLarge                        // 413
	KindUnprocessable                   // 422: understood, but refused by policy (e.g. CAA)
	KindTooManyRequests                 // 429: rate limited
	KindIntegrity                       // 500: stored data failed its integrity check; fail closed
	KindUnavailable                     // 503: a dependency is down
)

// Error is an application error with a stable code and, where one input is to
// blame, the JSON name of that input field.
type Error struct {
	Kind      Kind
	Code      Code   // stable machine-readable code, e.g. CodeInvalidCountry
	Field     string // JSON field name of the offending input, if any
	Message   string // for people
	Vetted    string // for comparisons with vetted data: the vetted value
	Requested string // ...and the requested one
	HasCmp    bool   // Vetted/Requested are meaningful (they may be empty strings)
	Err       error  // optional cause
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s (field %s)", e.Code, e.Message, e.Field)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// IsKind reports whether err is an *Error of kind k.
func IsKind(err error, k Kind) bool {
	e, ok := As(err)
	return ok && e.Kind == k
}

// HasCode reports whether err is an *Error with the given code.
func HasCode(err error, code Code) bool {
	e, ok := As(err)
	return ok && e.Code == code
}

// NoField is the field of an error that no single input is to blame for:
// the caller's role, the state of an object, the request as a whole.
const NoField = ""

func newf(k Kind, code Code, field, format string, args ...any) *Error {
	return &Error{Kind: k, Code: code, Field: field, Message: fmt.Sprintf(format, args...)}
}

// The constructors of the kinds all take (code, field, format, args...);
// field is the JSON name of the input to blame, or NoField.

// Invalid is a 400.
func Invalid(code Code, field, format string, args ...any) *Error {
	return newf(KindInvalid, code, field, format, args...)
}

// Mismatch is a 400 for a requested value that differs from the vetted one.
func Mismatch(field, vetted, requested string) *Error {
	return &Error{
		Kind: KindInvalid, Code: CodeSubjectMismatch, Field: field,
		Message:   fmt.Sprintf("%s %q differs from the verified organization's value %q", field, requested, vetted),
		Vetted:    vetted,
		Requested: requested,
		HasCmp:    true,
	}
}

// Unauthenticated is a 401.
func Unauthenticated(code Code, field, format string, args ...any) *Error {
	return newf(KindUnauthenticated, code, field, format, args...)
}

// Forbidden is a 403.
func Forbidden(code Code, field, format string, args ...any) *Error {
	return newf(KindForbidden, code, field, format, args...)
}

// NotFound is a 404.
func NotFound(code Code, field, format string, args ...any) *Error {
	return newf(KindNotFound, code, field, format, args...)
}

// Conflict is a 409.
func Conflict(code Code, field, format string, args ...any) *Error {
	return newf(KindConflict, code, field, format, args...)
}

// TooLarge is a 413.
func TooLarge(code Code, field, format string, args ...any) *Error {
	return newf(KindTooLarge, code, field, format, args...)
}

// Unprocessable is a 422.
func Unprocessable(code Code, field, format string, args ...any) *Error {
	return newf(KindUnprocessable, code, field, format, args...)
}

// TooManyRequests returns a KindTooManyRequests error.
func TooManyRequests(code Code, field, format string, args ...any) *Error {
	return newf(KindTooManyRequests, code, field, format, args...)
}

// Integrity is the fail-closed error for a stored row whose content no longer
// matches what the audit trail vouches for. It names the table and row.
func Integrity(table, rowID, format string, args ...any) *Error {
	e := newf(KindIntegrity, CodeIntegrityViolation, NoField, format, args...)
	e.Message = fmt.Sprintf("integrity check failed for %s row %s: %s", table, rowID, e.Message)
	return e
}

// Unavailable is a 503.
func Unavailable(code Code, field, format string, args ...any) *Error {
	return newf(KindUnavailable, code, field, format, args...)
}
