package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// IssueHTTPOptions configure the issuance benchmark that drives a real
// `vetca serve` over HTTP.
type IssueHTTPOptions struct {
	DSN         string // sqlite:... or postgres://...; a scratch database is made next to it
	N           int    // certificates per measured phase
	Concurrency int    // concurrent HTTP clients (and raw goroutines)
	Binary      string // the vetca executable to run `serve` from
	Log         io.Writer
}

// IssueHTTP sets up a scratch CA (a vetted organization, an account, a
// validated domain), starts `vetca serve` on it on a loopback port, and
// drives it with Concurrency HTTP clients:
//
//   - "issue": the full flow per certificate: POST order, two POST
//     approve by two verifiers, POST finalize;
//   - "issue-finalize": finalize alone, on orders created and approved
//     beforehand.
//
// In the same run it measures the raw cost (x509.CreateCertificate + the
// same zlint filter on the same template and key) on Concurrency
// goroutines. Latencies are per certificate (the whole flow, or the
// finalize call).
func IssueHTTP(ctx context.Context, o IssueHTTPOptions) ([]Result, error) {
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	f, err := newFixture(ctx, o.DSN, "", "", "")
	if err != nil {
		return nil, err
	}
	defer f.cleanup()
	backend := f.a.DB.Dialect().String()
	srv, err := startServe(ctx, o.Binary, f, o.Log)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	c := &client{base: srv.url, http: &http.Client{Timeout: 60 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: o.Concurrency, MaxConnsPerHost: o.Concurrency}}}

	warm := 2 * o.Concurrency
	reqs, err := csrs(2*o.N+warm, f.domain)
	if err != nil {
		return nil, err
	}
	approved := func(csr string) (string, error) {
		id, hash, err := c.order(f, csr)
		if err != nil {
			return "", err
		}
		for _, tok := range f.approverTk {
			if err := c.post(tok, "/api/v1/orders/"+id+"/approve", map[string]any{"snapshotHash": hash}, 200, nil); err != nil {
				return "", err
			}
		}
		return id, nil
	}
	var lastPEM atomic.Pointer[string] // any issued certificate: raw copies its template
	full := func(csr string) error {
		id, err := approved(csr)
		if err != nil {
			return err
		}
		pemText, err := c.finalize(f, id)
		lastPEM.Store(&pemText)
		return err
	}
	fmt.Fprintf(o.Log, "bench issue (%s): warming up\n", backend)
	if _, err := parallel(warm, o.Concurrency, func(i int) error { return full(reqs[2*o.N+i]) }); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	fmt.Fprintf(o.Log, "bench issue (%s): full flow, %d certificates, %d clients\n", backend, o.N, o.Concurrency)
	flow, err := parallel(o.N, o.Concurrency, func(i int) error { return full(reqs[i]) })
	if err != nil {
		return nil, fmt.Errorf("full flow: %w", err)
	}
	fmt.Fprintf(o.Log, "bench issue (%s): preparing %d approved orders\n", backend, o.N)
	ids := make([]string, o.N)
	if _, err := parallel(o.N, o.Concurrency, func(i int) error {
		id, err := approved(reqs[o.N+i])
		ids[i] = id
		return err
	}); err != nil {
		return nil, fmt.Errorf("preparing orders: %w", err)
	}
	fmt.Fprintf(o.Log, "bench issue (%s): finalize alone, %d certificates, %d clients\n", backend, o.N, o.Concurrency)
	fin, err := parallel(o.N, o.Concurrency, func(i int) error {
		_, err := c.finalize(f, ids[i])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("finalize: %w", err)
	}
	fmt.Fprintf(o.Log, "bench issue (%s): raw, %d certificates, %d goroutines\n", backend, o.N, o.Concurrency)
	raw, err := rawIssue(ctx, f, *lastPEM.Load(), o.N, o.Concurrency)
	if err != nil {
		return nil, fmt.Errorf("raw: %w", err)
	}
	rss, err := srv.stop()
	if err != nil {
		return nil, err
	}
	notes := fmt.Sprintf("`vetca serve` on loopback, %d HTTP clients in the bench process; raw on %d goroutines; GOMAXPROCS=%d", o.Concurrency, o.Concurrency, runtime.GOMAXPROCS(0))
	mk := func(what string, t timedRun, detail string) Result {
		r := Result{What: what, Backend: backend, Signer: "file key", N: o.N, PerSecond: t.perSecond(), RawPerSecond: raw.perSecond(),
			PeakRSSBytes: rss, Notes: detail + "; " + notes, Concurrency: o.Concurrency,
			P50Ms: t.percentile(50), P99Ms: t.percentile(99), RawP50Ms: raw.percentile(50), RawP99Ms: raw.percentile(99)}
		r.Ratio = r.PerSecond / r.RawPerSecond
		return r
	}
	return []Result{
		mk("issue", flow, "full flow: order, two approvals, finalize (CAA over UDP, lint, intent, sign, store)"),
		mk("issue-finalize", fin, "finalize alone, on approved orders"),
	}, nil
}

