package app_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/keypolicy"
)

// BR §6.1.1.3(5)(a): the Debian weak key lists given with --weak-keys are
// what the key policy of every issuance path (orders, ACME) refuses. A key
// on one of the lists is refused with rsa_debian_weak; a key on none
// passes; a malformed list stops the start, naming the flag and the file.
func TestWeakKeyListsReachTheKeyPolicy(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	fp := keypolicy.WeakKeyFingerprint(weak.N)
	lists := []string{filepath.Join(dir, "rsa-2048.txt"), filepath.Join(dir, "rsa-4096.txt")}
	for i, body := range []string{"# RSA 2048\n00112233445566778899\n", hex.EncodeToString(fp[:]) + "\n"} {
		if err := os.WriteFile(lists[i], []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := apptest.New(t, apptest.SQLite, func(c *app.Config) { c.WeakKeyFiles = lists })
	ctx := context.Background()
	if err := e.App.Keys.Check(ctx, &weak.PublicKey); !apperr.HasCode(err, apperr.CodeRSADebianWeak) {
		t.Fatalf("a key on the second list: %v, want %s", err, apperr.CodeRSADebianWeak)
	}
	if err := e.App.Keys.Check(ctx, &other.PublicKey); err != nil {
		t.Fatalf("a key on no list: %v", err)
	}

	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(bad, []byte("not hex\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := e.App.Cfg
	cfg.WeakKeyFiles = []string{bad}
	a, err := app.Open(ctx, cfg, e.Clock, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Write: true})
	if err == nil {
		a.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "--weak-keys "+bad) {
		t.Fatalf("open with a malformed list: %v, want an error naming --weak-keys and the file", err)
	}
}
