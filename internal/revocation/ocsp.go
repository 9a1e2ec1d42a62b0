package revocation

import (
	"context"
	"crypto"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/lint"
	"github.com/vetca/vetca/internal/revocation/ocspresp"
	"github.com/vetca/vetca/internal/serial"
	"github.com/vetca/vetca/internal/store"
)

// Responder signs, stores, refreshes and serves OCSP responses. The
// database holds every signed response and is the authority; each replica
// also holds the responses it served recently in memory (ocspMemory), and
// answers from there without reading the database (Lookup).
type Responder struct {
	db     *store.DB
	rec    *audit.Recorder
	tab    tables
	clk    clock.Clock
	engine *issuance.Engine
	linter *lint.Linter
	svc    *Service
	cfg    ResponderConfig
	log    *slog.Logger

	mem *ocspMemory
	// afterStore, set by tests only, runs once just after a response is
	// stored, before its guard is read again.
	afterStore atomic.Pointer[func()]
	issuers    atomic.Pointer[issuerTable]
	loadMu     sync.Mutex     // one reload of the issuers at a time
	pollMu     sync.Mutex     // one poll at a time; guards cursor and tail
	cursor     int64          // the audit chain head the memory has caught up with
	tail       map[int64]bool // unsealed events above cursor already forgotten
}

// ResponderConfig sets the OCSP schedule and this replica's memory.
type ResponderConfig struct {
	// Validity is nextUpdate - thisUpdate: 8 hours to 10 days (BR §4.9.9);
	// default 96 hours.
	Validity time.Duration
	// MemoryEntries caps the responses held in memory (default
	// DefaultOCSPMemoryEntries).
	MemoryEntries int
	// Staleness bounds how long after a revocation committed on another
	// replica this one may still answer from memory what it held before:
	// the memory answers only until Staleness after the start of its last
	// successful poll of the audit trail (default 2 x DefaultOCSPPoll).
	Staleness time.Duration
	// Revalidate bounds how long a response is answered from memory
	// before its status is read, integrity-checked, again (default
	// DefaultOCSPRevalidate).
	Revalidate time.Duration
	// Recheck is how long CheckCache waits before it reads a disagreeing
	// response of a revoked serial again (default DefaultOCSPRecheck).
	Recheck time.Duration
}

// DefaultOCSPRecheck is how long CheckCache waits before it reads again a
// stored response that disagrees with its serial's revocation, which
// re-signs it just after committing.
const DefaultOCSPRecheck = 2 * time.Second

// resignWindow is how long after a revocation was recorded CheckCache
// keeps waiting for its re-sign (a bulk revocation re-signs batch after
// batch, and a loaded machine is slow); a response that still disagrees
// after it is a finding.
const resignWindow = time.Minute

// NewResponder returns an OCSP responder.
func NewResponder(db *store.DB, rec *audit.Recorder, clk clock.Clock, engine *issuance.Engine, linter *lint.Linter, svc *Service, cfg ResponderConfig, log *slog.Logger) *Responder {
	if cfg.Recheck <= 0 {
		cfg.Recheck = DefaultOCSPRecheck
	}
	if cfg.Validity < ocspresp.MinValidity || cfg.Validity >= ocspresp.MaxValidity {
		cfg.Validity = 96 * time.Hour
	}
	if cfg.MemoryEntries <= 0 {
		cfg.MemoryEntries = DefaultOCSPMemoryEntries
	}
	if cfg.Staleness <= 0 {
		cfg.Staleness = 2 * DefaultOCSPPoll
	}
	if cfg.Revalidate <= 0 {
		cfg.Revalidate = DefaultOCSPRevalidate
	}
	return &Responder{db: db, rec: rec, tab: newTables(rec), clk: clk, engine: engine, linter: linter, svc: svc, cfg: cfg, log: log,
		mem: newOCSPMemory(cfg.MemoryEntries)}
}

// ocspHashes are the CertID hash algorithms the responder answers, by
// their name in ocsp_responses.hash_alg.
var ocspHashes = []struct {
	name string
	hash crypto.Hash
}{{"sha1", crypto.SHA1}, {"sha256", crypto.SHA256}, {"sha384", crypto.SHA384}, {"sha512", crypto.SHA512}}

