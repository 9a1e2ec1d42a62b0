package issuance

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"strings"
	"sync"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/ids"
	"github.com/vetca/vetca/internal/keypolicy"
	"github.com/vetca/vetca/internal/lint"
	"github.com/vetca/vetca/internal/profile"
	"github.com/vetca/vetca/internal/revocation/crl"
	"github.com/vetca/vetca/internal/serial"
	"github.com/vetca/vetca/internal/signer"
	"github.com/vetca/vetca/internal/store"
)

// IntentStatus is where an issuance intent stands.
type IntentStatus string

// Intent statuses.
const (
	IntentPending   IntentStatus = "pending"   // recorded; the real key may or may not have signed
	IntentIssued    IntentStatus = "issued"    // the certificate is stored
	IntentAbandoned IntentStatus = "abandoned" // resolved without a stored certificate; the serial is answered as revoked
)

// CertStatus is a stored certificate's status.
type CertStatus string

// Certificate statuses.
const (
	CertValid   CertStatus = "valid"
	CertRevoked CertStatus = "revoked"
)

// Intent is an issuance intent: recorded durably before the real key signs
// anything, so no signed certificate can exist that the database does not
// know (docs/design.md §6).
type Intent struct {
	ID         string       `db:"id" json:"id"`
	Serial     string       `db:"serial" json:"serial"`
	OrderID    string       `db:"order_id" json:"orderId"`
	IssuerID   string       `db:"issuer_id" json:"issuerId"`
	TBSSHA256  string       `db:"tbs_sha256" json:"tbsSha256"`
	LintCert   string       `db:"lint_cert" json:"-"` // PEM of the linted certificate (throwaway-key signature)
	Shard      int          `db:"shard" json:"shard"`
	CRLURL     string       `db:"crl_url" json:"crlUrl"`
	NotBefore  time.Time    `db:"not_before" json:"notBefore"`
	NotAfter   time.Time    `db:"not_after" json:"notAfter"`
	Status     IntentStatus `db:"status" json:"status"`
	CreatedAt  time.Time    `db:"created_at" json:"createdAt"`
	ResolvedAt *time.Time   `db:"resolved_at" json:"resolvedAt,omitempty"`
	Resolution string       `db:"resolution" json:"resolution,omitempty"`
	Owner      string       `db:"owner" json:"owner,omitempty"` // the replica that recorded it and signs it
}

// Certificate is an issued certificate in the inventory.
type Certificate struct {
	ID                  string     `db:"id" json:"-"`
	Serial              string     `db:"serial" json:"serial"`
	OrderID             string     `db:"order_id" json:"orderId"`
	AccountID           string     `db:"account_id" json:"accountId"`
	OrganizationID      string     `db:"organization_id" json:"organizationId"`
	OrganizationVersion int        `db:"organization_version" json:"organizationVersion"`
	IssuerID            string     `db:"issuer_id" json:"issuerId"`
	Profile             string     `db:"profile" json:"profile"`
	Subject             string     `db:"subject" json:"subject"`
	DNSNames            []string   `db:"dns_names,json" json:"dnsNames"`
	SPKISHA256          string     `db:"spki_sha256" json:"spkiSha256"`
	CertSHA256          string     `db:"cert_sha256" json:"sha256"`
	Shard               int        `db:"shard" json:"crlShard"`
	CRLURL              string     `db:"crl_url" json:"crlUrl"`
	NotBefore           time.Time  `db:"not_before" json:"notBefore"`
	NotAfter            time.Time  `db:"not_after" json:"notAfter"`
	PEM                 string     `db:"pem" json:"pem"`
	Status              CertStatus `db:"status" json:"status"`
	CreatedAt           time.Time  `db:"created_at" json:"issuedAt"`
}

// X509 parses the certificate.
func (c Certificate) X509() (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(c.PEM))
	if b == nil {
		return nil, fmt.Errorf("certificate %s: not PEM", c.Serial)
	}
	return x509.ParseCertificate(b.Bytes)
}

// EngineConfig configures issuance.
type EngineConfig struct {
	PublicURL    string // base of caIssuers, CRL and OCSP URLs
	CRLShards    int    // CRL shards per issuer; a certificate's shard is fixed at issuance
	OCSP         bool   // put the OCSP URL into certificates
	CPSPolicyOID string // optional CA policy OID after 2.23.140.1.2.2
	Signer       signer.Config
	Replica      string // this replica's id: it owns the intents it records
}

