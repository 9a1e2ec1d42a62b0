// Package caa decides whether DNS Certification Authority Authorization
// records (RFC 8659) allow vetca to issue for a domain name, as BR §3.2.2.8
// requires for every dNSName before issuance.
//
// The algorithm follows RFC 8659 exactly:
//
//   - §3: the relevant RRset for a name X is the CAA RRset at X (the
//     resolver follows CNAMEs at X); if it is empty, the relevant RRset of
//     X's parent, climbing label by label up to and including the top-level
//     domain, never the root. The climb goes through X's parents, not
//     through the parents of a CNAME target. vetca queries every name of
//     the climb concurrently and reads the answers in climbing order, so
//     the decision is the label-by-label one at the cost of one round trip.
//   - §4.1: property tags compare case-insensitively, in ASCII only (a tag
//     with any other character is unknown). An unknown tag with the issuer
//     critical flag (128) forbids issuance. vetca knows issue, issuewild
//     and iodef.
//   - §4.2: an issue value is parsed by the §4.2 grammar
//     ("issuer-domain-name; key=value; ..."); issuer domain names compare
//     case-insensitively with the identities vetca is configured with
//     (--caa-identity). A value without an issuer domain name
//     (";") authorizes nobody. A value that does not parse authorizes
//     nobody but still counts as an issue property (fail closed).
//     Parameters are parsed and recorded; vetca defines none, so they do
//     not change the decision (RFC 8657 accounturi/validationmethods are not
//     enforced).
//   - §4.3: for a wildcard name, issuewild properties govern when at least
//     one is present, otherwise issue properties do; for other names
//     issuewild is ignored.
//   - A relevant RRset without any governing property (iodef only, or only
//     unknown non-critical tags) does not restrict issuance; nor does the
//     absence of any CAA RRset up to the TLD.
//   - iodef (§4.4) never affects the decision.
//   - A lookup failure (SERVFAIL, which includes DNSSEC validation failure
//     at a validating resolver, REFUSED, timeout) returns an error and a
//     Result with Permitted false. vetca never treats a failure as
//     permission, although BR §3.2.2.8 would allow it in narrow cases.
//
// BR §3.2.2.8 also requires issuance within the CAA record's TTL or 8 hours,
// whichever is greater: Result.IssueBefore is that limit.
package caa

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/dnsname"
	"github.com/vetca/vetca/internal/resolver"
)

// Property tags vetca recognizes (RFC 8659 §4.2-4.4).
const (
	TagIssue     = "issue"
	TagIssueWild = "issuewild"
	TagIodef     = "iodef"
)

// FlagCritical is the issuer critical flag (RFC 8659 §4.1: bit 0, value 128).
const FlagCritical = 128

// Lookuper is the part of *resolver.Resolver a Checker uses.
type Lookuper interface {
	LookupCAA(ctx context.Context, name string) ([]resolver.CAA, []resolver.Evidence, error)
}

// Checker evaluates CAA for one CA identity set. It is safe for concurrent
// use.
type Checker struct {
	lookup     Lookuper
	identities []string
	clk        clock.Clock
}

// NewChecker returns a Checker that queries through l and recognizes the
// given issuer domain names (at least one; compared case-insensitively).
// clk stamps results.
func NewChecker(l Lookuper, identities []string, clk clock.Clock) (*Checker, error) {
	if l == nil {
		return nil, errors.New("caa: nil resolver")
	}
	if clk == nil {
		return nil, errors.New("caa: nil clock")
	}
	// With no identities vetca is named by no issue or issuewild property:
	// it may issue only for domains whose relevant RRset sets no such
	// restriction (or that have no CAA records at all). CAA is still
	// checked for every name; nothing is skipped.
	var ids []string
	for _, id := range identities {
		id = strings.ToLower(strings.TrimSpace(id))
		if !isIssuerDomainName(id) {
			return nil, fmt.Errorf("caa: %q is not an issuer domain name (RFC 8659 §4.2)", id)
		}
		ids = append(ids, id)
	}
	return &Checker{lookup: l, identities: ids, clk: clk}, nil
}

// Identities returns the configured issuer domain names, lower case.
func (c *Checker) Identities() []string { return append([]string(nil), c.identities...) }

// Result is the outcome of one CAA check, complete enough to store as
// evidence.
type Result struct {
	Domain       string              `json:"domain"`       // as checked, "*." kept for wildcards
	Wildcard     bool                `json:"wildcard"`     // wildcard rules applied
	Permitted    bool                `json:"permitted"`    // vetca may issue
	RelevantName string              `json:"relevantName"` // where the relevant RRset was found; "" if none
	Records      []resolver.CAA      `json:"records"`      // the relevant RRset
	Property     string              `json:"property"`     // the tag that governed ("issue"/"issuewild"), if any
	Reason       string              `json:"reason"`       // for people
	Identities   []string            `json:"identities"`   // issuer domain names vetca answered to
	Queries      []resolver.Evidence `json:"queries"`      // the DNS queries the decision read, in climbing order
	CheckedAt    time.Time           `json:"checkedAt"`
	// IssueBefore is CheckedAt plus the greater of 8 hours and the lowest
	// TTL of the relevant RRset (BR §3.2.2.8). Zero when not permitted.
	IssueBefore time.Time `json:"issueBefore,omitzero"`
}

