package revocation

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/revocation/ocspresp"
)

// Defaults of the OCSP memory (ResponderConfig).
const (
	// DefaultOCSPMemoryEntries caps the responses a replica holds in
	// memory: about 40 MB of ECDSA responses with their header values.
	DefaultOCSPMemoryEntries = 50_000
	// DefaultOCSPPoll is how often each replica reads the audit chain head
	// for revocations made elsewhere.
	DefaultOCSPPoll = time.Second
	// DefaultOCSPRevalidate is how long a response is answered from memory
	// before its status is read from the database again.
	DefaultOCSPRevalidate = 5 * time.Minute
)

var _ ocspresp.MemorySource = (*Responder)(nil)

// memShards spreads the memory over locks; a serial's responses are all in
// one shard (by its last octet, which is random for vetca's serials).
const memShards = 16

// ocspMemory is a replica's pre-signed responses by serial, issuer and
// hash algorithm (docs/architecture.md, Revocation status).
//
// The rules: a response enters only after the check a database read makes
// (audited status, agreement with it) and only while fresh; it is answered
// only until its refresh time, until Revalidate after that check, and only
// while the last poll of the audit trail is recent (validUntil); a
// revocation drops the serial (drop, here at once; on other replicas at
// their next poll). gen counts the drops: a fill that read the database
// before a drop is refused (put compares its ticket), so a read that raced
// a revocation never lands after it.
type ocspMemory struct {
	shards     [memShards]memShard
	perShard   int
	gen        atomic.Uint64
	polled     atomic.Bool
	validUntil atomic.Int64 // UnixNano; answers only before it
}

type memShard struct {
	mu    sync.RWMutex
	m     map[string]*memSerial // by the serial's octets
	count int
}

// memSerial is one serial's responses (one per issuer and hash algorithm).
type memSerial struct {
	entries []*memEntry
}

type memEntry struct {
	issuerID  string
	hash      crypto.Hash
	p         *ocspresp.Prepared
	refreshAt time.Time // RefreshDue from here on: never answered from memory again
	checkedAt time.Time // when the status was last read, integrity-checked
	used      atomic.Bool
}

// memTicket is taken before a fill reads the database; put refuses it if
// anything was dropped since.
type memTicket struct {
	gen uint64
	ok  bool // the poller had started: later revocations will be seen
}

func newOCSPMemory(entries int) *ocspMemory {
	m := &ocspMemory{perShard: max(1, entries/memShards)}
	for i := range m.shards {
		m.shards[i].m = map[string]*memSerial{}
	}
	return m
}

func (m *ocspMemory) shard(serial []byte) *memShard {
	return &m.shards[int(serial[len(serial)-1])%memShards]
}

func (m *ocspMemory) ticket() memTicket {
	return memTicket{gen: m.gen.Load(), ok: m.polled.Load()}
}

// valid reports whether the memory may answer at now: a poll of the audit
// trail started less than the staleness bound ago.
func (m *ocspMemory) valid(now time.Time) bool {
	return now.UnixNano() < m.validUntil.Load()
}

// get returns the entry for a serial, issuer and hash, or nil.
func (m *ocspMemory) get(serial []byte, issuerID string, h crypto.Hash) *memEntry {
	sh := m.shard(serial)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	s := sh.m[string(serial)]
	if s == nil {
		return nil
	}
	for _, e := range s.entries {
		if e.hash == h && e.issuerID == issuerID {
			return e
		}
	}
	return nil
}

// put holds a checked response, unless t predates a drop, the response is
// due for refresh, or onlyReplace is set and the memory does not hold one
// for it already.
func (m *ocspMemory) put(t memTicket, serial []byte, issuerID string, h crypto.Hash, der []byte, now time.Time, onlyReplace bool) {
	if !t.ok || len(serial) == 0 {
		return
	}
	p, err := ocspresp.Prepare(der)
	if err != nil {
		return
	}
	refreshAt := ocspresp.RefreshDeadline(p.ThisUpdate(), p.NextUpdate()).Add(-ocspresp.RefreshMargin)
	if !now.Before(refreshAt) {
		return
	}
	e := &memEntry{issuerID: issuerID, hash: h, p: p, refreshAt: refreshAt, checkedAt: now}
	sh := m.shard(serial)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if m.gen.Load() != t.gen {
		return
	}
	s := sh.m[string(serial)]
	if s != nil {
		for i, old := range s.entries {
			if old.hash == h && old.issuerID == issuerID {
				s.entries[i] = e
				return
			}
		}
	}
	if onlyReplace {
		return
	}
	if sh.count >= m.perShard {
		sh.evict()
		s = sh.m[string(serial)] // it may have been this serial's
	}
	if s == nil {
		s = &memSerial{}
		sh.m[string(serial)] = s
	}
	s.entries = append(s.entries, e)
	sh.count++
}

