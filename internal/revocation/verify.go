package revocation

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/br"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/revocation/crl"
	"github.com/vetca/vetca/internal/store"
)

// Finding is one CRL coverage problem.
type Finding struct {
	URL     string `json:"url"`
	Serial  string `json:"serial,omitempty"`
	Message string `json:"message"`
}

// Fetcher fetches a URL (HTTP in production, the server in tests).
type Fetcher func(ctx context.Context, url string) ([]byte, error)

// VerifyCoverage proves that every revoked, unexpired certificate is in
// exactly one current shard (its own), with its reason and date; that
// every entry of every published CRL (current shards and any other shard
// vetca published) is an audited revocation of that shard, with its reason
// and date (compareEntries); and that every published shard is valid and,
// with fetch set, fetchable at its URL with the same bytes. It returns the
// findings; none means all is well.
func (p *Publisher) VerifyCoverage(ctx context.Context, fetch Fetcher) ([]Finding, error) {
	now := p.clk.Now()
	targets, err := p.Targets(ctx)
	if err != nil {
		return nil, err
	}
	var out []Finding
	add := func(url, serial, format string, args ...any) {
		out = append(out, Finding{URL: url, Serial: serial, Message: fmt.Sprintf(format, args...)})
	}
	// The certificates marked revoked (package issuance), each of which
	// must have a revocation and be listed, so that a deleted revocation
	// row is still caught. They are read before the revocations: a
	// revocation commits with its certificate's mark, so each has its row
	// in every later read.
	marked, err := issuance.RevokedUnexpired(ctx, p.db, now)
	if err != nil {
		return nil, err
	}
	markedAt := map[string][]issuance.CertRef{}
	for _, c := range marked {
		markedAt[c.URL] = append(markedAt[c.URL], c)
	}
	for _, cs := range markedAt {
		slices.SortFunc(cs, func(a, b issuance.CertRef) int { return strings.Compare(a.Serial, b.Serial) })
	}
	checked := map[string]bool{}
	for _, t := range targets {
		checked[t.URL] = true
		issCert, err := t.Issuer.Certificate()
		if err != nil {
			return nil, err
		}
		ms := markedAt[t.URL]
		delete(markedAt, t.URL)
		der, rec, err := p.Get(ctx, t.URL)
		if err != nil {
			add(t.URL, "", "no current CRL: %v", err)
			if err := p.compareEntries(ctx, t.URL, nil, nil, false, time.Time{}, now, ms, add); err != nil {
				return nil, err
			}
			continue
		}
		var thisUpdate time.Time // stays zero if the CRL is not valid
		if t.Full {
			rl, err := x509.ParseRevocationList(der)
			if err == nil {
				err = rl.CheckSignatureFrom(issCert)
			}
			if err != nil {
				add(t.URL, "", "root CRL does not parse or verify: %v", err)
			} else {
				thisUpdate = rl.ThisUpdate
				if now.After(rl.NextUpdate) {
					add(t.URL, "", "root CRL is stale: nextUpdate %s", rl.NextUpdate.Format(time.RFC3339))
				}
			}
		} else {
			info, err := crl.Check(der, issCert, crl.Expect{URL: t.URL, Now: now}, nil)
			if err != nil {
				add(t.URL, "", "invalid CRL: %v", err)
			} else {
				thisUpdate = info.ThisUpdate
				if info.Number.Int64() != rec.Number {
					add(t.URL, "", "CRLNumber %s differs from the published record %d", info.Number, rec.Number)
				}
			}
		}
		if err := p.compareEntries(ctx, t.URL, der, issCert, t.Full, thisUpdate, now, ms, add); err != nil {
			return nil, err
		}
		if fetch != nil {
			got, err := fetch(ctx, t.URL)
			switch {
			case err != nil:
				add(t.URL, "", "not fetchable: %v", err)
			case string(got) != string(der):
				add(t.URL, "", "the URL serves different bytes than the current CRL")
			}
		}
	}
	// Shards vetca published that are no longer targets (their
	// certificates expired, or a URL that no audited row names): their
	// CRLs were signed and may still be fetched, so their entries are
	// compared too; they may be stale.
	shards, err := p.Shards(ctx)
	if err != nil {
		return nil, err
	}
	issuers, err := p.issuersByID(ctx)
	if err != nil {
		return nil, err
	}
	for _, sh := range shards {
		if checked[sh.URL] {
			continue
		}
		der, _, ok, err := p.read(ctx, sh.URL)
		if err != nil {
			return nil, err
		}
		if !ok {
			add(sh.URL, "", "the stored CRL is missing or is not the one vetca published")
			continue
		}
		if err := p.compareStored(ctx, sh, der, issuers, now, add); err != nil {
			return nil, err
		}
	}
	for _, url := range slices.Sorted(maps.Keys(markedAt)) { // a URL that is no target: never published
		for _, c := range markedAt[url] {
			add(url, c.Serial, "revoked certificate's shard has no valid CRL")
		}
	}
	return out, nil
}

