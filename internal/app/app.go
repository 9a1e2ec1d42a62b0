// Package app wires vetca together: it opens the store, builds the audit
// recorder and every domain service from one Config, and hands them to the
// HTTP server and the CLI. It holds no business rules; it is the only place
// that knows every constructor, so dependencies stay explicit everywhere
// else.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vetca/vetca/internal/account"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/auth"
	"github.com/vetca/vetca/internal/change"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/domain"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/keypolicy"
	"github.com/vetca/vetca/internal/lint"
	"github.com/vetca/vetca/internal/notify"
	"github.com/vetca/vetca/internal/notify/devmail"
	"github.com/vetca/vetca/internal/order"
	"github.com/vetca/vetca/internal/replica"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/signer"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/vetting"
	"github.com/vetca/vetca/internal/web"
)

// Config is everything a vetca process is configured with. Field names
// match the CLI flags (see cmd/vetca).
type Config struct {
	DB                    string
	Listen                string
	PublicURL             string
	SMTP                  string
	MailFrom              string
	ComplianceEmail       string
	KeyDir                string
	AuditKey              string        // the private audit key: a file path, or a pkcs11: URI
	AuditPublicKey        string        // the pinned audit public key (PEM)
	CheckpointDir         string        // where serve writes signed checkpoints
	CheckpointEvery       time.Duration // serve signs the chain head at least this often
	CheckpointBurst       int64         // ... and after this many events
	VerifyEvery           time.Duration // serve verifies the whole trail this often
	VerificationsRequired int
	SanctionedCountries   []string
	PKCS11Module          string
	PKCS11PIN             string
	Dev                   bool

	// Domain validation and CAA (docs/api.md, Domains; README.md, Configuration).
	DNSResolver        string   // HOST:PORT of the resolver every DNS query goes to
	CAAIdentities      []string // issuer domain names CAA records must name
	HTTPValidationPort int      // port website-change validation connects to
	Perspectives       []string // remote perspective URLs (BR §3.2.2.9)
	PerspectiveCert    string   // client certificate (PEM) for perspective mTLS
	PerspectiveKey     string   // its key
	PerspectiveCA      string   // CA bundle that perspectives' server certificates chain to
	// AllowPrivateValidationTargets lets website-change validation connect
	// to loopback, private and other non-public addresses, which the egress
	// policy (internal/egress) otherwise refuses. Tests and --dev only.
	AllowPrivateValidationTargets bool

	// Issuance.
	ApprovalsRequired int    // distinct verifiers per order, none the requester (default 2)
	CRLShards         int    // CRL shards per issuer (default 16)
	NoOCSP            bool   // leave the OCSP URL out of certificates
	CPSPolicyOID      string // the CA's own CPS policy OID, added after 2.23.140.1.2.2

	// Console sessions (docs/architecture.md, "Console sign-in and sessions").
	SessionIdle   time.Duration // a console session unused this long is refused (default 30m)
	SessionMaxAge time.Duration // a console session is refused this long after sign-in (default 12h)
	// TrustedProxies are reverse proxies (IP addresses or CIDR prefixes)
	// whose X-Forwarded-For header names the client that failed console
	// sign-ins count against; without them the TCP peer is the client.
	TrustedProxies []string

	// Revocation status.
	CRLValidity  time.Duration // nextUpdate - thisUpdate of shard CRLs (<= 10 days)
	CRLRepublish time.Duration // scheduled republication (<= 4 days)
	OCSPValidity time.Duration // OCSP validity interval (8 hours to 10 days)
}

