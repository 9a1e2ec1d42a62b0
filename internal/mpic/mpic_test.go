package mpic_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/dnstest"
	"github.com/vetca/vetca/internal/mpic"
	"github.com/vetca/vetca/internal/mpic/mpictest"
	"github.com/vetca/vetca/internal/resolver"
	"github.com/vetca/vetca/internal/validation/dcv"
)

// evalDate is in the BR §3.2.2.9 phase effective 2026-06-15: at least 4
// remote perspectives, quorum enforced, two distinct RIRs.
var evalDate = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

const identity = "vetca.example"

var regions = []string{"ARIN", "RIPE NCC", "APNIC", "LACNIC"}

type perspective struct {
	dns *dnstest.Server
	url string
	id  string
}

type fixture struct {
	pki   *mpictest.PKI
	ps    []*perspective
	value string
	web   *httptest.Server // the subscriber's website, shared by all perspectives
}

// newFixture starts n perspectives on loopback, each with its own DNS
// server and resolver, served over mutual TLS.
func newFixture(t *testing.T, n int, resolverTimeout time.Duration) *fixture {
	t.Helper()
	pki, err := mpictest.New(clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	value, _ := dcv.NewRandomValue()
	f := &fixture{pki: pki, value: value}
	f.web = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, value)
	}))
	t.Cleanup(f.web.Close)
	_, webPort, _ := net.SplitHostPort(f.web.Listener.Addr().String())
	port, _ := strconv.Atoi(webPort)
	for i := range n {
		p := &perspective{dns: dnstest.New(t), id: fmt.Sprintf("loopback-%d", i)}
		clk := clock.NewFake(evalDate)
		r, err := resolver.New(resolver.Config{Server: p.dns.Addr(), Timeout: resolverTimeout, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := mpic.NewServer(mpic.ServerConfig{
			ID: p.id, Region: regions[i%len(regions)], Resolver: r, CAAIdentities: []string{identity},
			HTTPPort: port, HTTPTimeout: 2 * time.Second, AllowPrivateValidationTargets: true, Clock: clk,
		})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewUnstartedServer(srv)
		ts.TLS = pki.ServerTLSConfig()
		ts.StartTLS()
		t.Cleanup(ts.Close)
		p.url = ts.URL
		// What every perspective sees by default: the challenge, no CAA
		// restriction, the website on loopback.
		p.dns.AddTXT("_vetca-challenge.example.com", value)
		p.dns.AddCAA("example.com", 0, "issue", identity)
		p.dns.AddA("www.example.com", "127.0.0.1")
		f.ps = append(f.ps, p)
	}
	return f
}

func (f *fixture) corroborator(t *testing.T, timeout time.Duration, tlsCfg *tls.Config) *mpic.Corroborator {
	t.Helper()
	var urls []string
	for _, p := range f.ps {
		urls = append(urls, p.url)
	}
	if tlsCfg == nil {
		tlsCfg = f.pki.ClientTLSConfig()
	}
	c, err := mpic.NewCorroborator(mpic.CorroboratorConfig{Perspectives: urls, TLS: tlsCfg, Timeout: timeout, Clock: clock.NewFake(evalDate)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func summary(o mpic.Outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", o.Quorum.Summary)
	for _, r := range o.Results {
		fmt.Fprintf(&b, "  %s %s corroborated=%v %s\n", r.Perspective, r.URL, r.Corroborated, r.Reason)
	}
	return b.String()
}

// BR §3.2.2.9 Quorum Requirements: with 4 remote perspectives, 1
// non-corroboration is allowed and 2 are not.
func TestQuorumWithFourPerspectives(t *testing.T) {
	type tc struct {
		name      string
		req       func(f *fixture) mpic.CheckRequest
		primary   bool
		disagree  func(p *perspective) // makes one perspective see a different answer
		differing int
		met       bool
		summary   string
	}
	dnsReq := func(f *fixture) mpic.CheckRequest {
		return mpic.CheckRequest{Kind: mpic.KindDNSChange, Domain: "example.com", Value: f.value}
	}
	caaReq := func(*fixture) mpic.CheckRequest {
		return mpic.CheckRequest{Kind: mpic.KindCAA, Domain: "www.example.com"}
	}
	webReq := func(f *fixture) mpic.CheckRequest {
		return mpic.CheckRequest{Kind: mpic.KindWebsiteChange, Domain: "www.example.com", Value: f.value, FileName: "f0e1d2c3b4a5.txt"}
	}
	staleTXT := func(p *perspective) {
		p.dns.RemoveName("_vetca-challenge.example.com")
		p.dns.AddTXT("_vetca-challenge.example.com", "an-attackers-or-stale-value-0123456789")
	}
	caaForbids := func(p *perspective) {
		p.dns.RemoveName("example.com")
		p.dns.AddCAA("example.com", 0, "issue", "other-ca.example")
	}
	otherAddress := func(p *perspective) { // a hijacked route: nothing listens there
		p.dns.RemoveName("www.example.com")
		p.dns.AddA("www.example.com", "127.0.0.2")
	}
	tests := []tc{
		{"dns-change all agree", dnsReq, true, staleTXT, 0, true, "4/4 corroborated, quorum met"},
		{"dns-change one sees another value", dnsReq, true, staleTXT, 1, true, "3/4 corroborated, quorum met"},
		{"dns-change two see another value", dnsReq, true, staleTXT, 2, false, "2/4 corroborated, quorum not met"},
		{"caa one forbids", caaReq, true, caaForbids, 1, true, "3/4 corroborated, quorum met"},
		{"caa two forbid", caaReq, true, caaForbids, 2, false, "2/4 corroborated, quorum not met"},
		{"website one reaches another address", webReq, true, otherAddress, 1, true, "3/4 corroborated, quorum met"},
		{"website two reach another address", webReq, true, otherAddress, 2, false, "2/4 corroborated, quorum not met"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 4, 10*time.Second)
			for i := range tc.differing {
				tc.disagree(f.ps[i])
			}
			out := f.corroborator(t, 5*time.Second, nil).Corroborate(context.Background(), tc.req(f), tc.primary)
			if out.Quorum.Met != tc.met || out.Quorum.MayIssue != tc.met || !strings.HasPrefix(out.Quorum.Summary, tc.summary) {
				t.Fatalf("quorum met=%v mayIssue=%v; want %v %q [BR §3.2.2.9]\n%s", out.Quorum.Met, out.Quorum.MayIssue, tc.met, tc.summary, summary(out))
			}
			if !out.Performed || len(out.Results) != 4 || out.Quorum.Used != 4 || out.Quorum.AllowedNonCorroborations != 1 {
				t.Fatalf("outcome %+v", out.Quorum)
			}
			for i, r := range out.Results {
				wantCorr := i >= tc.differing
				if r.Corroborated != wantCorr {
					t.Errorf("perspective %d corroborated=%v; want %v (%s)", i, r.Corroborated, wantCorr, r.Reason)
				}
				// BR §5.4.1(2): perspective id, domain and result are recorded.
				if r.Perspective != f.ps[i].id || r.Region != regions[i] || r.Answer == nil || r.Answer.Domain != tc.req(f).Domain {
					t.Errorf("result %d lacks identity: %+v", i, r)
				}
				if r.Answer.DCV == nil && r.Answer.CAA == nil {
					t.Errorf("result %d carries no evidence", i)
				}
			}
			// Each perspective asked its own DNS server: no shared cache.
			for i, p := range f.ps {
				if len(p.dns.Queries()) == 0 {
					t.Errorf("perspective %d never queried its own resolver", i)
				}
			}
		})
	}
}

// A perspective that does not answer in time counts as a non-corroboration.
// The others must answer within the corroborator's timeout, over mutual
// TLS on a possibly busy machine, so the timeout is generous (the silent
// perspectives cost that long; the two cases run in parallel).
func TestTimeoutIsNonCorroboration(t *testing.T) {
	for _, slow := range []int{1, 2} {
		t.Run(fmt.Sprintf("%d slow", slow), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, 4, 30*time.Second)
			for i := range slow {
				f.ps[i].dns.SetDrop("_vetca-challenge.example.com", true)
			}
			c := f.corroborator(t, 4*time.Second, nil)
			out := c.Corroborate(context.Background(), mpic.CheckRequest{Kind: mpic.KindDNSChange, Domain: "example.com", Value: f.value}, true)
			if out.Quorum.Met != (slow == 1) {
				t.Fatalf("met=%v with %d timeouts\n%s", out.Quorum.Met, slow, summary(out))
			}
			for i := range slow {
				if r := out.Results[i]; r.Corroborated || !strings.Contains(r.Error, "timeout") {
					t.Errorf("slow perspective %d: %+v", i, r)
				}
			}
		})
	}
}

