package mpic

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vetca/vetca/internal/clock"
)

// DefaultTimeout bounds one corroboration when the config leaves it zero.
const DefaultTimeout = 30 * time.Second

// maxResponseBytes bounds a perspective's answer.
const maxResponseBytes = 1 << 20

// CorroboratorConfig configures a Corroborator.
type CorroboratorConfig struct {
	// Perspectives are the base URLs of the remote perspectives
	// (--perspective, repeatable), e.g. "https://10.0.0.5:8443".
	// They must be https. None is allowed: Corroborate then reports that
	// no corroboration was done.
	Perspectives []string
	// TLS is the client configuration (ClientTLSConfig). Required when
	// there are perspectives.
	TLS *tls.Config
	// Timeout bounds one corroboration; a perspective that has not answered
	// by then counts as a non-corroboration. Zero means DefaultTimeout.
	Timeout time.Duration
	// Clock dates the evaluation (which BR phase applies). Required.
	Clock clock.Clock
}

// Corroborator asks remote perspectives to repeat a check.
type Corroborator struct {
	urls    []string
	client  *http.Client
	timeout time.Duration
	clk     clock.Clock
}

// NewCorroborator returns a Corroborator for cfg.
func NewCorroborator(cfg CorroboratorConfig) (*Corroborator, error) {
	if cfg.Clock == nil {
		return nil, errors.New("mpic: a clock is required")
	}
	var urls []string
	for _, p := range cfg.Perspectives {
		u, err := url.Parse(p)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("mpic: perspective %q is not an https URL", p)
		}
		full := strings.TrimSuffix(u.String(), "/")
		if !strings.HasSuffix(full, CheckPath) {
			full += CheckPath
		}
		if slices.Contains(urls, full) {
			return nil, fmt.Errorf("mpic: perspective %q listed twice", p)
		}
		urls = append(urls, full)
	}
	if len(urls) > 0 && (cfg.TLS == nil || len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetClientCertificate == nil) {
		return nil, errors.New("mpic: perspectives need a TLS config with a client certificate")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	tr := &http.Transport{TLSClientConfig: cfg.TLS.Clone(), Proxy: nil, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 4}
	return &Corroborator{urls: urls, client: &http.Client{Transport: tr}, timeout: cfg.Timeout, clk: cfg.Clock}, nil
}

// Perspectives returns the check URLs used.
func (c *Corroborator) Perspectives() []string { return append([]string(nil), c.urls...) }

// PerspectiveResult is one perspective's part of an Outcome (BR §5.4.1(2):
// perspective id, domain, result).
type PerspectiveResult struct {
	URL          string         `json:"url"`
	Perspective  string         `json:"perspective,omitempty"` // as the perspective reported it
	Region       string         `json:"region,omitempty"`
	Answer       *CheckResponse `json:"answer,omitempty"`
	Error        string         `json:"error,omitempty"` // transport failure, timeout, bad answer
	Corroborated bool           `json:"corroborated"`
	Reason       string         `json:"reason"`
}

// Outcome is the result of one corroboration, to be stored as evidence.
type Outcome struct {
	Request     CheckRequest        `json:"request"`
	Primary     bool                `json:"primary"` // the primary perspective's determination
	EvaluatedAt time.Time           `json:"evaluatedAt"`
	Performed   bool                `json:"performed"` // false when no perspectives are configured
	Results     []PerspectiveResult `json:"results"`
	Quorum      Quorum              `json:"quorum"`
}

