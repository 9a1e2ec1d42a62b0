package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/egress"
	"github.com/vetca/vetca/internal/mpic"
	"github.com/vetca/vetca/internal/resolver"
)

// allowPrivateUsage is the help of --allow-private-validation-targets, the
// same on `vetca serve` and `vetca perspective serve`.
const allowPrivateUsage = "let website-change validation connect to loopback, private, link-local and other non-public addresses (default: refused; for tests and local development only)"

// addDomainFlags adds the domain-validation server flags (docs/api.md,
// Domains).
func addDomainFlags(f *pflag.FlagSet, cfg *app.Config) {
	f.StringVar(&cfg.DNSResolver, "dns-resolver", "", "HOST:PORT of the DNS resolver for every DCV and CAA query (default: the first nameserver in /etc/resolv.conf)")
	f.StringArrayVar(&cfg.CAAIdentities, "caa-identity", nil, "issuer domain name that CAA issue/issuewild records must name to allow vetca (repeatable; default: the host of --public-url when it is a DNS name)")
	f.IntVar(&cfg.HTTPValidationPort, "http-validation-port", 80, "port that website-change validation connects to")
	f.BoolVar(&cfg.AllowPrivateValidationTargets, "allow-private-validation-targets", false, allowPrivateUsage+"; --dev sets it")
	f.StringArrayVar(&cfg.Perspectives, "perspective", nil, "https URL of a remote perspective (run by vetca perspective serve) for multi-perspective corroboration, BR §3.2.2.9 (repeatable)")
	f.StringVar(&cfg.PerspectiveCert, "perspective-cert", "", "client certificate (PEM) presented to remote perspectives")
	f.StringVar(&cfg.PerspectiveKey, "perspective-key", "", "key of --perspective-cert")
	f.StringVar(&cfg.PerspectiveCA, "perspective-ca", "", "CA bundle (PEM) the perspectives' server certificates chain to")
	f.StringArrayVar(&cfg.WeakKeyFiles, "weak-keys", nil, "Debian weak RSA key list (CVE-2008-0166; BR §6.1.1.3(5)(a)): one SHA-1 fingerprint of \"Modulus=HEX\\n\" per line, 40 or its last 20 hex digits, as openssl-blacklist and github.com/cabforum/Debian-weak-keys publish (repeatable; keys on a list are refused)")
}

// checkPerspectives refuses to serve without remote perspectives unless
// that is chosen (--no-perspectives) or implied (--dev): a validation
// decided from one network perspective is not the multi-perspective
// corroboration BR §3.2.2.9 requires, and by default vetca would have
// validated domains so without a word.
func checkPerspectives(dev bool, perspectives []string, without bool) error {
	switch {
	case len(perspectives) > 0 && without:
		return usageErr("--no-perspectives and --perspective exclude each other")
	case len(perspectives) > 0 || without || dev:
		return nil
	}
	return usageErr("--perspective: no remote perspective given; BR §3.2.2.9 requires domain validation to be corroborated from remote network perspectives (run them with `vetca perspective serve`). For a test installation or a private CA, say --no-perspectives")
}

// perspectiveOptions are the flags of `vetca perspective serve`.
type perspectiveOptions struct {
	listen        string
	cert, key     string
	clientCA      string
	id, region    string
	dnsResolver   string
	caaIdentities []string
	httpPort      int
	httpTimeout   time.Duration
	allowPrivate  bool
	refusePrivate bool // the former opt-in; refusing is now the default
}