// Hooks are test-only interruption points (see testhooks_on.go). The
// shipped binary never sets them.
type Hooks struct {
	AfterIntent func() // after the intent is committed, before the real key signs
	AfterSign   func() // after the real key signed, before the certificate is stored
	AfterStore  func() // after the certificate is stored
	// StoreFails, when set, makes each attempt of the store step fail
	// while it returns true (tests of resolution without a restart).
	StoreFails func() bool
}

// Engine prepares, records, signs and stores certificates.
type Engine struct {
	db     *store.DB
	rec    *audit.Recorder
	tab    tables
	clk    clock.Clock
	linter *lint.Linter
	cfg    EngineConfig
	hooks  Hooks
	log    *slog.Logger

	mu     sync.Mutex
	keys   map[string]*heldKey
	failed map[string]keyFailure // the last failure to open an issuer's key

	// inFlight holds the serials whose intents this process recorded and
	// is still signing or storing; recovery leaves them alone.
	flightMu sync.Mutex
	inFlight map[string]bool

	// parsed caches issuer certificates parsed from their exact PEM
	// (string -> *x509.Certificate): the rows are read, integrity-checked,
	// every time; only the parse is saved.
	parsed sync.Map
}

// certificate returns iss's parsed certificate.
func (e *Engine) certificate(iss Issuer) (*x509.Certificate, error) {
	if c, ok := e.parsed.Load(iss.CertPEM); ok {
		return c.(*x509.Certificate), nil
	}
	c, err := iss.Certificate()
	if err != nil {
		return nil, err
	}
	e.parsed.Store(iss.CertPEM, c)
	return c, nil
}

// NewEngine returns an issuance engine.
func NewEngine(db *store.DB, rec *audit.Recorder, clk clock.Clock, linter *lint.Linter, cfg EngineConfig, hooks Hooks, log *slog.Logger) *Engine {
	if cfg.CRLShards <= 0 {
		cfg.CRLShards = 16
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return &Engine{db: db, rec: rec, tab: newTables(rec), clk: clk, linter: linter, cfg: cfg, hooks: hooks, log: log, keys: map[string]*heldKey{}, failed: map[string]keyFailure{}, inFlight: map[string]bool{}}
}

// Config returns the engine's configuration.
func (e *Engine) Config() EngineConfig { return e.cfg }

// Linter returns the pre-issuance linter.
func (e *Engine) Linter() *lint.Linter { return e.linter }

// Close releases opened keys.
func (e *Engine) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, k := range e.keys {
		_ = k.Close()
		delete(e.keys, id)
	}
}

// ActiveIssuer is the issuing CA new certificates come from: the newest
// intermediate that is still valid.
func (e *Engine) ActiveIssuer(ctx context.Context, q store.Querier) (Issuer, *x509.Certificate, error) {
	all, err := ListIssuers(ctx, e.rec, q)
	if err != nil {
		return Issuer{}, nil, err
	}
	now := e.clk.Now()
	for i := len(all) - 1; i >= 0; i-- {
		iss := all[i]
		if iss.Kind != KindIntermediate || !iss.NotAfter.After(now) {
			continue
		}
		cert, err := e.certificate(iss)
		if err != nil {
			return Issuer{}, nil, err
		}
		return iss, cert, nil
	}
	return Issuer{}, nil, apperr.Unavailable(apperr.CodeNoIssuer, apperr.NoField, "there is no valid issuing CA; run `vetca init`")
}

// CAIssuersURL is where an issuer's certificate is published.
func (e *Engine) CAIssuersURL(issuerID string) string { return CACertURL(e.cfg.PublicURL, issuerID) }

// OCSPURL is the responder URL put into certificates, or "".
func (e *Engine) OCSPURL() string {
	if !e.cfg.OCSP {
		return ""
	}
	return e.cfg.PublicURL + "/ocsp"
}

// CRLBase is the base the shard URLs are built from.
func (e *Engine) CRLBase() string { return e.cfg.PublicURL }

// Issuers lists every issuer, integrity-checked, for staff
// (GET /api/v1/issuers).
func (e *Engine) Issuers(ctx context.Context, by actor.Actor) ([]Issuer, error) {
	if !by.IsStaff() {
		return nil, apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "staff only")
	}
	return ListIssuers(ctx, e.rec, e.db)
}

