package dcv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/dnsname"
	"github.com/vetca/vetca/internal/egress"
	"github.com/vetca/vetca/internal/resolver"
)

// WellKnownDir is the directory the validation file must be under (BR
// §3.2.2.4.18, file requirement 2).
const WellKnownDir = "/.well-known/pki-validation/"

// ACMEChallengeDir is the directory of the ACME http-01 resource (RFC 8555
// §8.3).
const ACMEChallengeDir = "/.well-known/acme-challenge/"

// Defaults for HTTPConfig fields left zero.
const (
	DefaultHTTPPort     = 80
	DefaultHTTPSPort    = 443
	DefaultHTTPTimeout  = 10 * time.Second
	DefaultMaxBodyBytes = 4096
	DefaultMaxRedirects = 5
)

// IPLookuper is the part of *resolver.Resolver the website method uses.
type IPLookuper interface {
	LookupIP(ctx context.Context, name string) ([]netip.Addr, []resolver.Evidence, error)
	Server() string
}

// HTTPConfig configures an HTTPChecker.
type HTTPConfig struct {
	Resolver IPLookuper  // required: the domain's address comes from here, never the system resolver
	Clock    clock.Clock // required
	// Port is the HTTP port connected to (--http-validation-port, default
	// 80). It is also what a port-less http:// redirect uses.
	Port int
	// HTTPSPort is the port a port-less https:// redirect uses (default 443).
	HTTPSPort int
	// Timeout bounds the whole check, redirects included (default 10s).
	Timeout time.Duration
	// MaxBodyBytes is the largest body read; a bigger body is refused
	// (default 4096).
	MaxBodyBytes int64
	// MaxRedirects is the most redirects followed (default 5).
	MaxRedirects int
	// AllowPrivateValidationTargets turns the egress policy off. By
	// default every connection of a check, redirects included, may go only
	// to an address egress.Public accepts, judged by a net.Dialer Control
	// hook on the address actually connected to; a refused address gets no
	// packet and the check is invalid with a reason naming it. Set it only
	// where validation targets are on loopback or a private network: tests
	// and `vetca serve --dev` (--allow-private-validation-targets).
	AllowPrivateValidationTargets bool
}

// HTTPHop records one HTTP request of a website check.
type HTTPHop struct {
	URL        string `json:"url"`
	RemoteAddr string `json:"remoteAddr,omitempty"` // IP:port actually connected to
	Status     int    `json:"status,omitempty"`
	Location   string `json:"location,omitempty"`
	Error      string `json:"error,omitempty"`
}

// HTTPChecker performs Agreed-Upon Change to Website v2 validation.
type HTTPChecker struct {
	cfg HTTPConfig
	// egress judges every address connected to; nil allows all
	// (AllowPrivateValidationTargets).
	egress egress.Policy
}

// NewHTTPChecker returns an HTTPChecker for cfg.
func NewHTTPChecker(cfg HTTPConfig) (*HTTPChecker, error) {
	if cfg.Resolver == nil || cfg.Clock == nil {
		return nil, errors.New("dcv: HTTPConfig needs a resolver and a clock")
	}
	if cfg.Port == 0 {
		cfg.Port = DefaultHTTPPort
	}
	if cfg.HTTPSPort == 0 {
		cfg.HTTPSPort = DefaultHTTPSPort
	}
	for _, p := range []int{cfg.Port, cfg.HTTPSPort} {
		if p < 1 || p > 65535 {
			return nil, fmt.Errorf("dcv: port %d out of range", p)
		}
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultHTTPTimeout
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.MaxRedirects <= 0 {
		cfg.MaxRedirects = DefaultMaxRedirects
	}
	c := &HTTPChecker{cfg: cfg}
	if !cfg.AllowPrivateValidationTargets {
		c.egress = egress.Public
	}
	return c, nil
}

// URL returns the URL the check fetches first for domain and fileName.
func (c *HTTPChecker) URL(domain, fileName string) string {
	return c.urlIn(WellKnownDir, domain, fileName)
}

// ACMEURL returns the URL the ACME http-01 check fetches for domain and
// token.
func (c *HTTPChecker) ACMEURL(domain, token string) string {
	return c.urlIn(ACMEChallengeDir, domain, token)
}

func (c *HTTPChecker) urlIn(dir, domain, file string) string {
	host := domain
	if c.cfg.Port != DefaultHTTPPort {
		host = net.JoinHostPort(domain, strconv.Itoa(c.cfg.Port))
	}
	return "http://" + host + dir + file
}

// httpSpec is what differs between the two HTTP methods.
type httpSpec struct {
	m    Method
	dir  string // the directory of the resource fetched
	file string // its name: the file name, or the ACME token
	// value is what the body must be: the random value, or the key
	// authorization.
	value string
	what  string // what value is, in reasons
	// sameDir: redirects must stay under dir (website-change, BR
	// §3.2.2.4.18 file requirement 2). BR §3.2.2.4.19 has no such rule.
	sameDir bool
	// trim is how the body is trimmed before it is compared: surrounding
	// white space (website-change), or trailing white space only (RFC
	// 8555 §8.3).
	trim func(string) string
}

// checkFileName allows only a plain file name, so the request path stays
// under WellKnownDir.
func checkFileName(f string) error {
	if f == "" || len(f) > 128 || f == "." || f == ".." {
		return apperr.Invalid(apperr.CodeInvalidFileName, "fileName", "file name must be 1 to 128 characters")
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return apperr.Invalid(apperr.CodeInvalidFileName, "fileName", "file name may hold only letters, digits, '-', '_' and '.'")
		}
	}
	return nil
}

