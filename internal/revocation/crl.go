package revocation

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"sort"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/lint"
	"github.com/vetca/vetca/internal/revocation/crl"
	"github.com/vetca/vetca/internal/store"
)

// ShardRecord is the audited record of a shard's current CRL.
type ShardRecord struct {
	ID          string    `db:"id" json:"-"`
	IssuerID    string    `db:"issuer_id" json:"issuerId"`
	Shard       int       `db:"shard" json:"shard"`
	URL         string    `db:"url" json:"url"`
	Number      int64     `db:"number" json:"number"`
	ThisUpdate  time.Time `db:"this_update" json:"thisUpdate"`
	NextUpdate  time.Time `db:"next_update" json:"nextUpdate"`
	Entries     int       `db:"entries" json:"entries"`
	SHA256      string    `db:"sha256" json:"sha256"`
	PublishedAt time.Time `db:"published_at" json:"publishedAt"`
}

// PublisherConfig sets the CRL schedule.
type PublisherConfig struct {
	PublicURL string
	Shards    int           // shards per issuing CA (certificates keep the shard they were issued with)
	Validity  time.Duration // nextUpdate - thisUpdate; at most 10 days (BR §7.2); default 7 days
	Republish time.Duration // scheduled republication; at most 4 days (BR §4.9.7); default 3 days
}

// Publisher builds, lints, records and serves CRL shards.
type Publisher struct {
	db     *store.DB
	rec    *audit.Recorder
	tab    tables
	clk    clock.Clock
	engine *issuance.Engine
	linter *lint.Linter
	cfg    PublisherConfig
	log    *slog.Logger
	wake   chan struct{}
}

// NewPublisher returns a CRL publisher.
func NewPublisher(db *store.DB, rec *audit.Recorder, clk clock.Clock, engine *issuance.Engine, linter *lint.Linter, cfg PublisherConfig, log *slog.Logger) *Publisher {
	if cfg.Validity <= 0 || cfg.Validity > crl.MaxValidity {
		cfg.Validity = 7 * 24 * time.Hour
	}
	if cfg.Republish <= 0 || cfg.Republish > br.CRLRepublishInterval(false) {
		cfg.Republish = 3 * 24 * time.Hour
	}
	if cfg.Shards <= 0 {
		cfg.Shards = 16
	}
	return &Publisher{db: db, rec: rec, tab: newTables(rec), clk: clk, engine: engine, linter: linter, cfg: cfg, log: log, wake: make(chan struct{}, 1)}
}