func hashName(h crypto.Hash) string {
	for _, x := range ocspHashes {
		if x.hash == h {
			return x.name
		}
	}
	return "sha1"
}

// hashByName is the CertID hash algorithm a stored response's hash_alg
// names.
func hashByName(name string) (crypto.Hash, bool) {
	for _, x := range ocspHashes {
		if x.name == name {
			return x.hash, true
		}
	}
	return 0, false
}

// issuerFor returns the issuer a request names, reloading the issuers
// (integrity-checked) when they are a minute old.
func (o *Responder) issuerFor(ctx context.Context, req *ocsp.Request) (issuerEntry, bool, error) {
	tab := o.issuers.Load()
	if tab == nil || o.clk.Now().Sub(tab.loaded) > time.Minute {
		var err error
		if tab, err = o.loadIssuers(ctx); err != nil {
			return issuerEntry{}, false, err
		}
	}
	for _, e := range tab.issuers {
		if ocspresp.MatchesIssuer(req, e.cert) {
			return e, true, nil
		}
	}
	return issuerEntry{}, false, nil
}

func (o *Responder) loadIssuers(ctx context.Context) (*issuerTable, error) {
	o.loadMu.Lock()
	defer o.loadMu.Unlock()
	if tab := o.issuers.Load(); tab != nil && o.clk.Now().Sub(tab.loaded) <= time.Minute {
		return tab, nil // another request reloaded them meanwhile
	}
	all, err := issuance.ListIssuers(ctx, o.rec, o.db)
	if err != nil {
		return nil, err
	}
	tab := &issuerTable{loaded: o.clk.Now()}
	for _, iss := range all {
		e, err := newIssuerEntry(iss)
		if err != nil {
			return nil, err
		}
		tab.issuers = append(tab.issuers, e)
	}
	o.issuers.Store(tab)
	return tab, nil
}

// Response implements ocspresp.Source: a stored, fresh response, or one
// signed now. A serial with neither a certificate nor an issuance intent is
// not vetca's to answer (ErrNotFound: "unauthorized"); it never gets good.
// What it answers with is also held in memory for the next requests.
func (o *Responder) Response(ctx context.Context, req *ocsp.Request) ([]byte, error) {
	ie, ok, err := o.issuerFor(ctx, req)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("issuer not ours: %w", ocspresp.ErrNotFound)
	}
	o.pollIfStale(ctx)
	ticket := o.mem.ticket() // before anything is read
	sn := serial.Hex(req.SerialNumber)
	var enc, this, next string
	err = o.db.QueryRow(ctx, `SELECT der, this_update, next_update FROM ocsp_responses WHERE serial = ? AND hash_alg = ? AND issuer_id = ?`,
		sn, hashName(req.HashAlgorithm), ie.iss.ID).Scan(&enc, &this, &next)
	if err == nil {
		tu, e1 := store.ParseTime(this)
		nu, e2 := store.ParseTime(next)
		if e1 == nil && e2 == nil && !ocspresp.RefreshDue(tu, nu, o.clk.Now()) {
			der, st, ok, err := o.cachedAgrees(ctx, sn, enc)
			if err != nil {
				return nil, err
			}
			if ok {
				if !st.InFlight {
					o.mem.put(ticket, req.SerialNumber.Bytes(), ie.iss.ID, req.HashAlgorithm, der, o.clk.Now(), false)
				}
				return der, nil
			}
			o.refuseStored(ctx, sn, req.HashAlgorithm, st)
		}
	}
	return o.sign(ctx, ie.iss.ID, sn, req.HashAlgorithm, memHold)
}

// refuseStored logs and records a stored response that disagrees with
// st, the serial's audited status, as one put back outside vetca; the
// caller then signs afresh. A revocation recorded within resignWindow is
// not yet re-signed everywhere: the replica that made it re-signs just
// after committing (batch after batch in a bulk revocation), and another
// replica, or this one, can read the stored response in between. That
// response is vetca's own, so it is only re-signed, as CheckCache waits
// for it before calling it a replay.
func (o *Responder) refuseStored(ctx context.Context, sn string, h crypto.Hash, st Status) {
	if st.Revoked && o.clk.Now().Sub(st.RecordedAt) < resignWindow {
		o.log.Debug("cached OCSP response predates a recent revocation; re-signing", "serial", sn, "hash", hashName(h))
		return
	}
	o.log.Error("cached OCSP response disagrees with the audited revocation state; it was replaced outside vetca, re-signing",
		"serial", sn, "hash", hashName(h))
	noteReplay(ctx, o.db, o.rec, o.log, actOCSPReplayRefused, "ocsp_responses", sn+"/"+hashName(h))
}