// Primary says the value was NOT seen; perspectives that also do not see
// it corroborate that determination.
func TestCorroboratesNegativeDetermination(t *testing.T) {
	f := newFixture(t, 4, 10*time.Second)
	other, _ := dcv.NewRandomValue()
	out := f.corroborator(t, 5*time.Second, nil).Corroborate(context.Background(),
		mpic.CheckRequest{Kind: mpic.KindDNSChange, Domain: "example.com", Value: other}, false)
	if out.Quorum.Corroborations != 4 {
		t.Fatalf("%s", summary(out))
	}
}

func TestClientWithoutValidCertificateIsRefused(t *testing.T) {
	f := newFixture(t, 4, 10*time.Second)
	body, _ := json.Marshal(mpic.CheckRequest{Kind: mpic.KindCAA, Domain: "example.com"})

	other, err := mpictest.New(clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	clients := map[string]*tls.Config{
		"no client certificate":          {RootCAs: f.pki.Pool, MinVersion: tls.VersionTLS13},
		"certificate from another CA":    {RootCAs: f.pki.Pool, Certificates: []tls.Certificate{other.Client}, MinVersion: tls.VersionTLS13},
		"server certificate as a client": {RootCAs: f.pki.Pool, Certificates: []tls.Certificate{f.pki.Server}, MinVersion: tls.VersionTLS13},
	}
	for name, cfg := range clients {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 5 * time.Second}
		resp, err := hc.Post(f.ps[0].url+mpic.CheckPath, "application/json", bytes.NewReader(body))
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: got HTTP %d; want the TLS handshake refused", name, resp.StatusCode)
		}
	}
	// The valid client is answered.
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: f.pki.ClientTLSConfig()}, Timeout: 5 * time.Second}
	resp, err := hc.Post(f.ps[0].url+mpic.CheckPath, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("valid client: HTTP %d", resp.StatusCode)
	}

	// A Corroborator holding a certificate from another CA gets nothing.
	out := f.corroborator(t, 5*time.Second, mpic.ClientTLSConfig(other.Client, f.pki.Pool)).
		Corroborate(context.Background(), mpic.CheckRequest{Kind: mpic.KindCAA, Domain: "example.com"}, true)
	if out.Quorum.Met || out.Quorum.Corroborations != 0 {
		t.Fatalf("untrusted client corroborated:\n%s", summary(out))
	}
}