// Revoked wakes the publication loop (BR §4.9.7: within 24 hours; vetca
// republishes the shard within its poll interval).
func (p *Publisher) Revoked(context.Context, Revocation) {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run publishes due shards until ctx ends, holding the "crl" lease so one
// replica publishes at a time.
func (p *Publisher) Run(ctx context.Context, interval time.Duration, holder string) {
	defer func() { // give the lease back, so another replica takes over at once
		if err := p.db.ReleaseLease(context.WithoutCancel(ctx), "crl", holder); err != nil {
			p.log.Warn("release the crl lease", "err", err)
		}
	}()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := p.db.AcquireLease(ctx, "crl", holder, p.clk.Now(), 3*interval+time.Minute)
		if err != nil && ctx.Err() == nil {
			p.log.Error("crl lease", "err", err)
		} else if ok {
			if _, err := p.PublishDue(ctx); err != nil && ctx.Err() == nil {
				p.log.Error("crl publication", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.wake:
		}
	}
}

// shardID is the id of a crl_shards row: shards are keyed by their URL.
func shardID(url string) string {
	sum := sha256.Sum256([]byte(url))
	return "crl_" + hex.EncodeToString(sum[:12])
}

// Target is one CRL vetca publishes.
type Target struct {
	Issuer issuance.Issuer
	Shard  int
	URL    string
	Full   bool // the root's full CRL of CA certificates (no IDP)
}

// Targets lists every CRL to publish: each issuing CA's configured shards
// under the current public URL; every CRL URL that an unexpired
// certificate, an issuance intent or a revocation names (the public URL may
// have changed since they were issued, and their CRL must stay where their
// CRL distribution point says; docs/architecture.md, Revocation status); and
// each root's full CRL of CA certificates at every URL its issuing CAs name.
func (p *Publisher) Targets(ctx context.Context) ([]Target, error) {
	issuers, err := issuance.ListIssuers(ctx, p.rec, p.db)
	if err != nil {
		return nil, err
	}
	byID := map[string]issuance.Issuer{}
	for _, iss := range issuers {
		byID[iss.ID] = iss
	}
	seen := map[string]bool{}
	var out []Target
	add := func(t Target) {
		if !seen[t.URL] {
			seen[t.URL] = true
			out = append(out, t)
		}
	}
	for _, iss := range issuers {
		switch iss.Kind {
		case issuance.KindRoot:
			add(Target{Issuer: iss, Shard: 0, URL: crl.ShardURL(p.cfg.PublicURL, iss.ID, 0), Full: true})
		case issuance.KindIntermediate:
			c, err := iss.Certificate()
			if err != nil {
				return nil, err
			}
			if root, ok := byID[iss.ParentID]; ok {
				for _, u := range c.CRLDistributionPoints {
					add(Target{Issuer: root, Shard: 0, URL: u, Full: true})
				}
			}
			for s := 0; s < p.cfg.Shards; s++ {
				add(Target{Issuer: iss, Shard: s, URL: crl.ShardURL(p.cfg.PublicURL, iss.ID, s)})
			}
		}
	}
	since := p.clk.Now().Add(-p.cfg.Validity - p.cfg.Republish)
	// The shards to publish: those named by unexpired certificates and
	// issuances (package issuance) and by revocations. Each shard's entries
	// come from its revocations, and every published CRL is checked against
	// them (crl verify); this only decides which URLs exist.
	rows, err := issuance.LiveShards(ctx, p.db, since)
	if err != nil {
		return nil, err
	}
	revoked, err := store.SelectUnchecked[issuance.ShardRef](ctx, p.db,
		`SELECT DISTINCT issuer_id, shard, crl_url FROM revocations WHERE not_after >= ?`, store.FormatTime(since))
	if err != nil {
		return nil, err
	}
	listed := map[string]bool{}
	for _, r := range rows {
		listed[r.URL] = true
	}
	for _, r := range revoked {
		if !listed[r.URL] {
			listed[r.URL] = true
			rows = append(rows, r)
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].URL < rows[j].URL })
	for _, r := range rows {
		iss, ok := byID[r.IssuerID]
		if !ok {
			return nil, apperr.Integrity("certificates", r.URL, "names unknown issuer %s", r.IssuerID)
		}
		add(Target{Issuer: iss, Shard: r.Shard, URL: r.URL})
	}
	return out, nil
}

// PublishDue publishes every shard that has no CRL yet, whose scheduled
// republication is due, or that has a revocation newer than its CRL.
func (p *Publisher) PublishDue(ctx context.Context) ([]ShardRecord, error) {
	targets, err := p.Targets(ctx)
	if err != nil {
		return nil, err
	}
	var out []ShardRecord
	var errs []error
	for _, t := range targets {
		due, err := p.due(ctx, t)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !due {
			continue
		}
		rec, err := p.Publish(ctx, t)
		if err != nil {
			errs = append(errs, fmt.Errorf("shard %s: %w", t.URL, err))
			continue
		}
		out = append(out, rec)
	}
	if len(out) > 0 {
		p.log.Info("published CRLs", "count", len(out))
	}
	return out, errors.Join(errs...)
}

func (p *Publisher) current(ctx context.Context, q store.Querier, url string) (ShardRecord, bool, error) {
	rs, err := p.tab.crlShards.Select(ctx, q, `WHERE id = ?`, shardID(url))
	if err != nil || len(rs) == 0 {
		return ShardRecord{}, false, err
	}
	return rs[0], true, nil
}

func (p *Publisher) due(ctx context.Context, t Target) (bool, error) {
	cur, ok, err := p.current(ctx, p.db, t.URL)
	if err != nil || !ok {
		return true, err
	}
	now := p.clk.Now()
	republish := p.cfg.Republish
	if t.Full {
		republish = 7 * 24 * time.Hour
	}
	if !now.Before(cur.ThisUpdate.Add(republish)) {
		return true, nil
	}
	var newer int
	err = p.db.QueryRow(ctx, `SELECT COUNT(*) FROM revocations WHERE crl_url = ? AND recorded_at >= ?`,
		t.URL, store.FormatTime(cur.ThisUpdate)).Scan(&newer)
	return newer > 0, err
}

// entries returns the revoked serials a shard's CRL must list: every
// revocation of the shard except those whose certificate expired before
// the previous scheduled CRL, which therefore already listed them once
// after expiry (BR §4.10.1, §7.2).
func (p *Publisher) entries(ctx context.Context, q store.Querier, t Target, prevThisUpdate time.Time) ([]crl.Entry, error) {
	query := `SELECT serial, revoked_at, reason_code FROM revocations WHERE crl_url = ?`
	args := []any{t.URL}
	if !prevThisUpdate.IsZero() {
		query += ` AND not_after >= ?`
		args = append(args, store.FormatTime(prevThisUpdate))
	}
	// A shard can hold hundreds of thousands of entries: scan directly
	// rather than through the reflective row decoder.
	rows, err := q.Query(ctx, query, args...) // entry order does not matter in a CRL
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []crl.Entry
	var sn, at string
	var code int
	for rows.Next() {
		if err := rows.Scan(&sn, &at, &code); err != nil {
			return nil, err
		}
		b, err := hex.DecodeString(sn)
		if err != nil || len(b) == 0 {
			return nil, apperr.Integrity("revocations", sn, "serial is not hex")
		}
		revokedAt, err := store.ParseTime(at)
		if err != nil {
			return nil, apperr.Integrity("revocations", sn, "revoked_at: %v", err)
		}
		out = append(out, crl.Entry{Serial: new(big.Int).SetBytes(b), RevokedAt: revokedAt, Reason: code})
	}
	return out, rows.Err()
}

// Built is a CRL built from the database, not yet checked or recorded.
type Built struct {
	Target     Target
	DER        []byte
	Number     int64
	Entries    int
	ThisUpdate time.Time
	NextUpdate time.Time
	prev       ShardRecord
	hadPrev    bool
}

// Build reads a target's entries from the database and builds its next CRL.
func (p *Publisher) Build(ctx context.Context, t Target) (*Built, error) {
	cur, had, err := p.current(ctx, p.db, t.URL)
	if err != nil {
		return nil, err
	}
	var prevThis time.Time
	number := int64(1)
	if had {
		prevThis, number = cur.ThisUpdate, cur.Number+1
	}
	entries, err := p.entries(ctx, p.db, t, prevThis)
	if err != nil {
		return nil, err
	}
	issCert, err := t.Issuer.Certificate()
	if err != nil {
		return nil, err
	}
	key, err := p.engine.Key(ctx, t.Issuer.ID)
	if err != nil {
		return nil, err
	}
	now := p.clk.Now().UTC().Truncate(time.Second)
	validity := p.cfg.Validity
	var der []byte
	if t.Full {
		// The root's CRL covers CA certificates: a full CRL, no IDP
		// (BR §7.2.2.1 only asks partitioned CRLs for one).
		validity = 30 * 24 * time.Hour
		var rl []x509.RevocationListEntry
		for _, e := range entries {
			ent := x509.RevocationListEntry{SerialNumber: e.Serial, RevocationTime: e.RevokedAt}
			if e.Reason != 0 {
				ent.ReasonCode = e.Reason
			}
			rl = append(rl, ent)
		}
		der, err = x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
			Number: big.NewInt(number), ThisUpdate: now, NextUpdate: now.Add(validity), RevokedCertificateEntries: rl,
		}, issCert, key)
	} else {
		der, err = crl.Build(crl.Params{Issuer: issCert, Signer: key, URL: t.URL, Number: big.NewInt(number),
			ThisUpdate: now, NextUpdate: now.Add(validity), Entries: entries})
	}
	if err != nil {
		return nil, fmt.Errorf("build CRL: %w", err)
	}
	return &Built{Target: t, DER: der, Number: number, Entries: len(entries), ThisUpdate: now, NextUpdate: now.Add(validity), prev: cur, hadPrev: had}, nil
}

