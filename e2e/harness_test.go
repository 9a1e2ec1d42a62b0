// Package e2e drives the real vetca binary as a user would: `vetca init`,
// `vetca serve` on a loopback port, the HTTP API, the CLI, and out-of-band
// SQL through the sqlite3 and psql command-line clients.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/notify/smtptest"
	"github.com/vetca/vetca/internal/store/storetest"
)

var (
	vetcaBin string // the shipped build
	hooksBin string // the test build: go build -tags vetcatesthooks (crash and lint hooks)
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vetca-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	vetcaBin = filepath.Join(dir, "vetca")
	hooksBin = filepath.Join(dir, "vetca-testhooks")
	for _, b := range [][]string{{"-o", vetcaBin}, {"-tags", "vetcatesthooks", "-o", hooksBin}} {
		build := exec.Command("go", append(append([]string{"build"}, b...), "../cmd/vetca")...)
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building vetca:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Instance is one vetca database with (optionally) a running server.
type Instance struct {
	t          *testing.T
	Backend    string
	DSN        string
	Dir        string
	URL        string
	AdminToken string
	SMTP       *smtptest.Server
	schema     string // PostgreSQL search_path
	cmd        *exec.Cmd
	logs       *syncBuffer
	// Bin is the binary Serve runs (vetcaBin unless a test needs hooksBin);
	// Env adds variables to every command.
	Bin string
	Env []string
	// Addr is the listen address, kept across restarts.
	Addr string
	// PublicURL is the --public-url given to init and serve.
	PublicURL string
}

// New initializes a database on backend ("sqlite" or "postgres").
func New(t *testing.T, backend string) *Instance {
	t.Helper()
	return NewWith(t, backend, nil)
}

// NewWith is New with extra environment and `vetca init` arguments.
func NewWith(t *testing.T, backend string, env []string, initArgs ...string) *Instance {
	t.Helper()
	return newInstance(t, backend, env, "", initArgs...)
}

// NewOnLoopback is New with the public URL on the server's own loopback
// address, so that the URLs in certificates and CRLs (and
// `crl verify --fetch`) reach the server under test.
func NewOnLoopback(t *testing.T, backend string) *Instance {
	t.Helper()
	addr := freeAddr(t)
	in := newInstance(t, backend, nil, "http://"+addr)
	in.Addr = addr
	return in
}

func newInstance(t *testing.T, backend string, env []string, publicURL string, initArgs ...string) *Instance {
	t.Helper()
	if publicURL == "" {
		publicURL = "http://pki.vetca-test.com"
	}
	in := &Instance{t: t, Backend: backend, Dir: t.TempDir(), Bin: vetcaBin, Env: env, PublicURL: publicURL}
	if backend == "postgres" {
		in.DSN = storetest.PostgresDSN(t)
		u, err := url.Parse(in.DSN)
		if err != nil {
			t.Fatal(err)
		}
		in.schema = u.Query().Get("search_path")
	} else {
		in.DSN = "sqlite:" + filepath.Join(in.Dir, "vetca.db")
	}
	out, errOut, code := in.CLI(append([]string{"init", "--json", "--public-url", in.PublicURL}, initArgs...)...)
	if code != 0 {
		t.Fatalf("vetca init: exit %d: %s %s", code, out, errOut)
	}
	var res struct {
		AdminToken string `json:"adminToken"`
		Issuers    []struct{ ID, Subject string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.AdminToken == "" || len(res.Issuers) != 2 {
		t.Fatalf("vetca init --json printed %q (%v)", out, err)
	}
	in.AdminToken = res.AdminToken
	return in
}

// Each runs fn once per backend.
func Each(t *testing.T, fn func(t *testing.T, in *Instance)) {
	for _, b := range []string{"sqlite", "postgres"} {
		t.Run(b, func(t *testing.T) { fn(t, New(t, b)) })
	}
}

func (in *Instance) env() []string {
	return append(append(os.Environ(), "VETCA_DB="+in.DSN, "VETCA_KEY_DIR="+filepath.Join(in.Dir, "keys")), in.Env...)
}

// CLI runs vetca with args and returns stdout, stderr and the exit code.
func (in *Instance) CLI(args ...string) (string, string, int) {
	in.t.Helper()
	return in.CLIEnv(nil, args...)
}

// CLIEnv is CLI with extra environment variables (which override the
// instance's own).
func (in *Instance) CLIEnv(env []string, args ...string) (string, string, int) {
	in.t.Helper()
	cmd := exec.Command(vetcaBin, args...)
	cmd.Env = append(in.env(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		in.t.Fatalf("run vetca %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// SQL runs one statement with the database's own command-line client, as a
// person with database access would.
func (in *Instance) SQL(stmt string) string {
	in.t.Helper()
	var cmd *exec.Cmd
	if in.Backend == "postgres" {
		cmd = exec.Command("psql", "-v", "ON_ERROR_STOP=1", "-qAt", pgBase(in.t, in.DSN), "-c", stmt)
		cmd.Env = append(os.Environ(), "PGOPTIONS=-c search_path="+in.schema)
	} else {
		cmd = exec.Command("sqlite3", strings.TrimPrefix(in.DSN, "sqlite:"), stmt)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		in.t.Fatalf("%s: %v: %s", cmd.Args[0], err, out)
	}
	return strings.TrimSpace(string(out))
}

// Serve starts `vetca serve` on a loopback port (the same one on a restart).
func (in *Instance) Serve(extra ...string) {
	in.t.Helper()
	if in.SMTP == nil {
		in.SMTP = smtptest.New(in.t)
	}
	chosen := in.Addr == ""
	for attempt := 1; ; attempt++ {
		if chosen {
			in.Addr = freeAddr(in.t)
		}
		addr := in.Addr
		args := []string{"serve", "--listen", addr, "--smtp", in.SMTP.Addr(), "--compliance-email", "compliance@ca.vetca-test.com"}
		if !hasFlag(extra, "--public-url") {
			args = append(args, "--public-url", in.PublicURL)
		}
		args = withoutPerspectives(args, extra)
		args = append(args, extra...)
		in.cmd = exec.Command(in.Bin, args...)
		in.cmd.Env = in.env()
		in.logs = &syncBuffer{}
		in.cmd.Stdout, in.cmd.Stderr = in.logs, in.logs
		if err := in.cmd.Start(); err != nil {
			in.t.Fatal(err)
		}
		in.URL = "http://" + addr
		if in.waitReady() {
			in.t.Cleanup(in.Stop)
			return
		}
		// The free address chosen was taken before serve could bind it.
		in.Stop()
		if !chosen || attempt == 3 {
			in.t.Fatalf("vetca serve could not listen on %s:\n%s", addr, in.logs)
		}
	}
}

// waitReady waits until the server just started answers /healthz, and
// reports false if it could not bind its address. The address was free
// when chosen, but any process may take a free port before serve binds it
// (an outgoing connection's ephemeral port, another test's server), and
// whatever answers there then must not be taken for this server: it is
// ready only once it has also logged that it serves on in.Addr.
func (in *Instance) waitReady() bool {
	serving := []string{`"msg":"vetca serving","listen":"` + in.Addr + `"`, `msg="vetca serving" listen=` + in.Addr + " "} // JSON or text logs
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		logs := in.logs.String()
		if strings.Contains(logs, "address already in use") {
			return false
		}
		if strings.Contains(logs, serving[0]) || strings.Contains(logs, serving[1]) {
			resp, err := http.Get(in.URL + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					return true
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	in.t.Fatalf("vetca serve did not become ready:\n%s", in.logs)
	return false
}

// syncBuffer collects a server's output, written by the process's copying
// goroutine while tests read it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// freeAddr returns a loopback address with a port nothing listens on.
// The port is closed again before a server (vetca serve, certbot, the TLS
// front) binds it, often seconds later (vetca init runs in between for
// NewOnLoopback, whose address is baked into the installation and cannot
// be chosen again). A port the kernel hands out (Listen on :0) comes from
// the ephemeral range, from which every outgoing connection on the machine
// (PostgreSQL clients, HTTP clients of parallel test packages) also takes
// its source port, and such a connection makes the later bind fail with
// "address already in use". The port is therefore taken below that range,
// where only a server asking for that very port can be.
func freeAddr(t *testing.T) string {
	t.Helper()
	low := 32768 // Linux's default ip_local_port_range start
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	if low > 12000 {
		for range 100 {
			port := 10000 + rand.IntN(low-10000)
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				continue
			}
			l.Close()
			return l.Addr().String()
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Wait waits for the server to exit by itself (a crash hook) and returns
// its exit code.
func (in *Instance) Wait() int {
	in.t.Helper()
	done := make(chan error, 1)
	go func() { done <- in.cmd.Wait() }()
	select {
	case err := <-done:
		in.cmd = nil
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		return 0
	case <-time.After(30 * time.Second):
		in.t.Fatalf("server did not exit:\n%s", in.logs)
	}
	return -1
}

// Replica returns another server of the same installation: the same
// database and key directory, its own listen address and process.
func (in *Instance) Replica() *Instance {
	in.t.Helper()
	return &Instance{t: in.t, Backend: in.Backend, DSN: in.DSN, Dir: in.Dir, AdminToken: in.AdminToken, SMTP: in.SMTP,
		schema: in.schema, Bin: vetcaBin, PublicURL: in.PublicURL}
}

// Clone returns a copy of the installation as it is now, for test t: a
// copy of the database (a new SQLite file made with sqlite3's .backup, or
// a new PostgreSQL schema restored from pg_dump of this one) and of the key
// directory (audit key, issuing keys, checkpoints), with no server running.
// Edits to the copy cannot touch this instance or another copy. Stop the
// server first, so that no checkpoint is being written while the keys are
// copied.
func (in *Instance) Clone(t *testing.T) *Instance {
	t.Helper()
	c := &Instance{t: t, Backend: in.Backend, Dir: t.TempDir(), AdminToken: in.AdminToken, Bin: vetcaBin,
		Env: append([]string(nil), in.Env...), PublicURL: in.PublicURL}
	if err := copyTree(filepath.Join(in.Dir, "keys"), filepath.Join(c.Dir, "keys")); err != nil {
		t.Fatalf("copy the key directory: %v", err)
	}
	if in.Backend != "postgres" {
		dst := filepath.Join(c.Dir, "vetca.db")
		if out, err := exec.Command("sqlite3", strings.TrimPrefix(in.DSN, "sqlite:"), ".backup '"+dst+"'").CombinedOutput(); err != nil {
			t.Fatalf("sqlite3 .backup: %v: %s", err, out)
		}
		c.DSN = "sqlite:" + dst
		return c
	}
	c.DSN = storetest.PostgresDSN(t)
	u, err := url.Parse(c.DSN)
	if err != nil {
		t.Fatal(err)
	}
	c.schema = u.Query().Get("search_path")
	base := pgBase(t, in.DSN)
	dump, err := exec.Command("pg_dump", "--schema="+in.schema, "--no-owner", "--no-privileges", base).Output()
	if err != nil {
		t.Fatalf("pg_dump --schema=%s: %v", in.schema, err)
	}
	// Schema names are random (vetca_test_ and 12 hex digits), so
	// renaming every mention is safe. The dump creates the schema itself.
	script := "DROP SCHEMA " + c.schema + " CASCADE;\n" + strings.ReplaceAll(string(dump), in.schema, c.schema)
	cmd := exec.Command("psql", "-v", "ON_ERROR_STOP=1", "-q", base)
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("restore the dump into %s: %v: %s", c.schema, err, out)
	}
	return c
}

// copyTree copies the directory src to dst, keeping permissions (vetca
// refuses a key file others can read).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(to, info.Mode().Perm())
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, info.Mode().Perm())
	})
}

// pgBase is a PostgreSQL DSN without its search_path parameter (which the
// command-line clients do not understand).
func pgBase(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("DSN %q: %v", dsn, err)
	}
	q := u.Query()
	q.Del("search_path")
	u.RawQuery = q.Encode()
	return u.String()
}

// withoutPerspectives adds --no-perspectives to serve's args unless extra
// gives remote perspectives or --dev: the tests' domains are validated
// from loopback alone.
func withoutPerspectives(args, extra []string) []string {
	if hasFlag(extra, "--perspective") || hasFlag(extra, "--dev") || hasFlag(extra, "--no-perspectives") {
		return args
	}
	return append(args, "--no-perspectives")
}

// ServeFails runs `vetca serve` expecting it to refuse to start, and
// returns its exit code and output.
func (in *Instance) ServeFails(extra ...string) (int, string) {
	in.t.Helper()
	args := []string{"serve", "--listen", "127.0.0.1:0"}
	if !hasFlag(extra, "--public-url") {
		args = append(args, "--public-url", in.PublicURL)
	}
	args = withoutPerspectives(args, extra)
	cmd := exec.Command(in.Bin, append(args, extra...)...)
	cmd.Env = in.env()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		in.t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), out.String()
		}
		return 0, out.String()
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		in.t.Fatalf("vetca serve did not refuse to start:\n%s", out.String())
	}
	return -1, ""
}

// Kill kills the server with SIGKILL, as a crash would.
func (in *Instance) Kill() {
	if in.cmd != nil && in.cmd.Process != nil {
		_ = in.cmd.Process.Kill()
		_ = in.cmd.Wait()
		in.cmd = nil
	}
}

// Logs returns what the server printed.
func (in *Instance) Logs() string { return in.logs.String() }

// Stop stops the server.
func (in *Instance) Stop() {
	if in.cmd != nil && in.cmd.Process != nil {
		_ = in.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = in.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = in.cmd.Process.Kill()
		}
		in.cmd = nil
	}
}

// Response is an API response.
type Response struct {
	Status int
	Body   map[string]any
	Raw    []byte
}

// Do calls the API.
func (in *Instance) Do(method, path, token string, body any) Response {
	in.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			in.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, in.URL+path, rd)
	if err != nil {
		in.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		in.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		in.t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	r := Response{Status: resp.StatusCode, Raw: raw}
	// Only JSON answers are decoded; one that says it is JSON must be.
	if err := json.Unmarshal(raw, &r.Body); err != nil && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		in.t.Fatalf("%s %s: HTTP %d with malformed JSON: %v: %s", method, path, r.Status, err, raw)
	}
	if m, ok := r.Body["error"].(map[string]any); ok {
		if c, _ := m["code"].(string); !apperr.Known(apperr.Code(c)) {
			in.t.Errorf("%s %s: HTTP %d with error code %q, which internal/apperr/codes.go does not declare", method, path, r.Status, c)
		}
	}
	return r
}

// User creates a staff user with the CLI and returns its token.
func (in *Instance) User(name string, roles ...string) string {
	in.t.Helper()
	args := []string{"user", "add", name, "--json"}
	for _, r := range roles {
		args = append(args, "--role", r)
	}
	out, errOut, code := in.CLI(args...)
	if code != 0 {
		in.t.Fatalf("user add %s: %d %s", name, code, errOut)
	}
	var res struct{ Name, Token string }
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Token == "" {
		in.t.Fatalf("user add --json: %q", out)
	}
	return res.Token
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

// lines splits output into non-empty lines.
func lines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			out = append(out, l)
		}
	}
	return out
}