// cachedAgrees decodes a stored response and reports whether it says what
// the authenticated revocation state says now. The cache itself is not
// audited (it is re-signed every few days), so someone with database
// access could put back an older response that vetca really signed: a
// `good` from before the revocation. Such a response is never served.
func (o *Responder) cachedAgrees(ctx context.Context, sn, enc string) ([]byte, Status, bool, error) {
	der, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, Status{}, false, nil
	}
	st, err := o.svc.StatusOf(ctx, o.db, sn)
	if err != nil {
		return nil, Status{}, false, err
	}
	return der, st, responseAgrees(der, sn, st) == "", nil
}

// responseAgrees compares a stored response with a serial's authenticated
// status; it returns "" when they agree, else what differs. The signature
// is not checked here: only vetca's issuer keys sign responses, and the
// replay this guards against is of genuine ones.
func responseAgrees(der []byte, sn string, st Status) string {
	got, err := ocsp.ParseResponse(der, nil)
	if err != nil {
		return "the stored response does not parse: " + err.Error()
	}
	switch {
	case serial.Hex(got.SerialNumber) != sn:
		return fmt.Sprintf("the stored response is for serial %s", serial.Hex(got.SerialNumber))
	case !st.Known:
		return "the serial is not one vetca issued"
	case st.Revoked && got.Status != ocsp.Revoked:
		return "the stored response says good, but the certificate is revoked: an older response was put back"
	case !st.Revoked && got.Status != ocsp.Good:
		return "the stored response says revoked, but the audited state has no revocation"
	case st.Revoked && (got.RevocationReason != st.Reason.Code() || !got.RevokedAt.Equal(st.RevokedAt.UTC().Truncate(time.Second))):
		return fmt.Sprintf("the stored response has reason %d at %s, the audited revocation reason %d at %s",
			got.RevocationReason, got.RevokedAt.Format(time.RFC3339), st.Reason.Code(), st.RevokedAt.UTC().Format(time.RFC3339))
	}
	return ""
}

// CheckCache compares every stored OCSP response with the authenticated
// revocation state; each disagreement is an audit finding (run by audit
// verify). The serving path never serves such a response either.
//
// A revocation re-signs its serial's responses just after it commits, on
// the replica that recorded it, so a verify that runs in between sees a
// `good` response for a revoked serial that is no fault. A response of a
// revoked serial that disagrees is therefore read again, with the status,
// every Recheck while its revocation is under resignWindow old, and is a
// finding once it still disagrees after that: a response put back stays
// put back, a re-sign in flight lands.
func (o *Responder) CheckCache(ctx context.Context) ([]audit.Finding, error) {
	type row struct {
		Serial  string `db:"serial"`
		HashAlg string `db:"hash_alg"`
		DER     string `db:"der"`
	}
	var out, again []audit.Finding
	after := ""
	for {
		// Projection of an unaudited cache; each row is judged below
		// against the audited state.
		rows, err := store.SelectUnchecked[row](ctx, o.db, `SELECT serial, hash_alg, der FROM ocsp_responses
			WHERE serial || '/' || hash_alg > ? ORDER BY serial || '/' || hash_alg LIMIT 1000`, after)
		if err != nil {
			return nil, fmt.Errorf("read OCSP cache: %w", err)
		}
		for _, r := range rows {
			after = r.Serial + "/" + r.HashAlg
			msg, st, err := o.judgeStored(ctx, r.Serial, r.DER)
			if err != nil {
				return nil, err
			}
			if msg == "" {
				continue
			}
			f := audit.Finding{Table: "ocsp_responses", RowID: after, Field: "der", Message: msg}
			if st.Revoked {
				again = append(again, f)
			} else {
				out = append(out, f)
			}
		}
		if len(rows) < 1000 {
			break
		}
	}
	// Recent is judged on the installation's clock, like RecordedAt; the
	// wait itself is bounded in real time.
	deadline := time.Now().Add(resignWindow + o.cfg.Recheck)
	for len(again) > 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(o.cfg.Recheck):
		}
		var still []audit.Finding
		for _, f := range again {
			msg, recent, err := o.rejudge(ctx, f.RowID)
			if err != nil {
				return nil, err
			}
			switch {
			case msg == "":
			case recent && time.Now().Before(deadline):
				still = append(still, f) // its re-sign may not have landed yet
			default:
				f.Message = msg
				out = append(out, f)
			}
		}
		again = still
	}
	return out, nil
}