// Publish builds, lints, verifies, records and stores one CRL.
func (p *Publisher) Publish(ctx context.Context, t Target) (ShardRecord, error) {
	b, err := p.Build(ctx, t)
	if err != nil {
		return ShardRecord{}, err
	}
	return p.Record(ctx, b)
}

// Record checks a built CRL before publication (zlint's CRL lints, then
// vetca's own: signature, IDP equal to the URL, increasing number, fresh)
// and records it.
func (p *Publisher) Record(ctx context.Context, b *Built) (ShardRecord, error) {
	t := b.Target
	if !t.Full {
		rep, err := p.linter.LintCRL(b.DER)
		if err != nil {
			return ShardRecord{}, err
		}
		if err := rep.Err(); err != nil {
			return ShardRecord{}, fmt.Errorf("CRL lint: %w", err)
		}
		issCert, err := t.Issuer.Certificate()
		if err != nil {
			return ShardRecord{}, err
		}
		want := crl.Expect{URL: t.URL, Now: b.ThisUpdate}
		if b.hadPrev {
			want.NumberAbove = big.NewInt(b.prev.Number)
		}
		if _, err := crl.Verify(b.DER, issCert, want); err != nil {
			return ShardRecord{}, fmt.Errorf("CRL self-check: %w", err)
		}
	}
	sum := sha256.Sum256(b.DER)
	rec := ShardRecord{ID: shardID(t.URL), IssuerID: t.Issuer.ID, Shard: t.Shard, URL: t.URL, Number: b.Number,
		ThisUpdate: b.ThisUpdate, NextUpdate: b.NextUpdate, Entries: b.Entries, SHA256: hex.EncodeToString(sum[:]), PublishedAt: p.clk.Now()}
	sys := actor.SystemActor("crl")
	err := p.db.InTx(ctx, func(tx *store.Tx) error {
		// Re-read under the transaction: another replica may have published.
		latest, ok, err := p.current(ctx, tx, t.URL)
		if err != nil {
			return err
		}
		if ok != b.hadPrev || (ok && latest.Number != b.prev.Number) {
			return fmt.Errorf("shard %s was published concurrently", t.URL)
		}
		if b.hadPrev {
			err = p.tab.crlShards.Update(ctx, tx, sys, actCrlPublished, rec)
		} else {
			err = p.tab.crlShards.Insert(ctx, tx, sys, actCrlPublished, rec)
		}
		if err != nil {
			return err
		}
		enc := base64.StdEncoding.EncodeToString(b.DER)
		_, err = tx.Exec(ctx, `INSERT INTO crl_files (url, number, der) VALUES (?, ?, ?)
			ON CONFLICT (url) DO UPDATE SET number = excluded.number, der = excluded.der`, t.URL, b.Number, enc)
		return err
	})
	if err != nil {
		return ShardRecord{}, err
	}
	return rec, nil
}

