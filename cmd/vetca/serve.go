package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/vetting"
)

func newServeCmd(g *globals) *cobra.Command {
	// Flag defaults are written into their variables when the flag is
	// defined, for every command; --listen must reach the config only when
	// serving (other commands resolve the public URL from the database).
	var listen, pprofListen string
	var reconfigure, noPerspectives bool
	c := &cobra.Command{
		Use:   "serve",
		Short: "Run the API, console, public pages, CRL/OCSP and /metrics",
		Long: `serve runs every network face of vetca on one address: the JSON API under
/api/v1, the staff console (sign in at /), the public problem-report form,
/crl/..., /ocsp and /metrics.

--dev initializes the database if needed, loads demo data, prints the URL and
demo logins, (without --smtp) delivers mail to an in-process mailbox shown
in the console, and sets --allow-private-validation-targets.

Domain validation is corroborated from the remote perspectives given with
--perspective (BR §3.2.2.9, required for publicly-trusted issuance since
2025-09-15). serve refuses to start without one, unless --no-perspectives
says that this installation validates from its own network alone (tests, a
private CA); --dev implies it.

Website-change validation connects only to public addresses: loopback,
private (RFC 1918), carrier-grade NAT, link-local (cloud metadata), unique
local, multicast, documentation, benchmarking and other special-purpose
addresses are refused on every connection, redirects included, and the
attempt is stored as invalid evidence naming the address.
--allow-private-validation-targets turns that off, for tests and local
development only.

Console sign-in takes a user name (or account id) and its API token and
starts a server-side session; the cookie holds only a random session id.
Sessions end after --session-idle without a request, --session-max-age after
sign-in, at sign-out, and when their API token is revoked or rotated. Failed
sign-ins are limited per client address and per named user (429 with
Retry-After) and summarized in the audit trail. Behind a reverse proxy, name
it with --trusted-proxy so that clients are told apart by X-Forwarded-For;
otherwise every client counts as the proxy.

Certificate Problem Reports (BR §4.9.5) arrive at POST /api/v1/problem-reports
and the /report page, which publishes the BR §4.9.3 instructions and
--problem-report-email. With --cpr-smtp-listen ADDR, serve also takes reports
by mail at ADDR: the sender is the reporter, and keys, certificates and CSRs
attached (PEM or DER) or pasted in the body are the evidence. A case is
durable before the reporter is answered (202 on the API, 250 in SMTP).
serve watches the deadlines (lease cpr-deadlines): it mails --compliance-email
--cpr-alarm-lead before a preliminary report or revocation is due, records a
breach on the case when one passes unmet, carries out decided revocations
before their deadline, and exports vetca_cpr_obligations_open, _due_soon and
_breached. vetca deadlines lists the open obligations.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// Checked before anything opens: serve records the public URL,
			// which defaults to http://ADDR, at its first start.
			if err := checkListen(listen, g.cfg.PublicURL); err != nil {
				return err
			}
			g.cfg.Listen = listen
			if pprofListen != "" {
				stopProf, err := startPprof(pprofListen, g.stderr)
				if err != nil {
					return err
				}
				defer stopProf()
			}
			if err := checkPerspectives(g.cfg.Dev, g.cfg.Perspectives, noPerspectives); err != nil {
				return err
			}
			return serve(cmd.Context(), g, reconfigure)
		},
	}
	f := c.Flags()
	f.StringVar(&listen, "listen", "127.0.0.1:8080", "address to listen on")
	f.StringVar(&g.cfg.PublicURL, "public-url", "", "base URL put into certificates' CRL, OCSP and caIssuers URLs (default http://LISTEN)")
	f.StringVar(&g.cfg.SMTP, "smtp", "", "SMTP relay HOST:PORT (plain; STARTTLS when offered)")
	f.StringVar(&g.cfg.MailFrom, "mail-from", "", "sender address of vetca's mail (default vetca@PUBLIC-HOST)")
	f.StringVar(&g.cfg.ComplianceEmail, "compliance-email", "", "address told about every identity change and problem report")
	f.IntVar(&g.cfg.VerificationsRequired, "verifications-required", 2, "distinct verifiers an identity version needs (at least 2)")
	f.StringSliceVar(&g.cfg.SanctionedCountries, "sanctioned-countries", vetting.DefaultSanctioned, "ISO 3166-1 codes that need a sanctions review")
	f.BoolVar(&g.cfg.Dev, "dev", false, "initialize if needed, load demo data, print demo logins, allow private validation targets")
	addDomainFlags(f, &g.cfg)
	f.BoolVar(&noPerspectives, "no-perspectives", false, "validate domains from this host's network perspective alone, without --perspective: not BR §3.2.2.9 multi-perspective corroboration, so for tests and private CAs only (--dev implies it)")
	f.IntVar(&g.cfg.ApprovalsRequired, "approvals-required", 2, "distinct verifiers that must approve an order (at least 2; never the requester)")
	f.IntVar(&g.cfg.CRLShards, "crl-shards", 16, "CRL shards per issuer (a certificate's shard is fixed at issuance)")
	f.BoolVar(&g.cfg.NoOCSP, "no-ocsp", false, "leave the OCSP URL out of new certificates (CRLs only)")
	f.StringVar(&g.cfg.CPSPolicyOID, "cps-policy-oid", "", "the CA's own policy OID, added after 2.23.140.1.2.2")
	f.DurationVar(&g.cfg.CRLValidity, "crl-validity", 7*24*time.Hour, "nextUpdate - thisUpdate of shard CRLs (at most 240h, BR §7.2; longer than --crl-republish)")
	f.DurationVar(&g.cfg.CRLRepublish, "crl-republish", 3*24*time.Hour, "scheduled CRL republication (at most 96h, BR §4.9.7)")
	f.DurationVar(&g.cfg.OCSPValidity, "ocsp-validity", 96*time.Hour, "OCSP validity interval (8h to under 240h, BR §4.9.9)")
	f.DurationVar(&g.cfg.CheckpointEvery, "checkpoint-every", 15*time.Minute, "sign the audit chain head at least this often while it moves (to --checkpoint-dir and the database)")
	f.BoolVar(&reconfigure, "reconfigure", false, "record this replica's public URL, CAA identities, CRL shards and other settings that reach certificates as the installation's (every replica must run with the same; without this flag a replica with other settings refuses to start)")
	f.Int64Var(&g.cfg.CheckpointBurst, "checkpoint-burst", 1000, "also sign the audit chain head after this many events")
	f.DurationVar(&g.cfg.SessionIdle, "session-idle", 30*time.Minute, "sign a console session out after this long without a request (5m to 24h)")
	f.DurationVar(&g.cfg.SessionMaxAge, "session-max-age", 12*time.Hour, "sign a console session out this long after sign-in, used or not (--session-idle to 168h)")
	f.StringSliceVar(&g.cfg.TrustedProxies, "trusted-proxy", nil, "reverse proxy address or CIDR whose X-Forwarded-For names the client for the failed console sign-in limits (default: none; the TCP peer is the client)")
	f.StringVar(&g.cfg.CPRSMTPListen, "cpr-smtp-listen", "", "also take Certificate Problem Reports by mail: an SMTP listener (HOST:PORT) accepting mail to any recipient; 250 only once the case is durable")
	f.StringVar(&g.cfg.ProblemReportEmail, "problem-report-email", "", "address published on /report for Certificate Problem Reports (default problems@PUBLIC-HOST)")
	f.DurationVar(&g.cfg.CPRAlarmLead, "cpr-alarm-lead", time.Hour, "mail --compliance-email this long before a problem report deadline (1m to 23h); scheduled revocations are carried out by then at the latest")
	f.BoolVar(&g.cfg.ConfirmRevocation, "confirm-revocation", false, "a problem report's revoke decision takes effect only when a second compliance user confirms it")
	f.StringVar(&pprofListen, "pprof-listen", "", "serve Go's runtime profiles (/debug/pprof/) on this loopback HOST:PORT, for performance work")
	f.DurationVar(&g.cfg.VerifyEvery, "verify-every", time.Hour, "verify the whole audit trail this often (Prometheus gauge vetca_audit_findings; mail to --compliance-email on findings)")
	return c
}

// serve opens the app with the flags' config and runs it until SIGTERM or
// SIGINT; app.Run owns the start-up and the ordered shutdown, and the
// database closes last, when serve returns.
func serve(parent context.Context, g *globals, reconfigure bool) error {
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Once shutdown has begun, a second signal ends the process at once.
	context.AfterFunc(ctx, stop)
	a, err := g.open(ctx, app.Options{Migrate: true, Write: true, CreateAuditKey: g.cfg.Dev, Serve: true})
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.RequireAuditKey(); err != nil {
		return err
	}
	if a.Cfg.Dev {
		// Before anything is written: --dev records its own settings
		// and loads its demo, neither of which belongs in a real CA.
		if err := app.RequireDevInstallation(ctx, a); err != nil {
			return err
		}
	}
	// Every replica must run with the installation's settings that reach
	// certificates (public URL, CAA identities, profile, ...); --dev
	// always records its own.
	if err := a.RecordSettings(ctx, cliActor(), reconfigure || a.Cfg.Dev); err != nil {
		return err
	}
	var ready func(net.Addr)
	if a.Cfg.Dev {
		res, err := app.Init(ctx, a, app.InitOptions{By: cliActor(), Organization: app.DevOrganization, Country: "US"})
		if err != nil {
			return fmt.Errorf("dev init: %w", err)
		}
		demo, err := app.SeedDemo(ctx, a)
		if err != nil {
			return fmt.Errorf("dev demo data: %w", err)
		}
		// Printed once listening, so the printed URL works.
		ready = func(net.Addr) { printDev(g, a, res, demo) }
	}
	return a.Run(ctx, ready)
}

func printDev(g *globals, a *app.App, res *app.InitResult, demo *app.DemoResult) {
	if g.jsonOut {
		_ = g.printJSON(map[string]any{"url": a.Cfg.PublicURL, "init": res, "demo": demo})
		return
	}
	w := g.stdout
	fmt.Fprintf(w, "\nvetca dev server: %s  (database %s)\n", a.Cfg.PublicURL, a.DB.DSN())
	fmt.Fprintf(w, "Sign in to the console at %s/ with a user name and its token (new on every start):\n\n", a.Cfg.PublicURL)
	for _, l := range demo.Logins {
		roles := make([]string, len(l.Roles))
		for i, r := range l.Roles {
			roles[i] = string(r)
		}
		fmt.Fprintf(w, "  %-6s %-20s %s\n", l.Name, strings.Join(roles, ","), l.Token)
	}
	if demo.AccountToken != "" {
		fmt.Fprintf(w, "\nSubscriber token for account %s (Acme Widgets; sign in with the account id):\n  %s\n", demo.AccountID, demo.AccountToken)
	}
	if demo.Serial != "" {
		fmt.Fprintf(w, "\nDemo certificate %s for %s; order %s awaits two approvals (bob, carol).\n", demo.Serial, app.DemoDomain, demo.PendingOrderID)
		if demo.ProblemReportID != "" {
			fmt.Fprintf(w, "Problem report %s about it awaits the compliance desk (carol): %s/console/problem-reports/%s\n", demo.ProblemReportID, a.Cfg.PublicURL, demo.ProblemReportID)
		}
	}
	if demo.EAB != nil {
		fmt.Fprintf(w, "\nACME: template %s (approved by bob and carol) covers %s. A fresh EAB key for the account:\n  kid %s  hmacKey %s\n",
			demo.TemplateID, app.DemoDomain, demo.EAB.Kid, demo.EAB.HMACKey)
		fmt.Fprintf(w, "e.g. certbot certonly --server %s/acme/directory --eab-kid %s --eab-hmac-key=%s \\\n"+
			"       -d %s --standalone --http-01-port 8402 --agree-tos -m ops@acme-widgets.localhost \\\n"+
			"       --config-dir /tmp/vetca-certbot --work-dir /tmp/vetca-certbot --logs-dir /tmp/vetca-certbot\n",
			a.Cfg.PublicURL, demo.EAB.Kid, demo.EAB.HMACKey, app.DemoDomain)
	}
	fmt.Fprintf(w, "Anyone can report a certificate problem at %s/report", a.Cfg.PublicURL)
	if a.Cfg.CPRSMTPListen != "" {
		fmt.Fprintf(w, " or by mail to any address at %s (SMTP)", a.Cfg.CPRSMTPListen)
	}
	fmt.Fprintln(w, ".")
	fmt.Fprintf(w, "\nTry: curl -H 'Authorization: Bearer %s' %s/api/v1/organizations/%s\n", demo.Logins[1].Token, a.Cfg.PublicURL, demo.OrganizationID)
	if a.DevMail != nil {
		fmt.Fprintf(w, "Mail goes to the dev mailbox: %s/console/mail\n", a.Cfg.PublicURL)
	}
	fmt.Fprintln(w)
}

// checkListen refuses a --listen address serve could not listen on, or one
// that would make a wrong default public URL (http://ADDR, which goes into
// every certificate's CRL, OCSP and caIssuers URLs and is recorded at the
// first start): no host, or port 0, without --public-url.
func checkListen(addr, publicURL string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usageErr("--listen %q is not HOST:PORT", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return usageErr("--listen %q: the port must be a number from 1 to 65535", addr)
	}
	if publicURL == "" && (host == "" || n == 0) {
		return usageErr("--listen %q: without --public-url, certificates would name http://%s; give a host and a port, or --public-url", addr, addr)
	}
	return nil
}