// rejudge reads the stored response rowID ("serial/hash_alg") again and
// judges it: what differs ("" when nothing or when it is gone), and
// whether its serial's revocation was recorded within resignWindow.
func (o *Responder) rejudge(ctx context.Context, rowID string) (string, bool, error) {
	sn, alg, _ := strings.Cut(rowID, "/")
	var der string
	err := o.db.QueryRow(ctx, `SELECT der FROM ocsp_responses WHERE serial = ? AND hash_alg = ?`, sn, alg).Scan(&der)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read OCSP cache: %w", err)
	}
	msg, st, err := o.judgeStored(ctx, sn, der)
	return msg, st.Revoked && o.clk.Now().Sub(st.RecordedAt) < resignWindow, err
}

// judgeStored judges one stored response (base64 DER) of serial sn
// against its audited status: what differs ("" when nothing), and the
// status.
func (o *Responder) judgeStored(ctx context.Context, sn, enc string) (string, Status, error) {
	der, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return "the stored response is not base64", Status{}, nil
	}
	st, err := o.svc.StatusOf(ctx, o.db, sn)
	if e, ok := apperr.As(err); ok && e.Kind == apperr.KindIntegrity {
		return "the serial's audited status cannot be read: " + e.Error(), Status{}, nil
	}
	if err != nil {
		return "", Status{}, err
	}
	return responseAgrees(der, sn, st), st, nil
}

// What a signature does to the memory.
const (
	memHold    = iota // hold the new response (it was asked for, or is a revocation's)
	memReplace        // replace the response held, if any (the refresher's)
)

// Sign computes a serial's status, signs a response, lints it and stores
// it; the memory holds it.
func (o *Responder) Sign(ctx context.Context, issuerID, serialHex string, h crypto.Hash) ([]byte, error) {
	return o.sign(ctx, issuerID, serialHex, h, memHold)
}

func (o *Responder) sign(ctx context.Context, issuerID, serialHex string, h crypto.Hash, policy int) ([]byte, error) {
	// Two signers of one serial at once (the re-signing after each of two
	// revocations, or the refresher beside one) each read the status and
	// then store what they signed. A response is stored only while the
	// status it says is still the serial's (signOnce), so the older of
	// the two never replaces the newer; its signer reads the status again.
	for attempt := 1; ; attempt++ {
		der, stored, err := o.signOnce(ctx, issuerID, serialHex, h, policy)
		if err != nil || stored {
			return der, err
		}
		if attempt == 3 {
			return nil, fmt.Errorf("OCSP response for %s: the status changed while it was signed, three times", serialHex)
		}
	}
}

// signOnce signs and stores one response for serialHex as its status is
// now, and reports false (storing nothing) if the status changed before
// the response could be stored.
func (o *Responder) signOnce(ctx context.Context, issuerID, serialHex string, h crypto.Hash, policy int) ([]byte, bool, error) {
	ticket := o.mem.ticket() // before the status is read
	st, err := o.svc.StatusOf(ctx, o.db, serialHex)
	if err != nil {
		return nil, false, err
	}
	return o.signStatus(ctx, ticket, st, issuerID, serialHex, h, policy)
}

