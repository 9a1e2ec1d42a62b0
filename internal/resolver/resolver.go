// Package resolver is the one component through which vetca sends every DNS
// query (domain control validation, CAA, and the address lookups of HTTP
// validation). It talks to exactly one configured recursive resolver
// (--dns-resolver HOST:PORT).
//
// Behaviour:
//
//   - Queries go over UDP with EDNS0 and the DNSSEC OK bit set (RFC 6891,
//     RFC 3225), so a validating resolver validates and reports the AD bit.
//     A truncated UDP answer is retried over TCP (RFC 7766 §5).
//   - A timeout or network error is retried up to Retries more times; each
//     attempt has its own Timeout. Answers are matched to the question asked
//     (name, type, class) as well as the message ID.
//   - SERVFAIL, REFUSED, other error rcodes and timeouts are returned as a
//     *LookupError that says which (errors.Is with ErrServFail, ErrRefused,
//     ErrTimeout). A validating resolver signals a DNSSEC failure (bogus
//     data) as SERVFAIL (RFC 4035 §5.5), so it arrives here as ErrServFail.
//     Callers must treat any error as "no answer", never as an empty answer:
//     for CAA a lookup failure is not permission (RFC 8659 §3, §4).
//   - NXDOMAIN and NODATA are not errors: they are empty results, with the
//     rcode kept in the evidence.
//   - CNAME chains are followed (at most MaxCNAMEHops): records are taken
//     from the end of the chain in the answer, and when the answer ends in a
//     CNAME without the target's records, the target is queried in turn.
//   - Nothing is cached, ever. Each lookup is sent to the resolver, so no
//     answer can be used beyond its TTL and no perspective can
//     share another's cache (BR §3.2.2.9).
//
// Every query made is described by an Evidence value, returned even when the
// lookup fails, so callers can store what was asked, of whom, and what came
// back (BR §5.4.1, §3.2.2.4 evidence).
package resolver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/vetca/vetca/internal/clock"
)

// MaxCNAMEHops is the longest CNAME chain followed.
const MaxCNAMEHops = 8

// Defaults used when Config leaves a field zero.
const (
	DefaultTimeout = 5 * time.Second
	DefaultRetries = 1
	// EDNSBufferSize is the advertised UDP payload size (DNS Flag Day 2020).
	EDNSBufferSize = 1232
)

// Transports recorded in Evidence.
const (
	UDP = "udp"
	TCP = "tcp"
)

// Sentinel errors, matched with errors.Is against a *LookupError.
var (
	ErrServFail = errors.New("SERVFAIL")
	ErrRefused  = errors.New("REFUSED")
	ErrTimeout  = errors.New("timeout")
	ErrRcode    = errors.New("error rcode")
	ErrCNAME    = errors.New("CNAME chain too long or looping")
	ErrNetwork  = errors.New("network error")
	ErrMismatch = errors.New("answer does not match the question")
)

// Config configures a Resolver.
type Config struct {
	// Server is the recursive resolver's HOST:PORT. Required.
	Server string
	// Timeout bounds each attempt (UDP or TCP). Zero means DefaultTimeout.
	Timeout time.Duration
	// Retries is how many more attempts follow a timed-out or failed
	// exchange. Zero means none; negative is refused.
	Retries int
	// Clock stamps evidence. Nil means clock.Real{}.
	Clock clock.Clock
}

// Resolver sends queries to one recursive resolver. It is safe for
// concurrent use and holds no cache.
type Resolver struct {
	server  string
	timeout time.Duration
	retries int
	clk     clock.Clock
}

