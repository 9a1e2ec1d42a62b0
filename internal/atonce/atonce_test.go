package atonce

import (
	"sync/atomic"
	"testing"
)

// Every function runs, each once, and Run returns only after all of them;
// none starts before all are ready (each sees the others started).
func TestRunReleasesTogetherAndWaits(t *testing.T) {
	const n = 16
	var started, finished atomic.Int32
	ready := make(chan struct{})
	seen := make([]int32, n)
	Each(n, func(i int) {
		if started.Add(1) == n {
			close(ready)
		}
		<-ready // would deadlock if Run ran them one after another
		seen[i]++
		finished.Add(1)
	})
	if finished.Load() != n {
		t.Fatalf("%d of %d finished before Run returned", finished.Load(), n)
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("function %d ran %d times", i, c)
		}
	}
}
