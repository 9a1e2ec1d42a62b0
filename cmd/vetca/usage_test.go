package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/clock"
)

// runCLI runs vetca as main does, and returns the exit code and what it
// printed on stdout and stderr.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	g := &globals{stdout: &out, stderr: &errOut, clock: clock.NewFake(time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC))}
	code = run(g, args)
	return code, out.String(), errOut.String()
}

// Every way of calling a command wrongly exits 2 (README: exit codes), before
// anything is opened, and says what was wrong and where the help is: the
// command's real path, never a parent's or a sibling's name alone. A
// wrong argument count, an unknown subcommand (of the root, of a group,
// of a command without subcommands), a missing subcommand, an unknown
// flag or an invalid flag value are all usage errors.
func TestUsageErrorsExit2(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string // in stderr
	}{
		{[]string{"incident", "revoke"}, []string{"accepts 1 arg(s), received 0", "vetca incident revoke --help"}},
		{[]string{"incident", "revoke", "a", "b"}, []string{"received 2", "vetca incident revoke --help"}},
		{[]string{"incident", "report", "--format", "full"}, []string{"received 0", "vetca incident report --help"}},
		{[]string{"incident", "report", "inc_1", "--format", "nope"}, []string{"--format", `"nope"`, "vetca incident report --help"}},
		{[]string{"incident", "report", "inc_1", "--nope"}, []string{"unknown flag: --nope", "vetca incident report --help"}},
		{[]string{"incident", "revoke", "inc_1", "--workers", "abc"}, []string{`"--workers"`, "vetca incident revoke --help"}},
		{[]string{"incident", "revoke", "inc_1", "--workers", "0"}, []string{"--workers 0", "vetca incident revoke --help"}},
		{[]string{"incident"}, []string{`"vetca incident"`, "report", "revoke"}},
		{[]string{"incident", "nosuch"}, []string{`unknown command "nosuch" for "vetca incident"`}},
		{[]string{"deadlines", "extra"}, []string{`unknown command "extra" for "vetca deadlines"`, "vetca deadlines --help"}},
		{[]string{"deadlines", "--at", "tomorrow"}, []string{"--at", "vetca deadlines --help"}},
		{[]string{"audit", "verify", "extra"}, []string{`unknown command "extra" for "vetca audit verify"`, "vetca audit verify --help"}},
		{[]string{"audit", "nosuch"}, []string{`unknown command "nosuch" for "vetca audit"`, "vetca audit --help"}},
		{[]string{"audit"}, []string{`"vetca audit"`, "checkpoint", "export", "verify"}},
		{[]string{"audit", "checkpoint", "x"}, []string{`unknown command "x"`}},
		{[]string{"audit", "export", "x"}, []string{`unknown command "x"`}},
		{[]string{"nosuch"}, []string{`unknown command "nosuch" for "vetca"`, "vetca --help"}},
		{[]string{}, []string{`"vetca"`, "serve"}},
		{[]string{"help", "nosuch"}, []string{"nosuch", "vetca --help"}},
		{[]string{"help", "incident", "nosuch"}, []string{"incident nosuch"}},
		{[]string{"perspective"}, []string{`"vetca perspective"`}},
		{[]string{"perspective", "x"}, []string{`unknown command "x" for "vetca perspective"`}},
		{[]string{"perspective", "serve", "x"}, []string{`unknown command "x" for "vetca perspective serve"`}},
		{[]string{"perspective", "serve"}, []string{"--cert"}},
		{[]string{"crl"}, []string{`"vetca crl"`}},
		{[]string{"crl", "x"}, []string{`unknown command "x" for "vetca crl"`}},
		{[]string{"crl", "publsh", "--help"}, []string{`unknown command "publsh" for "vetca crl"`}},
		{[]string{"audit", "verfy", "-h"}, []string{`unknown command "verfy" for "vetca audit"`}},
		{[]string{"crl", "publish", "x"}, []string{`unknown command "x" for "vetca crl publish"`}},
		{[]string{"crl", "verify", "x"}, []string{`unknown command "x" for "vetca crl verify"`}},
		{[]string{"ceremony", "x"}, []string{`unknown command "x" for "vetca ceremony"`}},
		{[]string{"ceremony", "intermediate", "x"}, []string{`unknown command "x" for "vetca ceremony intermediate"`}},
		{[]string{"ceremony", "intermediate", "--key-alg", "dsa"}, []string{"--key-alg"}},
		{[]string{"ceremony", "verify"}, []string{"FILE"}},
		{[]string{"scan", "x"}, []string{`unknown command "x" for "vetca scan"`}},
		{[]string{"scan", "--since", "x"}, []string{"--since"}},
		{[]string{"scan", "--workers", "-1"}, []string{"--workers"}},
		{[]string{"scan", "--workers", "100000"}, []string{"--workers"}},
		{[]string{"init", "x"}, []string{`unknown command "x" for "vetca init"`}},
		{[]string{"init", "--ca-country", "XX"}, []string{"--ca-country"}},
		{[]string{"serve", "x"}, []string{`unknown command "x" for "vetca serve"`}},
		{[]string{"serve", "--public-url", "nonsense"}, []string{"--public-url"}},
		{[]string{"serve", "--public-url", "https://user:pw@pki.example.com"}, []string{"--public-url", "no user"}},
		{[]string{"serve", "--public-url", "https://pki.example.com:99999"}, []string{"--public-url", "port"}},
		{[]string{"serve", "--listen", "127.0.0.1:99999"}, []string{"--listen", "port"}},
		{[]string{"serve", "--listen", "127.0.0.1:abc"}, []string{"--listen", "port"}},
		{[]string{"serve", "--listen", "nohost"}, []string{"--listen", "HOST:PORT"}},
		{[]string{"serve", "--listen", ":"}, []string{"--listen"}},
		{[]string{"serve", "--listen", ":8080"}, []string{"--listen", "--public-url"}},
		{[]string{"serve", "--listen", "127.0.0.1:0"}, []string{"--listen", "--public-url"}},
		{[]string{"scan", "--lint", "vetca_subject_match_current_org"}, []string{"--lint", "vetca_subject_matches_current_org"}},
		{[]string{"serve", "--trusted-proxy", "xx"}, []string{"--trusted-proxy"}},
		// BR §3.2.2.9: no remote perspective is refused unless chosen.
		{[]string{"serve", "--listen", "127.0.0.1:0", "--public-url", "http://pki.example.com"}, []string{"--perspective", "§3.2.2.9", "--no-perspectives"}},
		{[]string{"serve", "--listen", "127.0.0.1:0", "--public-url", "http://pki.example.com", "--no-perspectives", "--perspective", "https://p1.example.com"}, []string{"--no-perspectives", "--perspective", "exclude"}},
		{[]string{"serve", "--pprof-listen", "0.0.0.0:6060"}, []string{"--pprof-listen"}},
		{[]string{"serve", "--session-idle", "1s"}, []string{"--session-idle"}},
		{[]string{"user"}, []string{`"vetca user"`}},
		{[]string{"user", "add"}, []string{"NAME"}},
		{[]string{"user", "add", "bob"}, []string{"--role"}},
		{[]string{"user", "add", "bob", "--role", "nope"}, []string{"--role"}},
		{[]string{"user", "token"}, []string{"NAME"}},
		{[]string{"user", "list", "x"}, []string{`unknown command "x" for "vetca user list"`}},
		{[]string{"eab"}, []string{`"vetca eab"`}},
		{[]string{"eab", "create"}, []string{"--account"}},
		{[]string{"eab", "create", "x"}, []string{`unknown command "x" for "vetca eab create"`}},
		{[]string{"eab", "list"}, []string{"--account"}},
		{[]string{"eab", "revoke"}, []string{"KID"}},
		{[]string{"bench"}, []string{"issue"}},
		{[]string{"bench", "nosuch"}, []string{"issue"}},
		{[]string{"bench", "audit", "--n", "-5"}, []string{"--n -5"}},
		{[]string{"bench", "ocsp", "--certs", "0"}, []string{"--certs 0"}},
		{[]string{"bench", "ocsp", "--concurrency", "0"}, []string{"--concurrency 0"}},
		{[]string{"bench", "issue", "--concurrency", "-1"}, []string{"--concurrency -1"}},
		{[]string{"bench", "ocsp", "--duration", "0s"}, []string{"--duration 0s"}},
		{[]string{"bench", "audit", "--postgres", "sqlite:x.db"}, []string{"--postgres"}},
		{[]string{"completion"}, []string{`"vetca completion"`}},
		{[]string{"completion", "nosuch"}, []string{`unknown command "nosuch" for "vetca completion"`}},
		{[]string{"completion", "bash", "x"}, []string{`unknown command "x" for "vetca completion bash"`}},
		{[]string{"deadlines", "--log-level", "loud"}, []string{"--log-level"}},
	} {
		t.Run(strings.Join(tc.args, "_"), func(t *testing.T) {
			dir := t.TempDir()
			common := []string{"--db", "sqlite:" + filepath.Join(dir, "none.db"), "--key-dir", filepath.Join(dir, "keys")}
			code, _, stderr := runCLI(t, append(tc.args, common...)...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d (usage error); stderr: %s", code, exitUsage, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr does not say %q: %s", w, stderr)
				}
			}
			if !strings.Contains(stderr, " --help)") {
				t.Errorf("stderr does not point to the command's help: %s", stderr)
			}
			// A flag's error names the command it belongs to, by its
			// full path.
			for _, bad := range []string{"see vetca revoke ", "see vetca report ", "see vetca verify ", "(invalid_value)"} {
				if strings.Contains(stderr, bad) {
					t.Errorf("stderr says %q: %s", bad, stderr)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "none.db")); err == nil {
				t.Fatalf("a usage error created the database")
			}
		})
	}
}

