// Package plaintext holds the rules for the free text and email addresses
// people type into vetca outside the certificate subject (account and
// contact names, staff email addresses): what every service that stores
// such a field, and every change request that amends one, refuses.
package plaintext

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vetca/vetca/internal/apperr"
)

// Check refuses, naming field, a value longer than max bytes, not valid
// UTF-8 (encoding/json turns invalid bytes into U+FFFD, refused too), with
// a control or invisible formatting character (a right-to-left override
// would make a name read as another), or with leading or trailing white
// space; an empty value only when required.
func Check(field, v string, max int, required bool) error {
	if v == "" {
		if required {
			return apperr.Invalid(apperr.CodeMissingField, field, "%s is required", field)
		}
		return nil
	}
	if len(v) > max {
		return apperr.Invalid(apperr.CodeTooLong, field, "%s is longer than %d characters", field, max)
	}
	if err := checkChars(field, v, ""); err != nil {
		return err
	}
	if strings.TrimSpace(v) != v {
		return apperr.Invalid(apperr.CodeSurroundingSpace, field, "%s has leading or trailing white space", field)
	}
	return nil
}

// CheckProse is Check for free text that may run over several lines (a
// reason, a note): line feeds, carriage returns (a browser sends a form's
// line ends as CRLF) and tabs are allowed, and white space around the text
// is not refused; every other control or invisible formatting character (a
// right-to-left override makes a record read as something else) and text
// that is not valid UTF-8 are.
func CheckProse(field, v string, max int, required bool) error {
	if strings.TrimSpace(v) == "" {
		if required {
			return apperr.Invalid(apperr.CodeMissingField, field, "%s is required", field)
		}
		return nil
	}
	if len(v) > max {
		return apperr.Invalid(apperr.CodeTooLong, field, "%s is longer than %d bytes", field, max)
	}
	return checkChars(field, v, "\n\r\t")
}

// checkChars refuses, naming field, text that is not valid UTF-8 (or holds
// U+FFFD, what a decoder makes of invalid bytes) and any control or
// invisible formatting character but those in allowed.
func checkChars(field, v, allowed string) error {
	if !utf8.ValidString(v) {
		return apperr.Invalid(apperr.CodeControlCharacter, field, "%s is not valid UTF-8", field)
	}
	for _, r := range v {
		switch {
		case r == utf8.RuneError:
			return apperr.Invalid(apperr.CodeControlCharacter, field, "%s is not valid UTF-8 (it holds U+FFFD, the replacement character)", field)
		case (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) && !strings.ContainsRune(allowed, r):
			return apperr.Invalid(apperr.CodeControlCharacter, field, "%s contains a control or invisible formatting character (U+%04X)", field, r)
		}
	}
	return nil
}

// CheckEmail refuses, naming field, anything but a plain address such as
// name@example.com (no display name, no comment, no angle brackets) of at
// most 254 bytes, the form mail is sent to; an empty value only when
// required.
func CheckEmail(field, v string, required bool) error {
	if v == "" {
		if required {
			return apperr.Invalid(apperr.CodeMissingField, field, "%s is required", field)
		}
		return nil
	}
	if !utf8.ValidString(v) || strings.ContainsRune(v, utf8.RuneError) {
		return apperr.Invalid(apperr.CodeInvalidEmail, field, "%s is not valid UTF-8", field)
	}
	addr, err := mail.ParseAddress(v)
	if err != nil || addr.Address != v || addr.Name != "" || !strings.Contains(v, "@") || len(v) > 254 {
		return apperr.Invalid(apperr.CodeInvalidEmail, field, "%s %q is not a plain address such as name@example.com", field, v)
	}
	return nil
}
