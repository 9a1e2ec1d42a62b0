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
	"strconv"
	"strings"
	"sync"
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

	// complete remembers, per shard URL, the CRL number and recent
	// revocations missesARecentRevocation last found all listed.
	completeMu sync.Mutex
	complete   map[string]string
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
	return &Publisher{db: db, rec: rec, tab: newTables(rec), clk: clk, engine: engine, linter: linter, cfg: cfg, log: log, wake: make(chan struct{}, 1), complete: map[string]string{}}
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
		`SELECT DISTINCT issuer_id, shard, crl_url FROM revocations WHERE not_after >= ? OR recorded_at >= ?`, store.FormatTime(since), store.FormatTime(since))
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
	if p.timeDue(t, cur, p.clk.Now()) {
		return true, nil
	}
	var newer int
	err = p.db.QueryRow(ctx, `SELECT COUNT(*) FROM revocations WHERE crl_url = ? AND recorded_at >= ?`,
		t.URL, store.FormatTime(cur.ThisUpdate)).Scan(&newer)
	if err != nil || newer > 0 {
		return newer > 0, err
	}
	return p.missesARecentRevocation(ctx, t, cur)
}

// timeDue reports whether the shard's regularly scheduled republication
// is due at now: its republication interval has passed since the current
// CRL, or that CRL's nextUpdate is near.
func (p *Publisher) timeDue(t Target, cur ShardRecord, now time.Time) bool {
	republish := p.cfg.Republish
	if t.Full {
		republish = 7 * 24 * time.Hour
	}
	return !now.Before(cur.ThisUpdate.Add(republish)) || !now.Before(cur.NextUpdate.Add(-nextUpdateMargin))
}

// scheduledSince returns since, the thisUpdate of the URL's latest
// regularly scheduled CRL (zero if none is known), from which eachEntry
// lists the entries of expired certificates, and next, the one to record
// with the CRL built at now: now if that CRL is itself regularly scheduled
// (the URL's first, or one due by time), else since. An entry must stay
// until it has appeared on at least one regularly scheduled CRL beyond
// its certificate's validity period, and a CRL published early because of
// a revocation does not count (BR §7.2.2; br.CRLEntryRemovable). The
// stored time is not audited, so it is never taken later than the audited
// thisUpdate of the current CRL.
func (p *Publisher) scheduledSince(ctx context.Context, tx *store.Tx, t Target, cur ShardRecord, had bool, now time.Time) (since, next time.Time, err error) {
	if !had {
		return time.Time{}, now, nil
	}
	var s string
	err = tx.QueryRow(ctx, `SELECT scheduled FROM crl_files WHERE url = ?`, t.URL).Scan(&s)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, time.Time{}, fmt.Errorf("read the last scheduled CRL of %s: %w", t.URL, err)
	}
	if s != "" {
		if since, err = store.ParseTime(s); err != nil {
			return time.Time{}, time.Time{}, apperr.Integrity("crl_files", t.URL, "scheduled %q is not a stored time", s)
		}
		if since.After(cur.ThisUpdate) {
			since = cur.ThisUpdate
		}
	}
	if p.timeDue(t, cur, now) {
		return since, now, nil
	}
	return since, since, nil
}

// nextUpdateMargin is how long before a CRL's nextUpdate its shard is
// republished at the latest, whatever the republication interval: the
// next CRL is out by then (RFC 5280 §5.1.2.5) even when the interval is
// barely shorter than the validity, or a pass was late.
const nextUpdateMargin = time.Hour

// CommitWindow bounds how long a transaction that records a revocation
// runs between taking its recorded_at and committing. Whoever judges by
// what has been revoked by a time (this publisher's completeness check,
// the deadline watches of incidents and problem reports) waits that long
// after it: a revocation recorded a moment before, in a batch still
// running on another replica, is not yet visible just after.
const CommitWindow = 5 * time.Minute