// PublishedIssuer returns one issuer, integrity-checked, for its published
// certificate (AIA caIssuers, GET /ca/{id}.crt). CA certificates are
// public, so it takes no actor.
func (e *Engine) PublishedIssuer(ctx context.Context, id string) (Issuer, error) {
	return GetIssuer(ctx, e.rec, e.db, id)
}

// Request is what a certificate is prepared from: the snapshot's values.
type Request struct {
	Issuer       Issuer
	IssuerCert   *x509.Certificate
	Subject      profile.Subject
	DNSNames     []string
	PublicKey    any
	ValidityDays int
	// Expected are the subjects the certificate must equal attribute for
	// attribute: the approved snapshot's and the currently verified
	// organization version's.
	Expected []profile.Subject
}

// Prepared is a linted certificate ready for its intent and signature.
type Prepared struct {
	prep      *profile.Prepared
	Serial    *big.Int
	SerialHex string
	Shard     int
	CRLURL    string
	IssuerID  string
	NotBefore time.Time
	NotAfter  time.Time
	TBSHash   string
	// IntentID is the id of the intent RecordIntent recorded for it.
	IntentID string
}

// LintFailure is the error of a certificate that failed pre-issuance lints.
type LintFailure struct {
	Lints []string
	Err   error
}

func (l *LintFailure) Error() string {
	return "pre-issuance lint failed: " + strings.Join(l.Lints, ", ") + ": " + l.Err.Error()
}

func (l *LintFailure) Unwrap() error { return l.Err }

// Prepare picks a serial and shard, builds the to-be-signed certificate
// from the OV profile, signs a linting copy with a throwaway key under a
// throwaway issuer with the real issuer's name and key id, and lints it
// with zlint and vetca's lints (docs/design.md §6, BR §4.3.1.2).
func (e *Engine) Prepare(ctx context.Context, r Request) (*Prepared, error) {
	sn, err := serial.New(rand.Reader)
	if err != nil {
		return nil, err
	}
	now := e.clk.Now().UTC().Truncate(time.Second)
	notAfter, err := br.NotAfter(now, now, r.ValidityDays)
	if err != nil {
		return nil, err
	}
	// A certificate must not outlive its issuing CA: once the CA expires no
	// path to the certificate validates (RFC 5280 §6.1.3(a)(2), BR §7.1.2).
	if r.IssuerCert != nil && notAfter.After(r.IssuerCert.NotAfter) {
		return nil, apperr.Unavailable(apperr.CodeNoIssuer, apperr.NoField,
			"issuing CA %s expires at %s, before the certificate's notAfter %s; create a new issuing CA with `vetca ceremony intermediate`",
			r.Issuer.ID, r.IssuerCert.NotAfter.UTC().Format(time.RFC3339), notAfter.Format(time.RFC3339))
	}
	shard := crl.ShardFor(sn, e.cfg.CRLShards)
	crlURL := crl.ShardURL(e.CRLBase(), r.Issuer.ID, shard)
	params := profile.Params{
		Subject: r.Subject, DNSNames: r.DNSNames, PublicKey: r.PublicKey, Serial: sn,
		NotBefore: now, NotAfter: notAfter, Issuer: r.IssuerCert,
		CRLDistributionPoint: crlURL,
		CAIssuersURL:         e.CAIssuersURL(r.Issuer.ID),
		OCSPServer:           e.OCSPURL(),
		CPSPolicyOID:         e.cfg.CPSPolicyOID,
	}
	prep, err := profile.Prepare(params, r.IssuerCert, e.linter, r.Expected...)
	if err != nil {
		var le *lint.Error
		if errors.As(err, &le) {
			return nil, &LintFailure{Lints: le.Lints(), Err: err}
		}
		return nil, err
	}
	h := prep.TBSHash()
	return &Prepared{prep: prep, Serial: sn, SerialHex: serial.Hex(sn), Shard: shard, CRLURL: crlURL, IssuerID: r.Issuer.ID,
		NotBefore: now, NotAfter: notAfter, TBSHash: hex.EncodeToString(h[:])}, nil
}

