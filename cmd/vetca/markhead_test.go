package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/store"
)

// A command that wrote and then exits 1 on findings (vetca scan, whose
// findings are audited rows), or fails after some of its writes committed
// (a scan's earlier batches), raises the head-seen mark as one that exits
// 0 does: the events it wrote cannot be cut off the tail unnoticed either.
func TestTailWrittenByCommandEndingWithFindingsOrAnErrorCannotBeCutUnnoticed(t *testing.T) {
	for _, end := range []error{errFindings, errors.New("the database went away after a batch")} {
		t.Run(end.Error(), func(t *testing.T) { cutAfterCommandEndingWith(t, end) })
	}
}

// A command that writes and is stopped with Ctrl-C (a long scan, an
// incident's bulk revocation, which README says may be stopped at any
// point) raises the mark over what it committed too, instead of ending
// where it stood.
func TestTailWrittenByInterruptedCommandCannotBeCutUnnoticed(t *testing.T) {
	// The test process takes SIGINT itself while the command may not.
	caught := make(chan os.Signal, 1)
	signal.Notify(caught, os.Interrupt)
	defer signal.Stop(caught)
	cutAfterCommandEndingWith(t, nil)
}

func cutAfterCommandEndingWith(t *testing.T, end error) {
	dir, common := initForTest(t)
	if code, _, stderr := runCLI(t, append([]string{"audit", "checkpoint"}, common...)...); code != exitOK {
		t.Fatalf("audit checkpoint: %d %s", code, stderr)
	}
	var out, errOut bytes.Buffer
	g := &globals{stdout: &out, stderr: &errOut, clock: clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))}
	root := newRootWith(g)
	root.AddCommand(&cobra.Command{Use: "write-and-find", RunE: g.withWriter(func(ctx context.Context, a *app.App, _ []string) error {
		if err := a.DB.InTx(ctx, func(tx *store.Tx) error {
			return a.Recorder.Note(ctx, tx, actor.CLIActor("test"), "test.noted", "test", "t1", nil)
		}); err != nil {
			return err
		}
		if end != nil {
			return end
		}
		return interruptAndWait(ctx)
	})})
	root.SetArgs(append([]string{"write-and-find"}, common...))
	if _, err := root.ExecuteC(); err != end && !(end == nil && errors.Is(err, context.Canceled)) {
		t.Fatalf("write-and-find: %v", err)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().ExecContext(ctx, `DELETE FROM audit_events WHERE seq > (SELECT MAX(seq) FROM audit_checkpoints)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, stdout, stderr := runCLI(t, append([]string{"audit", "verify"}, common...)...)
	if code != exitFailure || !strings.Contains(stdout, "this host saw it reach event") {
		t.Fatalf("audit verify after the tail was cut: exit %d: %s %s", code, stdout, stderr)
	}
}

// interruptAndWait sends this process SIGINT, as Ctrl-C does, and returns
// when ctx ends, or fails the command when the signal did not end it.
func interruptAndWait(ctx context.Context) error {
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(30 * time.Second):
		return errors.New("SIGINT did not stop the command")
	}
}
