package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vetca/vetca/internal/account"
	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/order"
	"github.com/vetca/vetca/internal/profile"
	"github.com/vetca/vetca/internal/serial"
	"github.com/vetca/vetca/internal/vetting"
)

// IssueOptions configure the issuance benchmark.
type IssueOptions struct {
	DSN          string // sqlite:... or postgres://...; a scratch database is made next to it
	N            int
	IssuerKeyURI string // pkcs11: URI to issue through an HSM (SoftHSM2)
	PKCS11Module string
	PKCS11PIN    string
	Label        string
}

// fixture is a scratch CA with a vetted organization, an account and a
// validated domain, ready to take orders.
type fixture struct {
	a         *app.App
	dns       *dnsServer
	sub       actor.Actor
	approvers []actor.Actor
	orgID     string
	domain    string
	cleanup   func()

	// For driving a separate `vetca serve` over HTTP.
	dsn        string // the scratch database
	keyDir     string
	publicURL  string
	subToken   string
	approverTk []string
}

func newFixture(ctx context.Context, dsn string, issuerKey, module, pin string) (*fixture, error) {
	db, cleanupDB, err := Scratch(ctx, dsn)
	if err != nil {
		return nil, err
	}
	scratchDSN := db.DSN()
	db.Close()
	keys, err := os.MkdirTemp("", "vetca-bench-keys-")
	if err != nil {
		cleanupDB()
		return nil, err
	}
	d, err := startDNS()
	if err != nil {
		cleanupDB()
		return nil, err
	}
	cleanup := func() { d.close(); cleanupDB(); os.RemoveAll(keys) }
	cfg := app.Config{DB: scratchDSN, KeyDir: keys, PublicURL: benchPublicURL, DNSResolver: d.addr,
		CAAIdentities: []string{"pki.vetca-bench.com"}, PKCS11Module: module, PKCS11PIN: pin}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("VETCA_BENCH_DEBUG") == "1" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a, err := app.Open(ctx, cfg, clock.Real{}, log, app.Options{Migrate: true, Write: true, CreateAuditKey: true})
	if err != nil {
		cleanup()
		return nil, err
	}
	f := &fixture{a: a, dns: d, domain: "www.vetca-bench.com", dsn: scratchDSN, keyDir: keys, publicURL: benchPublicURL}
	f.cleanup = func() { a.Close(); cleanup() }
	cli := actor.CLIActor("bench")
	if _, err := app.Init(ctx, a, app.InitOptions{By: cli, Organization: "vetca Bench", Country: "US", IssuerKeyURI: issuerKey}); err != nil {
		f.cleanup()
		return nil, err
	}
	var staff []actor.Actor
	for i, n := range []string{"alice", "bob", "carol"} {
		u, tok, err := a.Auth.AddUser(ctx, cli, n, []actor.Role{actor.Verifier}, "")
		if err != nil {
			f.cleanup()
			return nil, err
		}
		staff = append(staff, actor.Actor{Kind: actor.Staff, ID: u.ID, Name: u.Name, Roles: u.Roles})
		if i > 0 {
			f.approverTk = append(f.approverTk, tok)
		}
	}
	f.approvers = staff[1:]
	org, _, err := a.Vetting.Create(ctx, staff[0], vetting.CreateInput{Fields: vetting.Fields{OrganizationName: "Bench Widgets Inc.",
		CountryName: "US", StateOrProvinceName: "California", LocalityName: "San Francisco"}})
	if err != nil {
		f.cleanup()
		return nil, err
	}
	for _, v := range staff[1:] {
		if _, _, err := a.Vetting.Verify(ctx, v, org.ID, 1, nil); err != nil {
			f.cleanup()
			return nil, err
		}
	}
	f.orgID = org.ID
	acc, accTok, err := a.Accounts.Create(ctx, staff[0], account.CreateInput{Name: "Bench", Organizations: []string{org.ID}})
	if err != nil {
		f.cleanup()
		return nil, err
	}
	f.sub = actor.Actor{Kind: actor.Subscriber, ID: acc.ID, AccountID: acc.ID}
	f.subToken = accTok
	v, err := a.Domains.Start(ctx, f.sub, acc.ID, f.domain, "dns-change")
	if err != nil {
		f.cleanup()
		return nil, err
	}
	d.setTXT(v.RecordName, v.RandomValue)
	if att, err := a.Domains.Validate(ctx, f.sub, acc.ID, v.ID); err != nil || att.Status != "valid" {
		f.cleanup()
		return nil, fmt.Errorf("bench domain validation: %v %+v", err, att)
	}
	return f, nil
}

// benchPublicURL is the scratch CA's public URL (never contacted).
const benchPublicURL = "http://pki.vetca-bench.com"

func csrs(n int, name string) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{name}}, k)
		if err != nil {
			return nil, err
		}
		out[i] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	}
	return out, nil
}