// issuersByID returns every issuing CA by id.
func (p *Publisher) issuersByID(ctx context.Context) (map[string]issuance.Issuer, error) {
	issuers, err := issuance.ListIssuers(ctx, p.rec, p.db)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]issuance.Issuer, len(issuers))
	for _, iss := range issuers {
		byID[iss.ID] = iss
	}
	return byID, nil
}

// compareStored compares the entries of a stored CRL whose bytes match its
// audited record (so vetca signed them) with the shard's audited
// revocations. Its freshness is not checked: it may be a shard no longer
// published.
func (p *Publisher) compareStored(ctx context.Context, sh ShardRecord, der []byte, issuers map[string]issuance.Issuer, now time.Time, add func(url, serial, format string, args ...any)) error {
	iss, ok := issuers[sh.IssuerID]
	if !ok {
		add(sh.URL, "", "the shard's record names unknown issuer %s", sh.IssuerID)
		return nil
	}
	issCert, err := iss.Certificate()
	if err != nil {
		return err
	}
	full := iss.Kind == issuance.KindRoot
	var thisUpdate time.Time
	if full {
		rl, err := x509.ParseRevocationList(der)
		if err == nil {
			err = rl.CheckSignatureFrom(issCert)
		}
		if err != nil {
			add(sh.URL, "", "the stored root CRL does not parse or verify: %v", err)
			return nil
		}
		thisUpdate = rl.ThisUpdate
	} else {
		info, err := crl.Check(der, issCert, crl.Expect{URL: sh.URL}, nil)
		if err != nil {
			add(sh.URL, "", "the stored CRL is not valid: %v", err)
			return nil
		}
		thisUpdate = info.ThisUpdate
	}
	return p.compareEntries(ctx, sh.URL, der, issCert, full, thisUpdate, now, nil, add)
}

// compareEntries compares the entries of der, the CRL published at url,
// valid under issCert with the given thisUpdate (zero, or der nil: the
// shard has no valid CRL), with the integrity-checked revocation state, and
// reports, naming the serial: an entry with no audited revocation of this
// shard, or whose reason or revocation date differ from the audited ones;
// an unexpired audited revocation of the shard, or a certificate of marked
// (sorted by serial) marked revoked, that the CRL does not list. It is how
// CRLs signed from revocation rows that were edited by SQL and then
// restored are found after the fact: the publisher streams raw rows and
// checks no signature per row (Publisher.Build).
//
// Nothing legitimate is reported. An entry stays on CRLs after its
// certificate expired (until one CRL after expiry has listed it): its
// revocation is still audited, and is read by id. A revocation recorded
// (or upgraded) at or after the CRL's thisUpdate makes the shard due again
// (Publisher.due), so it may be absent or differ until BR §4.9.7's 24
// hours have passed.
//
// The CRL's entries are read in ascending serial order in one pass
// (crl.Check; the root's full CRL, a handful of CA certificates, is parsed
// whole and sorted), and beside them the shard's unexpired audited
// revocations in the same order, entryBatch rows per statement: the check
// holds one batch, whatever the shard's size.
func (p *Publisher) compareEntries(ctx context.Context, url string, der []byte, issCert *x509.Certificate, full bool, thisUpdate time.Time, now time.Time, marked []issuance.CertRef, add func(url, serial, format string, args ...any)) error {
	c := &entryCheck{p: p, url: url, now: now, marked: marked, report: func(serial, format string, args ...any) { add(url, serial, format, args...) },
		revs: auditedRevocations{p: p, url: url, now: now}}
	if der == nil || thisUpdate.IsZero() {
		return c.finish(ctx)
	}
	c.thisUpdate = thisUpdate
	if err := eachCRLEntry(der, issCert, url, full, func(serial []byte, at time.Time, reason int) {
		c.entry(ctx, serial, at, reason)
	}); err != nil {
		return err
	}
	return c.finish(ctx)
}

