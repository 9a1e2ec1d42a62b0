// Package atonce starts functions together, for tests that race requests
// against each other: each runs on its own goroutine, all are released at
// the same moment, and Run returns when every one has returned.
package atonce

import "sync"

// Run calls every fn on its own goroutine, releases them together and
// waits for all of them.
func Run(fns ...func()) {
	var start, done sync.WaitGroup
	start.Add(1)
	for _, fn := range fns {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			fn()
		}()
	}
	start.Done()
	done.Wait()
}

// Each calls fn(i) for i in [0, n) as Run does.
func Each(n int, fn func(i int)) {
	fns := make([]func(), n)
	for i := range fns {
		fns[i] = func() { fn(i) }
	}
	Run(fns...)
}
