package bench

import (
	"bufio"
	"bytes"
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
	"strconv"
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
	// Each replica's poller, as serve runs it (App.StartBackground). Its
	// first poll runs before anything is held: a first poll conservatively
	// forgets what was put into memory before it (on PostgreSQL, with no
	// sealer running here, every issuance event is still above the head),
	// and the run below must be served from memory throughout.
	if err := a.OCSP.Poll(ctx); err != nil {
		return Result{}, err
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go a.OCSP.Watch(wctx, time.Second)
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency}}
	fetch := func(i int) ([]byte, error) {
		resp, err := client.Get(base + urls[i])
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != 200 {
			return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		return body, nil
	}
	// want holds the first answer for each URL; it is written here, before
	// the load starts, and only read by the concurrent clients below.
	want := make([][]byte, len(urls))
	for i := range urls { // pre-sign every response (and hold it in memory)
		if want[i], err = fetch(i); err != nil {
			return Result{}, err
		}
	}
	get := func(i int) error {
		body, err := fetch(i)
		if err != nil {
			return err
		}
		if !bytes.Equal(body, want[i]) {
			return fmt.Errorf("%s: a different response", urls[i])
		}
		return nil
	}
	key, err := a.Engine.Key(ctx, iss.ID)
	if err != nil {
		return Result{}, err
	}
	// Each side runs for d in two halves, the sides interleaved, so that
	// all see the same machine (other load on it comes and goes).
	var firstErr atomic.Value
	run := func(dur time.Duration, work []func(i int) error) (int64, time.Duration) {
		var served atomic.Int64
		deadline := time.Now().Add(dur)
		start := time.Now()
		var wg sync.WaitGroup
		for g := range work {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := g; time.Now().Before(deadline); i += len(work) {
					if err := work[g](i); err != nil {
						firstErr.CompareAndSwap(nil, err)
						return
					}
					served.Add(1)
				}
			}(g)
		}
		wg.Wait()
		return served.Load(), time.Since(start)
	}
	// vetca, driven by a minimal HTTP/1.1 keep-alive client (one connection
	// per goroutine; every answer checked: status 200 and the very bytes
	// first served for that URL), so that the load generator, which shares
	// the cores, costs as little as it can.
	lean := make([]func(i int) error, concurrency)
	for g := range lean {
		c, err := newLeanClient(ln.Addr().String())
		if err != nil {
			return Result{}, err
		}
		defer c.conn.Close()
		lean[g] = func(i int) error { return c.get(urls[i%len(urls)], want[i%len(urls)]) }
	}
	// The same with net/http's client, whose own cost (a goroutine pair per
	// connection, a Request and a Response per call) is most of the run.
	viaNetHTTP := make([]func(i int) error, concurrency)
	for g := range viaNetHTTP {
		viaNetHTTP[g] = func(i int) error { return get(i % len(urls)) }
	}
	now := time.Now()
	raw := make([]func(i int) error, concurrency)
	for g := range raw {
		raw[g] = func(int) error {
			_, err := ocsp.CreateResponse(issCert, issCert, ocsp.Response{Status: ocsp.Good, SerialNumber: leaf.SerialNumber,
				ThisUpdate: now, NextUpdate: now.Add(96 * time.Hour), IssuerHash: crypto.SHA1}, key)
			return err
		}
	}
	var counts [3]int64
	var times [3]time.Duration
	for half := 0; half < 2; half++ {
		for side, work := range [][]func(int) error{lean, viaNetHTTP, raw} {
			n, took := run(d/2, work)
			counts[side] += n
			times[side] += took
			if e := firstErr.Load(); e != nil {
				return Result{}, e.(error)
			}
		}
	}
	perSecond := float64(counts[0]) / times[0].Seconds()
	netHTTP := float64(counts[1]) / times[1].Seconds()
	rawPerSecond := float64(counts[2]) / times[2].Seconds()
	n := counts[0]
	r := Result{What: "ocsp", Backend: a.DB.Dialect().String(), N: int(n), PerSecond: perSecond, RawPerSecond: rawPerSecond, PeakRSSBytes: PeakRSS(),
		Notes: fmt.Sprintf("GET /ocsp/<base64> for %d certificates, %d concurrent keep-alive connections, %s per side in two interleaved halves, on loopback; "+
			"the load generator runs in this process on the same cores; vetca answers from its memory (%d responses held) through its whole HTTP handler (request id, metrics, security headers); "+
			"the vetca figure is with a minimal HTTP/1.1 client that checks every answer's bytes; with net/http's client instead: %.0f/s (%.2fx raw), that client then taking most of the CPU; "+
			"raw: ocsp.CreateResponse with the issuer key on the same number of goroutines; GOMAXPROCS=%d",
			certs, concurrency, d, a.OCSP.MemoryLen(), netHTTP, netHTTP/rawPerSecond, runtime.GOMAXPROCS(0))}
	r.Ratio = r.PerSecond / r.RawPerSecond
	return r, nil
}

// leanClient is the least an HTTP/1.1 client can do: write a GET on a
// keep-alive connection, read the status line, the headers up to
// Content-Length and the body.
type leanClient struct {
	conn net.Conn
	r    *bufio.Reader
	req  []byte
	body []byte
}

func newLeanClient(addr string) (*leanClient, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &leanClient{conn: c, r: bufio.NewReaderSize(c, 8192), body: make([]byte, 0, 4096)}, nil
}

// get fetches path and checks that the answer is 200 with body want.
func (c *leanClient) get(path string, want []byte) error {
	c.req = append(append(append(c.req[:0], "GET "...), path...), " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"...)
	if _, err := c.conn.Write(c.req); err != nil {
		return err
	}
	status, err := c.r.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("%s: %q", path, bytes.TrimSpace(status))
	}
	length := -1
	for {
		line, err := c.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			if length, err = strconv.Atoi(string(bytes.TrimSpace(v))); err != nil {
				return err
			}
		}
	}
	if length < 0 || length > cap(c.body) {
		return fmt.Errorf("%s: Content-Length %d", path, length)
	}
	c.body = c.body[:length]
	if _, err := io.ReadFull(c.r, c.body); err != nil {
		return err
	}
	if !bytes.Equal(c.body, want) {
		return fmt.Errorf("%s: a different response", path)
	}
	return nil
}