// Served without TLS by mistake, the handler still refuses to answer.
func TestHandlerRequiresVerifiedClient(t *testing.T) {
	d := dnstest.New(t)
	r, err := resolver.New(resolver.Config{Server: d.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := mpic.NewServer(mpic.ServerConfig{ID: "p", Region: "ARIN", Resolver: r, CAAIdentities: []string{identity}, Clock: clock.NewFake(evalDate)})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, mpic.CheckPath, strings.NewReader(`{"kind":"caa","domain":"example.com"}`)))
	var ans mpic.CheckResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &ans); err != nil {
		t.Fatalf("answer %q: %v", rec.Body.Bytes(), err)
	}
	if rec.Code != http.StatusForbidden || ans.Error == nil || ans.Perspective != "p" || ans.Region != "ARIN" {
		t.Fatalf("HTTP %d %s", rec.Code, rec.Body)
	}
	if len(d.Queries()) != 0 {
		t.Fatal("unauthenticated request caused DNS queries")
	}
}

func TestBadRequestsNameTheField(t *testing.T) {
	f := newFixture(t, 1, 10*time.Second)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: f.pki.ClientTLSConfig()}, Timeout: 5 * time.Second}
	for body, field := range map[string]string{
		`{"kind":"smtp","domain":"example.com"}`:                  "kind",
		`{"kind":"caa","domain":"10.0.0.1"}`:                      "domain",
		`{"kind":"dns-change","domain":"example.com","value":""}`: "value",
		`{"kind":"caa","domain":"example.com","extra":1}`:         "",
	} {
		resp, err := hc.Post(f.ps[0].url+mpic.CheckPath, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		var ans mpic.CheckResponse
		err = json.NewDecoder(resp.Body).Decode(&ans)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: answer: %v", body, err)
		}
		if resp.StatusCode != http.StatusBadRequest || ans.Error == nil || ans.Error.Field != field || ans.Perspective != "loopback-0" {
			t.Errorf("%s: HTTP %d %+v", body, resp.StatusCode, ans)
		}
	}
}