// RecordIntent durably records, in the caller's transaction, that the
// prepared certificate is about to be signed: serial, TBS hash, order,
// shard, the linted certificate and the replica that owns it. The caller
// commits before Sign, and calls Land once the serial is stored or given
// up. A second live intent for the same order is refused (409): an order
// is signed at most once.
func (e *Engine) RecordIntent(ctx context.Context, tx *store.Tx, by actor.Actor, orderID string, p *Prepared) (Intent, error) {
	in := Intent{
		ID: ids.New("int"), Serial: p.SerialHex, OrderID: orderID, IssuerID: p.IssuerID, TBSSHA256: p.TBSHash,
		LintCert: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.prep.LintCertificate()})),
		Shard:    p.Shard, CRLURL: p.CRLURL, NotBefore: p.NotBefore, NotAfter: p.NotAfter, Status: IntentPending, CreatedAt: e.clk.Now(),
		Owner: e.cfg.Replica,
	}
	if err := e.tab.issuanceIntents.Insert(ctx, tx, by, actIssuanceIntentRecorded, in); err != nil {
		if store.IsUniqueViolation(err) {
			return Intent{}, apperr.Conflict(apperr.CodeFinalizeInProgress, apperr.NoField, "order %s is already being finalized or was issued", orderID)
		}
		return Intent{}, err
	}
	p.IntentID = in.ID
	e.flightMu.Lock()
	e.inFlight[p.SerialHex] = true
	e.flightMu.Unlock()
	return in, nil
}

// Land ends this process's flight of a serial: it was stored, or given up
// (in which case recovery resolves its intent).
func (e *Engine) Land(serialHex string) {
	e.flightMu.Lock()
	delete(e.inFlight, serialHex)
	e.flightMu.Unlock()
}

func (e *Engine) flying(serialHex string) bool {
	e.flightMu.Lock()
	defer e.flightMu.Unlock()
	return e.inFlight[serialHex]
}

// Abandon resolves a pending intent without a stored certificate, in the
// caller's transaction: its certificate, if signed, is never delivered, and
// the caller has its serial answered as revoked.
func (e *Engine) Abandon(ctx context.Context, tx *store.Tx, by actor.Actor, serialHex, why string) (Intent, error) {
	var in Intent
	ins, err := e.tab.issuanceIntents.Select(ctx, tx, `WHERE serial = ?`, serialHex)
	if err != nil {
		return Intent{}, err
	}
	if len(ins) != 1 {
		return Intent{}, fmt.Errorf("no intent for serial %s", serialHex)
	}
	if err := e.tab.issuanceIntents.Lock(ctx, tx, ins[0].ID, &in); err != nil {
		return Intent{}, err
	}
	if in.Status != IntentPending {
		return in, nil
	}
	now := e.clk.Now()
	in.Status, in.ResolvedAt, in.Resolution = IntentAbandoned, &now, why
	return in, e.tab.issuanceIntents.Update(ctx, tx, by, actIssuanceIntentAbandoned, in)
}

// Sign signs the prepared certificate with the issuer's real key. The
// profile refuses to sign anything but the linted TBS and checks the
// signed TBS equals it.
func (e *Engine) Sign(ctx context.Context, p *Prepared) ([]byte, error) {
	if e.hooks.AfterIntent != nil {
		e.hooks.AfterIntent()
	}
	key, err := e.key(ctx, p.IssuerID)
	if err != nil {
		return nil, err
	}
	der, err := p.prep.Sign(key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate %s: %w", p.SerialHex, err)
	}
	if e.hooks.AfterSign != nil {
		e.hooks.AfterSign()
	}
	return der, nil
}

// Key returns an issuer's signing key, opened once and kept (CRL and OCSP
// signing use it too).
func (e *Engine) Key(ctx context.Context, issuerID string) (signer.Signer, error) {
	return e.key(ctx, issuerID)
}

func (e *Engine) key(ctx context.Context, issuerID string) (signer.Signer, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if k, ok := e.keys[issuerID]; ok {
		return k, nil
	}
	if f, ok := e.failed[issuerID]; ok && (f.login || e.clk.Now().Before(f.at.Add(keyRetry))) {
		return nil, f.err
	}
	iss, err := GetIssuer(ctx, e.rec, e.db, issuerID)
	if err != nil {
		return nil, err
	}
	k, err := OpenKey(iss, e.cfg.Signer)
	if err != nil {
		f := keyFailure{err: err, at: e.clk.Now(), login: signer.IsLoginFailure(err)}
		if f.login {
			f.err = fmt.Errorf("%w (not tried again until serve restarts: every wrong PIN brings the token's lockout closer; correct --pkcs11-pin or VETCA_PKCS11_PIN)", err)
		}
		e.failed[issuerID] = f
		return nil, f.err
	}
	delete(e.failed, issuerID)
	h := &heldKey{Signer: k}
	h.drop = func() { e.drop(issuerID, h) }
	e.keys[issuerID] = h
	return h, nil
}