// Get returns the current CRL published at url, checked against its
// audited hash. A publication committing between the two reads is retried
// once. Bytes that still differ were written outside vetca — typically an
// older, validly signed CRL put back to hide a revocation — and are never
// served: the shard is republished from the audited revocations, and the
// new CRL is served. audit verify reports the replaced file (CheckFiles).
func (p *Publisher) Get(ctx context.Context, url string) ([]byte, ShardRecord, error) {
	for attempt := 0; attempt < 2; attempt++ {
		der, rec, ok, err := p.read(ctx, url)
		if err != nil || ok {
			return der, rec, err
		}
	}
	p.log.Error("stored CRL differs from its audited hash; it was replaced outside vetca, republishing", "url", url)
	noteReplay(ctx, p.db, p.rec, p.log, actCRLReplayRefused, "crl_files", url)
	targets, err := p.Targets(ctx)
	if err != nil {
		return nil, ShardRecord{}, err
	}
	for _, t := range targets {
		if t.URL != url {
			continue
		}
		if _, err := p.Publish(ctx, t); err != nil {
			p.log.Warn("republish replaced CRL", "url", url, "err", err) // perhaps another replica did
		}
		der, rec, ok, err := p.read(ctx, url)
		if err != nil || ok {
			return der, rec, err
		}
	}
	return nil, ShardRecord{}, apperr.Integrity("crl_files", url, "CRL bytes differ from the published hash")
}