// newPerspectiveCmd is `vetca perspective serve`: a remote network
// perspective for multi-perspective issuance corroboration.
func newPerspectiveCmd(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "perspective",
		Short: "Run a remote network perspective (BR §3.2.2.9)",
		Args:  cobra.NoArgs,
	}
	o := &perspectiveOptions{}
	serve := &cobra.Command{
		Use:   "serve",
		Short: "Serve DCV and CAA checks to vetca over mutual TLS",
		Long: `serve runs a remote network perspective for multi-perspective issuance
corroboration (BR §3.2.2.9). vetca serve --perspective https://ADDR asks it,
over HTTPS with mutual TLS, to repeat a DNS Change, website change or CAA
check with its own DNS resolver (no cache is shared with the primary or
with other perspectives), and stores its answer and the quorum.

The server certificate is --cert/--key; only clients whose certificate
chains to --client-ca are answered. --id and --region identify the
perspective in the evidence; the operator must place perspectives at least
500 km apart and label --region with the RIR service region they are in:
vetca counts distinct region labels, it cannot check them.

Website-change checks connect only to public addresses, under the same
egress policy as vetca serve: loopback, private, link-local and other
special-purpose addresses are refused on every connection, redirects
included. --allow-private-validation-targets turns that off, for tests only.

Once listening it prints "perspective ID (REGION) listening on
https://ADDR" (with --json, {"id","region","url","resolver"}), so
--listen 127.0.0.1:0 may pick a free port.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return servePerspective(cmd.Context(), g, o)
		},
	}
	f := serve.Flags()
	f.StringVar(&o.listen, "listen", "127.0.0.1:8443", "address to listen on (HTTPS)")
	f.StringVar(&o.cert, "cert", "", "server certificate (PEM)")
	f.StringVar(&o.key, "key", "", "key of --cert (PEM)")
	f.StringVar(&o.clientCA, "client-ca", "", "CA bundle (PEM) that vetca's client certificates must chain to")
	f.StringVar(&o.id, "id", "", "this perspective's identifier, recorded in the evidence")
	f.StringVar(&o.region, "region", "", "the RIR service region this perspective is in (e.g. ARIN, RIPE NCC, APNIC, LACNIC, AFRINIC)")
	f.StringVar(&o.dnsResolver, "dns-resolver", "", "HOST:PORT of this perspective's own DNS resolver (default: the first nameserver in /etc/resolv.conf)")
	f.StringArrayVar(&o.caaIdentities, "caa-identity", nil, "issuer domain name CAA records must name, as on the primary (repeatable)")
	f.IntVar(&o.httpPort, "http-validation-port", 80, "port that website-change checks connect to")
	f.DurationVar(&o.httpTimeout, "http-timeout", 0, "bound on one website-change check, redirects included (default 10s)")
	f.BoolVar(&o.allowPrivate, "allow-private-validation-targets", false, allowPrivateUsage)
	// Perspectives deployed with the old opt-in keep starting; it changes
	// nothing now that non-public targets are refused by default.
	// The warning is servePerspective's, on stderr: cobra prints a
	// deprecated flag's notice to the command's out writer, which is
	// stdout here (help and completion scripts go there).
	f.BoolVar(&o.refusePrivate, "refuse-non-public-addresses", false, "")
	_ = f.MarkHidden("refuse-non-public-addresses")
	c.AddCommand(serve)
	return c
}

func servePerspective(parent context.Context, g *globals, o *perspectiveOptions) error {
	if o.refusePrivate {
		fmt.Fprintf(g.stderr, "Flag --refuse-non-public-addresses has been deprecated, non-public validation targets are refused by default; %s allows them\n", egress.OverrideFlag)
	}
	for _, req := range []struct{ name, v string }{{"--cert", o.cert}, {"--key", o.key}, {"--client-ca", o.clientCA}, {"--id", o.id}, {"--region", o.region}} {
		if req.v == "" {
			return usageErr("vetca perspective serve needs %s", req.name)
		}
	}
	if len(o.caaIdentities) == 0 {
		return usageErr("vetca perspective serve needs --caa-identity (the same issuer domain names as vetca serve)")
	}
	if o.httpPort < 1 || o.httpPort > 65535 {
		return usageErr("--http-validation-port %d: must be 1 to 65535", o.httpPort)
	}
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := g.logger()

	server := o.dnsResolver
	if server == "" {
		server = app.SystemResolver("/etc/resolv.conf")
	}
	res, err := resolver.New(resolver.Config{Server: server, Clock: g.clock, Retries: resolver.DefaultRetries})
	if err != nil {
		return usageErr("--dns-resolver: %v", err)
	}
	h, err := mpic.NewServer(mpic.ServerConfig{ID: o.id, Region: o.region, Resolver: res, CAAIdentities: o.caaIdentities,
		HTTPPort: o.httpPort, HTTPTimeout: o.httpTimeout, AllowPrivateValidationTargets: o.allowPrivate, Clock: g.clock, Logger: log})
	if err != nil {
		return usageErr("%v", err)
	}
	if o.allowPrivate {
		log.Warn("website-change checks may connect to loopback, private and other non-public addresses (" + egress.OverrideFlag + "); never use it in production")
	}
	tlsCfg, err := mpic.LoadServerTLSConfig(o.cert, o.key, o.clientCA)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", o.listen, err)
	}
	srv := mpic.NewHTTPServer(ln.Addr().String(), h, tlsCfg)
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()

	url := "https://" + ln.Addr().String()
	if g.jsonOut {
		if err := g.printJSON(map[string]string{"id": o.id, "region": o.region, "url": url, "resolver": res.Server()}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(g.stdout, "perspective %s (%s) listening on %s, resolver %s\n", o.id, o.region, url, res.Server())
	}
	log.Info("perspective serving", "id", o.id, "region", o.region, "url", url, "resolver", res.Server())
	select {
	case <-ctx.Done():
		shCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(shCtx)
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}
