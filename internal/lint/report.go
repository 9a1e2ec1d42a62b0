package lint

import (
	"fmt"
	"sort"
	"strings"

	zlint "github.com/zmap/zlint/v3/lint"
)

// Finding is one lint result at notice level or above.
type Finding struct {
	Lint     string           `json:"lint"`
	Status   zlint.LintStatus `json:"status"`
	Details  string           `json:"details,omitempty"`
	Citation string           `json:"citation,omitempty"`
	// Tolerated holds the documented reason when the finding is a warning
	// listed by ToleratedWarnings; such a finding does not fail Err.
	Tolerated string `json:"tolerated,omitempty"`
}

// Failing reports whether the finding makes Report.Err return an error:
// every error and fatal, and every warning that is not tolerated.
func (f Finding) Failing() bool {
	switch f.Status {
	case zlint.Error, zlint.Fatal:
		return true
	case zlint.Warn:
		return f.Tolerated == ""
	}
	return false
}

// Report is the outcome of linting one certificate, CRL or OCSP response.
type Report struct {
	// Findings lists every result at notice level or above (notice, warn,
	// error, fatal), sorted by lint name.
	Findings []Finding `json:"findings"`
	// Ran is the number of lints that were executed (every status,
	// including pass, NA and NE).
	Ran     int `json:"ran"`
	results map[string]zlint.LintStatus
}

// Status returns the status a lint returned, and whether it ran.
func (r *Report) Status(name string) (zlint.LintStatus, bool) {
	s, ok := r.results[name]
	return s, ok
}

// Failed returns the findings that fail the report.
func (r *Report) Failed() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Failing() {
			out = append(out, f)
		}
	}
	return out
}

// Err returns nil when no lint returned error or fatal and every warning is
// a documented unavoidable one (ToleratedWarnings); otherwise an *Error
// naming each failing lint.
func (r *Report) Err() error {
	failed := r.Failed()
	if len(failed) == 0 {
		return nil
	}
	return &Error{Failed: failed}
}

func (r *Report) add(name string, res *zlint.LintResult, citation string, tolerated func(string) (string, bool)) {
	if r.results == nil {
		r.results = make(map[string]zlint.LintStatus)
	}
	r.Ran++
	r.results[name] = res.Status
	if res.Status < zlint.Notice {
		return
	}
	f := Finding{Lint: name, Status: res.Status, Details: res.Details, Citation: citation}
	if res.Status == zlint.Warn && tolerated != nil {
		if why, ok := tolerated(name); ok {
			f.Tolerated = why
		}
	}
	r.Findings = append(r.Findings, f)
}

func (r *Report) sort() {
	sort.Slice(r.Findings, func(i, j int) bool { return r.Findings[i].Lint < r.Findings[j].Lint })
}

// Error is returned by Report.Err: the lints that failed.
type Error struct {
	Failed []Finding
}

// Lints returns the names of the failing lints.
func (e *Error) Lints() []string {
	out := make([]string, len(e.Failed))
	for i, f := range e.Failed {
		out[i] = f.Lint
	}
	return out
}

// Error names every failing lint with its status and details.
func (e *Error) Error() string {
	parts := make([]string, len(e.Failed))
	for i, f := range e.Failed {
		if f.Details != "" {
			parts[i] = fmt.Sprintf("%s (%s: %s)", f.Lint, f.Status, f.Details)
		} else {
			parts[i] = fmt.Sprintf("%s (%s)", f.Lint, f.Status)
		}
	}
	return fmt.Sprintf("lint failed: %s", strings.Join(parts, "; "))
}

// ToleratedWarnings returns the certificate warnings vetca documents as
// unavoidable, with the reason. They are reported as findings but do not
// fail Err. The map is a fresh copy.
//
//   - w_ext_subject_key_identifier_missing_sub_cert: RFC 5280 §4.2.1.2 says
//     subscriber certificates SHOULD carry a subjectKeyIdentifier; BR
//     §7.1.2.7.6 says NOT RECOMMENDED. zlint warns either way
//     (w_ext_subject_key_identifier_not_recommended_subscriber on the other
//     side). vetca follows the CA/Browser Forum, so this RFC-side warning
//     remains on every subscriber certificate.
func ToleratedWarnings() map[string]string {
	return map[string]string{
		"w_ext_subject_key_identifier_missing_sub_cert": "BR §7.1.2.7.6 makes subjectKeyIdentifier NOT RECOMMENDED in subscriber certificates; RFC 5280 §4.2.1.2 says SHOULD. vetca takes the CABF side.",
	}
}

func toleratedCertWarning(name string) (string, bool) {
	why, ok := ToleratedWarnings()[name]
	return why, ok
}
