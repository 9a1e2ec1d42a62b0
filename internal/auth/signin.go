package auth

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/audit"
	"github.com/vetca/vetca/internal/store"
)

// Failed console sign-in defaults (docs/architecture.md, "Console sign-in
// and sessions").
const (
	DefaultSignInPerClient  = 10
	DefaultSignInPerUser    = 20
	DefaultSignInWindow     = 15 * time.Minute
	DefaultSignInMaxTracked = 10000

	signInSweepEvery = 30 * time.Second // lazy flushes happen at most this often
	maxNamesPerEntry = 16               // names (or clients) listed in one summary
)

// SignInLimits bounds failed console sign-ins with two token buckets per
// attempt: one for the client (its IP address; an IPv6 client by its /64)
// and one for the user the attempt names. A bucket holds PerClient (or
// PerUser) attempts and refills completely in Window. Every attempt takes
// one from both buckets; a successful one gives them back. An attempt
// finding either bucket empty is refused (429) before its token is looked
// at. The state is in memory, per replica, for at most MaxTracked clients
// and MaxTracked names.
type SignInLimits struct {
	PerClient  int
	PerUser    int
	Window     time.Duration
	MaxTracked int
}

func (l SignInLimits) withDefaults() SignInLimits {
	if l.PerClient <= 0 {
		l.PerClient = DefaultSignInPerClient
	}
	if l.PerUser <= 0 {
		l.PerUser = DefaultSignInPerUser
	}
	if l.Window <= 0 {
		l.Window = DefaultSignInWindow
	}
	if l.MaxTracked <= 0 {
		l.MaxTracked = DefaultSignInMaxTracked
	}
	return l
}

// ThrottledError refuses a sign-in attempt from a client, or naming a
// user, that failed too often recently. The web layer answers 429 with
// Retry-After.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed sign-ins; try again in %v", e.RetryAfter)
}

// signInLimiter is the in-memory state behind SignInLimits and the
// summaries of failed attempts waiting to be written to the audit trail.
type signInLimiter struct {
	mu        sync.Mutex
	lim       SignInLimits
	clients   map[string]*bucket
	users     map[string]*bucket
	pending   []signInNote
	nextSweep time.Time
}

// bucket is one client's or one name's token bucket, with what happened
// since its last summary.
type bucket struct {
	tokens float64
	at     time.Time // tokens is as of at

	// Since the last summary:
	first, last time.Time
	failures    int            // failed attempts (the token was checked)
	refused     int            // attempts refused while throttled (the token was not checked)
	others      map[string]int // names tried (client buckets) or clients (name buckets)
	moreOthers  int            // others beyond maxNamesPerEntry
	reportedAt  time.Time      // start of the burst, or the last summary

	throttled bool // throttling started during this burst (and was reported)
}

// signInNote is an audit note waiting to be written.
type signInNote struct {
	action  audit.Action
	id      string
	details map[string]any
}

func newSignInLimiter(l SignInLimits) *signInLimiter {
	return &signInLimiter{lim: l.withDefaults(), clients: map[string]*bucket{}, users: map[string]*bucket{}}
}