// signStatus signs and stores the response for st, the serial's status as
// read after ticket was taken, unless the status has changed since.
func (o *Responder) signStatus(ctx context.Context, ticket memTicket, st Status, issuerID, serialHex string, h crypto.Hash, policy int) ([]byte, bool, error) {
	if !st.Known || st.IssuerID != issuerID {
		return nil, false, fmt.Errorf("serial %s: %w", serialHex, ocspresp.ErrNotFound)
	}
	iss, err := issuance.GetIssuer(ctx, o.rec, o.db, issuerID)
	if err != nil {
		return nil, false, err
	}
	cert, err := iss.Certificate()
	if err != nil {
		return nil, false, err
	}
	key, err := o.engine.Key(ctx, issuerID)
	if err != nil {
		return nil, false, err
	}
	sn, err := serial.Parse(serialHex)
	if err != nil {
		return nil, false, err
	}
	now := o.clk.Now().UTC().Truncate(time.Second)
	r := ocspresp.Response{Serial: sn, Status: ocspresp.Good, ThisUpdate: now, NextUpdate: o.nextUpdate(now, cert), ProducedAt: now, IssuerHash: h}
	status := "good"
	if st.Revoked {
		r.Status, r.RevokedAt, r.Reason, status = ocspresp.Revoked, st.RevokedAt, st.Reason.Code(), "revoked"
	}
	der, err := ocspresp.Sign(ocspresp.Params{SignerConfig: ocspresp.SignerConfig{Issuer: cert, Key: key}, Response: r})
	if err != nil {
		return nil, false, fmt.Errorf("sign OCSP response for %s: %w", serialHex, err)
	}
	rep, err := o.linter.LintOCSPResponse(der, cert)
	if err != nil {
		return nil, false, err
	}
	if err := rep.Err(); err != nil {
		return nil, false, fmt.Errorf("OCSP response for %s failed lint: %w", serialHex, err)
	}
	if err := checkResponse(der, cert, r); err != nil {
		return nil, false, fmt.Errorf("OCSP response for %s failed vetca's check: %w", serialHex, err)
	}
	// Stored only while the serial's revocation row is still the one read
	// (or there still is none), in the same statement.
	still, stillArgs := `NOT EXISTS (SELECT 1 FROM revocations WHERE serial = ?)`, []any{serialHex}
	if st.recorded {
		still = `EXISTS (SELECT 1 FROM revocations WHERE serial = ? AND reason_code = ? AND revoked_at = ? AND recorded_at = ?)`
		stillArgs = []any{serialHex, st.Reason.Code(), store.FormatTime(st.RevokedAt), store.FormatTime(st.RecordedAt)}
	}
	var notAfter any // NULL: no certificate yet
	if !st.NotAfter.IsZero() {
		notAfter = store.FormatTime(st.NotAfter)
	}
	res, err := o.db.Exec(ctx, `INSERT INTO ocsp_responses (serial, hash_alg, issuer_id, status, der, this_update, next_update, not_after)
		SELECT ?, ?, ?, ?, ?, ?, ?, ? WHERE `+still+`
		ON CONFLICT (serial, hash_alg) DO UPDATE SET issuer_id = excluded.issuer_id, status = excluded.status, der = excluded.der,
		this_update = excluded.this_update, next_update = excluded.next_update, not_after = excluded.not_after`,
		append([]any{serialHex, hashName(h), issuerID, status, base64.StdEncoding.EncodeToString(der), store.FormatTime(r.ThisUpdate), store.FormatTime(r.NextUpdate), notAfter}, stillArgs...)...)
	if err != nil {
		return nil, false, fmt.Errorf("store OCSP response: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return nil, false, fmt.Errorf("store OCSP response: %w", err)
	} else if n == 0 {
		return nil, false, nil // the status changed meanwhile
	}
	if hook := o.afterStore.Swap(nil); hook != nil {
		(*hook)()
	}
	// The guard is read again now that the response is stored. The
	// statement judged it on its own snapshot: on PostgreSQL a store
	// whose snapshot predates a revocation's commit can itself commit
	// after that revocation's re-sign listed the serial's stored
	// responses (Revoked), and a response under a hash algorithm asked
	// for the first time just then would stay, unseen, with the older
	// status. Either the revocation committed before this read, which
	// sees it (the signer then reads the status again and re-signs), or
	// it commits after, and its re-sign, which lists the stored
	// responses later still, finds this one.
	var holds int
	// Read even if ctx ended after the store: the stored response is
	// then accounted for (a refresher pass logs it) rather than left as
	// a signature nobody counted.
	if err := o.db.QueryRow(context.WithoutCancel(ctx), `SELECT CASE WHEN `+still+` THEN 1 ELSE 0 END`, stillArgs...).Scan(&holds); err != nil {
		return nil, false, fmt.Errorf("store OCSP response: read the status again: %w", err)
	} else if holds == 0 {
		return nil, false, nil // the status changed while it was stored
	}
	if !st.InFlight { // an issuance in flight is good only until it lands or is abandoned
		o.mem.put(ticket, sn.Bytes(), issuerID, h, der, o.clk.Now(), policy == memReplace)
	}
	return der, true, nil
}

// nextUpdate is the nextUpdate of a response signed at now by issuer:
// now plus the configured validity, but never after the issuer's
// certificate expires (ocspresp.Sign refuses that). Its certificates may
// be valid until then, and need answers (BR §4.9.10): in the issuer's
// last days the interval shrinks, down to the 8 hours BR §4.9.9 requires
// at least; in the last 8 hours nothing can be signed.
func (o *Responder) nextUpdate(now time.Time, issuer *x509.Certificate) time.Time {
	next := now.Add(o.cfg.Validity)
	if end := issuer.NotAfter.UTC().Truncate(time.Second); next.After(end) && !end.Before(now.Add(ocspresp.MinValidity)) {
		return end
	}
	return next
}

// Revoked drops a revoked serial's responses from this replica's memory
// and re-signs its responses, at once: before the revocation call
// returns, nothing here answers good for it. It signs the SHA-1 and
// SHA-256 responses, which most clients ask for, and every other response
// stored for the serial, whatever CertID hash algorithm it was asked
// under (SHA-384, SHA-512): a stored response left `good` would be taken
// by audit verify for an older one put back. It lists the stored
// responses after the revocation committed; a response stored in between
// by a signer that read the status before is refused or read again by
// that signer (signStatus).
func (o *Responder) Revoked(ctx context.Context, r Revocation) {
	o.mem.drop(r.Serial)
	hashes, err := o.storedHashes(ctx, r.Serial)
	if err != nil {
		o.log.Error("list the stored OCSP responses of a revoked serial; re-signing SHA-1 and SHA-256 only", "serial", r.Serial, "err", err)
	}
	for _, h := range hashes {
		if _, err := o.sign(ctx, r.IssuerID, r.Serial, h, memHold); err != nil {
			o.log.Error("re-sign OCSP after revocation", "serial", r.Serial, "hash", hashName(h), "err", err)
		}
	}
}

// storedHashes returns SHA-1, SHA-256 and the hash algorithm of every
// other response stored for serialHex, in the order of ocspHashes. On an
// error it still returns SHA-1 and SHA-256.
func (o *Responder) storedHashes(ctx context.Context, serialHex string) ([]crypto.Hash, error) {
	want := map[string]bool{"sha1": true, "sha256": true}
	type row struct {
		HashAlg string `db:"hash_alg"`
	}
	rows, err := store.Select[row](ctx, o.db, `SELECT hash_alg FROM ocsp_responses WHERE serial = ?`, serialHex)
	for _, r := range rows {
		if _, ok := hashByName(r.HashAlg); !ok {
			o.log.Error("stored OCSP response under a hash algorithm vetca does not sign", "serial", serialHex, "hash", r.HashAlg)
			continue
		}
		want[r.HashAlg] = true
	}
	var out []crypto.Hash
	for _, x := range ocspHashes {
		if want[x.name] {
			out = append(out, x.hash)
		}
	}
	return out, err
}

// Refresh re-signs stored responses whose BR §4.9.9 refresh time has come,
// and those of serials revoked lately that a crash left unre-signed
// (resignMissed), logging the batch in the audit trail (BR §5.4.1: OCSP
// response signing). Responses of a certificate that has expired are not
// re-signed ahead of time, and are removed once their nextUpdate has
// passed: BR §4.9.10 requires status answers only until expiry, and a
// request after it is still answered, from the stored response while it
// is current, else signed on demand (Response re-signs whatever is missing
// or due). The stored responses are a cache of what the audited state
// says; removing one changes no answer. Responses stored without an
// expiry (a serial in flight or abandoned, or stored before vetca kept it)
// are re-signed as any other.
func (o *Responder) Refresh(ctx context.Context) (int, error) {
	now := o.clk.Now()
	removed, err := o.db.Exec(ctx, `DELETE FROM ocsp_responses WHERE next_update <= ? AND not_after <= ?`, store.FormatTime(now), store.FormatTime(now))
	if err != nil {
		return 0, fmt.Errorf("remove OCSP responses of expired certificates: %w", err)
	}
	gone, err := removed.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("remove OCSP responses of expired certificates: %w", err)
	}
	// Each pass runs whatever the other met: a response that cannot be
	// signed holds back no other.
	n, err := o.resignMissed(ctx, now)
	if ctx.Err() == nil {
		m, derr := o.refreshDue(ctx, now)
		n, err = n+m, errors.Join(err, derr)
	}
	// Every signature is logged (BR §5.4.1), those of a pass cut short
	// (a replica stopping, an error) too.
	if n > 0 || gone > 0 {
		nctx := context.WithoutCancel(ctx)
		if lerr := o.db.InTx(nctx, func(tx *store.Tx) error {
			return o.rec.Note(nctx, tx, actor.SystemActor("ocsp"), actOcspResponsesRefreshed, "ocsp_responses", "batch",
				map[string]any{"count": n, "validity": o.cfg.Validity.String(), "expiredRemoved": gone})
		}); lerr != nil {
			return n, errors.Join(err, lerr)
		}
	}
	return n, err
}