// Check fetches http://<domain>[:port]/.well-known/pki-validation/<fileName>
// and is valid iff a 2xx response's body, with surrounding white space
// trimmed, equals value. The rules of BR §3.2.2.4.18:
//
//   - the domain's addresses come from the configured resolver; the
//     connection goes to that IP with the domain in the Host header;
//   - unless AllowPrivateValidationTargets is set, every connection, the
//     first and each redirect's, goes only to an address egress.Public
//     accepts, checked on the address actually connected to (egress.Control),
//     so DNS rebinding cannot bypass it; a refused address gets no packet and
//     the check is invalid with a reason naming the address;
//   - the random value must not appear in any request URL;
//   - only 301, 302, 307 and 308 redirects are followed, to http or https
//     URLs on the same host (another host is refused), on an Authorized
//     Port (80, 443, or the configured ports), and still under
//     /.well-known/pki-validation/ (the file must be located there);
//   - over https the server certificate is not verified: the check is about
//     the content the domain's host serves, not about its certificate
//     (the same stance as ACME http-01 validators);
//   - the whole check, redirects included, has a timeout; a body larger
//     than MaxBodyBytes is refused.
//
// Wildcard names are refused: the method is not suitable for them.
func (c *HTTPChecker) Check(ctx context.Context, domain, fileName, value string) (Evidence, error) {
	if err := checkValue(value); err != nil {
		return Evidence{}, err
	}
	if err := checkFileName(fileName); err != nil {
		return Evidence{}, err
	}
	if strings.Contains(fileName, value) {
		return Evidence{}, apperr.Invalid(apperr.CodeValueInRequest, "fileName", "the file name must not contain the random value (BR §3.2.2.4.18)")
	}
	return c.check(ctx, domain, httpSpec{m: WebsiteChange, dir: WellKnownDir, file: fileName, value: value, what: "the random value", sameDir: true, trim: strings.TrimSpace})
}

// CheckACME is the ACME http-01 challenge (RFC 8555 §8.3), BR §3.2.2.4.19:
// GET http://<domain>[:port]/.well-known/acme-challenge/<token> must
// answer 2xx with the key authorization (token "." thumbprint) as its
// body, trailing white space ignored. Resolver, egress policy, Authorized
// Ports, redirect statuses and hosts, timeout and body limit are those of
// Check; redirects need not stay under the directory.
func (c *HTTPChecker) CheckACME(ctx context.Context, domain, token, keyAuthorization string) (Evidence, error) {
	if err := CheckKeyAuthorization(token, keyAuthorization); err != nil {
		return Evidence{}, err
	}
	return c.check(ctx, domain, httpSpec{m: ACMEHTTP01, dir: ACMEChallengeDir, file: token, value: keyAuthorization, what: "the key authorization",
		trim: func(b string) string { return strings.TrimRight(b, " \t\r\n") }})
}