// MinReuse is the shortest time a CAA check may be relied on (BR §3.2.2.8).
const MinReuse = 8 * time.Hour

func (r *Result) setIssueBefore() {
	if !r.Permitted {
		return
	}
	d := MinReuse
	if len(r.Records) > 0 {
		minTTL := r.Records[0].TTL
		for _, rec := range r.Records[1:] {
			minTTL = min(minTTL, rec.TTL)
		}
		d = max(d, time.Duration(minTTL)*time.Second)
	}
	r.IssueBefore = r.CheckedAt.Add(d)
}

// Check evaluates CAA for domain. A leading "*." selects the wildcard rules.
// An invalid domain returns the dnsname *apperr.Error; a DNS failure returns
// an error and a Result with Permitted false and the evidence so far.
func (c *Checker) Check(ctx context.Context, domain string) (Result, error) {
	res := Result{Domain: domain, Identities: c.Identities(), CheckedAt: c.clk.Now()}
	name, err := dnsname.Normalize(domain, true)
	if err != nil {
		res.Reason = "invalid domain: " + err.Error()
		return res, err
	}
	res.Domain = name
	res.Wildcard = dnsname.IsWildcard(name)
	base := dnsname.Base(name)
	labels := strings.Split(base, ".")

	// Every name of the climb is queried at once, and the answers are then
	// read in climbing order, exactly as a label-by-label climb would read
	// them: the closest non-empty RRset, or the closest failure, decides.
	// A climb thus costs one round trip instead of one per label (with
	// real resolvers, tens of milliseconds each). Evidence keeps the
	// queries the decision read, in climbing order.
	answers := c.lookupAll(ctx, labels)
	for i, a := range answers {
		x := strings.Join(labels[i:], ".")
		recs, err := a.recs, a.err
		res.Queries = append(res.Queries, a.ev...)
		if err != nil {
			res.Permitted = false
			res.RelevantName = x
			res.Reason = fmt.Sprintf("CAA lookup at %s failed, so issuance is forbidden (RFC 8659 §3; BR §3.2.2.8): %v", x, err)
			return res, fmt.Errorf("caa: %s: %w", name, err)
		}
		if len(recs) == 0 {
			continue
		}
		res.RelevantName = x
		res.Records = recs
		res.Permitted, res.Property, res.Reason = c.evaluate(x, recs, res.Wildcard)
		res.setIssueBefore()
		return res, nil
	}
	res.Permitted = true
	res.Reason = fmt.Sprintf("no CAA records at %s or any parent up to %s; issuance is not restricted (RFC 8659 §3)", base, labels[len(labels)-1])
	res.setIssueBefore()
	return res, nil
}

// answer is one CAA lookup of a climb.
type answer struct {
	recs []resolver.CAA
	ev   []resolver.Evidence
	err  error
}

// lookupAll queries the CAA RRset of every name of the climb (labels[i:]
// for each i) concurrently and returns the answers in climbing order.
func (c *Checker) lookupAll(ctx context.Context, labels []string) []answer {
	out := make([]answer, len(labels))
	var wg sync.WaitGroup
	for i := range labels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := &out[i]
			a.recs, a.ev, a.err = c.lookup.LookupCAA(ctx, strings.Join(labels[i:], "."))
		}()
	}
	wg.Wait()
	return out
}