// keyRetry is how long a key that failed to open is not tried again (for
// any failure but a refused PIN, which is never tried again): CRL shards,
// OCSP and finalize all ask for the key, and each failed open of a PKCS#11
// key is a login on the token.
const keyRetry = time.Minute

// keyFailure is why an issuer's key could not be opened, and when.
type keyFailure struct {
	err   error
	at    time.Time
	login bool // refused for its PIN
}

// heldKey is an issuer key the engine keeps open. A signature that fails
// drops it, so that the next use opens the key afresh: a token that was
// restarted, or a key put back, is picked up without restarting serve.
type heldKey struct {
	signer.Signer
	drop func()
}

func (k *heldKey) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := k.Signer.Sign(r, digest, opts)
	if err != nil {
		k.drop()
	}
	return sig, err
}

// drop forgets k as issuerID's key, if it still is, and closes it a minute
// later, when signatures already under way with it have ended.
func (e *Engine) drop(issuerID string, k *heldKey) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.keys[issuerID] != k {
		return
	}
	delete(e.keys, issuerID)
	e.log.Warn("an issuer key failed to sign; it will be opened again at its next use", "issuer", issuerID, "key", signer.Redact(k.URI()))
	time.AfterFunc(time.Minute, func() { _ = k.Signer.Close() })
}

// OpenKeys opens the key of every issuing CA that has not expired and makes
// it sign a test digest, so that `serve` refuses to start on a wrong PIN,
// module or key URI instead of starting without the means to issue, sign
// OCSP responses or publish CRLs. Each key is opened once: a refused PIN is
// never tried a second time. A root's key (which signs only the root's own
// CRL, and may be kept offline) is not required.
func (e *Engine) OpenKeys(ctx context.Context) error {
	all, err := ListIssuers(ctx, e.rec, e.db)
	if err != nil {
		return err
	}
	now := e.clk.Now()
	for _, iss := range all {
		if iss.Kind != KindIntermediate || !iss.NotAfter.After(now) {
			continue
		}
		k, err := e.key(ctx, iss.ID)
		if err == nil {
			err = signer.SelfTest(k)
		}
		if err != nil {
			return fmt.Errorf("issuing CA %s (%s), key %s: %w", iss.ID, iss.Name, signer.Redact(iss.KeyURI), err)
		}
	}
	return nil
}

// Meta is what the inventory records besides the certificate itself.
type Meta struct {
	OrderID             string
	AccountID           string
	OrganizationID      string
	OrganizationVersion int
	DNSNames            []string
	SPKISHA256          string
}

// StoreEvents is how many audit events Store writes when it succeeds: the
// intent resolved and the certificate (callers reserve their numbers with
// audit.Recorder.Reserve).
const StoreEvents = 2