// clientKey is the client a remote address counts as: the IP address
// (IPv4-mapped IPv6 as IPv4), and for IPv6 its /64, which one subscriber
// line usually holds whole.
func clientKey(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		remote = host
	}
	addr, err := netip.ParseAddr(remote)
	if err != nil {
		return truncate(remote, 64)
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

// normalizeName is the name an attempt gives, as the token's owner is
// compared with it.
func normalizeName(name string) string {
	return truncate(strings.ToLower(strings.TrimSpace(name)), 64)
}

// tokenAsName is what a name that looks like an API token counts against
// and is recorded as.
const tokenAsName = "(an API token)"

// limitName is the name an attempt counts against and is recorded under
// in the failure summaries: the normalized name, except that one shaped
// like an API token (typed into the wrong field) is never kept, since
// lowercased it is still the token up to the case of its letters, which
// anyone reading the trail can recover against the token's hash there.
func limitName(name string) string {
	if strings.HasPrefix(name, "vetca_") && len(name) >= len("vetca_")+43 {
		return tokenAsName
	}
	return name
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

func (l *signInLimiter) capacity(users bool) float64 {
	if users {
		return float64(l.lim.PerUser)
	}
	return float64(l.lim.PerClient)
}

// refill brings b's tokens up to now.
func (l *signInLimiter) refill(b *bucket, now time.Time, users bool) {
	c := l.capacity(users)
	if d := now.Sub(b.at); d > 0 {
		b.tokens = math.Min(c, b.tokens+d.Seconds()*c/l.lim.Window.Seconds())
	}
	b.at = now
}

// wait is how long until b holds one token again.
func (l *signInLimiter) wait(b *bucket, users bool) time.Duration {
	need := 1 - b.tokens
	if need <= 0 {
		return 0
	}
	d := time.Duration(need * float64(l.lim.Window) / l.capacity(users))
	return max(d.Round(time.Second), time.Second)
}

// get returns the bucket of key, creating a full one (and making room)
// when there is none.
func (l *signInLimiter) get(m map[string]*bucket, key string, now time.Time, users bool) *bucket {
	if b, ok := m[key]; ok {
		l.refill(b, now, users)
		return b
	}
	if len(m) >= l.lim.MaxTracked {
		l.sweep(now, false)
	}
	for len(m) >= l.lim.MaxTracked {
		l.evictOldest(m, users)
	}
	b := &bucket{tokens: l.capacity(users), at: now}
	m[key] = b
	return b
}

// evictOldest drops the bucket used least recently, after queueing the
// summary of a client's unreported attempts.
func (l *signInLimiter) evictOldest(m map[string]*bucket, users bool) {
	var oldest string
	var at time.Time
	for k, b := range m {
		if oldest == "" || b.at.Before(at) {
			oldest, at = k, b.at
		}
	}
	if !users {
		l.report(oldest, m[oldest], "evicted")
	}
	delete(m, oldest)
}

// note records an attempt in b's unreported part.
func (b *bucket) note(now time.Time, other string, failed bool) {
	if b.first.IsZero() {
		b.first = now
		if b.reportedAt.IsZero() {
			b.reportedAt = now
		}
	}
	b.last = now
	if failed {
		b.failures++
	} else {
		b.refused++
	}
	if other == "" {
		return
	}
	if b.others == nil {
		b.others = map[string]int{}
	}
	if _, ok := b.others[other]; ok || len(b.others) < maxNamesPerEntry {
		b.others[other]++
	} else {
		b.moreOthers++
	}
}

// take decides whether an attempt may go ahead and, if so, takes one
// token from the client's bucket and the name's.
func (l *signInLimiter) take(now time.Time, remote, name string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.get(l.clients, clientKey(remote), now, false)
	var u *bucket
	if name != "" {
		u = l.get(l.users, name, now, true)
		l.clients[clientKey(remote)] = c // making room for u may have swept c
	}
	wait := l.wait(c, false)
	if u != nil {
		wait = max(wait, l.wait(u, true))
	}
	if wait > 0 {
		c.note(now, name, false)
		return wait, false
	}
	c.tokens--
	if u != nil {
		u.tokens--
	}
	return 0, true
}

// succeed gives back the tokens a successful attempt took.
func (l *signInLimiter) succeed(now time.Time, remote, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.clients[clientKey(remote)]; ok {
		l.refill(c, now, false)
		c.tokens = math.Min(l.capacity(false), c.tokens+1)
	}
	if u, ok := l.users[name]; ok && name != "" {
		l.refill(u, now, true)
		u.tokens = math.Min(l.capacity(true), u.tokens+1)
	}
}

// fail counts a failed attempt (its tokens stay taken). When it empties a
// bucket for the first time in a burst, throttling starts and a summary
// is queued at once.
func (l *signInLimiter) fail(now time.Time, remote, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ck := clientKey(remote)
	c := l.get(l.clients, ck, now, false)
	c.note(now, name, true)
	if c.tokens < 1 && !c.throttled {
		c.throttled = true
		l.report(ck, c, "throttled")
	}
	if name != "" {
		u := l.get(l.users, name, now, true)
		l.clients[ck] = c // making room for u may have swept c
		u.note(now, ck, true)
		if u.tokens < 1 && !u.throttled {
			u.throttled = true
			l.reportUser(name, u)
		}
	}
}

// due reports whether summaries are waiting or a sweep is due.
func (l *signInLimiter) due(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending) > 0 || !now.Before(l.nextSweep)
}

// report queues the summary of a client bucket's unreported attempts (if
// any) and starts a new unreported period.
func (l *signInLimiter) report(key string, b *bucket, why string) {
	if b.failures+b.refused > 0 {
		users := map[string]int{}
		for k, v := range b.others {
			users[k] = v
		}
		d := map[string]any{"client": key, "users": users, "count": b.failures, "refused": b.refused,
			"first": store.FormatTime(b.first), "last": store.FormatTime(b.last), "throttled": b.throttled, "why": why}
		if b.moreOthers > 0 {
			d["otherUsers"] = b.moreOthers
		}
		l.pending = append(l.pending, signInNote{action: actSignInFailures, id: "client:" + key, details: d})
	}
	b.reset(b.at)
}

// reportUser queues the notice that sign-ins naming a user are throttled:
// the attempts themselves are in their clients' summaries.
func (l *signInLimiter) reportUser(name string, b *bucket) {
	clients := []string{}
	for k := range b.others {
		clients = append(clients, k)
	}
	d := map[string]any{"user": name, "clients": clients, "count": b.failures,
		"first": store.FormatTime(b.first), "last": store.FormatTime(b.last)}
	if b.moreOthers > 0 {
		d["otherClients"] = b.moreOthers
	}
	l.pending = append(l.pending, signInNote{action: actSignInThrottled, id: "user:" + name, details: d})
	b.reset(b.at)
}

func (b *bucket) reset(now time.Time) {
	b.first, b.last, b.failures, b.refused, b.others, b.moreOthers, b.reportedAt = time.Time{}, time.Time{}, 0, 0, nil, 0, now
}

// sweep queues the summaries that are due: a client's burst is over when
// its bucket is full again (the bucket is then dropped); a burst still
// going is summarized once per Window. With all, every client's
// unreported attempts are summarized and every bucket dropped (at
// shutdown).
func (l *signInLimiter) sweep(now time.Time, all bool) {
	l.nextSweep = now.Add(signInSweepEvery)
	for k, b := range l.clients {
		l.refill(b, now, false)
		switch {
		case all:
			l.report(k, b, "shutdown")
			delete(l.clients, k)
		case b.tokens >= l.capacity(false):
			l.report(k, b, "burst_ended")
			delete(l.clients, k)
		case b.failures+b.refused > 0 && now.Sub(b.reportedAt) >= l.lim.Window:
			l.report(k, b, "continuing")
		}
	}
	for k, b := range l.users {
		l.refill(b, now, true)
		if all || b.tokens >= l.capacity(true) {
			delete(l.users, k)
		}
	}
}

// FlushSignInFailures writes the summaries of failed console sign-ins that
// are due (with all, every unreported attempt, as at shutdown) to the
// audit trail, in one transaction. Summaries that cannot be written stay
// queued for the next flush. `serve` calls it every minute; sign-in
// attempts call it too, at most every 30 seconds.
func (s *Service) FlushSignInFailures(ctx context.Context, all bool) error {
	l := s.signIns
	l.mu.Lock()
	l.sweep(s.clk.Now(), all)
	notes := l.pending
	l.pending = nil
	l.mu.Unlock()
	if len(notes) == 0 {
		return nil
	}
	err := s.db.InTx(ctx, func(tx *store.Tx) error {
		for _, n := range notes {
			if err := s.rec.Note(ctx, tx, actor.Actor{Kind: actor.Public}, n.action, "console_sign_in", n.id, n.details); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		l.mu.Lock()
		l.pending = append(notes, l.pending...)
		if extra := len(l.pending) - l.lim.MaxTracked; extra > 0 {
			l.pending = l.pending[extra:]
		}
		l.mu.Unlock()
		return fmt.Errorf("record failed console sign-ins: %w", err)
	}
	return nil
}