// read returns a shard's stored CRL and whether its bytes match the hash
// in the shard's audited record.
func (p *Publisher) read(ctx context.Context, url string) ([]byte, ShardRecord, bool, error) {
	rec, ok, err := p.current(ctx, p.db, url)
	if err != nil {
		return nil, ShardRecord{}, false, err
	}
	if !ok {
		return nil, ShardRecord{}, false, apperr.NotFound(apperr.CodeNotFound, apperr.NoField, "no CRL is published at %s", url)
	}
	var enc string
	err = p.db.QueryRow(ctx, `SELECT der FROM crl_files WHERE url = ?`, url).Scan(&enc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, rec, false, nil
	}
	if err != nil {
		return nil, ShardRecord{}, false, fmt.Errorf("crl file %s: %w", url, err)
	}
	der, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, rec, false, nil
	}
	sum := sha256.Sum256(der)
	return der, rec, hex.EncodeToString(sum[:]) == rec.SHA256, nil
}

// CheckFiles compares every stored CRL with the hash its shard's audited
// record holds; each difference (a replaced or missing file) is an audit
// finding (run by audit verify).
func (p *Publisher) CheckFiles(ctx context.Context) ([]audit.Finding, error) {
	shards, err := p.Shards(ctx)
	if err != nil {
		return nil, err
	}
	var out []audit.Finding
	for _, sh := range shards {
		_, _, ok, err := p.read(ctx, sh.URL)
		if err != nil {
			return nil, err
		}
		if !ok {
			out = append(out, audit.Finding{Table: "crl_files", RowID: sh.URL, Field: "der",
				Message: fmt.Sprintf("the stored CRL is missing or is not CRL number %d that vetca published (sha256 %s): it was replaced outside vetca", sh.Number, sh.SHA256)})
		}
	}
	return out, nil
}

// PublicURL is the base new shard URLs are built from.
func (p *Publisher) PublicURL() string { return p.cfg.PublicURL }

// Shards lists the current shard records, sorted by URL.
func (p *Publisher) Shards(ctx context.Context) ([]ShardRecord, error) {
	rs, err := p.tab.crlShards.Select(ctx, p.db, "")
	if err != nil {
		return nil, err
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].URL < rs[j].URL })
	return rs, nil
}

// ListShards is Shards for staff (GET /api/v1/crl).
func (p *Publisher) ListShards(ctx context.Context, by actor.Actor) ([]ShardRecord, error) {
	if !by.IsStaff() {
		return nil, apperr.Forbidden(apperr.CodeForbidden, apperr.NoField, "staff only")
	}
	return p.Shards(ctx)
}