func (c *HTTPChecker) check(ctx context.Context, domain string, sp httpSpec) (Evidence, error) {
	name, err := dnsname.Normalize(domain, true)
	if err != nil {
		return Evidence{}, err
	}
	if dnsname.IsWildcard(name) {
		return Evidence{}, apperr.Invalid(dnsname.CodeWildcard, "domain",
			"%q: %s (BR §%s) is not suitable for wildcard domain names; use a DNS method", name, sp.m.Name, sp.m.Section)
	}
	value := sp.value
	start := c.cfg.Clock.Now()
	ev := newEvidence(sp.m, name, c.cfg.Resolver.Server(), start)
	ev.Query = c.urlIn(sp.dir, name, sp.file)

	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	addrs, dnsEv, err := c.cfg.Resolver.LookupIP(ctx, name)
	ev.DNS = dnsEv
	if err != nil {
		ev.set(false, fmt.Sprintf("address lookup of %s failed: %v", name, err))
		return ev, nil
	}
	if len(addrs) == 0 {
		ev.set(false, fmt.Sprintf("%s has no A or AAAA records", name))
		return ev, nil
	}
	var hop *HTTPHop
	client := c.client(addrs, &hop)
	cur, _ := url.Parse(ev.Query)
	for redirects := 0; ; redirects++ {
		ev.HTTP = append(ev.HTTP, HTTPHop{URL: cur.String()})
		hop = &ev.HTTP[len(ev.HTTP)-1]
		if strings.Contains(cur.String(), value) {
			hop.Error = "random value in request"
			ev.set(false, fmt.Sprintf("refused to request %s: %s must not appear in the request (BR §%s)", cur, sp.what, sp.m.Section))
			return ev, nil
		}
		resp, err := c.get(ctx, client, cur)
		if err != nil {
			hop.Error = err.Error()
			var de *dialError
			if errors.As(err, &de) && len(de.refused) > 0 {
				ev.set(false, fmt.Sprintf("GET %s: %s", cur, de))
				return ev, nil
			}
			if errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err) {
				ev.set(false, fmt.Sprintf("GET %s timed out (limit %s)", cur, c.cfg.Timeout))
			} else {
				ev.set(false, fmt.Sprintf("GET %s failed: %v", cur, err))
			}
			return ev, nil
		}
		hop.Status = resp.StatusCode
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			resp.Body.Close()
			loc := resp.Header.Get("Location")
			hop.Location = loc
			switch resp.StatusCode {
			case http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			default:
				ev.set(false, fmt.Sprintf("GET %s: redirect status %d is not allowed (BR §%s: 301, 302, 307 or 308)", cur, resp.StatusCode, sp.m.Section))
				return ev, nil
			}
			if redirects >= c.cfg.MaxRedirects {
				ev.set(false, fmt.Sprintf("more than %d redirects", c.cfg.MaxRedirects))
				return ev, nil
			}
			next, err := cur.Parse(loc)
			if loc == "" || err != nil {
				ev.set(false, fmt.Sprintf("GET %s: redirect with a missing or bad Location %q", cur, loc))
				return ev, nil
			}
			if reason := c.checkRedirect(name, next, sp); reason != "" {
				ev.set(false, fmt.Sprintf("GET %s: refused redirect to %s: %s", cur, next, reason))
				return ev, nil
			}
			cur = next
			continue
		}
		body, tooBig, err := readLimited(resp.Body, c.cfg.MaxBodyBytes)
		resp.Body.Close()
		if err != nil {
			hop.Error = err.Error()
			if errors.Is(ctx.Err(), context.DeadlineExceeded) || isTimeout(err) {
				ev.set(false, fmt.Sprintf("reading %s timed out (limit %s)", cur, c.cfg.Timeout))
			} else {
				ev.set(false, fmt.Sprintf("reading %s failed: %v", cur, err))
			}
			return ev, nil
		}
		ev.Answer = []string{truncate(string(body), 256)}
		if tooBig {
			ev.set(false, fmt.Sprintf("GET %s: body larger than %d bytes", cur, c.cfg.MaxBodyBytes))
			return ev, nil
		}
		if resp.StatusCode < 200 || resp.StatusCode > 299 {
			ev.set(false, fmt.Sprintf("GET %s: HTTP status %d; a 2xx response is required (BR §%s)", cur, resp.StatusCode, sp.m.Section))
			return ev, nil
		}
		if sp.trim(string(body)) != value {
			ev.set(false, fmt.Sprintf("GET %s: the body does not equal %s", cur, sp.what))
			return ev, nil
		}
		ev.set(true, fmt.Sprintf("GET %s returned %s", cur, sp.what))
		return ev, nil
	}
}