// eachCRLEntry calls fn with every entry of der, the CRL published at url
// under issCert, in ascending serial order: a shard's CRL in one pass of
// crl.Check; the root's full CRL (a handful of CA certificates) parsed
// whole and sorted.
func eachCRLEntry(der []byte, issCert *x509.Certificate, url string, full bool, fn func(serial []byte, at time.Time, reason int)) error {
	if !full {
		if _, err := crl.Check(der, issCert, crl.Expect{URL: url}, fn); err != nil {
			return fmt.Errorf("CRL %s: %w", url, err)
		}
		return nil
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return fmt.Errorf("CRL %s: %w", url, err)
	}
	es := rl.RevokedCertificateEntries
	slices.SortFunc(es, func(a, b x509.RevocationListEntry) int {
		return bytes.Compare(a.SerialNumber.Bytes(), b.SerialNumber.Bytes())
	})
	for _, e := range es {
		fn(e.SerialNumber.Bytes(), e.RevocationTime, e.ReasonCode)
	}
	return nil
}

// crlEntry is one entry of a CRL.
type crlEntry struct {
	at     time.Time
	reason int
}

// entryCheck merges one shard's CRL entries, its audited revocations and
// its certificates marked revoked, all in ascending serial order. Serials
// are compared as vetca stores them (lower-case hex of the octets, no
// leading 00 octet), whose string order is the octets' order, the order of
// CRL entries and of the index revocations_crl_serial.
type entryCheck struct {
	p          *Publisher
	url        string
	now        time.Time
	thisUpdate time.Time // zero: the shard has no valid CRL
	revs       auditedRevocations
	marked     []issuance.CertRef
	report     func(serial, format string, args ...any)
	stopped    bool // the audited revocations could not be read (reported)
	err        error
}

// entry takes the next CRL entry (serial as octets).
func (c *entryCheck) entry(ctx context.Context, serial []byte, at time.Time, reason int) {
	if c.err != nil || c.stopped {
		return
	}
	c.err = c.upTo(ctx, hex.EncodeToString(serial), &crlEntry{at: at.UTC(), reason: reason})
}

// finish handles what remains after the last entry.
func (c *entryCheck) finish(ctx context.Context) error {
	if c.err == nil && !c.stopped {
		c.err = c.upTo(ctx, "", nil)
	}
	return c.err
}

// upTo handles every audited revocation and marked certificate whose
// serial sorts before sn (all of them when e is nil), then serial sn with
// its CRL entry e.
func (c *entryCheck) upTo(ctx context.Context, sn string, e *crlEntry) error {
	for {
		r, err := c.revs.peek(ctx)
		if err != nil {
			return c.unreadable(err)
		}
		next := ""
		if r != nil {
			next = r.Serial
		}
		if len(c.marked) > 0 && (next == "" || c.marked[0].Serial < next) {
			next = c.marked[0].Serial
		}
		if next == "" || e != nil && next >= sn {
			break
		}
		if err := c.one(ctx, next, nil); err != nil {
			return err
		}
	}
	if e == nil {
		return nil
	}
	return c.one(ctx, sn, e)
}

// unreadable stops the shard's comparison at a revocation row that fails
// its integrity check, reporting it (audit verify reports the row too);
// other errors end the check.
func (c *entryCheck) unreadable(err error) error {
	if e, ok := apperr.As(err); ok && e.Kind == apperr.KindIntegrity {
		c.report("", "the shard's audited revocations cannot be read, so its entries are not compared: %s", e.Message)
		c.stopped = true
		return nil
	}
	return err
}