// missesARecentRevocation reports whether the shard's current CRL leaves
// out a revocation recorded in the CommitWindow before its thisUpdate. A
// revocation whose transaction took its time before thisUpdate but
// committed after the build's snapshot is in neither the CRL nor, by
// recorded_at, newer than it; the wake-up its commit sends would find the
// shard not due, and it would wait for the scheduled republication. Only
// then is the CRL read, one pass over its entries; a CRL found complete
// for a set of recent revocations is not read again for it.
func (p *Publisher) missesARecentRevocation(ctx context.Context, t Target, cur ShardRecord) (bool, error) {
	// The next build lists every one of them, expired or not (eachEntry
	// lists what was recorded in the CommitWindow before the previous
	// thisUpdate), so once a CRL lists them the shard is found complete.
	rows, err := p.db.Query(ctx, `SELECT serial FROM revocations WHERE crl_url = ? AND recorded_at >= ? AND recorded_at < ? ORDER BY serial`,
		t.URL, store.FormatTime(cur.ThisUpdate.Add(-CommitWindow)), store.FormatTime(cur.ThisUpdate))
	if err != nil {
		return false, fmt.Errorf("recent revocations of %s: %w", t.URL, err)
	}
	var recent []string
	for rows.Next() {
		var sn string
		if err := rows.Scan(&sn); err != nil {
			rows.Close()
			return false, err
		}
		recent = append(recent, sn)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(recent) == 0 {
		return false, err
	}
	key := fmt.Sprintf("%s\x00%d\x00%s", t.URL, cur.Number, strings.Join(recent, ","))
	p.completeMu.Lock()
	known := p.complete[t.URL] == key
	p.completeMu.Unlock()
	if known {
		return false, nil
	}
	der, _, ok, err := p.read(ctx, t.URL)
	if err != nil || !ok {
		return !ok, err // no intact CRL stored: publish again
	}
	listed := make(map[string]bool, len(recent))
	for _, sn := range recent {
		listed[sn] = false
	}
	issCert, err := t.Issuer.Certificate()
	if err != nil {
		return false, err
	}
	if err := eachCRLEntry(der, issCert, t.URL, t.Full, func(serial []byte, _ time.Time, _ int) {
		sn := hex.EncodeToString(serial)
		if _, recent := listed[sn]; recent {
			listed[sn] = true
		}
	}); err != nil {
		return true, nil // not a CRL vetca would serve: publish again
	}
	for _, in := range listed {
		if !in {
			return true, nil
		}
	}
	p.completeMu.Lock()
	p.complete[t.URL] = key
	p.completeMu.Unlock()
	return false, nil
}

// entryBatch is how many revocations one statement of a shard's build
// reads: the build holds one batch of rows at a time, never the shard.
const entryBatch = 5000

// lintWindow is how many entries zlint sees at once (crl.Windows).
const lintWindow = 10000

// eachEntry calls fn with every revoked serial a shard's CRL must list:
// every revocation of the shard except those whose certificate expired
// before the previous regularly scheduled CRL (thisUpdate scheduledSince,
// zero for none: every revocation) and that were recorded before it (less
// the CommitWindow), which therefore already listed them once after expiry
// (BR §4.10.1, §7.2.2; RFC 5280 §3.3). A revocation recorded after its
// certificate expired is listed all the same. It reads them in serial
// order, a batch at a time (keyset pagination on revocations_crl_serial),
// scanning the columns directly rather than through the reflective row
// decoder; the serial passed to fn is valid only during the call.
func (p *Publisher) eachEntry(ctx context.Context, q store.Querier, url string, scheduledSince time.Time, fn func(serial []byte, revokedAt time.Time, reason int) error) error {
	query := `SELECT serial, revoked_at, reason_code FROM revocations WHERE crl_url = ? AND serial > ?`
	if !scheduledSince.IsZero() {
		query += listedAfter
	}
	query += ` ORDER BY serial LIMIT ` + strconv.Itoa(entryBatch)
	var (
		sn, at  sql.RawBytes
		code    int
		serial  [crl.MaxSerialOctets]byte
		last    [2 * crl.MaxSerialOctets]byte
		lastLen int
		after   string
		since   = listedAfterArgs(scheduledSince)
	)
	for {
		args := []any{url, after}
		if !scheduledSince.IsZero() {
			args = append(args, since...)
		}
		n, err := func() (int, error) {
			rows, err := q.Query(ctx, query, args...)
			if err != nil {
				return 0, err
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				if err := rows.Scan(&sn, &at, &code); err != nil {
					return n, err
				}
				b, ok := decodeSerialHex(serial[:0], sn)
				if !ok {
					return n, apperr.Integrity("revocations", string(sn), "serial is not in vetca's form (lower-case hex of at most 20 octets, no leading 00)")
				}
				revokedAt, ok := parseStoredTime(at)
				if !ok {
					return n, apperr.Integrity("revocations", string(sn), "revoked_at %q is not a stored time", at)
				}
				if err := fn(b, revokedAt, code); err != nil {
					return n, err
				}
				lastLen = copy(last[:], sn)
				n++
			}
			return n, rows.Err()
		}()
		if err != nil {
			return err
		}
		if n < entryBatch {
			return nil
		}
		after = string(last[:lastLen])
	}
}

// listedAfter is the condition, with listedAfterArgs, on the revocations
// a CRL built after a regularly scheduled one of thisUpdate prev lists
// (eachEntry): an unexpired certificate's at prev, or one recorded too
// recently for that CRL to have listed it (a revocation after expiry; RFC
// 5280 §3.3).
const listedAfter = ` AND (not_after >= ? OR recorded_at >= ?)`

func listedAfterArgs(prev time.Time) []any {
	return []any{store.FormatTime(prev), store.FormatTime(prev.Add(-CommitWindow))}
}

// decodeSerialHex decodes a serial stored in vetca's form (serial.Hex:
// lower-case hex of the magnitude, no leading 00 octet) into dst.
func decodeSerialHex(dst []byte, s []byte) ([]byte, bool) {
	if len(s) == 0 || len(s)%2 != 0 || len(s) > 2*crl.MaxSerialOctets {
		return nil, false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return nil, false
		}
	}
	dst = dst[:len(s)/2]
	if _, err := hex.Decode(dst, s); err != nil || dst[0] == 0 {
		return nil, false
	}
	return dst, true
}