// Defaults fills derived defaults: the public URL from the listen address,
// the key directory next to a SQLite database, the mail sender.
func (c *Config) Defaults() {
	if c.DB == "" {
		c.DB = store.DefaultDSN
	}
	if c.PublicURL == "" && c.Listen != "" {
		c.PublicURL = "http://" + c.Listen // serve defaults it to http://ADDR (README.md, Configuration)
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.KeyDir == "" {
		if path, ok := strings.CutPrefix(c.DB, "sqlite:"); ok {
			c.KeyDir = strings.TrimSuffix(path, filepath.Ext(path)) + "-keys"
		} else {
			c.KeyDir = "vetca-keys"
		}
	}
	if c.AuditKey == "" {
		c.AuditKey = filepath.Join(c.KeyDir, "audit.key")
	}
	if c.AuditPublicKey == "" {
		c.AuditPublicKey = filepath.Join(c.KeyDir, "audit.pub")
	}
	if c.CheckpointDir == "" {
		c.CheckpointDir = filepath.Join(c.KeyDir, "checkpoints")
	}
	if c.CheckpointEvery == 0 {
		c.CheckpointEvery = audit.DefaultCheckpointEvery
	}
	if c.CheckpointBurst == 0 {
		c.CheckpointBurst = audit.DefaultCheckpointBurst
	}
	if c.VerifyEvery == 0 {
		c.VerifyEvery = DefaultVerifyEvery
	}
	if c.VerificationsRequired == 0 {
		c.VerificationsRequired = 2
	}
	if c.ApprovalsRequired == 0 {
		c.ApprovalsRequired = 2
	}
	if c.CRLShards == 0 {
		c.CRLShards = 16
	}
	if c.CRLValidity == 0 {
		c.CRLValidity = DefaultCRLValidity
	}
	if c.CRLRepublish == 0 {
		c.CRLRepublish = DefaultCRLRepublish
	}
	if c.OCSPValidity == 0 {
		c.OCSPValidity = DefaultOCSPValidity
	}
	if c.SessionIdle == 0 {
		c.SessionIdle = auth.DefaultSessionIdle
	}
	if c.SessionMaxAge == 0 {
		c.SessionMaxAge = auth.DefaultSessionMaxAge
	}
	if c.PKCS11PIN == "" {
		c.PKCS11PIN = os.Getenv("VETCA_PKCS11_PIN")
	}
}

// mailFromDefault derives the sender from the public URL's host.
func (c *Config) mailFromDefault() {
	host := "localhost"
	if u, err := url.Parse(c.PublicURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
		if ip := net.ParseIP(host); ip != nil {
			host = "[" + host + "]"
		}
	}
	c.MailFrom = "vetca@" + host
}

// trustedProxies parses --trusted-proxy: IP addresses or CIDR prefixes.
func (c *Config) trustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range c.TrustedProxies {
		v = strings.TrimSpace(v)
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				return nil, fmt.Errorf("--trusted-proxy %q: not an IP address or CIDR prefix: %w", v, err)
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// DefaultPublicURL is used by commands other than serve when neither
// --public-url nor a recorded serving URL exists.
const DefaultPublicURL = "http://127.0.0.1:8080"

// StatusURL is the base of the CRL, OCSP and caIssuers URLs that go into
// certificates: the public URL with the http scheme. BR §7.1.2 requires
// those to be plain HTTP URLs (a relying party fetching revocation status
// must not depend on TLS, which depends on revocation status); the same
// host serves them. An https --public-url still makes console cookies
// Secure.
func (c *Config) StatusURL() string {
	u, err := url.Parse(c.PublicURL)
	if err != nil || u.Scheme != "https" {
		return c.PublicURL
	}
	u.Scheme = "http"
	return u.String()
}

// Validate checks a config.
func (c *Config) Validate() error {
	if c.PublicURL == "" {
		return nil // resolved from the recorded setting after the database opens
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("--public-url %q must be an http(s) URL with a host and no query", c.PublicURL)
	}
	if c.VerificationsRequired < 2 {
		return fmt.Errorf("--verifications-required %d: identity versions need at least 2 distinct verifiers (docs/design.md §2)", c.VerificationsRequired)
	}
	if c.ApprovalsRequired < 2 {
		return fmt.Errorf("--approvals-required %d: orders need at least 2 approvers other than the requester (docs/design.md §5)", c.ApprovalsRequired)
	}
	if c.CRLValidity > 10*24*time.Hour {
		return fmt.Errorf("--crl-validity %v: a subscriber CRL's nextUpdate is at most 10 days after thisUpdate (BR §7.2)", c.CRLValidity)
	}
	if c.CRLRepublish > 4*24*time.Hour {
		return fmt.Errorf("--crl-republish %v: CRLs are republished at least every 4 days (BR §4.9.7)", c.CRLRepublish)
	}
	if c.OCSPValidity < 8*time.Hour || c.OCSPValidity >= 10*24*time.Hour {
		return fmt.Errorf("--ocsp-validity %v: must be at least 8 hours and under 10 days (BR §4.9.9)", c.OCSPValidity)
	}
	if c.CheckpointEvery < time.Minute || c.CheckpointEvery > 24*time.Hour {
		return fmt.Errorf("--checkpoint-every %v: must be between 1m and 24h", c.CheckpointEvery)
	}
	if c.CheckpointBurst < 1 {
		return fmt.Errorf("--checkpoint-burst %d: must be at least 1", c.CheckpointBurst)
	}
	if c.VerifyEvery < time.Minute {
		return fmt.Errorf("--verify-every %v: must be at least 1m", c.VerifyEvery)
	}
	if c.SessionIdle < 5*time.Minute || c.SessionIdle > 24*time.Hour {
		return fmt.Errorf("--session-idle %v: must be between 5m and 24h", c.SessionIdle)
	}
	if c.SessionMaxAge < c.SessionIdle || c.SessionMaxAge > 7*24*time.Hour {
		return fmt.Errorf("--session-max-age %v: must be at least --session-idle (%v) and at most 168h", c.SessionMaxAge, c.SessionIdle)
	}
	if _, err := c.trustedProxies(); err != nil {
		return err
	}
	if c.CRLShards < 1 || c.CRLShards > 1<<16 {
		return fmt.Errorf("--crl-shards %d: must be 1 to 65536", c.CRLShards)
	}
	for _, cc := range c.SanctionedCountries {
		if len(cc) != 2 || strings.ToUpper(cc) != cc {
			return fmt.Errorf("--sanctioned-countries: %q is not an upper-case ISO 3166-1 code", cc)
		}
	}
	return nil
}

// SignerConfig is the PKCS#11 configuration for opening HSM keys.
func (c *Config) SignerConfig() signer.Config {
	return signer.Config{ModulePath: c.PKCS11Module, PIN: c.PKCS11PIN}
}

// App is a wired vetca instance.
type App struct {
	Cfg      Config
	DB       *store.DB
	Clock    clock.Clock
	Log      *slog.Logger
	Recorder *audit.Recorder
	// AuditKey is the private audit key, or nil in a process opened
	// without it (which can read and verify, but not write).
	AuditKey *audit.Key
	// AuditKeyCreated is set when Open generated the audit key (init).
	AuditKeyCreated bool
	// Replica names this process: it holds leases and owns the issuance
	// intents it records.
	Replica string
	// Checkpoints signs the chain head (serve); nil without the audit key.
	Checkpoints *audit.Checkpointer
	// Audit lists, exports and verifies the trail for staff and auditors.
	Audit *audit.Service
	// AuditWatch is serve's scheduled verification of the whole trail.
	AuditWatch *AuditWatch
	Metrics    *prometheus.Registry
	Outbox     *notify.Outbox
	Auth       *auth.Service
	Vetting    *vetting.Service
	Accounts   *account.Service
	Changes    *change.Service
	Domains    *domain.Service
	Engine     *issuance.Engine
	Keys       *keypolicy.Checker
	Orders     *order.Service
	// Revocation, CRLs and OCSP.
	Revocations *revocation.Service
	CRLs        *revocation.Publisher
	OCSP        *revocation.Responder
	extraLints  []lint.Option
	hooks       *issuance.Hooks
	serving     bool // Options.Serve
	// publicURLErr is set when the recorded public URL could not be trusted.
	publicURLErr error
	// DevMail is the in-process mailbox of `serve --dev`, shown in the console.
	DevMail *devmail.Box
}

// Options control Open.
type Options struct {
	Migrate bool // bring the schema up to date (init, serve); read-only commands leave it
	// Write opens the private audit key: the process may write. Without
	// it, the process reads and verifies with the pinned public key alone.
	Write bool
	// CreateAuditKey generates the audit key and pins its public half when
	// the key directory has neither (init only).
	CreateAuditKey bool
	// ExtraLints are added to the pre-issuance linter. Only tests pass
	// them (to force a lint failure); the CLI never does.
	ExtraLints []lint.Option
	// IssuanceHooks interrupt issuance at its steps. Only in-process tests
	// pass them; the CLI never does (the test build's hooks come from
	// issuance.TestHooks).
	IssuanceHooks *issuance.Hooks
	// Serve marks the process that serves (vetca serve). The warnings about
	// settings that matter only to a running CA (no CAA identity, a public
	// URL that is not a public DNS name) are logged only then, not by init,
	// user add and the other commands that open the same services.
	Serve bool
}

// Open opens the database and builds every service.
func Open(ctx context.Context, cfg Config, clk clock.Clock, log *slog.Logger, opts Options) (_ *App, err error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &App{Cfg: cfg, Clock: clk, Log: log, Replica: replica.New().String(), serving: opts.Serve}
	// On any error below, release what was opened so far, once.
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.DB, err = store.Open(ctx, cfg.DB); err != nil {
		return nil, err
	}
	db := a.DB
	if opts.Migrate {
		if _, err := db.Migrate(ctx); err != nil {
			return nil, err
		}
	}
	schema, err := store.LoadSchema(ctx, db)
	if err != nil {
		return nil, err
	}
	if _, ok := schema.Table("audit_events"); !ok {
		return nil, fmt.Errorf("database %s has no vetca schema: run `vetca init --db %s` first", db.DSN(), cfg.DB)
	}
	pub, key, created, err := openAuditKeys(ctx, cfg, db, opts.Write, opts.CreateAuditKey, log)
	if err != nil {
		return nil, err
	}
	a.AuditKey, a.AuditKeyCreated = key, created
	if a.Recorder, err = audit.NewRecorder(schema, clk, pub, key); err != nil {
		return nil, err
	}
	rec := a.Recorder
	if a.Cfg.PublicURL == "" {
		// Not serving and not given: the URL the serving process records.
		a.Cfg.PublicURL = DefaultPublicURL
		if _, ok := schema.Table("settings"); ok {
			// A settings row that fails its integrity check must not stop
			// commands such as audit verify, which reports it; commands
			// that publish URLs refuse through PublicURLError.
			v, found, err := getSetting(ctx, rec, db, SettingPublicURL)
			switch {
			case apperr.IsKind(err, apperr.KindIntegrity):
				a.publicURLErr = err
				log.Warn("the recorded public URL fails its integrity check", "err", err)
			case err != nil:
				return nil, err
			case found:
				a.Cfg.PublicURL = v
			}
		}
	}
	if a.Cfg.MailFrom == "" {
		a.Cfg.mailFromDefault()
	}
	cfg = a.Cfg
	a.Metrics = prometheus.NewRegistry()
	a.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.Outbox = notify.NewOutbox(a.Recorder, clk)
	a.Auth = auth.New(db, a.Recorder, clk, auth.WithSessions(auth.SessionConfig{Idle: cfg.SessionIdle, MaxAge: cfg.SessionMaxAge}))
	// The vetting and account services refer to each other only through
	// small interfaces: accounts confirm organizations exist, vetting asks
	// accounts who to notify.
	acc := &accountRef{}
	a.Vetting = vetting.New(db, a.Recorder, clk, a.Outbox, acc, vetting.Config{
		VerificationsRequired: cfg.VerificationsRequired,
		SanctionedCountries:   cfg.SanctionedCountries,
		ComplianceEmail:       cfg.ComplianceEmail,
	})
	a.Accounts = account.New(db, a.Recorder, clk, a.Auth, a.Vetting)
	acc.Service = a.Accounts
	a.Changes = change.New(db, a.Recorder, clk)
	if err := a.wireDomains(ctx); err != nil {
		return nil, err
	}
	a.extraLints, a.hooks = opts.ExtraLints, opts.IssuanceHooks
	if err := a.wireOrders(ctx); err != nil {
		return nil, err
	}
	a.wireRevocation()
	a.wireAudit()
	return a, nil
}

// accountRef breaks the construction cycle between vetting and account.
type accountRef struct{ *account.Service }

func (r *accountRef) ContactsForOrganization(ctx context.Context, q store.Querier, orgID string) ([]vetting.Recipient, error) {
	return r.Service.ContactsForOrganization(ctx, q, orgID)
}

// PublicURLError reports why the public URL could not be read from the
// database, if it could not; commands that publish URLs must refuse then.
func (a *App) PublicURLError() error { return a.publicURLErr }

// Close releases keys and closes the database.
func (a *App) Close() error {
	if a.Engine != nil {
		a.Engine.Close()
	}
	closeKey(a.AuditKey)
	if a.DB == nil {
		return nil
	}
	return a.DB.Close()
}

// RequireAuditKey refuses, before anything is written, in a process opened
// without the installation's audit key. Every command that writes calls it.
func (a *App) RequireAuditKey() error { return a.Recorder.CanWrite() }

// Handler builds the HTTP handler.
func (a *App) Handler() http.Handler {
	proxies, _ := a.Cfg.trustedProxies() // checked by Validate
	return web.New(web.Deps{
		Clock: a.Clock, Log: a.Log, Metrics: a.Metrics,
		PublicURL: a.Cfg.PublicURL, TrustedProxies: proxies,
		Audit: a.Audit, Auth: a.Auth, Vetting: a.Vetting, Accounts: a.Accounts, Changes: a.Changes, Domains: a.Domains,
		Orders: a.Orders, Issuers: a.Engine, Evidence: a.Domains,
		Revocations: a.Revocations, CRLs: a.CRLs, OCSP: a.OCSP,
		DevMail: a.devMail(),
	})
}

func (a *App) devMail() web.Mailbox {
	if a.DevMail == nil {
		return nil
	}
	return a.DevMail
}
