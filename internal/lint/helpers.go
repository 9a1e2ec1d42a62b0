package lint

import (
	"encoding/asn1"
	"fmt"

	zx509 "github.com/zmap/zcrypto/x509"
	zlint "github.com/zmap/zlint/v3/lint"
	"github.com/zmap/zlint/v3/util"

	"github.com/vetca/vetca/internal/profile"
)

// Helpers shared by the lint_<name>.go files.

func pass() *zlint.LintResult { return &zlint.LintResult{Status: zlint.Pass} }

func fail(format string, args ...any) *zlint.LintResult {
	return &zlint.LintResult{Status: zlint.Error, Details: fmt.Sprintf(format, args...)}
}

func fatal(format string, args ...any) *zlint.LintResult {
	return &zlint.LintResult{Status: zlint.Fatal, Details: fmt.Sprintf(format, args...)}
}

// subscriberServerAuth is the Applies of the lints on subscriber TLS
// certificates only (not CA certificates).
func subscriberServerAuth(c *zx509.Certificate) bool {
	return util.IsSubscriberCert(c) && util.IsServerAuthCert(c)
}

// attrName names an attribute type for messages: the profile's JSON field
// name, a few well-known X.520 names, or the dotted OID.
func attrName(oid asn1.ObjectIdentifier) string {
	if spec, ok := profile.LookupAttribute(oid); ok {
		return spec.Field
	}
	known := map[string]string{
		"2.5.4.11":                   "organizationalUnitName",
		"2.5.4.5":                    "serialNumber",
		"2.5.4.4":                    "surname",
		"2.5.4.42":                   "givenName",
		"0.9.2342.19200300.100.1.25": "domainComponent",
		"1.2.840.113549.1.9.1":       "emailAddress",
		"2.5.4.15":                   "businessCategory",
		"1.3.6.1.4.1.311.60.2.1.3":   "jurisdictionCountryName",
	}
	if n, ok := known[oid.String()]; ok {
		return n
	}
	return oid.String()
}

func decodeSubject(c *zx509.Certificate) ([]profile.NameAttribute, *zlint.LintResult) {
	attrs, err := profile.DecodeName(c.RawSubject)
	if err != nil {
		return nil, fatal("cannot decode the subject: %v", err)
	}
	return attrs, nil
}

// subjectValue returns the single value of the attribute with field name f
// (the first one if it repeats).
func subjectValue(attrs []profile.NameAttribute, f string) (string, bool) {
	for _, a := range attrs {
		if attrName(a.OID) == f {
			return a.Value, true
		}
	}
	return "", false
}