// Two URLs reaching perspectives with the same identifier count once: only
// distinct perspectives count (BR §3.2.2.9).
func TestDuplicatePerspectiveCountsOnce(t *testing.T) {
	f := newFixture(t, 4, 10*time.Second)
	// Replace perspective 3 by a second server with perspective 0's id.
	r, _ := resolver.New(resolver.Config{Server: f.ps[0].dns.Addr(), Clock: clock.NewFake(evalDate)})
	srv, _ := mpic.NewServer(mpic.ServerConfig{ID: f.ps[0].id, Region: regions[0], Resolver: r, CAAIdentities: []string{identity}, Clock: clock.NewFake(evalDate)})
	ts := httptest.NewUnstartedServer(srv)
	ts.TLS = f.pki.ServerTLSConfig()
	ts.StartTLS()
	t.Cleanup(ts.Close)
	f.ps[3].url = ts.URL
	f.ps[1].dns.RemoveName("_vetca-challenge.example.com")
	out := f.corroborator(t, 5*time.Second, nil).Corroborate(context.Background(),
		mpic.CheckRequest{Kind: mpic.KindDNSChange, Domain: "example.com", Value: f.value}, true)
	if out.Quorum.Met || out.Quorum.Corroborations != 2 {
		t.Fatalf("duplicate id counted twice:\n%s", summary(out))
	}
}

func TestNoPerspectivesConfigured(t *testing.T) {
	c, err := mpic.NewCorroborator(mpic.CorroboratorConfig{Clock: clock.NewFake(evalDate)})
	if err != nil {
		t.Fatal(err)
	}
	out := c.Corroborate(context.Background(), mpic.CheckRequest{Kind: mpic.KindCAA, Domain: "example.com"}, true)
	if out.Performed || out.Quorum.Met || out.Quorum.MayIssue || !strings.Contains(out.Quorum.Summary, "not performed") {
		t.Fatalf("%+v", out.Quorum)
	}
}