// evaluate applies RFC 8659 §4 to the relevant RRset found at owner.
func (c *Checker) evaluate(owner string, recs []resolver.CAA, wildcard bool) (bool, string, string) {
	var issue, issueWild []resolver.CAA
	for _, r := range recs {
		tag := tagName(r.Tag)
		switch tag {
		case TagIssue:
			issue = append(issue, r)
		case TagIssueWild:
			issueWild = append(issueWild, r)
		case TagIodef:
		default:
			if r.Flag&FlagCritical != 0 {
				return false, "", fmt.Sprintf("CAA at %s has the critical property %q, which vetca does not recognize; issuance is forbidden (RFC 8659 §4.1; BR §3.2.2.8)", owner, r.Tag)
			}
		}
	}
	governing, prop := issue, TagIssue
	if wildcard && len(issueWild) > 0 {
		governing, prop = issueWild, TagIssueWild
	}
	if len(governing) == 0 {
		what := "no issue property"
		if wildcard {
			what = "no issue or issuewild property"
		}
		return true, "", fmt.Sprintf("CAA at %s has %s; issuance is not restricted (RFC 8659 §4.2-4.3)", owner, what)
	}
	var named []string
	malformed := 0
	for _, r := range governing {
		v, err := ParseIssueValue(r.Value)
		if err != nil {
			malformed++
			continue
		}
		if v.IssuerDomainName == "" {
			continue
		}
		for _, id := range c.identities {
			if strings.EqualFold(v.IssuerDomainName, id) {
				return true, prop, fmt.Sprintf("CAA %s at %s permits %q", prop, owner, v.IssuerDomainName)
			}
		}
		named = append(named, fmt.Sprintf("%q", v.IssuerDomainName))
	}
	var reason string
	switch {
	case len(named) > 0:
		reason = fmt.Sprintf("CAA %s at %s permits only %s", prop, owner, strings.Join(named, ", "))
	case malformed > 0:
		reason = fmt.Sprintf("CAA %s at %s has only malformed values, which authorize no CA (RFC 8659 §4.2)", prop, owner)
	default:
		reason = fmt.Sprintf("CAA %s at %s has an empty issuer (\";\"), which forbids all issuance (RFC 8659 §4.2)", prop, owner)
	}
	if malformed > 0 && len(named) > 0 {
		reason += fmt.Sprintf(" (and %d malformed value(s))", malformed)
	}
	return false, prop, reason + "; vetca is " + quoteAll(c.identities)
}

// tagName returns a property tag lower-cased for comparison. Tags are ASCII
// letters and digits and compare case-insensitively (RFC 8659 §4.1), in
// ASCII only: strings.ToLower would turn "İssue" (U+0130) into "issue" and
// so read an unknown, possibly critical, property as an issue property.
func tagName(tag string) string {
	b := []byte(tag)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
	return string(b)
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// Parameter is one "tag=value" of an issue or issuewild value.
type Parameter struct {
	Tag   string `json:"tag"`
	Value string `json:"value"`
}

// IssueValue is a parsed issue or issuewild property value.
type IssueValue struct {
	IssuerDomainName string      `json:"issuerDomainName"` // lower case; "" authorizes no one
	Parameters       []Parameter `json:"parameters"`
}

// ParseIssueValue parses v by the RFC 8659 §4.2 grammar:
//
//	issue-value = *WSP [issuer-domain-name *WSP] [";" *WSP [parameters *WSP]]
//	issuer-domain-name = label *("." label)
//	label = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))
//	parameters = (parameter *WSP ";" *WSP parameters) / parameter
//	parameter = tag *WSP "=" *WSP value
//	tag = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT))
//	value = *(%x21-3A / %x3C-7E)
func ParseIssueValue(v string) (IssueValue, error) {
	var out IssueValue
	domainPart, paramPart, hasSemi := strings.Cut(v, ";")
	d := trimWSP(domainPart)
	if d != "" {
		if !isIssuerDomainName(d) {
			return IssueValue{}, fmt.Errorf("caa: issuer domain name %q is malformed (RFC 8659 §4.2)", d)
		}
		out.IssuerDomainName = strings.ToLower(d)
	}
	if !hasSemi {
		return out, nil
	}
	p := trimWSP(paramPart)
	if p == "" {
		return out, nil
	}
	for _, item := range strings.Split(p, ";") {
		item = trimWSP(item)
		tag, val, ok := strings.Cut(item, "=")
		if !ok {
			return IssueValue{}, fmt.Errorf("caa: parameter %q has no '=' (RFC 8659 §4.2)", item)
		}
		tag, val = trimWSP(tag), trimWSP(val)
		if !isLabel(tag) {
			return IssueValue{}, fmt.Errorf("caa: parameter tag %q is malformed (RFC 8659 §4.2)", tag)
		}
		for i := 0; i < len(val); i++ {
			if c := val[i]; c < 0x21 || c > 0x7e || c == ';' {
				return IssueValue{}, fmt.Errorf("caa: parameter %q value has a forbidden character (RFC 8659 §4.2)", tag)
			}
		}
		out.Parameters = append(out.Parameters, Parameter{Tag: tag, Value: val})
	}
	return out, nil
}

func trimWSP(s string) string { return strings.Trim(s, " \t") }

func isIssuerDomainName(s string) bool {
	if s == "" {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if !isLabel(l) {
			return false
		}
	}
	return true
}

// isLabel: (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT)).
func isLabel(l string) bool {
	if l == "" {
		return false
	}
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	if !alnum(l[0]) || !alnum(l[len(l)-1]) {
		return false
	}
	for i := 0; i < len(l); i++ {
		if !alnum(l[i]) && l[i] != '-' {
			return false
		}
	}
	return true
}
