package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/apperr"
)

// TestWriteErrorCodes checks the error writer: the code on the wire is the
// error's own, every code it writes itself is declared in apperr, and a code
// that is not declared is logged (and still written unchanged).
func TestWriteErrorCodes(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	write := func(err error) (int, errorDetail) {
		t.Helper()
		rec := httptest.NewRecorder()
		s.writeError(rec, httptest.NewRequest("GET", "/api/v1/x", nil), err)
		var body errorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("error body %q: %v", rec.Body, err)
		}
		return rec.Code, body.Error
	}

	for _, c := range apperr.All() {
		logs.Reset()
		_, d := write(apperr.Invalid(c, "field", "message"))
		if d.Code != c || d.Field != "field" || d.Message != "message" {
			t.Errorf("%s: wrote %+v", c, d)
		}
		if strings.Contains(logs.String(), "not declared") {
			t.Errorf("%s: logged as undeclared: %s", c, logs.String())
		}
	}

	status, d := write(errors.New("boom"))
	if status != 500 || d.Code != apperr.CodeInternal || !apperr.Known(d.Code) {
		t.Errorf("internal error: HTTP %d %+v", status, d)
	}

	logs.Reset()
	status, d = write(apperr.Conflict("undeclared_code", apperr.NoField, "message"))
	if status != 409 || d.Code != "undeclared_code" {
		t.Errorf("undeclared code: HTTP %d %+v", status, d)
	}
	if !strings.Contains(logs.String(), "error code not declared in apperr") || !strings.Contains(logs.String(), "undeclared_code") {
		t.Errorf("undeclared code not logged: %q", logs.String())
	}
}