// Store records the signed certificate and resolves its intent, in the
// caller's transaction.
func (e *Engine) Store(ctx context.Context, tx *store.Tx, by actor.Actor, p *Prepared, der []byte, m Meta) (Certificate, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Certificate{}, fmt.Errorf("parse signed certificate: %w", err)
	}
	// Only the prepared (linted, recorded) TBS is ever stored under its
	// intent's serial (docs/design.md §6).
	if tbs := sha256.Sum256(cert.RawTBSCertificate); hex.EncodeToString(tbs[:]) != p.TBSHash {
		return Certificate{}, fmt.Errorf("certificate %s: the signed TBS (SHA-256 %x) is not the prepared one (%s)", p.SerialHex, tbs, p.TBSHash)
	}
	sum := sha256.Sum256(der)
	c := Certificate{
		ID: ids.New("crt"), Serial: p.SerialHex, OrderID: m.OrderID, AccountID: m.AccountID,
		OrganizationID: m.OrganizationID, OrganizationVersion: m.OrganizationVersion, IssuerID: p.IssuerID,
		Profile: fmt.Sprintf("%s/v%d", profile.Name, profile.Version), Subject: cert.Subject.String(),
		DNSNames: m.DNSNames, SPKISHA256: m.SPKISHA256, CertSHA256: hex.EncodeToString(sum[:]), Shard: p.Shard, CRLURL: p.CRLURL,
		NotBefore: cert.NotBefore, NotAfter: cert.NotAfter,
		PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), Status: CertValid, CreatedAt: e.clk.Now(),
	}
	if e.hooks.StoreFails != nil && e.hooks.StoreFails() {
		return Certificate{}, errors.New("test hook: the store step fails")
	}
	// The intent RecordIntent recorded, locked and read by its id; its
	// serial and TBS hash must still be the prepared ones.
	var in Intent
	if err := e.tab.issuanceIntents.Lock(ctx, tx, p.IntentID, &in); err != nil {
		return Certificate{}, err
	}
	if in.Serial != p.SerialHex || in.TBSSHA256 != p.TBSHash {
		return Certificate{}, fmt.Errorf("certificate %s has no matching intent", p.SerialHex)
	}
	if in.Status != IntentPending {
		return Certificate{}, apperr.Conflict(apperr.CodeIssuanceAbandoned, apperr.NoField,
			"the issuance of serial %s was resolved as %s while it was signed (%s); the certificate is not delivered and its serial is answered as revoked", p.SerialHex, in.Status, in.Resolution)
	}
	now := e.clk.Now()
	in.Status, in.ResolvedAt, in.Resolution = IntentIssued, &now, "certificate stored"
	if err := e.tab.issuanceIntents.Update(ctx, tx, by, actIssuanceIntentResolved, in); err != nil {
		return Certificate{}, err
	}
	if err := e.tab.certificates.Insert(ctx, tx, by, actCertificateIssued, c); err != nil {
		return Certificate{}, err
	}
	return c, nil
}

// AfterStore runs the test-only hook after a certificate was stored.
func (e *Engine) AfterStore() {
	if e.hooks.AfterStore != nil {
		e.hooks.AfterStore()
	}
}