// refreshDue re-signs the stored responses whose refresh time has come,
// of certificates not expired (and of serials with none), and returns how
// many it signed, those before an error included.
func (o *Responder) refreshDue(ctx context.Context, now time.Time) (int, error) {
	type row struct {
		Serial   string    `db:"serial"`
		HashAlg  string    `db:"hash_alg"`
		IssuerID string    `db:"issuer_id"`
		This     time.Time `db:"this_update"`
		Next     time.Time `db:"next_update"`
	}
	rows, err := store.Select[row](ctx, o.db, `SELECT serial, hash_alg, issuer_id, this_update, next_update FROM ocsp_responses
		WHERE next_update <= ? AND (not_after IS NULL OR not_after > ?) ORDER BY next_update LIMIT 10000`,
		store.FormatTime(now.Add(o.cfg.Validity)), store.FormatTime(now))
	if err != nil {
		return 0, err
	}
	due := make([]storedRef, 0, len(rows))
	for _, r := range rows {
		if ocspresp.RefreshDue(r.This, r.Next, now) {
			due = append(due, storedRef{Serial: r.Serial, HashAlg: r.HashAlg, IssuerID: r.IssuerID})
		}
	}
	return o.resignEach(ctx, due)
}

// storedRef names a stored response: its serial, CertID hash algorithm
// and issuer.
type storedRef struct {
	Serial   string `db:"serial"`
	HashAlg  string `db:"hash_alg"`
	IssuerID string `db:"issuer_id"`
}

