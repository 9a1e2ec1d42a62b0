package dcv

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/dnsname"
	"github.com/vetca/vetca/internal/resolver"
)

// ChallengeLabel is the underscore label prefixed to the Authorization
// Domain Name for DNS Change (BR §3.2.2.4.7 (2)).
const ChallengeLabel = "_vetca-challenge"

// ACMEChallengeLabel is the label of the ACME dns-01 TXT record (RFC 8555
// §8.4).
const ACMEChallengeLabel = "_acme-challenge"

// TXTLookuper is the part of *resolver.Resolver the DNS method uses.
type TXTLookuper interface {
	LookupTXT(ctx context.Context, name string) ([]resolver.TXT, []resolver.Evidence, error)
	Server() string
}

// RecordName returns the name at which the TXT record for domain must be
// placed: "_vetca-challenge.<domain>", with a wildcard's "*." removed (the
// base domain is validated). domain is normalized first.
func RecordName(domain string) (string, error) {
	n, err := dnsname.Normalize(domain, true)
	if err != nil {
		return "", err
	}
	return ChallengeLabel + "." + dnsname.Base(n), nil
}

// DNSChecker performs DNS Change validation.
type DNSChecker struct {
	r   TXTLookuper
	clk clock.Clock
}

// NewDNSChecker returns a DNSChecker querying through r.
func NewDNSChecker(r TXTLookuper, clk clock.Clock) (*DNSChecker, error) {
	if r == nil || clk == nil {
		return nil, errors.New("dcv: NewDNSChecker needs a resolver and a clock")
	}
	return &DNSChecker{r: r, clk: clk}, nil
}

// Check looks up TXT at RecordName(domain) and is valid iff one TXT record
// there, its character-strings concatenated (RFC 7208 §3.3 convention),
// equals value exactly. The resolver follows a CNAME at the record name
// (delegating the challenge name to another zone is common and the value
// is still published "for" the prefixed name); the chain is in the
// evidence. The same value at the domain itself, or any other name, is
// never looked at.
func (c *DNSChecker) Check(ctx context.Context, domain, value string) (Evidence, error) {
	return c.check(ctx, DNSChange, ChallengeLabel, domain, value)
}

// CheckACME is the ACME dns-01 challenge (RFC 8555 §8.4), BR §3.2.2.4.7:
// the same check at "_acme-challenge.<domain>" for digest, the base64url
// SHA-256 of the key authorization (ACMEDigest).
func (c *DNSChecker) CheckACME(ctx context.Context, domain, digest string) (Evidence, error) {
	return c.check(ctx, ACMEDNS01, ACMEChallengeLabel, domain, digest)
}

func (c *DNSChecker) check(ctx context.Context, m Method, label, domain, value string) (Evidence, error) {
	name, err := dnsname.Normalize(domain, true)
	if err != nil {
		return Evidence{}, err
	}
	if err := checkValue(value); err != nil {
		return Evidence{}, err
	}
	rn := label + "." + dnsname.Base(name)
	ev := newEvidence(m, name, c.r.Server(), c.clk.Now())
	ev.Query = rn

	txts, dnsEv, err := c.r.LookupTXT(ctx, rn)
	ev.DNS = dnsEv
	for _, t := range txts {
		ev.Answer = append(ev.Answer, truncate(t.Value(), 512))
	}
	if err != nil {
		ev.set(false, fmt.Sprintf("TXT lookup of %s failed: %v", rn, err))
		return ev, nil
	}
	if len(txts) == 0 {
		ev.set(false, fmt.Sprintf("no TXT record at %s", rn))
		return ev, nil
	}
	for _, t := range txts {
		if subtle.ConstantTimeCompare([]byte(t.Value()), []byte(value)) == 1 {
			ev.set(true, fmt.Sprintf("TXT record at %s holds the random value", rn))
			return ev, nil
		}
	}
	ev.set(false, fmt.Sprintf("%d TXT record(s) at %s, none equal to the random value", len(txts), rn))
	return ev, nil
}
