package auth

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func TestClientKey(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"203.0.113.7", "203.0.113.7"},
		{"203.0.113.7:52114", "203.0.113.7"},
		{"::ffff:203.0.113.7", "203.0.113.7"},
		{"2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:bbbb::9]:443", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"not an address", "not an address"},
	} {
		if got := clientKey(c.in); got != c.want {
			t.Errorf("clientKey(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// The client bucket empties after PerClient failures, throttling starts
// with one summary, refused attempts take nothing, one attempt comes back
// every Window/PerClient, and a full bucket ends the burst with a final
// summary.
func TestLimiterPerClient(t *testing.T) {
	l := newSignInLimiter(SignInLimits{PerClient: 3, PerUser: 100, Window: 3 * time.Minute})
	for i := range 3 {
		if _, ok := l.take(t0, "192.0.2.1", "alice"); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
		l.fail(t0, "192.0.2.1", "alice")
	}
	if len(l.pending) != 1 || l.pending[0].details["count"] != 3 || l.pending[0].details["throttled"] != true {
		t.Fatalf("pending after throttling started: %+v", l.pending)
	}
	l.pending = nil
	for range 5 {
		wait, ok := l.take(t0, "192.0.2.1", "bob")
		if ok || wait != time.Minute {
			t.Fatalf("throttled client: ok %v, wait %v", ok, wait)
		}
	}
	if _, ok := l.take(t0, "192.0.2.2", "alice"); !ok {
		t.Fatal("another client is throttled")
	}
	l.succeed(t0, "192.0.2.2", "alice")
	if _, ok := l.take(t0.Add(59*time.Second), "192.0.2.1", "alice"); ok {
		t.Fatal("allowed before a token refilled")
	}
	if _, ok := l.take(t0.Add(time.Minute), "192.0.2.1", "alice"); !ok {
		t.Fatal("refused after a token refilled")
	}
	l.succeed(t0.Add(time.Minute), "192.0.2.1", "alice")
	l.sweep(t0.Add(2*time.Minute), false)
	if len(l.pending) != 0 || l.clients["192.0.2.1"] == nil {
		t.Fatalf("burst ended early: %+v", l.pending)
	}
	l.sweep(t0.Add(3*time.Minute), false)
	if len(l.pending) != 1 || l.pending[0].details["refused"] != 6 || l.pending[0].details["why"] != "burst_ended" {
		t.Fatalf("final summary: %+v", l.pending)
	}
	if len(l.clients) != 0 || len(l.users) != 0 {
		t.Fatalf("full buckets kept: %d clients, %d users", len(l.clients), len(l.users))
	}
}

// Failures naming one user from many clients throttle that user for
// everyone, once, with one notice.
func TestLimiterPerUser(t *testing.T) {
	l := newSignInLimiter(SignInLimits{PerClient: 10, PerUser: 4, Window: time.Hour})
	for i := range 4 {
		ip := fmt.Sprintf("192.0.2.%d", i)
		if _, ok := l.take(t0, ip, "alice"); !ok {
			t.Fatalf("attempt %d refused", i)
		}
		l.fail(t0, ip, "alice")
	}
	if len(l.pending) != 1 || l.pending[0].action != "console.sign_in_throttled" || l.pending[0].id != "user:alice" {
		t.Fatalf("pending: %+v", l.pending)
	}
	if _, ok := l.take(t0, "198.51.100.1", "alice"); ok {
		t.Fatal("a new client naming alice is not throttled")
	}
	if _, ok := l.take(t0, "198.51.100.1", "bob"); !ok {
		t.Fatal("bob is throttled by alice's failures")
	}
}

// The maps stay bounded; an evicted client's attempts are still summarized.
func TestLimiterBounded(t *testing.T) {
	l := newSignInLimiter(SignInLimits{PerClient: 5, PerUser: 5, Window: time.Hour, MaxTracked: 3})
	for i := range 50 {
		ip, name := fmt.Sprintf("192.0.2.%d", i), fmt.Sprintf("user%d", i)
		now := t0.Add(time.Duration(i) * time.Second)
		if _, ok := l.take(now, ip, name); !ok {
			t.Fatalf("attempt %d refused", i)
		}
		l.fail(now, ip, name)
		if len(l.clients) > 3 || len(l.users) > 3 {
			t.Fatalf("after %d clients: %d clients, %d names tracked", i+1, len(l.clients), len(l.users))
		}
	}
	l.sweep(t0.Add(time.Minute), true)
	total := 0
	for _, n := range l.pending {
		total += n.details["count"].(int)
	}
	if total != 50 {
		t.Fatalf("summaries count %d of 50 failures", total)
	}
}

// A burst that goes on is summarized once per Window, not per attempt.
func TestLimiterLongBurst(t *testing.T) {
	l := newSignInLimiter(SignInLimits{PerClient: 2, PerUser: 100, Window: 10 * time.Minute})
	now := t0
	attempts := 0
	for now.Before(t0.Add(time.Hour)) {
		if _, ok := l.take(now, "192.0.2.1", "alice"); ok {
			l.fail(now, "192.0.2.1", "alice")
		}
		attempts++
		if now.Sub(t0)%(30*time.Second) == 0 {
			l.sweep(now, false)
		}
		now = now.Add(5 * time.Second)
	}
	l.sweep(now, true)
	count, refused := 0, 0
	for _, n := range l.pending {
		count += n.details["count"].(int)
		refused += n.details["refused"].(int)
	}
	if count+refused != attempts || len(l.pending) > 8 {
		t.Fatalf("%d summaries count %d+%d of %d attempts", len(l.pending), count, refused, attempts)
	}
}