// resignEach signs each stored response again from the audited state and
// returns how many it signed; a serial with nothing to answer any more
// signs nothing. A response that cannot be signed (its serial's status
// fails its integrity check, say) is reported and passed over: it is
// first in the refresher's order at every pass, and would otherwise hold
// back every response after it. It stops only when ctx ends.
func (o *Responder) resignEach(ctx context.Context, refs []storedRef) (int, error) {
	n, failed := 0, 0
	var errs []error
	for _, r := range refs {
		h, ok := hashByName(r.HashAlg)
		if !ok {
			o.log.Error("stored OCSP response under a hash algorithm vetca does not sign", "serial", r.Serial, "hash", r.HashAlg)
			continue
		}
		if _, err := o.sign(ctx, r.IssuerID, r.Serial, h, memReplace); errors.Is(err, ocspresp.ErrNotFound) {
			continue
		} else if err != nil {
			if failed++; len(errs) < maxReported {
				errs = append(errs, fmt.Errorf("re-sign OCSP response %s/%s: %w", r.Serial, r.HashAlg, err))
			}
			if ctx.Err() != nil {
				break
			}
			continue
		}
		n++
	}
	if failed > len(errs) {
		errs = append(errs, fmt.Errorf("and %d more OCSP responses not re-signed", failed-len(errs)))
	}
	return n, errors.Join(errs...)
}