func TestNewCorroboratorValidates(t *testing.T) {
	pki, _ := mpictest.New(clock.Real{})
	clk := clock.NewFake(evalDate)
	bad := []mpic.CorroboratorConfig{
		{Perspectives: []string{"http://127.0.0.1:1"}, TLS: pki.ClientTLSConfig(), Clock: clk},
		{Perspectives: []string{"https://127.0.0.1:1"}, Clock: clk},
		{Perspectives: []string{"https://127.0.0.1:1"}, TLS: &tls.Config{RootCAs: pki.Pool}, Clock: clk},
		{Perspectives: []string{"https://127.0.0.1:1", "https://127.0.0.1:1/"}, TLS: pki.ClientTLSConfig(), Clock: clk},
		{Perspectives: []string{"https://127.0.0.1:1"}, TLS: pki.ClientTLSConfig()},
	}
	for i, cfg := range bad {
		if _, err := mpic.NewCorroborator(cfg); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
}

func TestPKIFilesLoad(t *testing.T) {
	pki, err := mpictest.New(clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	files, err := pki.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mpic.LoadServerTLSConfig(files.ServerCert, files.ServerKey, files.CA); err != nil {
		t.Fatal(err)
	}
	if _, err := mpic.LoadClientTLSConfig(files.ClientCert, files.ClientKey, files.CA); err != nil {
		t.Fatal(err)
	}
	if _, err := mpic.LoadClientTLSConfig(files.ClientCert, files.ClientKey, files.ClientKey); err == nil {
		t.Fatal("a key file was accepted as a CA file")
	}
}

// A perspective applies the same egress policy as the primary: by default
// its website-change check of a name pointing at loopback is refused,
// naming the address, and the website receives nothing; with
// AllowPrivateValidationTargets (`vetca perspective serve
// --allow-private-validation-targets`) it succeeds.
func TestPerspectiveWebsiteEgressPolicy(t *testing.T) {
	value, _ := dcv.NewRandomValue()
	var requests atomic.Int32
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		fmt.Fprint(w, value)
	}))
	t.Cleanup(web.Close)
	_, p, _ := net.SplitHostPort(web.Listener.Addr().String())
	port, _ := strconv.Atoi(p)
	d := dnstest.New(t)
	d.AddA("www.example.com", "127.0.0.1")
	req := mpic.CheckRequest{Kind: mpic.KindWebsiteChange, Domain: "www.example.com", Value: value, FileName: "f0e1d2c3b4a5.txt"}
	for _, allow := range []bool{false, true} {
		r, err := resolver.New(resolver.Config{Server: d.Addr(), Timeout: 10 * time.Second, Clock: clock.NewFake(evalDate)})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := mpic.NewServer(mpic.ServerConfig{ID: "p", Region: "ARIN", Resolver: r, CAAIdentities: []string{identity},
			HTTPPort: port, HTTPTimeout: 2 * time.Second, AllowPrivateValidationTargets: allow, Clock: clock.NewFake(evalDate)})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Run(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if allow {
			if !resp.Outcome || requests.Load() != 1 {
				t.Fatalf("allowed: %+v (%d requests)", resp, requests.Load())
			}
			continue
		}
		if resp.Outcome || resp.DCV == nil || !strings.Contains(resp.Reason, "refused to connect to 127.0.0.1: loopback address") ||
			!strings.Contains(resp.Reason, "--allow-private-validation-targets") {
			t.Fatalf("refused: %+v", resp)
		}
		if n := requests.Load(); n != 0 {
			t.Fatalf("the loopback website received %d requests", n)
		}
	}
}

// A URL answering with another perspective's identifier does not make up
// the number of perspectives BR §3.2.2.9 requires: four URLs reaching
// three distinct perspectives that all corroborate are three perspectives
// used, short of the four required from 2026-06-15.
func TestDuplicatePerspectiveDoesNotMakeUpTheMinimum(t *testing.T) {
	f := newFixture(t, 4, 10*time.Second)
	r, _ := resolver.New(resolver.Config{Server: f.ps[0].dns.Addr(), Clock: clock.NewFake(evalDate)})
	srv, _ := mpic.NewServer(mpic.ServerConfig{ID: f.ps[0].id, Region: regions[0], Resolver: r, CAAIdentities: []string{identity}, Clock: clock.NewFake(evalDate)})
	ts := httptest.NewUnstartedServer(srv)
	ts.TLS = f.pki.ServerTLSConfig()
	ts.StartTLS()
	t.Cleanup(ts.Close)
	f.ps[3].url = ts.URL
	out := f.corroborator(t, 5*time.Second, nil).Corroborate(context.Background(),
		mpic.CheckRequest{Kind: mpic.KindDNSChange, Domain: "example.com", Value: f.value}, true)
	if out.Quorum.Met || out.Quorum.MayIssue || out.Quorum.Used != 3 {
		t.Fatalf("three distinct perspectives met a quorum that needs four:\n%s", summary(out))
	}
}