// one compares serial sn: its CRL entry e (nil if unlisted) with its
// audited revocation of this shard and its mark, taken from the streams.
func (c *entryCheck) one(ctx context.Context, sn string, e *crlEntry) error {
	var r *Revocation
	if next, _ := c.revs.peek(ctx); next != nil && next.Serial == sn {
		r = c.revs.take()
	}
	isMarked := false
	if len(c.marked) > 0 && c.marked[0].Serial == sn {
		c.marked, isMarked = c.marked[1:], true
	}
	var other string // what is recorded instead, when the shard has no audited revocation of sn
	if r == nil {
		// Not among the shard's unexpired revocations: an expired
		// certificate's (still listed), one recorded since the batch was
		// read, or none. Look it up by its id, so that a row deleted
		// outside vetca is named as such.
		var got Revocation
		err := c.p.tab.revocations.Get(ctx, c.p.db, RevocationID(sn), &got)
		e2, isApp := apperr.As(err)
		switch {
		case err == nil && got.CRLURL == c.url:
			r = &got
		case err == nil:
			other = "its audited revocation is for shard " + got.CRLURL
		case isApp && e2.Kind == apperr.KindNotFound:
			other = "no revocation of this serial is recorded"
		case isApp && e2.Kind == apperr.KindIntegrity:
			other = e2.Message
		default:
			return err
		}
	}
	switch {
	case c.thisUpdate.IsZero():
		if r != nil && r.NotAfter.After(c.now) || r == nil && isMarked {
			c.report(sn, "revoked certificate's shard has no valid CRL")
		}
	case r == nil && e != nil:
		c.report(sn, "listed on the CRL, but %s", other)
	case r == nil: // marked revoked, not listed
		c.report(sn, "revoked, unexpired certificate is missing from its shard's CRL, and %s", other)
	case c.changedSince(r.RecordedAt):
	case e == nil && c.committedAfterBuild(r.RecordedAt):
	case e == nil:
		if r.NotAfter.After(c.now) {
			c.report(sn, "revoked, unexpired certificate is missing from its shard's CRL")
		}
	default:
		if e.reason != r.ReasonCode {
			c.report(sn, "CRL reason %d differs from the recorded %d", e.reason, r.ReasonCode)
		}
		if want := r.RevokedAt.UTC().Truncate(time.Second); !e.at.Equal(want) {
			c.report(sn, "CRL revocation date %s differs from the recorded %s", e.at.Format(time.RFC3339), want.Format(time.RFC3339))
		}
	}
	return nil
}

// changedSince reports whether a revocation recorded (or upgraded) at
// recordedAt may legitimately be missing from the CRL, or differ on it: it
// was recorded at or after the CRL's thisUpdate, which makes the shard due
// (Publisher.due), and BR §4.9.7's 24 hours to publish it have not passed.
func (c *entryCheck) changedSince(recordedAt time.Time) bool {
	return !recordedAt.Before(c.thisUpdate) && c.now.Before(recordedAt.Add(br.CRLAfterRevocation))
}

// committedAfterBuild reports whether a revocation recorded at recordedAt,
// not listed on the CRL, may have committed after the CRL's build read the
// shard: recorded in the CommitWindow before thisUpdate, which keeps the
// shard due until a CRL lists it (Publisher.missesARecentRevocation), and
// BR §4.9.7's 24 hours have not passed. Only a missing entry gets this
// grace: an entry listed with another reason or date, or with no audited
// revocation, is no race.
func (c *entryCheck) committedAfterBuild(recordedAt time.Time) bool {
	return !recordedAt.Before(c.thisUpdate.Add(-CommitWindow)) && c.now.Before(recordedAt.Add(br.CRLAfterRevocation))
}

// auditedRevocations reads the unexpired revocations of one shard URL in
// serial order, integrity-checked, entryBatch rows per statement (keyset
// pagination on revocations_crl_serial). Each statement runs on its own,
// outside a transaction, which would remember every row it read.
type auditedRevocations struct {
	p     *Publisher
	url   string
	now   time.Time
	batch []Revocation
	i     int
	after string
	done  bool
}

// peek returns the next revocation without taking it; nil after the last.
func (a *auditedRevocations) peek(ctx context.Context) (*Revocation, error) {
	for a.i >= len(a.batch) {
		if a.done {
			return nil, nil
		}
		rs, err := a.p.tab.revocations.Select(ctx, a.p.db, `WHERE crl_url = ? AND serial > ? AND not_after > ? ORDER BY serial LIMIT `+strconv.Itoa(entryBatch),
			a.url, a.after, store.FormatTime(a.now))
		if err != nil {
			return nil, err
		}
		a.batch, a.i, a.done = rs, 0, len(rs) < entryBatch
		if len(rs) > 0 {
			a.after = rs[len(rs)-1].Serial
		}
	}
	return &a.batch[a.i], nil
}

// take returns the revocation peek returned and moves past it.
func (a *auditedRevocations) take() *Revocation {
	r := &a.batch[a.i]
	a.i++
	return r
}
