// Package app wires vetca together: it opens the store, builds the audit
// recorder and every domain service from one Config, and hands them to the
// HTTP server and the CLI. It holds no business rules; it is the only place
// that knows every constructor, so dependencies stay explicit everywhere
// else.
package app

import (
	"context"
	"fmt"
	"github.com/vetca/vetca/internal/acme"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/vetca/vetca/internal/account"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/auth"
	"github.com/vetca/vetca/internal/change"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/cpr"
	"github.com/vetca/vetca/internal/devdns"
	"github.com/vetca/vetca/internal/eab"
	"github.com/vetca/vetca/internal/incident"
	"github.com/vetca/vetca/internal/iso3166"
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
	"github.com/vetca/vetca/internal/template"
	"github.com/vetca/vetca/internal/validation"
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
	EABSecret             string        // the installation EAB secret file (32 bytes, mode 0600)
	CheckpointDir         string        // where serve writes signed checkpoints
	CheckpointEvery       time.Duration // serve signs the chain head at least this often
	CheckpointBurst       int64         // ... and after this many events
	VerifyEvery           time.Duration // serve verifies the whole trail this often
	VerificationsRequired int
	SanctionedCountries   []string
	PKCS11Module          string
	PKCS11PIN             string
	// Dev is serve --dev: a compliance address and private validation
	// targets by default, and (Open starts them) a DNS responder answering
	// pending challenges without --dns-resolver, a mailbox without --smtp.
	Dev bool

	// Domain validation and CAA (docs/api.md, Domains; README.md, Configuration).
	DNSResolver        string   // HOST:PORT of the resolver every DNS query goes to
	CAAIdentities      []string // issuer domain names CAA records must name
	HTTPValidationPort int      // port website-change validation connects to
	Perspectives       []string // remote perspective URLs (BR §3.2.2.9)
	WeakKeyFiles       []string // Debian weak key lists (BR §6.1.1.3(5)(a)), keypolicy.ParseWeakKeys format
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

	// Intervals of serve's background loops (run.go) and how long serve
	// waits for requests in flight when it stops. They are not flags: the
	// defaults (DefaultCRLTick, ...) suit production, and tests shorten them.
	CRLTick         time.Duration // CRL publication check
	OCSPTick        time.Duration // OCSP refresh
	OCSPPollTick    time.Duration // each replica's poll for revocations made elsewhere (its memory answers for 2 ticks after one)
	OutboxTick      time.Duration // mail delivery
	CheckpointTick  time.Duration // is an audit checkpoint due?
	SignInTick      time.Duration // summaries of failed console sign-ins
	HeartbeatTick   time.Duration // renewal of this replica's lease (at most ReplicaTTL/3)
	RecoveryTick    time.Duration // recovery of gone replicas' issuances
	ShutdownTimeout time.Duration // draining of HTTP requests at shutdown
	CPRTick         time.Duration // deadline watch of problem reports

	// Problem reports (docs/design.md §12).
	ConfirmRevocation  bool          // a revoke decision needs a second compliance user
	CPRAlarmLead       time.Duration // mail compliance this long before a deadline (default 1h)
	ProblemReportEmail string        // published on /report (default problems@ the public URL's host)
	// CPRSMTPListen is where serve takes problem reports by mail
	// (--cpr-smtp-listen); empty means no mail intake.
	CPRSMTPListen string
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
	if c.EABSecret == "" {
		c.EABSecret = filepath.Join(c.KeyDir, eab.SecretFile)
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
	if c.Dev {
		if c.ComplianceEmail == "" {
			c.ComplianceEmail = "compliance@vetca.localhost"
		}
		// A laptop's test websites are on loopback or the local network.
		c.AllowPrivateValidationTargets = true
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&c.CRLTick, DefaultCRLTick}, {&c.OCSPTick, DefaultOCSPTick}, {&c.OCSPPollTick, revocation.DefaultOCSPPoll}, {&c.OutboxTick, DefaultOutboxTick},
		{&c.CheckpointTick, DefaultCheckpointTick}, {&c.SignInTick, DefaultSignInTick},
		{&c.HeartbeatTick, DefaultHeartbeatTick}, {&c.RecoveryTick, DefaultRecoveryTick},
		{&c.ShutdownTimeout, DefaultShutdownTimeout}, {&c.CPRTick, DefaultCPRTick}, {&c.CPRAlarmLead, cpr.DefaultAlarmLead},
	} {
		if *d.v == 0 {
			*d.v = d.def
		}
	}
}

// mailFromDefault derives the sender from the public URL's host.
func mailFromDefault(publicURL string) string {
	host := "localhost"
	if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
		if ip := net.ParseIP(host); ip != nil {
			host = "[" + host + "]"
		}
	}
	return "vetca@" + host
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
func (c *Config) StatusURL() string { return statusURL(c.PublicURL) }

