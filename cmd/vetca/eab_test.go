package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/account"
	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/store/storetest"
)

// cli runs vetca in-process with args and returns what it printed.
func cli(t *testing.T, clk clock.Clock, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootWith(&globals{stdout: &out, stderr: &errOut, clock: clk})
	root.SetArgs(args)
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	err := root.Execute()
	return out.String(), err
}

// `vetca eab create|list|revoke` on both backends: the key is printed
// once, the list never shows it, revoking twice is refused, and the EAB
// secret was written by init beside the audit key (mode 0600).
func TestEABCommands(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := storetest.SQLiteDSN(t)
			if backend == "postgres" {
				dsn = storetest.PostgresDSN(t)
			}
			keys := filepath.Join(t.TempDir(), "keys")
			clk := clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))
			common := []string{"--db", dsn, "--key-dir", keys, "--json"}
			out, err := cli(t, clk, append([]string{"init"}, common...)...)
			if err != nil {
				t.Fatalf("init: %v", err)
			}
			var res app.InitResult
			if err := json.Unmarshal([]byte(out), &res); err != nil || res.AdminToken == "" {
				t.Fatalf("init output: %v %s", err, out)
			}
			if !strings.Contains(strings.Join(res.Messages, "\n"), "EAB secret written to") {
				t.Fatalf("init does not say it wrote the EAB secret: %v", res.Messages)
			}
			st, err := os.Stat(filepath.Join(keys, "eab.secret"))
			if err != nil || st.Mode().Perm() != 0o600 || st.Size() != 32 {
				t.Fatalf("eab.secret: %v %v", st, err)
			}
			accountID := makeAccount(t, clk, dsn, keys, res.AdminToken)

			if _, err := cli(t, clk, append([]string{"eab", "create"}, common...)...); exitCode(err) != exitUsage {
				t.Fatalf("create without --account: %v", err)
			}
			out, err = cli(t, clk, append([]string{"eab", "create", "--account", accountID}, common...)...)
			if err != nil {
				t.Fatalf("eab create: %v", err)
			}
			var created struct{ Kid, HMACKey, ExpiresAt string }
			if err := json.Unmarshal([]byte(out), &created); err != nil {
				t.Fatalf("eab create output: %v %s", err, out)
			}
			if key, err := base64.RawURLEncoding.DecodeString(created.HMACKey); err != nil || len(key) != 32 ||
				created.ExpiresAt != "2026-12-23T09:00:00Z" || !strings.HasPrefix(created.Kid, "eab_") {
				t.Fatalf("eab create: %s", out)
			}
			out, err = cli(t, clk, append([]string{"eab", "list", "--account", accountID}, common...)...)
			if err != nil || !strings.Contains(out, created.Kid) || !strings.Contains(out, `"status": "active"`) || strings.Contains(out, created.HMACKey) {
				t.Fatalf("eab list: %v %s", err, out)
			}
			if _, err := cli(t, clk, append([]string{"eab", "list", "--account", "acc_nosuchaccount00"}, common...)...); !apperr.HasCode(err, apperr.CodeNotFound) {
				t.Fatalf("eab list of an unknown account: %v", err)
			}
			out, err = cli(t, clk, append([]string{"eab", "revoke", created.Kid}, common...)...)
			if err != nil || !strings.Contains(out, `"status": "revoked"`) || !strings.Contains(out, `"revokedBy": "cli:`) {
				t.Fatalf("eab revoke: %v %s", err, out)
			}
			if _, err := cli(t, clk, append([]string{"eab", "revoke", created.Kid}, common...)...); !apperr.HasCode(err, apperr.CodeEABKeyRevoked) {
				t.Fatalf("eab revoke twice: %v", err)
			}
			// Without --json, for people.
			out, err = cli(t, clk, "eab", "create", "--account", accountID, "--db", dsn, "--key-dir", keys)
			if err != nil || !strings.Contains(out, "hmacKey  ") || !strings.Contains(out, "not shown again") {
				t.Fatalf("eab create for people: %v %s", err, out)
			}
		})
	}
}

// makeAccount creates an account as the admin init made.
func makeAccount(t *testing.T, clk clock.Clock, dsn, keys, adminToken string) string {
	t.Helper()
	ctx := context.Background()
	a, err := app.Open(ctx, app.Config{DB: dsn, KeyDir: keys}, clk, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Write: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	admin, err := a.Auth.Authenticate(ctx, adminToken)
	if err != nil {
		t.Fatal(err)
	}
	acc, _, err := a.Accounts.Create(ctx, admin, account.CreateInput{Name: "Acme Widgets"})
	if err != nil {
		t.Fatal(err)
	}
	return acc.ID
}

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return exitFailure
	}
	return exitOK
}