// served is a `vetca serve` child process.
type served struct {
	cmd  *exec.Cmd
	url  string
	logs *bytes.Buffer
	done chan error
}

// startServe runs `vetca serve` on the fixture's scratch database and key
// directory, on a free loopback port, and waits until it answers.
func startServe(ctx context.Context, bin string, f *fixture, log io.Writer) (*served, error) {
	if bin == "" {
		return nil, errors.New("bench issue: no vetca executable to run serve from")
	}
	// The fixture's in-process app set the installation up; it stays open
	// (idle: it runs no background work) for the raw measurement.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.CommandContext(ctx, bin, "serve", "--db", f.dsn, "--key-dir", f.keyDir, "--listen", addr,
		"--public-url", f.publicURL, "--dns-resolver", f.dns.addr, "--caa-identity", "pki.vetca-bench.com", "--log-level", "warn",
		"--no-perspectives") // the scratch installation validates nothing over the network
	if p := os.Getenv("VETCA_BENCH_PPROF"); p != "" {
		cmd.Args = append(cmd.Args, "--pprof-listen", p)
	}
	cmd.Env = scratchEnv()
	s := &served{cmd: cmd, url: "http://" + addr, logs: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = s.logs, s.logs
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s serve: %w", bin, err)
	}
	go func() { s.done <- cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.cmd = nil
			return nil, fmt.Errorf("vetca serve exited (%v):\n%s", err, s.logs)
		default:
		}
		resp, err := http.Get(s.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("vetca serve did not become ready:\n%s", s.logs)
}

// scratchEnv is the environment of a vetca child process that runs on a
// scratch installation: this process's, without its VETCA_* variables. They
// are the operator's settings of the real installation (its checkpoint
// directory, audit key, SMTP relay, remote perspectives, config file),
// which a child given only the scratch flags would otherwise take up and
// write to or talk to.
func scratchEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VETCA_") {
			env = append(env, kv)
		}
	}
	return env
}

// stop interrupts serve, waits for it, and returns its peak RSS.
func (s *served) stop() (int64, error) {
	if s.cmd == nil {
		return 0, nil
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	var rss int64
	if ru, ok := s.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss * 1024
	}
	s.cmd = nil
	return rss, nil
}

// client speaks vetca's JSON API.
type client struct {
	base string
	http *http.Client
}

func (c *client) post(token, path string, body any, want int, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequest(http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("POST %s: HTTP %d: %s", path, resp.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func (c *client) order(f *fixture, csr string) (id, hash string, err error) {
	var o struct {
		ID           string `json:"id"`
		SnapshotHash string `json:"snapshotHash"`
	}
	err = c.post(f.subToken, "/api/v1/orders", map[string]any{"organizationId": f.orgID, "dnsNames": []string{f.domain}, "csr": csr}, 201, &o)
	return o.ID, o.SnapshotHash, err
}

func (c *client) finalize(f *fixture, id string) (string, error) {
	var r struct {
		Certificate string `json:"certificate"`
	}
	err := c.post(f.subToken, "/api/v1/orders/"+id+"/finalize", map[string]any{}, 200, &r)
	return r.Certificate, err
}