// evict drops one serial's responses: the first met, in the map's random
// order, of which none was answered since the last sweep passed it (each
// visit clears the marks), or the eighth visited. An approximation of
// least recently used that costs no bookkeeping on the answer path.
func (sh *memShard) evict() {
	n := 0
	var last string
	for k, s := range sh.m {
		n++
		last = k
		idle := true
		for _, e := range s.entries {
			if e.used.Swap(false) {
				idle = false
			}
		}
		if idle || n >= 8 {
			break
		}
	}
	if s, ok := sh.m[last]; ok {
		delete(sh.m, last)
		sh.count -= len(s.entries)
	}
}

// drop forgets a serial's responses (given in vetca's hex form) and
// refuses every fill in progress.
func (m *ocspMemory) drop(serialHex string) {
	b, err := hex.DecodeString(serialHex)
	if err != nil || len(b) == 0 {
		m.flush()
		return
	}
	sh := m.shard(b)
	sh.mu.Lock()
	if s := sh.m[string(b)]; s != nil {
		sh.count -= len(s.entries)
		delete(sh.m, string(b))
	}
	m.gen.Add(1)
	sh.mu.Unlock()
}

// flush forgets everything and refuses every fill in progress.
func (m *ocspMemory) flush() {
	for i := range m.shards {
		m.shards[i].mu.Lock()
	}
	for i := range m.shards {
		m.shards[i].m = map[string]*memSerial{}
		m.shards[i].count = 0
	}
	m.gen.Add(1)
	for i := range m.shards {
		m.shards[i].mu.Unlock()
	}
}

// sweep drops the responses that can no longer be answered (due for
// refresh), so that they do not hold memory until evicted.
func (m *ocspMemory) sweep(now time.Time) {
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		for k, s := range sh.m {
			kept := s.entries[:0]
			for _, e := range s.entries {
				if now.Before(e.refreshAt) {
					kept = append(kept, e)
				}
			}
			sh.count -= len(s.entries) - len(kept)
			if len(kept) == 0 {
				delete(sh.m, k)
			} else {
				s.entries = kept
			}
		}
		sh.mu.Unlock()
	}
}

// len is the number of responses held.
func (m *ocspMemory) len() int {
	n := 0
	for i := range m.shards {
		m.shards[i].mu.RLock()
		n += m.shards[i].count
		m.shards[i].mu.RUnlock()
	}
	return n
}

// issuerTable is the issuers a replica answers for, with their CertID
// hashes computed once.
type issuerTable struct {
	loaded  time.Time
	issuers []issuerEntry
}

type issuerEntry struct {
	iss    issuance.Issuer
	cert   *x509.Certificate
	hashes map[crypto.Hash][2][]byte // name hash, key hash
}

func newIssuerEntry(iss issuance.Issuer) (issuerEntry, error) {
	c, err := iss.Certificate()
	if err != nil {
		return issuerEntry{}, err
	}
	e := issuerEntry{iss: iss, cert: c, hashes: map[crypto.Hash][2][]byte{}}
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
		name, key, err := ocspresp.IssuerHashes(c, h)
		if err != nil {
			return issuerEntry{}, fmt.Errorf("issuer %s: %w", iss.ID, err)
		}
		e.hashes[h] = [2][]byte{name, key}
	}
	return e, nil
}

// match returns the issuer a CertID names.
func (t *issuerTable) match(id ocspresp.CertID) *issuerEntry {
	for i := range t.issuers {
		hs, ok := t.issuers[i].hashes[id.Hash]
		if ok && bytes.Equal(hs[0], id.NameHash) && bytes.Equal(hs[1], id.KeyHash) {
			return &t.issuers[i]
		}
	}
	return nil
}

// Lookup implements ocspresp.MemorySource: the response this replica holds
// for id, if it may answer it at now (see ocspMemory). It reads no
// database.
func (o *Responder) Lookup(id ocspresp.CertID, now time.Time) *ocspresp.Prepared {
	if !o.mem.valid(now) {
		return nil
	}
	tab := o.issuers.Load()
	if tab == nil {
		return nil
	}
	ie := tab.match(id)
	if ie == nil {
		return nil
	}
	e := o.mem.get(id.Serial, ie.iss.ID, id.Hash)
	if e == nil || !now.Before(e.refreshAt) || !now.Before(e.checkedAt.Add(o.cfg.Revalidate)) {
		return nil
	}
	if !e.used.Load() {
		e.used.Store(true)
	}
	return e.p
}

// Poll brings this replica's memory up to date with the revocations
// recorded anywhere: it reads the audit chain head, then every event after
// the last head it saw, and drops the serials of the revocation and
// issuance-intent events among them. Up to the head the events are sealed:
// every number is present (a rolled-back one as a signed gap event) and
// none can still appear, so they are walked once, in order. Above the head
// (on PostgreSQL, events committed but not yet chained by the sealer, whose
// numbers may have holes while their transactions run) every event present
// is read at each poll until it is sealed, so one that commits late under a
// low number is not missed. A hole below the head, an event whose signature
// does not verify or a head that went back empties the memory (the
// database path, which fails closed, answers instead). Only a successful
// poll lets the memory answer, for the staleness bound from the poll's
// start; so a revocation committed anywhere is not answered from an older
// memory for longer than that bound.
func (o *Responder) Poll(ctx context.Context) error {
	o.pollMu.Lock()
	defer o.pollMu.Unlock()
	return o.poll(ctx)
}

