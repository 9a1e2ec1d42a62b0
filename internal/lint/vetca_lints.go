package lint

import (
	"encoding/asn1"
	"fmt"
	"github.com/vetca/vetca/internal/br"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	zx509 "github.com/zmap/zcrypto/x509"
	zlint "github.com/zmap/zlint/v3/lint"
	"github.com/zmap/zlint/v3/util"

	"github.com/vetca/vetca/internal/iso3166"
	"github.com/vetca/vetca/internal/profile"
)

// Source is the zlint lint source of vetca's own lints.
const Source zlint.LintSource = "vetca"

// Names of vetca's own certificate lints.
const (
	LintSubjectRDNOrder          = "e_vetca_subject_rdn_order"
	LintSubjectAttributeEncoding = "e_vetca_subject_attribute_encoding"
	LintSubjectAttributeAllowed  = "e_vetca_subject_attribute_not_in_profile"
	LintSubjectPlaceholder       = "e_vetca_subject_placeholder_value"
	LintSubjectCountry           = "e_vetca_subject_country_not_iso3166_1"
	LintSubjectState             = "e_vetca_subject_state_not_iso3166_2"
	LintValidityCap              = "e_vetca_validity_exceeds_br_cap"
	LintOVPolicy                 = "e_vetca_ov_policy_missing"
	LintSubjectNotVetted         = "e_vetca_subject_not_vetted"
)

// lintFunc adapts two functions to zlint's CertificateLintInterface.
type lintFunc struct {
	applies func(*zx509.Certificate) bool
	execute func(*zx509.Certificate) *zlint.LintResult
}

func (l lintFunc) CheckApplies(c *zx509.Certificate) bool         { return l.applies(c) }
func (l lintFunc) Execute(c *zx509.Certificate) *zlint.LintResult { return l.execute(c) }

func newLint(name, desc, citation string, applies func(*zx509.Certificate) bool,
	execute func(*zx509.Certificate) *zlint.LintResult) *zlint.CertificateLint {
	return &zlint.CertificateLint{
		LintMetadata: zlint.LintMetadata{
			Name:        name,
			Description: desc,
			Citation:    citation,
			Source:      Source,
		},
		Lint: func() zlint.CertificateLintInterface { return lintFunc{applies: applies, execute: execute} },
	}
}

func pass() *zlint.LintResult { return &zlint.LintResult{Status: zlint.Pass} }

func fail(format string, args ...any) *zlint.LintResult {
	return &zlint.LintResult{Status: zlint.Error, Details: fmt.Sprintf(format, args...)}
}

func fatal(format string, args ...any) *zlint.LintResult {
	return &zlint.LintResult{Status: zlint.Fatal, Details: fmt.Sprintf(format, args...)}
}

func anyCert(*zx509.Certificate) bool { return true }

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

// rdnOrderLint: BR §7.1.4.2 requires the subject attributes in the order
// C, ST, L, postalCode, street, O, CN (the attributes this profile issues),
// one AttributeTypeAndValue per RDN, none repeated (§7.1.4.1).
func rdnOrderLint() *zlint.CertificateLint {
	return newLint(LintSubjectRDNOrder,
		"Subject attributes appear in the order C, ST, L, postalCode, street, O, CN, one per RDN, none repeated",
		"BR §7.1.4.2, §7.1.4.1", anyCert,
		func(c *zx509.Certificate) *zlint.LintResult {
			attrs, res := decodeSubject(c)
			if res != nil {
				return res
			}
			rank := map[string]int{}
			for i, s := range profile.AttributeOrder() {
				rank[s.Field] = i
			}
			last := -1
			seen := map[string]bool{}
			for _, a := range attrs {
				n := attrName(a.OID)
				if a.RDNSize != 1 {
					return fail("RDN %d holds %d attributes; each RDN must hold exactly one", a.RDN, a.RDNSize)
				}
				if seen[n] {
					return fail("%s appears more than once", n)
				}
				seen[n] = true
				r, ok := rank[n]
				if !ok {
					continue // reported by e_vetca_subject_attribute_not_in_profile
				}
				if r < last {
					return fail("%s appears after an attribute that BR §7.1.4.2 orders after it", n)
				}
				last = r
			}
			return pass()
		})
}

// encodingLint: BR §7.1.4.2 string types and upper bounds.
func encodingLint() *zlint.CertificateLint {
	return newLint(LintSubjectAttributeEncoding,
		"countryName is a PrintableString of 2 characters; other attributes are UTF8String or PrintableString within their maximum length",
		"BR §7.1.4.2", anyCert,
		func(c *zx509.Certificate) *zlint.LintResult {
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
		})
}