// Issue times order -> two approvals -> finalize -> stored certificate,
// n times, and in the same run x509.CreateCertificate + zlint on the same
// template with the same issuer key.
func Issue(ctx context.Context, o IssueOptions) (Result, error) {
	f, err := newFixture(ctx, o.DSN, o.IssuerKeyURI, o.PKCS11Module, o.PKCS11PIN)
	if err != nil {
		return Result{}, err
	}
	defer f.cleanup()
	reqs, err := csrs(o.N+5, f.domain)
	if err != nil {
		return Result{}, err
	}
	one := func(csr string) (string, error) {
		ord, err := f.a.Orders.Create(ctx, f.sub, order.CreateInput{OrganizationID: f.orgID, DNSNames: []string{f.domain}, CSR: csr})
		if err != nil {
			return "", err
		}
		for _, ap := range f.approvers {
			if _, err := f.a.Orders.Approve(ctx, ap, ord.ID, ord.SnapshotHash); err != nil {
				return "", err
			}
		}
		res, err := f.a.Orders.Finalize(ctx, f.sub, ord.ID)
		return res.PEM, err
	}
	var lastPEM string
	for i := 0; i < 5; i++ { // warm-up: keys open, throwaway issuer made
		if lastPEM, err = one(reqs[o.N+i]); err != nil {
			return Result{}, err
		}
	}
	start := time.Now()
	for i := 0; i < o.N; i++ {
		if _, err := one(reqs[i]); err != nil {
			return Result{}, err
		}
	}
	pipeline := time.Since(start)

	rawRun, err := rawIssue(ctx, f, lastPEM, o.N, 1)
	if err != nil {
		return Result{}, err
	}
	raw := rawRun.elapsed
	label := o.Label
	if label == "" {
		label = "file key"
		if o.IssuerKeyURI != "" {
			label = "PKCS#11 (" + o.IssuerKeyURI + ")"
		}
	}
	r := Result{What: "issue", Backend: f.a.DB.Dialect().String(), Signer: label, N: o.N,
		PerSecond: float64(o.N) / pipeline.Seconds(), RawPerSecond: float64(o.N) / raw.Seconds(), PeakRSSBytes: PeakRSS(),
		Notes: fmt.Sprintf("pipeline: CSR check, key policy, snapshot, 2 approvals, DCV reuse check, CAA lookup over UDP, throwaway-key lint cert + zlint, intent fsync, sign, TBS check, store; one order at a time; GOMAXPROCS=%d", runtime.GOMAXPROCS(0))}
	r.Ratio = r.PerSecond / r.RawPerSecond
	return r, nil
}

// timedRun is what a timed loop measured.
type timedRun struct {
	elapsed   time.Duration
	latencies []time.Duration
}

func (t timedRun) perSecond() float64 { return float64(len(t.latencies)) / t.elapsed.Seconds() }

// percentile is the p-th percentile (0 < p < 100) of the latencies, in
// milliseconds.
func (t timedRun) percentile(p float64) float64 {
	if len(t.latencies) == 0 {
		return 0
	}
	l := slices.Clone(t.latencies)
	slices.Sort(l)
	i := int(math.Ceil(p/100*float64(len(l)))) - 1
	i = max(0, min(i, len(l)-1))
	return float64(l[i].Microseconds()) / 1000
}

// parallel runs do(i) for i in [0, n) on c goroutines and times it,
// recording each call's latency. The first error stops the run.
func parallel(n, c int, do func(i int) error) (timedRun, error) {
	var next atomic.Int64
	lat := make([]time.Duration, n)
	errs := make(chan error, c)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := do(i); err != nil {
					errs <- err
					next.Store(int64(n))
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return timedRun{}, err
	}
	return timedRun{elapsed: elapsed, latencies: lat}, nil
}

// rawIssue is the raw cost the pipeline is compared with: the same
// certificate template as the issued certificate in issuedPEM, signed by
// the same issuer key with x509.CreateCertificate, then linted with the
// same (filtered) zlint registry, n times on c goroutines.
func rawIssue(ctx context.Context, f *fixture, issuedPEM string, n, c int) (timedRun, error) {
	blk, _ := pem.Decode([]byte(issuedPEM))
	if blk == nil {
		return timedRun{}, fmt.Errorf("raw: no certificate PEM to copy the template from")
	}
	issued, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return timedRun{}, err
	}
	iss, issCert, err := f.a.Engine.ActiveIssuer(ctx, f.a.DB)
	if err != nil {
		return timedRun{}, err
	}
	key, err := f.a.Engine.Key(ctx, iss.ID)
	if err != nil {
		return timedRun{}, err
	}
	params := profile.Params{
		Subject:  profile.Subject{CountryName: "US", StateOrProvinceName: "California", LocalityName: "San Francisco", OrganizationName: "Bench Widgets Inc."},
		DNSNames: issued.DNSNames, PublicKey: issued.PublicKey, Serial: issued.SerialNumber, NotBefore: issued.NotBefore, NotAfter: issued.NotAfter,
		Issuer: issCert, CRLDistributionPoint: issued.CRLDistributionPoints[0], CAIssuersURL: issued.IssuingCertificateURL[0], OCSPServer: first(issued.OCSPServer),
	}
	linter := f.a.Engine.Linter()
	return parallel(n, c, func(int) error {
		tmpl, err := profile.Template(params)
		if err != nil {
			return err
		}
		sn, err := serial.New(rand.Reader)
		if err != nil {
			return err
		}
		tmpl.SerialNumber = sn
		der, err := x509.CreateCertificate(rand.Reader, tmpl, issCert, issued.PublicKey, key)
		if err != nil {
			return err
		}
		_, err = linter.LintCertificate(der)
		return err
	})
}

func first(s []string) string {
	if len(s) > 0 {
		return s[0]
	}
	return ""
}
