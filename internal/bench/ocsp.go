package bench

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/vetca/vetca/internal/order"
)

// OCSP serves OCSP from vetca's HTTP handler on loopback and drives it
// with concurrent GETs for d, counting responses; in the same run it
// times raw ocsp.CreateResponse with the same concurrency.
func OCSP(ctx context.Context, dsn string, certs, concurrency int, d time.Duration) (Result, error) {
	f, err := newFixture(ctx, dsn, "", "", "")
	if err != nil {
		return Result{}, err
	}
	defer f.cleanup()
	a := f.a
	reqs, err := csrs(certs, f.domain)
	if err != nil {
		return Result{}, err
	}
	iss, issCert, err := a.Engine.ActiveIssuer(ctx, a.DB)
	if err != nil {
		return Result{}, err
	}
	var urls []string
	var leaf *x509.Certificate
	for _, csr := range reqs {
		o, err := a.Orders.Create(ctx, f.sub, order.CreateInput{OrganizationID: f.orgID, DNSNames: []string{f.domain}, CSR: csr})
		if err != nil {
			return Result{}, err
		}
		for _, ap := range f.approvers {
			if _, err := a.Orders.Approve(ctx, ap, o.ID, o.SnapshotHash); err != nil {
				return Result{}, err
			}
		}
		res, err := a.Orders.Finalize(ctx, f.sub, o.ID)
		if err != nil {
			return Result{}, err
		}
		b, _ := pem.Decode([]byte(res.PEM))
		if leaf, err = x509.ParseCertificate(b.Bytes); err != nil {
			return Result{}, err
		}
		req, err := ocsp.CreateRequest(leaf, issCert, nil)
		if err != nil {
			return Result{}, err
		}
		urls = append(urls, "/ocsp/"+url.PathEscape(base64.StdEncoding.EncodeToString(req)))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Result{}, err
	}
	srv := &http.Server{Handler: a.Handler()}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency}}
	get := func(u string) error {
		resp, err := client.Get(base + u)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return nil
	}
	for _, u := range urls { // pre-sign every response
		if err := get(u); err != nil {
			return Result{}, err
		}
	}
	var served atomic.Int64
	var firstErr atomic.Value
	run := func(work func(i int) error) time.Duration {
		deadline := time.Now().Add(d)
		start := time.Now()
		var wg sync.WaitGroup
		for g := 0; g < concurrency; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := g; time.Now().Before(deadline); i += concurrency {
					if err := work(i); err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
					served.Add(1)
				}
			}(g)
		}
		wg.Wait()
		return time.Since(start)
	}
	took := run(func(i int) error { return get(urls[i%len(urls)]) })
	if e := firstErr.Load(); e != nil {
		return Result{}, e.(error)
	}
	perSecond := float64(served.Load()) / took.Seconds()
	n := served.Load()

	key, err := a.Engine.Key(ctx, iss.ID)
	if err != nil {
		return Result{}, err
	}
	served.Store(0)
	now := time.Now()
	took = run(func(i int) error {
		_, err := ocsp.CreateResponse(issCert, issCert, ocsp.Response{Status: ocsp.Good, SerialNumber: leaf.SerialNumber,
			ThisUpdate: now, NextUpdate: now.Add(96 * time.Hour), IssuerHash: crypto.SHA1}, key)
		return err
	})
	raw := float64(served.Load()) / took.Seconds()
	r := Result{What: "ocsp", Backend: a.DB.Dialect().String(), N: int(n), PerSecond: perSecond, RawPerSecond: raw, PeakRSSBytes: PeakRSS(),
		Notes: fmt.Sprintf("GET /ocsp/<base64> for %d certificates with %d concurrent keep-alive clients for %s on loopback (load generator in the same process), pre-signed responses; raw: ocsp.CreateResponse with the same concurrency; GOMAXPROCS=%d",
			certs, concurrency, d, runtime.GOMAXPROCS(0))}
	r.Ratio = r.PerSecond / r.RawPerSecond
	return r, nil
}