// allowedAttributesLint: the OV profile (BR §7.1.2.7.4) lets vetca issue
// only C, ST, L, postalCode, street, O and CN; OU, givenName and surname are
// forbidden and other attributes would need §7.1.4.4 verification vetca does
// not perform.
func allowedAttributesLint() *zlint.CertificateLint {
	return newLint(LintSubjectAttributeAllowed,
		"Subject holds only countryName, stateOrProvinceName, localityName, postalCode, streetAddress, organizationName and commonName",
		"BR §7.1.2.7.4, §7.1.4.4", anyCert,
		func(c *zx509.Certificate) *zlint.LintResult {
			attrs, res := decodeSubject(c)
			if res != nil {
				return res
			}
			for _, a := range attrs {
				if _, ok := profile.LookupAttribute(a.OID); !ok {
					return fail("the subject holds %s, which the OV profile does not issue", attrName(a.OID))
				}
			}
			return pass()
		})
}

// placeholderLint: BR §7.1.2.7.4 "subject Attributes MUST NOT contain only
// metadata such as '.', '-', and ' ' (i.e. space) characters, and/or any
// other indication that the value is absent, incomplete, or not
// applicable." countryName is left to the country lint (NA is Namibia).
func placeholderLint() *zlint.CertificateLint {
	return newLint(LintSubjectPlaceholder,
		"No subject attribute holds only metadata characters or a placeholder such as N/A",
		"BR §7.1.2.7.4", anyCert,
		func(c *zx509.Certificate) *zlint.LintResult {
			attrs, res := decodeSubject(c)
			if res != nil {
				return res
			}
			for _, a := range attrs {
				n := attrName(a.OID)
				if n == "countryName" {
					continue
				}
				if br.IsPlaceholder(a.Value) {
					return fail("%s %q is a placeholder or holds only metadata characters, not a value", n, a.Value)
				}
			}
			return pass()
		})
}

// countryLint: BR §7.1.2.7.4 countryName MUST be the ISO 3166-1 code of the
// subject's country. vetca is stricter than the BR: the user-assigned XX is
// refused too (DESIGN invariant 3), since every country is picked from the
// ISO list.
func countryLint() *zlint.CertificateLint {
	return newLint(LintSubjectCountry,
		"countryName is present and an assigned ISO 3166-1 alpha-2 code (XX is refused)",
		"BR §7.1.2.7.4, §7.1.4.2; DESIGN invariant 3", anyCert,
		func(c *zx509.Certificate) *zlint.LintResult {
			attrs, res := decodeSubject(c)
			if res != nil {
				return res
			}
			cc, ok := subjectValue(attrs, "countryName")
			if !ok {
				return fail("countryName is missing")
			}
			if cc == "XX" {
				return fail("countryName XX is a placeholder; vetca requires an assigned ISO 3166-1 code")
			}
			if _, ok := iso3166.LookupCountry(cc); !ok {
				return fail("countryName %q is not an ISO 3166-1 alpha-2 code", cc)
			}
			return pass()
		})
}

// stateLint: stateOrProvinceName, when present, is the exact ISO 3166-2 name
// of a subdivision of countryName (BR §7.1.2.7.4: the subject's state or
// province; vetca issues canonical ISO names only).
func stateLint() *zlint.CertificateLint {
	return newLint(LintSubjectState,
		"stateOrProvinceName is the ISO 3166-2 name of a subdivision of countryName",
		"BR §7.1.2.7.4, §3.2.2.1", func(c *zx509.Certificate) bool {
			attrs, err := profile.DecodeName(c.RawSubject)
			if err != nil {
				return true // let Execute report the decoding failure
			}
			_, ok := subjectValue(attrs, "stateOrProvinceName")
			return ok
		},
		func(c *zx509.Certificate) *zlint.LintResult {
			attrs, res := decodeSubject(c)
			if res != nil {
				return res
			}
			st, _ := subjectValue(attrs, "stateOrProvinceName")
			cc, _ := subjectValue(attrs, "countryName")
			if !iso3166.IsSubdivisionName(cc, st) {
				return fail("stateOrProvinceName %q is not an ISO 3166-2 subdivision name of %q", st, cc)
			}
			return pass()
		})
}

