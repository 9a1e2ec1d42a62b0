package audit

import (
	"context"
	"testing"

	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/store/storetest"
)

// Edits by the insider of design.md §7 that verify missed, each found by
// a hunt and now reported (or refused by the sealer and checkpointer).

// PostgreSQL: verify takes audit_head as the end of the sealed chain. Set
// to 0, every event was the unsealed tail, with no gap or link checked, so
// an event deleted from the middle of the chain went unreported. A chained
// event above the head is now a finding (the seal writes both at once).
func TestHeadMovedBackDoesNotHideADeletedEvent(t *testing.T) {
	db := storetest.OpenPostgres(t)
	f := setup(t, db)
	f.note(t, 5)
	if err := NewSealer(db, f.rec, nil, "a", "").SealAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rep := f.verify(t); !rep.OK {
		t.Fatalf("not clean before: %+v", rep.Findings)
	}
	top := headSeq(t, db)
	f.exec(t, `DELETE FROM audit_events WHERE seq = ?`, top-2) // a note in the middle
	f.exec(t, `UPDATE audit_head SET seq = 0, head_hash = ''`)
	rep := f.verify(t)
	t.Logf("findings: %+v", rep.Findings)
	if rep.OK {
		t.Fatalf("event %d deleted from the middle of a sealed chain of %d; verify reports nothing", top-2, top)
	}
}

// PostgreSQL: the same with the newline trick of
// TestACutTailIsRefusedAfterARestart, which reset the
// sealer's mark, so that it re-sealed from 0 and signed a gap over the
// deleted event; verify now reports it.
func TestHeadMovedBackIsNotSealedOver(t *testing.T) {
	db := storetest.OpenPostgres(t)
	f := setup(t, db)
	f.note(t, 5)
	ctx := context.Background()
	dir := t.TempDir()
	if err := NewSealer(db, f.rec, nil, "a", dir).SealAll(ctx); err != nil {
		t.Fatal(err)
	}
	top := headSeq(t, db)
	f.exec(t, `DELETE FROM audit_events WHERE seq = ?`, top-2)
	f.exec(t, `UPDATE audit_head SET seq = 0, head_hash = ''`)
	f.exec(t, `UPDATE audit_events SET sig = sig || ? WHERE seq = 1`, "\n")
	err := NewSealer(db, f.rec, nil, "b", dir).SealAll(ctx)
	rep := f.verify(t)
	t.Logf("sealer: %v; gaps %v; findings: %+v", err, gapEvents(t, db), rep.Findings)
	if rep.OK {
		t.Fatalf("deleted event %d sealed as a signed gap; verify reports nothing", top-2)
	}
}

// time.Parse accepts a fractional second the layout does not name, and an
// event's digest covers its time formatted to the second, so its stored
// `at` could be rewritten ("…:00,999999999Z", out of the list filters'
// reach) without breaking its signature. Only vetca's own form is a
// stored time now.
func TestEventTimeInAnotherFormIsReported(t *testing.T) {
	eachBackend(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		f.note(t, 1)
		f.exec(t, `UPDATE audit_events SET at = substr(at, 1, 19) || ',999999999Z' WHERE seq = 2`)
		var at string
		if err := db.QueryRow(context.Background(), `SELECT at FROM audit_events WHERE seq = 2`).Scan(&at); err != nil {
			t.Fatal(err)
		}
		rep := f.verify(t)
		if rep.OK {
			t.Fatalf("event 2's at rewritten to %q, verify reports nothing", at)
		}
	})
}
