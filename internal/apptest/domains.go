package apptest

import (
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/dnstest"
	"github.com/vetca/vetca/internal/mpic"
	"github.com/vetca/vetca/internal/mpic/mpictest"
	"github.com/vetca/vetca/internal/resolver"
)

// CAAIdentity is the issuer domain name WithDNS and WithPerspectives
// configure (the host of apptest's public URL).
const CAAIdentity = "pki.vetca-test.com"

// Regions are the RIR labels given to perspectives, in turn.
var Regions = []string{"ARIN", "RIPE NCC", "APNIC", "LACNIC", "AFRINIC"}

// Perspective is one remote perspective running in-process: a real
// mpic.Server behind HTTPS with mutual TLS on loopback, with its own DNS
// server and resolver, so a test can make it see a different answer.
type Perspective struct {
	ID, Region, URL string
	DNS             *dnstest.Server
}

// Perspectives is a set of in-process remote perspectives sharing one test
// PKI.
type Perspectives struct {
	PKI   *mpictest.PKI
	Files mpictest.Files
	List  []*Perspective
}

// AddTXT adds a TXT record to every perspective's DNS.
func (ps *Perspectives) AddTXT(name string, strs ...string) {
	for _, p := range ps.List {
		p.DNS.AddTXT(name, strs...)
	}
}

// AddCAA adds a CAA record to every perspective's DNS.
func (ps *Perspectives) AddCAA(name string, flag uint8, tag, value string) {
	for _, p := range ps.List {
		p.DNS.AddCAA(name, flag, tag, value)
	}
}

// AddA adds an A record to every perspective's DNS.
func (ps *Perspectives) AddA(name, ip string) {
	for _, p := range ps.List {
		p.DNS.AddA(name, ip)
	}
}

// WithPerspectives starts n remote perspectives (regions from Regions in
// turn), each with its own dnstest server; website-change checks connect to
// httpPort (0: 80) and, since every test website is on loopback, may
// connect to non-public addresses (--allow-private-validation-targets of
// `vetca perspective serve`). The Option points vetca at them with a client
// certificate of the same PKI. Everything stops when the test ends.
func WithPerspectives(t testing.TB, n, httpPort int) (*Perspectives, Option) {
	t.Helper()
	pki, err := mpictest.New(clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	files, err := pki.WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ps := &Perspectives{PKI: pki, Files: files}
	var urls []string
	for i := range n {
		p := &Perspective{ID: fmt.Sprintf("loopback-%d", i+1), Region: Regions[i%len(Regions)], DNS: dnstest.New(t)}
		r, err := resolver.New(resolver.Config{Server: p.DNS.Addr(), Timeout: 2 * time.Second, Clock: clock.Real{}})
		if err != nil {
			t.Fatal(err)
		}
		srv, err := mpic.NewServer(mpic.ServerConfig{ID: p.ID, Region: p.Region, Resolver: r, CAAIdentities: []string{CAAIdentity},
			HTTPPort: httpPort, HTTPTimeout: 2 * time.Second, AllowPrivateValidationTargets: true, Clock: clock.Real{},
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewUnstartedServer(srv)
		ts.TLS = pki.ServerTLSConfig()
		ts.StartTLS()
		t.Cleanup(ts.Close)
		p.URL = ts.URL
		urls = append(urls, ts.URL)
		ps.List = append(ps.List, p)
	}
	return ps, func(c *app.Config) {
		c.Perspectives = urls
		c.PerspectiveCert, c.PerspectiveKey, c.PerspectiveCA = files.ClientCert, files.ClientKey, files.CA
		if len(c.CAAIdentities) == 0 {
			c.CAAIdentities = []string{CAAIdentity}
		}
	}
}

// WithHTTPValidationPort sets --http-validation-port.
func WithHTTPValidationPort(port int) Option {
	return func(c *app.Config) { c.HTTPValidationPort = port }
}

// WithPrivateValidationTargets sets --allow-private-validation-targets, so
// website-change validation may reach a test website on loopback; without
// it the egress policy refuses every loopback address.
func WithPrivateValidationTargets() Option {
	return func(c *app.Config) { c.AllowPrivateValidationTargets = true }
}