// maxReported is how many failures of one pass resignEach reports one by
// one; the rest are counted.
const maxReported = 5

// resignMissed re-signs the stored responses of serials revoked within the
// last day that still say good, or were signed before the revocation was
// last recorded (an upgrade to keyCompromise changes its reason). A
// revocation re-signs its serial's responses just after its commit
// (Published); a replica that crashed in between leaves the older answer
// stored. It is never served (Response re-signs a stored answer that
// disagrees with the audited state), but audit verify would take it for
// one put back (CheckCache): this pass replaces it within a refresher tick.
func (o *Responder) resignMissed(ctx context.Context, now time.Time) (int, error) {
	// The revocations are only a filter here: sign reads each serial's
	// audited state itself, so an edited row changes which responses are
	// re-signed now, never what one says.
	rows, err := store.SelectUnchecked[storedRef](ctx, o.db, `SELECT r.serial, r.hash_alg, r.issuer_id FROM revocations v
		JOIN ocsp_responses r ON r.serial = v.serial
		WHERE v.recorded_at >= ? AND (r.status <> 'revoked' OR r.this_update < v.recorded_at) ORDER BY v.recorded_at LIMIT 10000`,
		store.FormatTime(now.Add(-24*time.Hour)))
	if err != nil {
		return 0, fmt.Errorf("find responses signed before their revocation: %w", err)
	}
	return o.resignEach(ctx, rows)
}

// Run refreshes due responses until ctx ends, under the "ocsp" lease.
func (o *Responder) Run(ctx context.Context, interval time.Duration, holder string) {
	defer func() { // give the lease back, so another replica takes over at once
		if err := o.db.ReleaseLease(context.WithoutCancel(ctx), "ocsp", holder); err != nil {
			o.log.Warn("release the ocsp lease", "err", err)
		}
	}()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if ok, err := o.db.AcquireLease(ctx, "ocsp", holder, o.clk.Now(), 3*interval+time.Minute); err == nil && ok {
			if _, err := o.Refresh(ctx); err != nil && ctx.Err() == nil {
				o.log.Error("ocsp refresh", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkResponse is vetca's own check of a signed response before it is
// stored: it parses back and verifies against the issuer, names the serial,
// carries the intended status and reason, keeps the BR §4.9.9 validity
// interval, and has no singleExtensions (BR §7.3.2).
func checkResponse(der []byte, issuer *x509.Certificate, want ocspresp.Response) error {
	got, err := ocsp.ParseResponse(der, issuer)
	if err != nil {
		return err
	}
	switch {
	case got.SerialNumber.Cmp(want.Serial) != 0:
		return fmt.Errorf("serial %x, want %x", got.SerialNumber, want.Serial)
	case want.Status == ocspresp.Good && got.Status != ocsp.Good,
		want.Status == ocspresp.Revoked && got.Status != ocsp.Revoked:
		return fmt.Errorf("status %d, want %d", got.Status, want.Status)
	case want.Status == ocspresp.Revoked && got.RevocationReason != want.Reason:
		return fmt.Errorf("reason %d, want %d", got.RevocationReason, want.Reason)
	case len(got.Extensions) > 0:
		return fmt.Errorf("singleExtensions present")
	}
	return br.CheckOCSPValidity(got.ThisUpdate, got.NextUpdate)
}

// noteReplay records, as an audit event, that a stored status artifact
// (an OCSP response or a CRL) was found replaced and was not served, so
// that the refusal outlives the repair that follows it.
func noteReplay(ctx context.Context, db *store.DB, rec *audit.Recorder, log *slog.Logger, action audit.Action, table, id string) {
	err := db.InTx(ctx, func(tx *store.Tx) error {
		return rec.Note(ctx, tx, actor.SystemActor("status"), action, table, id,
			map[string]any{"message": "stored artifact disagreed with the audited revocation state; not served, re-signed"})
	})
	if err != nil {
		log.Error("record refused status replay", "table", table, "id", id, "err", err)
	}
}