func validityLint() *zlint.CertificateLint {
	return newLint(LintValidityCap,
		"The validity period is within the BR §6.3.2 maximum for the notBefore date",
		"BR §6.3.2", subscriberServerAuth,
		func(c *zx509.Certificate) *zlint.LintResult {
			days := br.ValidityDays(c.NotBefore, c.NotAfter)
			if max := br.MaxValidity(c.NotBefore); days > max {
				return fail("validity period is %d days; BR §6.3.2 allows %d for notBefore %s",
					days, max, c.NotBefore.UTC().Format(time.RFC3339))
			}
			return pass()
		})
}

// ovPolicyLint: an OV subscriber certificate asserts 2.23.140.1.2.2, first
// (RECOMMENDED by BR §7.1.2.7.9, required by vetca's profile), exactly one
// CA/Browser Forum reserved identifier, and never anyPolicy.
func ovPolicyLint() *zlint.CertificateLint {
	return newLint(LintOVPolicy,
		"certificatePolicies starts with 2.23.140.1.2.2, holds exactly one reserved CABF identifier and no anyPolicy",
		"BR §7.1.2.7.9, §7.1.6.1", subscriberServerAuth,
		func(c *zx509.Certificate) *zlint.LintResult {
			pol := c.PolicyIdentifiers
			if len(pol) == 0 {
				return fail("no certificatePolicies")
			}
			if pol[0].String() != profile.OIDOrganizationValidated {
				return fail("the first policy is %s, not %s", pol[0], profile.OIDOrganizationValidated)
			}
			reserved := 0
			for _, p := range pol {
				s := p.String()
				if s == profile.OIDAnyPolicy {
					return fail("anyPolicy is present")
				}
				if strings.HasPrefix(s, "2.23.140.1.") {
					reserved++
				}
			}
			if reserved != 1 {
				return fail("%d CA/Browser Forum reserved policy identifiers; exactly one is allowed", reserved)
			}
			return pass()
		})
}

// vettedSubjectLint is built per issuance: the certificate's subject must
// equal every expected subject attribute for attribute, in BR order, with
// no attribute missing and none extra (DESIGN invariants 1 and 4; BR
// §7.1.2.7.4 and §3.2.2.1: subject identity information must be verified).
func vettedSubjectLint(expected []profile.Subject) *zlint.CertificateLint {
	return newLint(LintSubjectNotVetted,
		"Every subject attribute equals the approved snapshot and the verified organization version, with nothing extra",
		"BR §7.1.2.7.4, §3.2.2.1; DESIGN invariants 1, 4, 5", subscriberServerAuth,
		func(c *zx509.Certificate) *zlint.LintResult {
			got, res := decodeSubject(c)
			if res != nil {
				return res
			}
			var problems []string
			for i, want := range expected {
				for _, p := range compareSubject(got, want) {
					problems = append(problems, fmt.Sprintf("expected subject #%d: %s", i+1, p))
				}
			}
			if len(problems) > 0 {
				return fail("%s", strings.Join(problems, "; "))
			}
			return pass()
		})
}

// compareSubject lists, field by field, how the decoded subject got differs
// from want.
func compareSubject(got []profile.NameAttribute, want profile.Subject) []string {
	var problems []string
	wantAttrs := want.Attributes()
	counts := map[string]int{}
	for _, g := range got {
		counts[attrName(g.OID)]++
	}
	for _, w := range wantAttrs {
		v, ok := subjectValue(got, w.Field)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s is missing, vetted %q", w.Field, w.Value))
		case v != w.Value:
			problems = append(problems, fmt.Sprintf("%s is %q, vetted %q", w.Field, v, w.Value))
		}
	}
	for _, g := range got {
		n := attrName(g.OID)
		if v, known := want.Get(n); known && v != "" {
			continue
		}
		problems = append(problems, fmt.Sprintf("%s %q is present but not vetted", n, g.Value))
	}
	for _, n := range slices.Sorted(maps.Keys(counts)) {
		if k := counts[n]; k > 1 {
			problems = append(problems, fmt.Sprintf("%s appears %d times", n, k))
		}
	}
	if len(problems) == 0 && len(got) == len(wantAttrs) {
		for i, w := range wantAttrs {
			if !got[i].OID.Equal(w.OID) {
				problems = append(problems, fmt.Sprintf("attribute %d is %s, vetted order has %s", i+1, attrName(got[i].OID), w.Field))
				break
			}
		}
	}
	return problems
}

// staticLints are vetca's lints that need no per-issuance input.
func staticLints() []*zlint.CertificateLint {
	return []*zlint.CertificateLint{
		rdnOrderLint(),
		encodingLint(),
		allowedAttributesLint(),
		placeholderLint(),
		countryLint(),
		stateLint(),
		validityLint(),
		ovPolicyLint(),
	}
}