// New returns a Resolver for cfg.
func New(cfg Config) (*Resolver, error) {
	if cfg.Server == "" {
		return nil, errors.New("resolver: no server address configured")
	}
	if _, _, err := net.SplitHostPort(cfg.Server); err != nil {
		return nil, fmt.Errorf("resolver: server %q is not HOST:PORT: %w", cfg.Server, err)
	}
	if cfg.Retries < 0 {
		return nil, fmt.Errorf("resolver: negative retries %d", cfg.Retries)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	return &Resolver{server: cfg.Server, timeout: cfg.Timeout, retries: cfg.Retries, clk: cfg.Clock}, nil
}

// Server returns the configured resolver address.
func (r *Resolver) Server() string { return r.server }

// Evidence describes one DNS exchange: what was asked, of whom, how, and
// what came back.
type Evidence struct {
	Resolver  string    `json:"resolver"`  // HOST:PORT queried
	Transport string    `json:"transport"` // transport of the final answer: "udp" or "tcp"
	Truncated bool      `json:"truncated"` // the UDP answer was truncated and TCP was used
	Attempts  int       `json:"attempts"`  // exchanges sent, including retries and the TCP fallback
	Name      string    `json:"name"`      // exact name queried, lower case, no trailing dot
	Type      string    `json:"type"`      // e.g. "TXT"
	Rcode     string    `json:"rcode"`     // e.g. "NOERROR", "NXDOMAIN", "SERVFAIL"; empty if no answer
	AD        bool      `json:"ad"`        // Authenticated Data bit of the answer
	Answers   []string  `json:"answers"`   // answer section, presentation format
	Time      time.Time `json:"time"`      // when the query was sent (injected clock)
	Error     string    `json:"error,omitempty"`
}

// LookupError is a failed lookup. Is reports the matching sentinel.
type LookupError struct {
	Name     string
	Type     string
	Resolver string
	Rcode    string // set for rcode failures
	Kind     error  // one of the sentinel errors
	Err      error  // underlying cause, if any
}

func (e *LookupError) Error() string {
	msg := fmt.Sprintf("DNS %s lookup of %s via %s failed: %v", e.Type, e.Name, e.Resolver, e.Kind)
	if e.Kind == ErrRcode && e.Rcode != "" {
		msg = fmt.Sprintf("DNS %s lookup of %s via %s failed: rcode %s", e.Type, e.Name, e.Resolver, e.Rcode)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is matches the sentinel kind.
func (e *LookupError) Is(target error) bool { return target == e.Kind }

// Unwrap returns the cause.
func (e *LookupError) Unwrap() error { return e.Err }

// TXT is one TXT record.
type TXT struct {
	Strings []string `json:"strings"` // the character-strings as received
}

// Value joins the character-strings with nothing between them, the
// convention for values longer than 255 octets (RFC 7208 §3.3, RFC 1035
// §3.3.14).
func (t TXT) Value() string { return strings.Join(t.Strings, "") }

// CAA is one CAA record (RFC 8659 §4.1).
type CAA struct {
	Flag  uint8  `json:"flag"`
	Tag   string `json:"tag"` // as received; compare case-insensitively
	Value string `json:"value"`
	TTL   uint32 `json:"ttl"` // seconds, as received
}

// String formats the record as in a zone file: 0 issue "ca.example".
func (c CAA) String() string { return fmt.Sprintf("%d %s %q", c.Flag, c.Tag, c.Value) }

// LookupTXT returns the TXT records at name (after CNAMEs).
func (r *Resolver) LookupTXT(ctx context.Context, name string) ([]TXT, []Evidence, error) {
	rrs, ev, err := r.lookup(ctx, name, dns.TypeTXT)
	var out []TXT
	for _, rr := range rrs {
		if t, ok := rr.(*dns.TXT); ok {
			out = append(out, TXT{Strings: append([]string(nil), t.Txt...)})
		}
	}
	return out, ev, err
}

// LookupCAA returns the CAA RRset at name (after CNAMEs). An empty result
// with a nil error means no CAA records exist at that name; an error means
// the answer is unknown and must not be read as "no records".
func (r *Resolver) LookupCAA(ctx context.Context, name string) ([]CAA, []Evidence, error) {
	rrs, ev, err := r.lookup(ctx, name, dns.TypeCAA)
	var out []CAA
	for _, rr := range rrs {
		if c, ok := rr.(*dns.CAA); ok {
			out = append(out, CAA{Flag: c.Flag, Tag: c.Tag, Value: c.Value, TTL: c.Hdr.Ttl})
		}
	}
	return out, ev, err
}

// LookupA returns the IPv4 addresses of name.
func (r *Resolver) LookupA(ctx context.Context, name string) ([]netip.Addr, []Evidence, error) {
	rrs, ev, err := r.lookup(ctx, name, dns.TypeA)
	return addrs(rrs), ev, err
}

// LookupAAAA returns the IPv6 addresses of name.
func (r *Resolver) LookupAAAA(ctx context.Context, name string) ([]netip.Addr, []Evidence, error) {
	rrs, ev, err := r.lookup(ctx, name, dns.TypeAAAA)
	return addrs(rrs), ev, err
}

// LookupIP returns the IPv4 then the IPv6 addresses of name. Either lookup
// failing fails the whole.
func (r *Resolver) LookupIP(ctx context.Context, name string) ([]netip.Addr, []Evidence, error) {
	v4, ev4, err := r.LookupA(ctx, name)
	if err != nil {
		return nil, ev4, err
	}
	v6, ev6, err := r.LookupAAAA(ctx, name)
	ev := append(ev4, ev6...)
	if err != nil {
		return nil, ev, err
	}
	return append(v4, v6...), ev, nil
}

func addrs(rrs []dns.RR) []netip.Addr {
	var out []netip.Addr
	for _, rr := range rrs {
		switch v := rr.(type) {
		case *dns.A:
			if a, ok := netip.AddrFromSlice(v.A.To4()); ok {
				out = append(out, a)
			}
		case *dns.AAAA:
			if a, ok := netip.AddrFromSlice(v.AAAA.To16()); ok {
				out = append(out, a)
			}
		}
	}
	return out
}

// lookup resolves name/qtype, following CNAMEs, and returns the records of
// qtype owned by the end of the chain.
func (r *Resolver) lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, []Evidence, error) {
	cur := dns.Fqdn(strings.ToLower(name))
	if _, ok := dns.IsDomainName(cur); !ok {
		return nil, nil, &LookupError{Name: name, Type: dns.TypeToString[qtype], Resolver: r.server, Kind: ErrMismatch,
			Err: fmt.Errorf("%q is not a domain name", name)}
	}
	var evidence []Evidence
	hops := 0
	visited := map[string]bool{cur: true}
	for {
		msg, ev, err := r.exchange(ctx, cur, qtype)
		evidence = append(evidence, ev)
		if err != nil {
			return nil, evidence, err
		}
		// Walk the CNAME chain inside this answer.
		owner := cur
		for qtype != dns.TypeCNAME {
			target := ""
			for _, rr := range msg.Answer {
				if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, owner) {
					target = strings.ToLower(c.Target)
					break
				}
			}
			if target == "" {
				break
			}
			hops++
			if hops > MaxCNAMEHops {
				return nil, evidence, r.lerr(name, qtype, ErrCNAME, fmt.Errorf("more than %d CNAMEs from %s", MaxCNAMEHops, name))
			}
			if visited[target] {
				return nil, evidence, r.lerr(name, qtype, ErrCNAME, fmt.Errorf("CNAME loop at %s", target))
			}
			visited[target] = true
			owner = target
		}
		var out []dns.RR
		for _, rr := range msg.Answer {
			if rr.Header().Rrtype == qtype && strings.EqualFold(rr.Header().Name, owner) {
				out = append(out, rr)
			}
		}
		if len(out) > 0 || owner == cur || msg.Rcode != dns.RcodeSuccess {
			return out, evidence, nil
		}
		// The answer stopped at a CNAME whose target's records were not
		// included: ask for the target.
		cur = owner
	}
}

func (r *Resolver) lerr(name string, qtype uint16, kind, err error) *LookupError {
	return &LookupError{Name: strings.TrimSuffix(name, "."), Type: dns.TypeToString[qtype], Resolver: r.server, Kind: kind, Err: err}
}

// exchange sends one question: UDP with retries, then TCP if truncated.
func (r *Resolver) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, Evidence, error) {
	ev := Evidence{
		Resolver: r.server,
		Name:     strings.TrimSuffix(name, "."),
		Type:     dns.TypeToString[qtype],
		Time:     r.clk.Now(),
	}
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.RecursionDesired = true
	q.SetEdns0(EDNSBufferSize, true)

	transport := UDP
	var resp *dns.Msg
	var err error
	for attempt := 0; ; attempt++ {
		ev.Attempts++
		ev.Transport = transport
		resp, err = r.send(ctx, q, transport)
		if err == nil && transport == UDP && resp.Truncated {
			ev.Truncated = true
			transport = TCP
			continue // the TCP fallback is not a retry
		}
		if err == nil {
			break
		}
		if ctx.Err() != nil || attempt >= r.retries {
			break
		}
	}
	if err != nil {
		kind := ErrNetwork
		if isTimeout(err) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			kind = ErrTimeout
		}
		ev.Error = kind.Error() + ": " + err.Error()
		return nil, ev, r.lerr(name, qtype, kind, err)
	}
	if len(resp.Question) != 1 || !strings.EqualFold(resp.Question[0].Name, name) ||
		resp.Question[0].Qtype != qtype || resp.Question[0].Qclass != dns.ClassINET {
		ev.Error = ErrMismatch.Error()
		return nil, ev, r.lerr(name, qtype, ErrMismatch, nil)
	}
	ev.Rcode = dns.RcodeToString[resp.Rcode]
	ev.AD = resp.AuthenticatedData
	for _, rr := range resp.Answer {
		ev.Answers = append(ev.Answers, rr.String())
	}
	switch resp.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
		return resp, ev, nil
	case dns.RcodeServerFailure:
		ev.Error = "SERVFAIL (for a validating resolver this includes DNSSEC validation failure)"
		return nil, ev, &LookupError{Name: ev.Name, Type: ev.Type, Resolver: r.server, Rcode: ev.Rcode, Kind: ErrServFail}
	case dns.RcodeRefused:
		ev.Error = "REFUSED"
		return nil, ev, &LookupError{Name: ev.Name, Type: ev.Type, Resolver: r.server, Rcode: ev.Rcode, Kind: ErrRefused}
	default:
		ev.Error = "rcode " + ev.Rcode
		return nil, ev, &LookupError{Name: ev.Name, Type: ev.Type, Resolver: r.server, Rcode: ev.Rcode, Kind: ErrRcode}
	}
}

func (r *Resolver) send(ctx context.Context, q *dns.Msg, transport string) (*dns.Msg, error) {
	c := &dns.Client{Net: transport, Timeout: r.timeout, UDPSize: EDNSBufferSize}
	actx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	m := q.Copy()
	m.Id = dns.Id()
	conn, err := c.DialContext(actx, r.server)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// miekg/dns only honours a context's deadline; closing the connection
	// makes a cancellation (e.g. the HTTP client of a perspective going
	// away) end the exchange at once.
	stop := context.AfterFunc(actx, func() { conn.Close() })
	defer stop()
	resp, _, err := c.ExchangeWithConnContext(actx, m, conn)
	if err != nil {
		if ctxErr := actx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("%w (%v)", ctxErr, err)
		}
		return nil, err
	}
	return resp, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}