// Corroborate asks every perspective to run req concurrently and compares
// each answer with primary, the primary perspective's determination (for
// DCV: the value was seen; for CAA: issuance permitted). A perspective
// corroborates when its own determination equals primary for the same
// kind and domain; an error, a timeout or a malformed answer is a
// non-corroboration. An answer repeating a perspective identifier is not
// counted at all: the quorum is over distinct perspectives.
func (c *Corroborator) Corroborate(ctx context.Context, req CheckRequest, primary bool) Outcome {
	at := c.clk.Now()
	out := Outcome{Request: req, Primary: primary, EvaluatedAt: at, Performed: len(c.urls) > 0, Results: make([]PerspectiveResult, len(c.urls))}
	if !out.Performed {
		out.Quorum = EvaluateQuorum(at, 0, 0, nil)
		out.Quorum.Summary = "no remote perspectives configured: corroboration not performed; " + out.Quorum.Summary
		return out
	}
	body, _ := json.Marshal(req)
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var wg sync.WaitGroup
	for i, u := range c.urls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out.Results[i] = c.ask(ctx, u, body, req, primary)
		}()
	}
	wg.Wait()

	// A URL answering with an identifier already seen is the same
	// perspective again: it neither corroborates nor counts as used, so
	// it cannot make up the minimum number of perspectives.
	seen := map[string]bool{}
	regions := map[string]bool{}
	corroborations, repeated := 0, 0
	for i := range out.Results {
		r := &out.Results[i]
		if r.Perspective != "" && seen[r.Perspective] {
			repeated++
			r.Corroborated = false
			r.Reason = fmt.Sprintf("perspective id %q already answered; only distinct perspectives count", r.Perspective)
		}
		if r.Perspective != "" {
			seen[r.Perspective] = true
		}
		if r.Corroborated {
			corroborations++
			regions[r.Region] = true
		}
	}
	var rs []string
	for r := range regions {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	out.Quorum = EvaluateQuorum(at, len(c.urls)-repeated, corroborations, rs)
	return out
}

func (c *Corroborator) ask(ctx context.Context, u string, body []byte, req CheckRequest, primary bool) PerspectiveResult {
	res := PerspectiveResult{URL: u}
	fail := func(format string, args ...any) PerspectiveResult {
		res.Error = fmt.Sprintf(format, args...)
		res.Reason = "non-corroboration: " + res.Error
		return res
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fail("building request: %v", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := c.client.Do(hreq)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fail("no answer within %s (timeout)", c.timeout)
		}
		return fail("request failed: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fail("no answer within %s (timeout)", c.timeout)
		}
		return fail("reading answer: %v", err)
	}
	var ans CheckResponse
	if err := json.Unmarshal(data, &ans); err != nil {
		return fail("HTTP %d with a malformed answer: %v", resp.StatusCode, err)
	}
	res.Answer, res.Perspective, res.Region = &ans, ans.Perspective, ans.Region
	switch {
	case resp.StatusCode != http.StatusOK || ans.Error != nil:
		msg := fmt.Sprintf("HTTP %d", resp.StatusCode)
		if ans.Error != nil {
			msg += ": " + string(ans.Error.Code) + ": " + ans.Error.Message
		}
		return fail("%s", msg)
	case ans.Perspective == "" || ans.Region == "":
		return fail("answer without a perspective id or region")
	case ans.Kind != req.Kind || !strings.EqualFold(strings.TrimSuffix(ans.Domain, "."), strings.TrimSuffix(req.Domain, ".")):
		return fail("answer is for %s %q, not %s %q", ans.Kind, ans.Domain, req.Kind, req.Domain)
	}
	if ans.Outcome != primary {
		res.Reason = fmt.Sprintf("non-corroboration: perspective determined %s, primary %s (%s)", verdict(req.Kind, ans.Outcome), verdict(req.Kind, primary), ans.Reason)
		return res
	}
	res.Corroborated = true
	res.Reason = "corroborated: " + verdict(req.Kind, ans.Outcome)
	return res
}

func verdict(k Kind, ok bool) string {
	switch {
	case k == KindCAA && ok:
		return "CAA permits issuance"
	case k == KindCAA:
		return "CAA forbids issuance"
	case ok:
		return "random value seen"
	default:
		return "random value not seen"
	}
}

func readFile(name string) ([]byte, error) { return os.ReadFile(name) }
