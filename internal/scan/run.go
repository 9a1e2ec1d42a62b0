package scan

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vetca/vetca/internal/issuance"
)

// Run scans every certificate the options select, resuming the unfinished
// run with the same selection if there is one (unless Options.Restart). It
// returns the run's findings (narrowed by Options.Lint), each marked new
// when no earlier run stored it. When ctx ends, the certificates already
// being checked are finished and recorded, the run stays resumable, and
// the error is ctx's.
func (s *Scanner) Run(ctx context.Context, o Options) (Result, error) {
	o = o.withDefaults()
	st, err := s.openRun(ctx, o)
	if err != nil {
		return Result{}, err
	}
	w := &walker{s: s, o: o, st: st, start: time.Now(), filter: o.filter(s.d.Clock.Now())}
	w.checked.Store(int64(st.run.Checked))
	w.found.Store(int64(st.run.Found))
	walkErr := w.walk(ctx)
	if walkErr != nil && !errors.Is(walkErr, ctx.Err()) {
		return Result{}, walkErr
	}
	bg := context.WithoutCancel(ctx)
	if walkErr == nil {
		if err := s.finish(bg, st); err != nil {
			return Result{}, err
		}
	}
	fs, err := s.findingsOf(bg, st.run.ID, o.Lint)
	if err != nil {
		return Result{}, err
	}
	return Result{RunID: st.run.ID, Resumed: st.resumed, Checked: int(w.checked.Load()), Findings: fs}, walkErr
}

func (o Options) withDefaults() Options {
	if o.Workers < 1 {
		o.Workers = 4
	}
	if o.Batch < 1 {
		o.Batch = 256
	}
	return o
}

func (o Options) filter(now time.Time) issuance.ScanFilter {
	return issuance.ScanFilter{Unexpired: now, IncludeRevoked: o.All, IssuerID: o.IssuerID, Since: o.Since}
}

// walker is one run in progress.
type walker struct {
	s       *Scanner
	o       Options
	st      *runState
	start   time.Time
	filter  issuance.ScanFilter
	checked atomic.Int64
	found   atomic.Int64
	mu      sync.Mutex // serializes Progress calls
}

// checked is the outcome of checking one certificate.
type outcome struct {
	findings []Finding
	err      error
}

// walk checks batch after batch until no certificate is left or ctx ends.
func (w *walker) walk(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		batch, err := w.s.d.Inventory.ScanSerials(ctx, w.s.d.DB, w.filter, w.st.run.Cursor, w.o.Batch)
		if err != nil || len(batch) == 0 {
			return err
		}
		todo := make([]string, 0, len(batch))
		for _, sn := range batch {
			if !w.st.done[sn] {
				todo = append(todo, sn)
			}
		}
		results := w.checkAll(ctx, todo)
		if err := w.s.save(context.WithoutCancel(ctx), w.st, batch, todo, results); err != nil {
			return err
		}
		for _, r := range results {
			if r == nil {
				return ctx.Err()
			}
		}
	}
}

// checkAll checks serials on Options.Workers goroutines. A certificate not
// started before ctx ended has a nil outcome; one started is finished (its
// reads are not cancelled), so it is recorded and never checked again.
func (w *walker) checkAll(ctx context.Context, serials []string) []*outcome {
	out := make([]*outcome, len(serials))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(w.o.Workers, len(serials)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				out[i] = w.checkOne(ctx, serials[i])
			}
		}()
	}
	for i := range serials {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

func (w *walker) checkOne(ctx context.Context, serial string) *outcome {
	if ctx.Err() != nil {
		return nil
	}
	fs, err := w.s.check(context.WithoutCancel(ctx), serial)
	w.checked.Add(1)
	w.found.Add(int64(len(fs)))
	if w.o.Progress != nil {
		w.mu.Lock()
		w.o.Progress(Progress{Checked: int(w.checked.Load()), Findings: int(w.found.Load()), Elapsed: time.Since(w.start)})
		w.mu.Unlock()
	}
	return &outcome{findings: fs, err: err}
}

// advance moves the cursor over the longest prefix of batch that is done
// and keeps the done serials beyond it.
func advance(st *runState, batch []string) {
	for _, sn := range batch {
		if !st.done[sn] {
			break
		}
		st.run.Cursor = sn
	}
	for sn := range st.done {
		if sn <= st.run.Cursor {
			delete(st.done, sn)
		}
	}
}

// doneList is the run's done set in serial order, for storage.
func doneList(done map[string]bool) []string {
	out := make([]string, 0, len(done))
	for sn := range done {
		out = append(out, sn)
	}
	slices.Sort(out)
	return out
}
