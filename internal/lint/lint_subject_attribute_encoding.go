package lint

import (
	"encoding/asn1"
	"unicode/utf8"

	zx509 "github.com/zmap/zcrypto/x509"
	zlint "github.com/zmap/zlint/v3/lint"

	"github.com/vetca/vetca/internal/profile"
)

// LintSubjectAttributeEncoding is the name of the subject attribute string
// type and length lint.
const LintSubjectAttributeEncoding = "e_vetca_subject_attribute_encoding"

// subjectAttributeEncodingLint: BR §7.1.4.2 string types and upper bounds.
// Effective with the BR §7.1.4.2 table (ballot SC-062).
func subjectAttributeEncodingLint() Lint {
	return Lint{
		Metadata: Metadata{
			Name:          LintSubjectAttributeEncoding,
			Description:   "countryName is a PrintableString of 2 characters; other attributes are UTF8String or PrintableString within their maximum length",
			Citation:      "BR §7.1.4.2",
			Source:        Source,
			EffectiveDate: brSC62Date,
		},
		Check: checkSubjectAttributeEncoding,
	}
}

func checkSubjectAttributeEncoding(c *zx509.Certificate, _ Input) *zlint.LintResult {
	attrs, res := decodeSubject(c)
	if res != nil {
		return res
	}
	for _, a := range attrs {
		spec, ok := profile.LookupAttribute(a.OID)
		if !ok {
			continue
		}
		if spec.Field == "countryName" {
			if a.Tag != asn1.TagPrintableString {
				return fail("countryName is encoded with ASN.1 tag %d, not PrintableString", a.Tag)
			}
		} else if a.Tag != asn1.TagUTF8String && a.Tag != asn1.TagPrintableString {
			return fail("%s is encoded with ASN.1 tag %d, not UTF8String or PrintableString", spec.Field, a.Tag)
		}
		if !utf8.ValidString(a.Value) {
			return fail("%s is not valid UTF-8", spec.Field)
		}
		if n := utf8.RuneCountInString(a.Value); n > spec.MaxLen {
			return fail("%s is %d characters long; the maximum is %d", spec.Field, n, spec.MaxLen)
		}
	}
	return pass()
}