// parseStoredTime parses store.TimeFormat ("2006-01-02T15:04:05Z", fixed
// width) without the general parser, which would dominate reading a large
// shard.
func parseStoredTime(b []byte) (time.Time, bool) {
	if len(b) != len(store.TimeFormat) || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[19] != 'Z' {
		return time.Time{}, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for _, c := range b[i : i+n] {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 2)
	d, ok3 := num(8, 2)
	h, ok4 := num(11, 2)
	mi, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC)
	if t.Day() != d { // February 30th and the like
		return time.Time{}, false
	}
	return t, true
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
	// scheduled is the thisUpdate of the URL's latest regularly scheduled
	// CRL once this one is published (scheduledSince).
	scheduled time.Time
}

// Build reads a target's entries from the database and builds its next
// CRL. Everything is read in one read-only snapshot (store.DB.ReadTx), and
// thisUpdate is taken once that snapshot is fixed, so every revocation
// committed before thisUpdate is either listed or newer than the snapshot
// (and then recorded_at >= thisUpdate makes the shard due again; one whose
// own transaction took recorded_at before thisUpdate and committed after
// the snapshot is found by due's missesARecentRevocation). A shard's entries are streamed in serial order, a batch at
// a time, into crl.Stream: the build holds the output DER and one batch of
// rows, whatever the shard's size.
func (p *Publisher) Build(ctx context.Context, t Target) (*Built, error) {
	issCert, err := t.Issuer.Certificate()
	if err != nil {
		return nil, err
	}
	key, err := p.engine.Key(ctx, t.Issuer.ID)
	if err != nil {
		return nil, err
	}
	var b *Built
	err = p.db.ReadTx(ctx, func(tx *store.Tx) error {
		if err := tx.PreferIndexOrder(ctx); err != nil { // keyset pages read from revocations_crl_serial
			return err
		}
		cur, had, err := p.current(ctx, tx, t.URL)
		if err != nil {
			return err
		}
		number := int64(1)
		if had {
			number = cur.Number + 1
		}
		now := p.clk.Now().UTC().Truncate(time.Second)
		since, scheduled, err := p.scheduledSince(ctx, tx, t, cur, had, now)
		if err != nil {
			return err
		}
		count := `SELECT COUNT(*) FROM revocations WHERE crl_url = ?`
		args := []any{t.URL}
		if !since.IsZero() {
			count += listedAfter
			args = append(args, listedAfterArgs(since)...)
		}
		var n int
		if err := tx.QueryRow(ctx, count, args...).Scan(&n); err != nil {
			return fmt.Errorf("count the entries of %s: %w", t.URL, err)
		}
		validity := p.cfg.Validity
		var der []byte
		entries := 0
		if t.Full {
			// The root's CRL covers CA certificates: a full CRL, no IDP
			// (BR §7.2.2.1 only asks partitioned CRLs for one), and few
			// entries.
			validity = 30 * 24 * time.Hour
			var rl []x509.RevocationListEntry
			err := p.eachEntry(ctx, tx, t.URL, since, func(serial []byte, at time.Time, reason int) error {
				ent := x509.RevocationListEntry{SerialNumber: new(big.Int).SetBytes(serial), RevocationTime: at}
				if reason != 0 {
					ent.ReasonCode = reason
				}
				rl = append(rl, ent)
				return nil
			})
			if err != nil {
				return err
			}
			entries = len(rl)
			der, err = x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
				Number: big.NewInt(number), ThisUpdate: now, NextUpdate: now.Add(validity), RevokedCertificateEntries: rl,
			}, issCert, key)
			if err != nil {
				return fmt.Errorf("build CRL: %w", err)
			}
		} else {
			s, err := crl.NewStream(crl.Header{Issuer: issCert, Signer: key, URL: t.URL, Number: big.NewInt(number),
				ThisUpdate: now, NextUpdate: now.Add(validity)}, n)
			if err != nil {
				return fmt.Errorf("build CRL: %w", err)
			}
			if err := p.eachEntry(ctx, tx, t.URL, since, s.Add); err != nil {
				return fmt.Errorf("build CRL: %w", err)
			}
			entries = s.Count()
			if der, err = s.Finish(); err != nil {
				return fmt.Errorf("build CRL: %w", err)
			}
		}
		b = &Built{Target: t, DER: der, Number: number, Entries: entries, ThisUpdate: now, NextUpdate: now.Add(validity), prev: cur, hadPrev: had, scheduled: scheduled}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Publish builds, lints, verifies, records and stores one CRL.
func (p *Publisher) Publish(ctx context.Context, t Target) (ShardRecord, error) {
	b, err := p.Build(ctx, t)
	if err != nil {
		return ShardRecord{}, err
	}
	return p.Record(ctx, b)
}

// Record checks a built CRL before publication and records it. The checks
// read the DER as built, in bounded memory: zlint's CRL lints over windows
// of lintWindow entries with the CRL's own header, extensions and signature
// (crl.Windows: every per-entry and header lint sees exactly what the CRL
// says), then vetca's own in one pass (crl.Check: the signature over the
// TBSCertList as it is, the shard profile, IDP equal to the URL, increasing
// number, fresh, every entry, no serial twice, and the entry count).
func (p *Publisher) Record(ctx context.Context, b *Built) (ShardRecord, error) {
	t := b.Target
	if !t.Full {
		err := crl.Windows(b.DER, lintWindow, func(w []byte) error {
			rep, err := p.linter.LintCRL(w)
			if err != nil {
				return err
			}
			if err := rep.Err(); err != nil {
				return fmt.Errorf("CRL lint: %w", err)
			}
			return nil
		})
		if err != nil {
			return ShardRecord{}, err
		}
		issCert, err := t.Issuer.Certificate()
		if err != nil {
			return ShardRecord{}, err
		}
		want := crl.Expect{URL: t.URL, Now: b.ThisUpdate}
		if b.hadPrev {
			want.NumberAbove = big.NewInt(b.prev.Number)
		}
		info, err := crl.Check(b.DER, issCert, want, nil)
		if err != nil {
			return ShardRecord{}, fmt.Errorf("CRL self-check: %w", err)
		}
		if info.Count != b.Entries {
			return ShardRecord{}, fmt.Errorf("CRL self-check: %d entries, %d were built", info.Count, b.Entries)
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
		scheduled := ""
		if !b.scheduled.IsZero() {
			scheduled = store.FormatTime(b.scheduled)
		}
		_, err = tx.Exec(ctx, `INSERT INTO crl_files (url, number, der, scheduled) VALUES (?, ?, ?, ?)
			ON CONFLICT (url) DO UPDATE SET number = excluded.number, der = excluded.der, scheduled = excluded.scheduled`, t.URL, b.Number, enc, scheduled)
		return err
	})
	if err != nil {
		return ShardRecord{}, err
	}
	return rec, nil
}

// Get returns the current CRL published at url, checked against its
// audited hash, both read in one snapshot (read), so a publication in
// progress never looks like a mismatch. Bytes that differ were written
// outside vetca — typically an older, validly signed CRL put back to hide
// a revocation — and are never
// served: the shard is republished from the audited revocations, and the
// new CRL is served. audit verify reports the replaced file (CheckFiles).
func (p *Publisher) Get(ctx context.Context, url string) ([]byte, ShardRecord, error) {
	if der, rec, ok, err := p.read(ctx, url); err != nil || ok {
		return der, rec, err
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
	// The record and the file are read in one snapshot: a publication
	// writes both in one transaction, and one committing between two
	// separate reads would look like a replaced file.
	var rec ShardRecord
	var enc string
	found, missing := false, false
	err := p.db.ReadTx(ctx, func(tx *store.Tx) error {
		var err error
		if rec, found, err = p.current(ctx, tx, url); err != nil || !found {
			return err
		}
		err = tx.QueryRow(ctx, `SELECT der FROM crl_files WHERE url = ?`, url).Scan(&enc)
		if errors.Is(err, sql.ErrNoRows) {
			missing = true
			return nil
		}
		if err != nil {
			return fmt.Errorf("crl file %s: %w", url, err)
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, ShardRecord{}, false, err
	case !found:
		return nil, ShardRecord{}, false, apperr.NotFound(apperr.CodeNotFound, apperr.NoField, "no CRL is published at %s", url)
	case missing:
		return nil, rec, false, nil
	}
	der, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, rec, false, nil
	}
	sum := sha256.Sum256(der)
	return der, rec, hex.EncodeToString(sum[:]) == rec.SHA256, nil
}

// CheckFiles compares every stored CRL with the hash its shard's audited
// record holds, and the entries of each that matches with the shard's
// audited revocations (compareEntries: a CRL vetca signed from revocation
// rows edited by SQL and since restored). Each difference (a replaced or
// missing file; an entry no audited revocation accounts for, or that
// differs from it; a revocation missing) is an audit finding naming the
// shard URL and serial (run by audit verify).
func (p *Publisher) CheckFiles(ctx context.Context) ([]audit.Finding, error) {
	shards, err := p.Shards(ctx)
	if err != nil {
		return nil, err
	}
	issuers, err := p.issuersByID(ctx)
	if err != nil {
		return nil, err
	}
	now := p.clk.Now()
	var out []audit.Finding
	add := func(url, serial, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if serial != "" {
			msg = "serial " + serial + ": " + msg
		}
		out = append(out, audit.Finding{Table: "crl_files", RowID: url, Field: "der", Message: msg})
	}
	for _, sh := range shards {
		der, _, ok, err := p.read(ctx, sh.URL)
		if err != nil {
			return nil, err
		}
		if !ok {
			out = append(out, audit.Finding{Table: "crl_files", RowID: sh.URL, Field: "der",
				Message: fmt.Sprintf("the stored CRL is missing or is not CRL number %d that vetca published (sha256 %s): it was replaced outside vetca", sh.Number, sh.SHA256)})
			continue
		}
		if err := p.compareStored(ctx, sh, der, issuers, now, add); err != nil {
			return nil, err
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