// statusURL is base with the http scheme when it has https.
func statusURL(base string) string {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" {
		return base
	}
	u.Scheme = "http"
	return u.String()
}

// validateWhere checks the settings that say where the installation is:
// its database (--db) and its public URL.
func (c *Config) validateWhere() error {
	if c.DB != "" {
		if err := store.CheckDSN(c.DB); err != nil {
			return fmt.Errorf("--db: %w", err)
		}
	}
	if c.PublicURL == "" {
		return nil
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("--public-url %q must be an http(s) URL with a host, and no user, query or fragment", c.PublicURL)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("--public-url %q: the port must be a number from 1 to 65535", c.PublicURL)
		}
	}
	return nil
}

// Validate checks a config. An empty public URL is left to Open, which
// resolves it from the recorded setting after the database opens.
func (c *Config) Validate() error {
	if err := c.validateWhere(); err != nil {
		return err
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
	if c.CRLValidity <= c.CRLRepublish {
		return fmt.Errorf("--crl-validity %v: must be longer than --crl-republish %v, or each CRL would expire before the next is published (RFC 5280 §5.1.2.5)", c.CRLValidity, c.CRLRepublish)
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
	if c.CPRAlarmLead < time.Minute || c.CPRAlarmLead > 23*time.Hour {
		return fmt.Errorf("--cpr-alarm-lead %v: must be 1m to 23h (the shortest BR deadline is 24 hours)", c.CPRAlarmLead)
	}
	for _, cc := range c.SanctionedCountries {
		if _, ok := iso3166.LookupCountry(cc); !ok || len(cc) != 2 || strings.ToUpper(cc) != cc {
			return fmt.Errorf("--sanctioned-countries: %q is not an upper-case ISO 3166-1 code", cc)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"CRLTick", c.CRLTick}, {"OCSPTick", c.OCSPTick}, {"OCSPPollTick", c.OCSPPollTick}, {"OutboxTick", c.OutboxTick}, {"CheckpointTick", c.CheckpointTick},
		{"SignInTick", c.SignInTick}, {"HeartbeatTick", c.HeartbeatTick}, {"RecoveryTick", c.RecoveryTick},
		{"ShutdownTimeout", c.ShutdownTimeout}, {"CPRTick", c.CPRTick},
	} {
		if d.v <= 0 {
			return fmt.Errorf("%s %v: must be positive", d.name, d.v)
		}
	}
	if c.HeartbeatTick > ReplicaTTL/3 {
		// Two missed renewals must not let the lease lapse under a live
		// replica, whose issuances in flight would then be recovered.
		return fmt.Errorf("HeartbeatTick %v: must be at most %v (a third of the replica lease)", c.HeartbeatTick, ReplicaTTL/3)
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
	// Migrated is what Open's migration did (Options.Migrate), for init
	// to report.
	Migrated store.MigrationResult
	// Replica names this process: it holds leases and owns the issuance
	// intents it records.
	Replica string
	// Checkpoints signs the chain head (serve); nil without the audit key.
	Checkpoints *audit.Checkpointer
	// Sealer chains PostgreSQL audit events after they commit; nil in a
	// process without the audit key.
	Sealer *audit.Sealer
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
	Domains    *validation.Service
	Engine     *issuance.Engine
	Keys       *keypolicy.Checker
	Orders     *order.Service
	// Revocation, CRLs and OCSP.
	Revocations *revocation.Service
	CRLs        *revocation.Publisher
	OCSP        *revocation.Responder
	// CPR is the problem-report desk; CPRWatch its deadline watch in serve.
	CPR      *cpr.Service
	CPRWatch *CPRWatch
	// Incidents keeps incidents; its deadline watch runs in serve.
	Incidents *incident.Service
	// EAB keeps External Account Binding keys; Templates the issuance
	// templates approved for ACME (wireACME).
	EAB       *eab.Service
	Templates *template.Service
	// ACME is the RFC 8555 server (wireACMEServer).
	ACME   *acme.Service
	serves bool // Options.Serve: warnings that matter only to a running CA are logged
	// publicURLErr is set when the recorded public URL could not be trusted.
	publicURLErr error
	// DevMail is the in-process mailbox of `serve --dev`, shown in the console.
	DevMail *devmail.Box
	// devDNS is the DNS responder of `serve --dev`, or nil.
	devDNS *devdns.Server
	// serving is set by Run: Close then reports the database's closing as
	// the last step of the shutdown.
	serving   atomic.Bool
	closeOnce sync.Once
	closeErr  error
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

// Open opens the database and builds every service. Everything the
// process is configured with is resolved here, before any service is built:
// the public URL recorded by serve (when none is given), the mail sender
// and, with Dev, the dev DNS responder and mailbox. a.Cfg is final when Open
// returns, and nothing writes it afterwards.
func Open(ctx context.Context, cfg Config, clk clock.Clock, log *slog.Logger, opts Options) (_ *App, err error) {
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &App{Clock: clk, Log: log, Replica: replica.New().String(), serves: opts.Serve}
	// On any error below, release what was opened so far, once.
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.DB, err = store.Open(ctx, cfg.DB); err != nil {
		return nil, err
	}
	schema, pub, err := a.migrate(ctx, cfg, opts)
	if err != nil {
		return nil, err
	}
	if a.Recorder, err = audit.NewRecorder(schema, clk, pub, a.AuditKey); err != nil {
		return nil, err
	}
	if a.Cfg, err = a.resolve(ctx, cfg, schema); err != nil {
		return nil, err
	}
	if err := a.wire(ctx, opts); err != nil {
		return nil, err
	}
	return a, nil
}

// migrate opens the audit keys (into a.AuditKey) and, with opts.Migrate,
// migrates the schema, and returns the schema and the public key to check
// against. The keys of a database with an audit trail are checked against
// it before the migration, which is a write: a command refused for its
// keys (another installation's, or none) leaves the database as it was.
func (a *App) migrate(ctx context.Context, cfg Config, opts Options) (*store.Schema, *audit.PublicKey, error) {
	db := a.DB
	before, err := store.LoadSchema(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	events, begun := before.Table("audit_events")
	if opts.Migrate && !opts.CreateAuditKey && !begun {
		// serve brings an installation's schema up to date, but only
		// init (or serve --dev, which initializes) makes one: a database
		// with no vetca schema is refused before anything is written.
		return nil, nil, fmt.Errorf("database %s has no vetca schema: run `vetca init` with this --db first", db.DSN())
	}
	var pub *audit.PublicKey
	keysFirst := begun && events.Has("key_id")
	if keysFirst {
		// A newer vetca's schema is refused before the keys are opened
		// (and pinned) too.
		if err := db.CheckVersion(ctx); err != nil {
			return nil, nil, err
		}
		if pub, a.AuditKey, a.AuditKeyCreated, err = openAuditKeys(ctx, cfg, db, opts.Write, opts.CreateAuditKey, a.Log); err != nil {
			return nil, nil, err
		}
		if opts.Migrate && opts.Write && a.AuditKey == nil {
			// init and serve would refuse after the migration.
			return nil, nil, fmt.Errorf("%w: %s holds none, and the schema of %s is not migrated without it", audit.ErrNoAuditKey, cfg.AuditKey, db.DSN())
		}
	}
	if opts.Migrate {
		if a.Migrated, err = db.Migrate(ctx); err != nil {
			return nil, nil, err
		}
	}
	schema, err := store.LoadSchema(ctx, db)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := schema.Table("audit_events"); !ok {
		return nil, nil, fmt.Errorf("database %s has no vetca schema: run `vetca init` with this --db first", db.DSN())
	}
	if err := db.CheckVersion(ctx); err != nil {
		return nil, nil, err
	}
	if !opts.Migrate {
		if err := db.CheckUpToDate(ctx); err != nil {
			return nil, nil, err
		}
	}
	if !keysFirst {
		if pub, a.AuditKey, a.AuditKeyCreated, err = openAuditKeys(ctx, cfg, db, opts.Write, opts.CreateAuditKey, a.Log); err != nil {
			return nil, nil, err
		}
	}
	return schema, pub, nil
}

// resolve completes cfg with what needs the open database or starts
// something: the public URL, the mail sender, and the dev DNS responder
// and mailbox of serve --dev (kept in a, which closes them).
func (a *App) resolve(ctx context.Context, cfg Config, schema *store.Schema) (Config, error) {
	if cfg.PublicURL == "" {
		// Not serving and not given: the URL the serving process records.
		cfg.PublicURL = DefaultPublicURL
		if _, ok := schema.Table("settings"); ok {
			// A settings row that fails its integrity check must not stop
			// commands such as audit verify, which reports it; commands
			// that publish URLs refuse through PublicURLError.
			v, found, err := getSetting(ctx, a.Recorder, a.DB, SettingPublicURL)
			switch {
			case apperr.IsKind(err, apperr.KindIntegrity):
				a.publicURLErr = err
				a.Log.Warn("the recorded public URL fails its integrity check", "err", err)
			case err != nil:
				return cfg, err
			case found:
				cfg.PublicURL = v
			}
		}
	}
	if cfg.MailFrom == "" {
		cfg.MailFrom = mailFromDefault(cfg.PublicURL)
	}
	if cfg.ProblemReportEmail == "" {
		cfg.ProblemReportEmail = problemReportEmailDefault(cfg.PublicURL)
	}
	if cfg.Dev && cfg.DNSResolver == "" {
		// A DNS responder that answers pending challenges from the
		// database, so domains validate on a laptop with no DNS of its own.
		db := a.DB
		dd, err := devdns.Start(func(ctx context.Context, name string) ([]string, error) {
			return validation.PendingChallengeValues(ctx, db, name)
		})
		if err != nil {
			return cfg, fmt.Errorf("dev DNS: %w", err)
		}
		a.devDNS, cfg.DNSResolver = dd, dd.Addr()
	}
	if cfg.Dev && cfg.SMTP == "" {
		box, err := devmail.Start()
		if err != nil {
			return cfg, fmt.Errorf("dev mailbox: %w", err)
		}
		a.DevMail, cfg.SMTP = box, box.Addr()
	}
	return cfg, nil
}

// wire builds every service from the final a.Cfg in dependency order, each
// given what it needs through its constructor.
func (a *App) wire(ctx context.Context, opts Options) error {
	cfg, db, rec, clk := a.Cfg, a.DB, a.Recorder, a.Clock
	a.Metrics = prometheus.NewRegistry()
	a.Metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a.Outbox = notify.NewOutbox(rec, clk)
	a.Auth = auth.New(db, rec, clk, auth.WithSessions(auth.SessionConfig{Idle: cfg.SessionIdle, MaxAge: cfg.SessionMaxAge}))
	// Vetting asks account whom to notify, and accounts ask vetting whether
	// an organization exists. What vetting needs is a read of account's
	// tables that stands on its own, so it is built first and both services
	// are complete when constructed. The templates' watch on new verified
	// versions likewise needs only the recorder and the clock, so vetting
	// voids template approvals in the transaction that verifies a version.
	// Orders are built later (they read vetting); ordersWatch reaches
	// a.Orders when a version is verified, after wire has finished.
	a.Vetting = vetting.New(db, rec, clk, a.Outbox, account.NewRecipients(rec), a.Auth, vetting.Config{
		VerificationsRequired: cfg.VerificationsRequired,
		SanctionedCountries:   cfg.SanctionedCountries,
		ComplianceEmail:       cfg.ComplianceEmail,
	}, template.NewVersionWatch(rec, clk), ordersWatch{a})
	a.Accounts = account.New(db, rec, clk, a.Auth, a.Vetting)
	if err := a.wireACME(opts); err != nil {
		return err
	}
	a.Changes = change.New(db, rec, clk, a.Auth)
	if err := a.wireDomains(ctx); err != nil {
		return err
	}
	if err := a.wireOrders(opts.ExtraLints, opts.IssuanceHooks); err != nil {
		return err
	}
	a.wireRevocation()
	a.wireCPR()
	a.wireIncidents()
	a.wireACMEServer()
	a.wireAudit()
	return nil
}

// PublicURLError reports why the public URL could not be read from the
// database, if it could not; commands that publish URLs must refuse then.
func (a *App) PublicURLError() error { return a.publicURLErr }

// Close releases keys and the dev servers and closes the database, last;
// a second call does nothing. A serving App is closed after Run returns,
// when no loop or request is left to touch the database.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		if a.Engine != nil {
			a.Engine.Close()
		}
		if a.devDNS != nil {
			a.devDNS.Close() // it reads the database
		}
		if a.DevMail != nil {
			_ = a.DevMail.Close()
		}
		if a.DB == nil {
			closeKey(a.AuditKey)
			return
		}
		if a.Sealer != nil {
			// Seal what this process wrote, so that a command run without
			// any serve leaves a chained trail (PostgreSQL).
			// Bounded: a long transaction elsewhere in the database delays
			// sealing, and a serve replica seals what is left.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := a.Sealer.SealAll(ctx); err != nil {
				a.Log.Warn("audit events left unsealed; a serve replica seals them", "err", err)
			}
			cancel()
		}
		closeKey(a.AuditKey)
		if a.closeErr = a.DB.Close(); a.closeErr != nil {
			a.Log.Error("database not closed cleanly", "err", a.closeErr)
			return
		}
		lvl := slog.LevelDebug
		if a.serving.Load() {
			lvl = slog.LevelInfo
		}
		a.Log.Log(context.Background(), lvl, "database closed")
	})
	return a.closeErr
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
		ProblemReports: a.CPR, ProblemReportEmail: a.Cfg.ProblemReportEmail, Incidents: a.Incidents,
		Templates: a.Templates, EAB: a.EAB, ACME: a.ACME,
		DevMail: a.devMail(),
	})
}

func (a *App) devMail() web.Mailbox {
	if a.DevMail == nil {
		return nil
	}
	return a.DevMail
}
