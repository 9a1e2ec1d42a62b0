// Package testctx has contexts for tests that must see a deadline pass at a
// point the test chooses, not after a wall-clock limit that a loopback peer
// on a busy machine may or may not beat.
package testctx

import (
	"context"
	"sync"
	"time"
)

// expiring is a context whose deadline passes when expire is called.
type expiring struct {
	context.Context
	done chan struct{}
	once sync.Once
}

func (e *expiring) Done() <-chan struct{} { return e.done }

func (e *expiring) Err() error {
	select {
	case <-e.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

func (e *expiring) Deadline() (time.Time, bool) { return time.Time{}, false }

// Expiring returns a context that ends with context.DeadlineExceeded, as if
// its deadline had passed, when expire is called (or when parent ends). Code
// under test sees a timeout, exactly when the test has reached the
// condition it waits for.
func Expiring(parent context.Context) (ctx context.Context, expire func()) {
	e := &expiring{Context: parent, done: make(chan struct{})}
	end := func() { e.once.Do(func() { close(e.done) }) }
	stop := context.AfterFunc(parent, end)
	return e, func() { stop(); end() }
}

// Until calls expire once cond holds, checking every few milliseconds for
// at most limit (a generous bound: the condition is what counts), and
// reports through the returned channel whether cond held.
func Until(cond func() bool, limit time.Duration, expire func()) <-chan bool {
	held := make(chan bool, 1)
	go func() {
		deadline := time.Now().Add(limit)
		for !cond() {
			if time.Now().After(deadline) {
				expire()
				held <- false
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		expire()
		held <- true
	}()
	return held
}
