package app_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/notify/smtptest"
	"github.com/vetca/vetca/internal/store"
	"github.com/vetca/vetca/internal/store/storetest"
)

// watchClock counts reads of the clock, which every background loop makes
// on each pass, and after stop keeps the stack of every further read made
// outside App.Close. Close itself may read it: its last seal waits (up to
// a bound) for transactions running anywhere on the PostgreSQL server,
// such as another test package's, and times that wait.
type watchClock struct {
	clock.Clock
	mu      sync.Mutex
	reads   int
	stopped bool
	late    []string
}

func (c *watchClock) Now() time.Time {
	c.mu.Lock()
	c.reads++
	if c.stopped {
		if st := string(debug.Stack()); !strings.Contains(st, "app.(*App).Close(") {
			c.late = append(c.late, st)
		}
	}
	c.mu.Unlock()
	return c.Clock.Now()
}

func (c *watchClock) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

func (c *watchClock) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
}

func (c *watchClock) lateReads() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.late
}

// logBuffer keeps the log lines in the order they were written.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// App.Run stops in order when its context ends: the HTTP server first,
// then the open sign-in summaries are written, then the loops are stopped,
// and Run returns only after every loop has returned, so that the database
// closes under nothing. The loops run every 2ms here: a loop still running
// after Run returned would read the clock within a few milliseconds. Run
// with -race (make test does), this also checks the shutdown for data
// races.
func TestRunLifecycle(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := storetest.SQLiteDSN(t)
			if backend == "postgres" {
				dsn = storetest.PostgresDSN(t)
			}
			testRunLifecycle(t, dsn)
		})
	}
}

func testRunLifecycle(t *testing.T, dsn string) {
	const tick = 2 * time.Millisecond
	ctx := context.Background()
	clk := &watchClock{Clock: clock.Real{}}
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := app.Config{
		DB: dsn, KeyDir: filepath.Join(t.TempDir(), "keys"), Listen: "127.0.0.1:0", PublicURL: "http://pki.vetca-test.com",
		SMTP: smtptest.New(t).Addr(), ComplianceEmail: "compliance@ca.vetca-test.com",
		CRLTick: tick, OCSPTick: tick, OutboxTick: tick, CheckpointTick: tick, SignInTick: tick,
		HeartbeatTick: tick, RecoveryTick: tick, ShutdownTimeout: 5 * time.Second,
	}
	a, err := app.Open(ctx, cfg, clk, log, app.Options{Migrate: true, Write: true, CreateAuditKey: true})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	if _, err := app.Init(ctx, a, app.InitOptions{By: actor.CLIActor("test"), Organization: "vetca Test", Country: "US"}); err != nil {
		t.Fatalf("init: %v", err)
	}
	summaries := func() int {
		var n int
		if err := a.DB.QueryRow(ctx, `SELECT COUNT(*) FROM audit_events WHERE action = 'console.sign_in_failures'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx, func(addr net.Addr) { addrc <- addr.String() }) }()
	var base string
	select {
	case addr := <-addrc:
		base = "http://" + addr
	case err := <-done:
		t.Fatalf("Run returned before serving: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("Run did not serve:\n%s", logs)
	}

	if resp, err := http.Get(base + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// One failed console sign-in: below every limit, so only the shutdown
	// writes its summary.
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"name": {"alice"}, "token": {"vetca_wrong"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", base)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("failed sign-in: %d", resp.StatusCode)
	}

	// The loops are running: they read the clock on every pass.
	for start, deadline := clk.count(), time.Now().Add(20*time.Second); clk.count() < start+200; {
		if time.Now().After(deadline) {
			t.Fatalf("the loops did not run: %d clock reads\n%s", clk.count()-start, logs)
		}
		time.Sleep(tick)
	}
	if n := summaries(); n != 0 {
		t.Fatalf("%d sign-in summaries before shutdown", n)
	}

	if strings.HasPrefix(dsn, "postgres") {
		// A transaction elsewhere on the server, running through the
		// shutdown: the last seal waits for it, within its bound.
		defer holdTransaction(t, dsn)()
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v\n%s", err, logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("Run did not return after its context ended:\n%s", logs)
	}
	clk.stop()
	time.Sleep(100 * tick)
	if n := summaries(); n != 1 {
		t.Errorf("%d sign-in summaries after shutdown, want 1", n)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	time.Sleep(100 * tick)
	if late := clk.lateReads(); len(late) > 0 {
		t.Fatalf("%d clock reads after Run returned; the first from:\n%s", len(late), late[0])
	}

	out := logs.String()
	if strings.Contains(out, "database is closed") {
		t.Errorf("something used the database after it closed:\n%s", out)
	}
	last := -1
	for _, step := range []string{"vetca serving", "shutting down", "HTTP server stopped", "background loops stopped", "database closed"} {
		i := strings.Index(out, fmt.Sprintf("msg=%q", step))
		if i < 0 || i < last {
			t.Fatalf("log line %q missing or out of order:\n%s", step, out)
		}
		last = i
	}
}

// holdTransaction opens a PostgreSQL transaction that holds a transaction
// id until the returned function ends it.
func holdTransaction(t *testing.T, dsn string) func() {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	var xid string
	if err := tx.QueryRowContext(ctx, "SELECT pg_current_xact_id()::text").Scan(&xid); err != nil {
		_ = tx.Rollback()
		db.Close()
		t.Fatal(err)
	}
	return func() {
		_ = tx.Rollback()
		db.Close()
	}
}