func (o *Responder) poll(ctx context.Context) error {
	start := o.clk.Now()
	head, _, err := audit.ChainHead(ctx, o.db)
	if err != nil {
		return fmt.Errorf("ocsp memory: %w", err)
	}
	if !o.mem.polled.Load() {
		o.cursor = head // nothing is held yet: nothing to forget up to head
		o.tail = map[int64]bool{}
	}
	if err := o.forgetSince(ctx, head); err != nil {
		return err
	}
	o.mem.polled.Store(true)
	o.mem.validUntil.Store(start.Add(o.cfg.Staleness).UnixNano())
	return nil
}

// forgetSince walks the events after the cursor (see Poll) and moves the
// cursor to head.
func (o *Responder) forgetSince(ctx context.Context, head int64) error {
	broken := func(why string, seq int64) error {
		o.log.Error("ocsp memory: "+why+"; dropping every OCSP response held in memory", "seq", seq, "head", head)
		o.mem.flush()
		o.cursor, o.tail = head, map[int64]bool{}
		return nil
	}
	if head < o.cursor {
		return broken("the audit chain head went back", o.cursor)
	}
	pub := o.rec.PublicKey()
	next := o.cursor // the last sealed number walked, in order
	page := o.cursor
	for {
		evs, err := audit.List(ctx, o.db, audit.Filter{After: page, Limit: 1000})
		if err != nil {
			return fmt.Errorf("ocsp memory: read the audit trail after %d: %w", page, err)
		}
		for i := range evs {
			e := &evs[i]
			page = e.Seq
			if e.Seq <= head {
				if e.Seq != next+1 {
					return broken("audit events missing below the chain head", next+1)
				}
				next = e.Seq
				if o.tail[e.Seq] {
					delete(o.tail, e.Seq) // forgotten while unsealed
					continue
				}
			} else if o.tail[e.Seq] {
				continue // unsealed, and forgotten at an earlier poll
			}
			if pub != nil && !e.VerifySignature(pub) {
				return broken("an audit event not signed by the audit key", e.Seq)
			}
			o.forgetEvent(e)
			if e.Seq > head {
				o.tail[e.Seq] = true
			}
		}
		if len(evs) < 1000 {
			break
		}
	}
	if next < head {
		return broken("audit events missing below the chain head", next+1)
	}
	for seq := range o.tail {
		if seq <= head {
			delete(o.tail, seq) // sealed as a gap or gone: nothing left to read
		}
	}
	o.cursor = head
	return nil
}

// forgetEvent drops the serial a revocation or issuance-intent event is
// about (its id is rev_SERIAL; older rows and intents carry it in their
// content). An event that names no serial empties the memory.
func (o *Responder) forgetEvent(e *audit.Event) {
	switch e.EntityType {
	case "revocations", "issuance_intents":
	default:
		return
	}
	if s, ok := strings.CutPrefix(e.EntityID, "rev_"); ok && e.EntityType == "revocations" {
		o.mem.drop(s)
		return
	}
	var row struct {
		Serial string `json:"serial"`
	}
	if e.Content == nil || json.Unmarshal([]byte(*e.Content), &row) != nil || row.Serial == "" {
		o.mem.flush()
		return
	}
	o.mem.drop(row.Serial)
}

// pollIfStale polls when the memory may not answer, unless another
// request is polling (this one then reads the database).
func (o *Responder) pollIfStale(ctx context.Context) {
	if o.mem.valid(o.clk.Now()) || !o.pollMu.TryLock() {
		return
	}
	defer o.pollMu.Unlock()
	if err := o.poll(ctx); err != nil && ctx.Err() == nil {
		o.log.Warn("ocsp memory: poll", "err", err)
	}
}

// Watch keeps this replica's memory current until ctx ends: it polls every
// interval (on every replica, with no lease: each has its own memory) and
// sweeps out responses due for refresh every minute.
func (o *Responder) Watch(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	lastSweep := o.clk.Now()
	for {
		err := o.Poll(ctx)
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			o.log.Warn("ocsp memory: poll failed; answering from the database until it succeeds", "err", err)
			failing = true
		case err == nil && failing:
			o.log.Info("ocsp memory: polling again")
			failing = false
		}
		if now := o.clk.Now(); now.Sub(lastSweep) >= time.Minute {
			o.mem.sweep(now)
			lastSweep = now
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// MemoryLen is the number of responses this replica holds in memory.
func (o *Responder) MemoryLen() int { return o.mem.len() }
