package plaintext_test

import (
	"testing"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/plaintext"
)

func TestCheck(t *testing.T) {
	cases := []struct {
		name, v  string
		required bool
		code     apperr.Code // "" accepted
	}{
		{"a name", "Acme Widgets EU", true, ""},
		{"punctuation and accents", "Müller & Søn, Inc.", true, ""},
		{"empty, optional", "", false, ""},
		{"empty, required", "", true, apperr.CodeMissingField},
		{"a bell", "Evil\u0007", true, apperr.CodeControlCharacter},
		{"a right-to-left override", "Acme\u202eLtd", true, apperr.CodeControlCharacter},
		{"a zero-width space", "Ac\u200bme", true, apperr.CodeControlCharacter},
		{"invalid UTF-8", "Sam \xff Patel", true, apperr.CodeControlCharacter},
		{"the replacement character", "Sam \ufffd Patel", true, apperr.CodeControlCharacter},
		{"surrounding space", " Acme ", true, apperr.CodeSurroundingSpace},
		{"too long", string(make([]byte, 201)), true, apperr.CodeTooLong},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := plaintext.Check("name", c.v, 200, c.required)
			checkRefusal(t, err, c.code, "name")
		})
	}
}

func TestCheckEmail(t *testing.T) {
	cases := []struct {
		name, v  string
		required bool
		code     apperr.Code
	}{
		{"plain", "jane@acme-widgets.com", true, ""},
		{"empty, optional", "", false, ""},
		{"empty, required", "", true, apperr.CodeMissingField},
		{"a display name", "Jane <jane@acme-widgets.com>", true, apperr.CodeInvalidEmail},
		{"not an address", "not an email <x@y>", true, apperr.CodeInvalidEmail},
		{"no at sign", "jane", true, apperr.CodeInvalidEmail},
		{"a comment", "jane@acme-widgets.com (Jane)", true, apperr.CodeInvalidEmail},
		{"invalid UTF-8", "j\xffne@acme-widgets.com", true, apperr.CodeInvalidEmail},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkRefusal(t, plaintext.CheckEmail("email", c.v, c.required), c.code, "email")
		})
	}
}

func checkRefusal(t *testing.T, err error, code apperr.Code, field string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		return
	}
	e, ok := apperr.As(err)
	if !ok || e.Code != code || e.Field != field {
		t.Fatalf("got %v, want %s naming %s", err, code, field)
	}
}

// Reasons and notes run over several lines, but a record that reads as
// something else (a right-to-left override) or holds bytes that are not
// text is refused as in a name.
func TestCheckProse(t *testing.T) {
	cases := []struct {
		name, v  string
		required bool
		code     apperr.Code // "" accepted
	}{
		{"lines and a tab", "Documents do not match.\n\tRegistry: none found.\n", true, ""},
		{"blank, required", " \n ", true, apperr.CodeMissingField},
		{"blank, optional", "", false, ""},
		{"a form's line ends (CRLF)", "one\r\ntwo", true, ""},
		{"a bell", "one\atwo", true, apperr.CodeControlCharacter},
		{"a right-to-left override", "approved \u202edevorppa ton", true, apperr.CodeControlCharacter},
		{"invalid UTF-8", "cleared\xff", true, apperr.CodeControlCharacter},
		{"the replacement character", "cleared \ufffd", true, apperr.CodeControlCharacter},
		{"too long", string(make([]byte, 2001)), true, apperr.CodeTooLong},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkRefusal(t, plaintext.CheckProse("reason", c.v, 2000, c.required), c.code, "reason")
		})
	}
}