// checkRedirect returns why next may not be followed, or "".
func (c *HTTPChecker) checkRedirect(domain string, next *url.URL, sp httpSpec) string {
	if next.Scheme != "http" && next.Scheme != "https" {
		return fmt.Sprintf("scheme %q is not http or https", next.Scheme)
	}
	if !strings.EqualFold(strings.TrimSuffix(next.Hostname(), "."), domain) {
		return fmt.Sprintf("host %q is not %q; the file must be on the Authorization Domain Name", next.Hostname(), domain)
	}
	if p := next.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || !c.authorizedPort(n) {
			return fmt.Sprintf("port %s is not an Authorized Port", p)
		}
	}
	if sp.sameDir && (!strings.HasPrefix(next.EscapedPath(), sp.dir) || climbs(next.Path)) {
		return fmt.Sprintf("path %q is not under %s", next.EscapedPath(), sp.dir)
	}
	if next.User != nil {
		return "user information in the URL"
	}
	return ""
}

// climbs reports whether a decoded path has a ".." segment, counting a
// backslash as a separator as some servers do: a server that normalizes
// it serves a file above the directory the path seems to be under
// ("/.well-known/pki-validation/%2e%2e" is "/.well-known/").
func climbs(path string) bool {
	for _, seg := range strings.Split(strings.ReplaceAll(path, `\`, "/"), "/") {
		if seg == ".." {
			return true
		}
	}
	return false
}

func (c *HTTPChecker) authorizedPort(p int) bool {
	return p == 80 || p == 443 || p == c.cfg.Port || p == c.cfg.HTTPSPort
}

// port returns the port to connect to for u.
func (c *HTTPChecker) port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return strconv.Itoa(c.cfg.HTTPSPort)
	}
	return strconv.Itoa(c.cfg.Port)
}

func (c *HTTPChecker) get(ctx context.Context, client *http.Client, u *url.URL) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	// The Host header is the URL's host: the domain, with the port if the
	// URL names one.
	req.Header.Set("User-Agent", "vetca-dcv/2")
	req.Header.Set("Accept", "*/*")
	return client.Do(req)
}

// client returns an HTTP client that never uses the system resolver or a
// proxy: every connection goes to one of addrs, in order, on the port the
// URL implies, and, unless the egress policy is off, only to an address it
// accepts.
func (c *HTTPChecker) client(addrs []netip.Addr, hop **HTTPHop) *http.Client {
	dialer := &net.Dialer{Timeout: c.cfg.Timeout}
	if c.egress != nil {
		dialer.Control = egress.Control(c.egress)
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		de := &dialError{}
		for _, a := range addrs {
			target := net.JoinHostPort(a.String(), port)
			conn, err := dialer.DialContext(ctx, "tcp", target)
			if err == nil {
				if *hop != nil {
					(*hop).RemoteAddr = target
				}
				return conn, nil
			}
			var re *egress.RefusedError
			if errors.As(err, &re) {
				de.refused = append(de.refused, re)
			} else {
				de.failed = append(de.failed, err)
			}
		}
		return nil, de
	}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dial,
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // see Check
		DisableKeepAlives:      true,
		ResponseHeaderTimeout:  c.cfg.Timeout,
		MaxResponseHeaderBytes: 16 << 10,
	}
	return &http.Client{
		Transport: &portRewrite{next: tr, port: c.port},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // redirects are handled by Check
		},
	}
}

// portRewrite makes a port-less URL connect to the configured port for its
// scheme while keeping the Host header port-less.
type portRewrite struct {
	next *http.Transport
	port func(*url.URL) string
}

func (p *portRewrite) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Port() == "" {
		r2 := req.Clone(req.Context())
		r2.Host = req.URL.Host
		u := *req.URL
		u.Host = net.JoinHostPort(req.URL.Hostname(), p.port(req.URL))
		r2.URL = &u
		return p.next.RoundTrip(r2)
	}
	return p.next.RoundTrip(req)
}

func readLimited(r io.Reader, limit int64) ([]byte, bool, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(b)) > limit {
		return b[:limit], true, nil
	}
	return b, false, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}

// dialError is the failure to connect to any of a name's addresses: those
// the egress policy refused, and the connections that failed.
type dialError struct {
	refused []*egress.RefusedError
	failed  []error
}

// Error names every refused address under one egress.Hint, then the other
// failures.
func (e *dialError) Error() string {
	var parts []string
	for _, r := range e.refused {
		parts = append(parts, r.Refusal())
	}
	if len(e.refused) > 0 {
		parts = append(parts, egress.Hint)
	}
	for _, err := range e.failed {
		parts = append(parts, err.Error())
	}
	if len(parts) == 0 {
		return "no address to connect to"
	}
	return strings.Join(parts, "; ")
}

func (e *dialError) Unwrap() []error {
	errs := make([]error, 0, len(e.refused)+len(e.failed))
	for _, r := range e.refused {
		errs = append(errs, r)
	}
	return append(errs, e.failed...)
}