// Asking for help is not an error.
func TestHelpExits0(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"help", "incident", "revoke"}, {"incident", "--help"}, {"incident", "revoke", "--help"}, {"audit", "verify", "-h"}, {"completion", "bash"}, {"help", "--help"}, {"help", "-h"}} {
		code, stdout, stderr := runCLI(t, args...)
		if code != exitOK || stdout == "" {
			t.Errorf("%v: exit %d, stdout %d bytes; stderr: %s", args, code, len(stdout), stderr)
		}
	}
	_, stdout, _ := runCLI(t, "help", "incident", "revoke")
	if !strings.Contains(stdout, "vetca incident revoke ID") {
		t.Errorf("help incident revoke: %s", stdout)
	}
}

// A flag value that passes the command's own checks but that the service
// refuses, naming the flag's field, is still a usage error naming the
// flag.
func TestFlagValueRefusedByServiceIsUsageError(t *testing.T) {
	dir := t.TempDir()
	common := []string{"--db", "sqlite:" + filepath.Join(dir, "v.db"), "--key-dir", filepath.Join(dir, "keys")}
	if code, _, stderr := runCLI(t, append([]string{"init"}, common...)...); code != exitOK {
		t.Fatalf("init: %d %s", code, stderr)
	}
	code, _, stderr := runCLI(t, append([]string{"user", "add", "bob", "--role", "admin", "--email", "not an address"}, common...)...)
	if code != exitUsage || !strings.Contains(stderr, "--email") || !strings.Contains(stderr, "vetca user add --help") {
		t.Fatalf("user add --email 'not an address': exit %d: %s", code, stderr)
	}
	// An argument the service cannot find is a failure, not a usage error.
	code, _, stderr = runCLI(t, append([]string{"incident", "report", "inc_nosuch", "--format", "full"}, common...)...)
	if code != exitFailure {
		t.Fatalf("report of an unknown incident: exit %d: %s", code, stderr)
	}
}

// A --config key that the command does not take names the command by its
// full path.
func TestConfigUnknownKeyNamesCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "vetca.toml")
	if err := os.WriteFile(cfg, []byte("workers = 4\nlisten = \"127.0.0.1:0\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, "incident", "revoke", "inc_1", "--config", cfg, "--db", "sqlite:"+filepath.Join(dir, "none.db"))
	if code != exitUsage || !strings.Contains(stderr, `unknown key "listen" for vetca incident revoke`) {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// A --db that is no DSN at all (another scheme, an empty SQLite path) is a
// refused flag value: a usage error naming --db, before anything opens.
func TestMalformedDBIsUsageError(t *testing.T) {
	for _, dsn := range []string{"mysql://x", "sqlite:", "vetca.db"} {
		for _, cmd := range [][]string{{"init"}, {"user", "list"}, {"deadlines"}} {
			code, _, stderr := runCLI(t, append(cmd, "--db", dsn, "--key-dir", filepath.Join(t.TempDir(), "keys"))...)
			if code != exitUsage || !strings.Contains(stderr, "--db") {
				t.Errorf("%v --db %q: exit %d: %s", cmd, dsn, code, stderr)
			}
		}
	}
}