// Recover resolves intents left pending by a replica that is gone: it
// stopped between recording the intent and storing the certificate. A
// certificate is returned only after it is stored, so such an intent's
// certificate, if it was signed at all, never left its process. vetca
// still treats its serial as issued and revoked: the status services
// answer "revoked" for it (never "good", never "unknown"), and its order can
// be finalized again with a new serial.
//
// Recover never touches an intent that is still in flight: this process's
// own (until Land), or another replica's while alive says it is alive. A
// store step that failed (Land without a stored certificate) is resolved
// here, on the next run, without a restart. serve runs Recover at start-up
// and periodically.
func (e *Engine) Recover(ctx context.Context, by actor.Actor, alive func(ctx context.Context, owner string) (bool, error),
	abandoned func(ctx context.Context, tx *store.Tx, in Intent) error) ([]Intent, error) {
	pending, err := e.tab.issuanceIntents.Select(ctx, e.db, `WHERE status = ?`, IntentPending)
	if err != nil {
		return nil, err
	}
	var out []Intent
	for _, in := range pending {
		if in.Owner == e.cfg.Replica && e.flying(in.Serial) {
			continue
		}
		if in.Owner != "" && in.Owner != e.cfg.Replica {
			ok, err := alive(ctx, in.Owner)
			if err != nil {
				return out, err
			}
			if ok {
				continue
			}
		}
		resolved := false
		err := e.db.InTx(ctx, func(tx *store.Tx) error {
			resolved = false
			if err := e.tab.issuanceIntents.Lock(ctx, tx, in.ID, &in); err != nil {
				return err
			}
			if in.Status != IntentPending {
				return nil // resolved meanwhile (it was stored, or another replica recovered it)
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM certificates WHERE serial = ?`, in.Serial).Scan(&n); err != nil {
				return err
			}
			now := e.clk.Now()
			if n > 0 {
				in.Status, in.Resolution = IntentIssued, "recovered: the certificate was stored"
			} else {
				in.Status, in.Resolution = IntentAbandoned, "recovered: replica "+in.Owner+" stopped before the certificate was stored; no certificate was returned; the serial is answered as revoked"
			}
			in.ResolvedAt = &now
			if err := e.tab.issuanceIntents.Update(ctx, tx, by, actIssuanceIntentRecovered, in); err != nil {
				return err
			}
			resolved = true
			if in.Status == IntentAbandoned && abandoned != nil {
				return abandoned(ctx, tx, in)
			}
			return nil
		})
		if err != nil {
			return out, fmt.Errorf("recover intent %s: %w", in.Serial, err)
		}
		if resolved {
			e.log.Warn("resolved an interrupted issuance", "serial", in.Serial, "order", in.OrderID, "owner", in.Owner, "resolution", in.Resolution)
			out = append(out, in)
		}
	}
	return out, nil
}

// Blocklist is the keyCompromise blocklist (BR §6.1.1.3(4)) over the
// blocked_keys table. Its rows decide whether a key may be certified, so
// they are read through the integrity check (docs/design.md §7): without
// Rec every lookup fails rather than reading an unchecked row.
type Blocklist struct {
	DB  *store.DB
	Rec *audit.Recorder
}

// IsBlocked implements keypolicy.Blocklist.
func (b Blocklist) IsBlocked(ctx context.Context, spki [32]byte) (bool, error) {
	return b.Blocked(ctx, b.DB, hex.EncodeToString(spki[:]))
}

// Blocked reports whether the key whose SPKI SHA-256 is spkiHex is on the
// blocklist, read in q (a transaction, so that finalize's decision and its
// intent see the same list). A row found but changed outside vetca is an
// integrity error, not an answer; so is one whose key was retyped to hide
// it from the lookup (store.TextIs). A row edited so that it no longer
// matches spkiHex, or deleted, cannot be seen here at all; once restored,
// `vetca scan` reports any certificate issued for the key meanwhile.
func (b Blocklist) Blocked(ctx context.Context, q store.Querier, spkiHex string) (bool, error) {
	cond, args := store.TextIs(q, "spki_sha256", spkiHex)
	_, ok, err := newTables(b.Rec).blockedKeys.First(ctx, q, `WHERE `+cond, args...)
	return ok, err
}

var _ keypolicy.Blocklist = Blocklist{}

// LockKey orders, until tx ends, the transactions that block a key
// (BlockKey) and those that store a certificate for it (finalize's store
// step): of a keyCompromise and the storing of another certificate with
// the key at once, the later sees the earlier, so the certificate is either
// found and revoked or refused, never stored valid unseen. On PostgreSQL
// it is a transaction-scoped advisory lock (store.Tx.LockName); SQLite has
// one writer, which orders them already.
func LockKey(ctx context.Context, tx *store.Tx, spkiHex string) error {
	return tx.LockName(ctx, "vetca.key:"+spkiHex)
}

// BlockedKey is a key that may never be certified again.
type BlockedKey struct {
	ID         string    `db:"id" json:"id"`
	SPKISHA256 string    `db:"spki_sha256" json:"spkiSha256"`
	Reason     string    `db:"reason" json:"reason"`
	Source     string    `db:"source" json:"source"`
	CreatedAt  time.Time `db:"created_at" json:"createdAt"`
}

// BlockKey records a key hash on the blocklist, once (BR §6.1.1.3(4):
// a key shown compromised is never certified again).
func BlockKey(ctx context.Context, tx *store.Tx, rec *audit.Recorder, by actor.Actor, spki, reason, source string, now time.Time) error {
	if err := LockKey(ctx, tx, spki); err != nil {
		return err
	}
	blocked, err := Blocklist{Rec: rec}.Blocked(ctx, tx, spki)
	if err != nil || blocked {
		return err
	}
	return newTables(rec).blockedKeys.Insert(ctx, tx, by, actKeyBlocked, BlockedKey{
		ID: ids.New("blk"), SPKISHA256: spki, Reason: reason, Source: source, CreatedAt: now})
}

// MarkRevoked sets a stored certificate's status to revoked, in the
// transaction that records its revocation.
func MarkRevoked(ctx context.Context, tx *store.Tx, rec *audit.Recorder, by actor.Actor, cert Certificate) error {
	cert.Status = CertRevoked
	return newTables(rec).certificates.Update(ctx, tx, by, actCertificateStatusRevoked, cert)
}

// ShardRef names a CRL shard that a certificate or an issuance names.
type ShardRef struct {
	IssuerID string `db:"issuer_id"`
	Shard    int    `db:"shard"`
	URL      string `db:"crl_url"`
}

// LiveShards lists the CRL shards named by certificates and issuance
// intents that are unexpired at since. It is a projection that decides
// which CRL URLs exist, not what they list (each shard's entries come from
// the audited revocations), so it reads without the integrity check.
func LiveShards(ctx context.Context, q store.Querier, since time.Time) ([]ShardRef, error) {
	at := store.FormatTime(since)
	return store.SelectUnchecked[ShardRef](ctx, q, `
		SELECT DISTINCT issuer_id, shard, crl_url FROM certificates WHERE not_after >= ?
		UNION SELECT DISTINCT issuer_id, shard, crl_url FROM issuance_intents WHERE not_after >= ?`, at, at)
}

// CertRef is where a certificate's revocation must be published.
type CertRef struct {
	Serial   string    `db:"serial"`
	IssuerID string    `db:"issuer_id"`
	URL      string    `db:"crl_url"`
	NotAfter time.Time `db:"not_after"`
}

// RevokedUnexpired lists the stored certificates marked revoked that
// expire after now, for the CRL coverage check (which reports; it decides
// nothing, and audit verify checks the rows themselves).
func RevokedUnexpired(ctx context.Context, q store.Querier, now time.Time) ([]CertRef, error) {
	return store.SelectUnchecked[CertRef](ctx, q, `SELECT serial, issuer_id, crl_url, not_after FROM certificates
		WHERE status = ? AND not_after > ?`, CertRevoked, store.FormatTime(now))
}

// CountCertificates counts the stored certificates, of one account or (an
// empty accountID) of all, for the console dashboard: a count, not a
// decision, so the rows are not integrity-checked.
func CountCertificates(ctx context.Context, q store.Querier, accountID string) (int, error) {
	query, args := `SELECT COUNT(*) FROM certificates`, []any{}
	if accountID != "" {
		query, args = query+` WHERE account_id = ?`, append(args, accountID)
	}
	var n int
	if err := q.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("count certificates: %w", err)
	}
	return n, nil
}

// CertificateFilter selects certificates for the inventory. An empty
// string selects any value; NotAfterBefore, when set, selects the
// certificates whose notAfter is before it, whatever time it holds (the
// zero time included: it selects none).
type CertificateFilter struct {
	OrganizationID string
	AccountID      string
	Status         CertStatus
	NotAfterBefore *time.Time
}

// ListCertificates returns one page of certificates matching f, newest
// first, integrity-checked, and the cursor of the next page.
func ListCertificates(ctx context.Context, rec *audit.Recorder, q store.Querier, f CertificateFilter, p store.Page) ([]Certificate, string, error) {
	var where store.Where
	if f.OrganizationID != "" {
		where.Add("organization_id = ?", f.OrganizationID)
	}
	if f.AccountID != "" {
		where.Add("account_id = ?", f.AccountID)
	}
	if f.Status != "" {
		where.Add("status = ?", f.Status)
	}
	if f.NotAfterBefore != nil {
		where.Add("not_after < ?", store.FormatTime(*f.NotAfterBefore))
	}
	list, next, err := newTables(rec).certificates.NewestFirst(ctx, q, where, p, func(c Certificate) (time.Time, string) { return c.CreatedAt, c.ID })
	if err != nil {
		return nil, "", err
	}
	return list, next, nil
}

// GetCertificate returns a certificate by serial.
func GetCertificate(ctx context.Context, rec *audit.Recorder, q store.Querier, serialHex string) (Certificate, error) {
	cs, err := newTables(rec).certificates.Select(ctx, q, `WHERE serial = ?`, serialHex)
	if err != nil {
		return Certificate{}, err
	}
	if len(cs) == 0 {
		return Certificate{}, apperr.NotFound(apperr.CodeNotFound, "serial", "no certificate with serial %s", serialHex)
	}
	return cs[0], nil
}

// LockCertificate locks the certificate row with the given id until tx
// ends and returns it as it is now (after the integrity check). Writers
// that decide from a certificate's state, such as revocation, lock it
// first, so that concurrent decisions about one certificate take turns.
func LockCertificate(ctx context.Context, rec *audit.Recorder, tx *store.Tx, id string) (Certificate, error) {
	var c Certificate
	err := newTables(rec).certificates.Lock(ctx, tx, id, &c)
	return c, err
}

// GetIntent returns the intent of a serial.
func GetIntent(ctx context.Context, rec *audit.Recorder, q store.Querier, serialHex string) (Intent, bool, error) {
	is, err := newTables(rec).issuanceIntents.Select(ctx, q, `WHERE serial = ?`, serialHex)
	if err != nil || len(is) == 0 {
		return Intent{}, false, err
	}
	return is[0], true, nil
}
