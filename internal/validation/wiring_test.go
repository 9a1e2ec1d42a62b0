package validation_test

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vetca/vetca/internal/app"
	"github.com/vetca/vetca/internal/apptest"
	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/mpic/mpictest"
	"github.com/vetca/vetca/internal/store/storetest"
)

// The wiring of the domain service (internal/app/domains.go) follows the
// domain flags of README.md (Configuration); these tests pin its defaults.

// Without --caa-identity the CAA identity is the --public-url host.
func TestCAAIdentityDefaultsToPublicURLHost(t *testing.T) {
	for _, backend := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			w := newWorld(t, backend, func(c *app.Config) { c.CAAIdentities = nil })
			w.DNS.AddCAA("acme-widgets.com", 0, "issue", "pki.vetca-test.com") // apptest's --public-url host
			w.DNS.AddCAA("other.acme-widgets.com", 0, "issue", "ca.vetca-test.com")
			res, err := w.App.Domains.CheckCAA(ctx, []string{"www.acme-widgets.com", "other.acme-widgets.com"})
			if len(res) != 2 || !res[0].Permitted || res[1].Permitted || err == nil {
				t.Fatalf("%v %+v", err, res)
			}
		})
	}
}

// The default resolver is the first nameserver of resolv.conf.
func TestSystemResolver(t *testing.T) {
	dir := t.TempDir()
	cases := []struct{ file, want string }{
		{"# comment\nsearch corp.example\nnameserver 10.1.2.3\nnameserver 10.9.9.9\n", "10.1.2.3:53"},
		{"nameserver 2001:db8::53\n", "[2001:db8::53]:53"},
		{"nameserver not-an-ip\nnameserver 192.0.2.53\n", "192.0.2.53:53"},
		{"options edns0\n", "127.0.0.1:53"},
	}
	for i, c := range cases {
		p := filepath.Join(dir, "resolv"+string(rune('a'+i)))
		if err := os.WriteFile(p, []byte(c.file), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := app.SystemResolver(p); got != c.want {
			t.Errorf("%q: %s, want %s", c.file, got, c.want)
		}
	}
	if got := app.SystemResolver(filepath.Join(dir, "missing")); got != "127.0.0.1:53" {
		t.Errorf("missing file: %s", got)
	}
}

// Bad domain flags stop vetca from starting, naming the flag.
func TestDomainFlagsAreChecked(t *testing.T) {
	for _, backend := range []string{apptest.SQLite, apptest.Postgres} {
		t.Run(backend, func(t *testing.T) {
			pki, err := mpictest.New(clock.Real{})
			if err != nil {
				t.Fatal(err)
			}
			files, err := pki.WriteFiles(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			cases := []struct {
				name string
				set  func(c *app.Config)
				flag string
			}{
				{"perspective without client certificate", func(c *app.Config) { c.Perspectives = []string{"https://127.0.0.1:8443"} }, "--perspective"},
				{"unreadable client certificate", func(c *app.Config) {
					c.Perspectives = []string{"https://127.0.0.1:8443"}
					c.PerspectiveCert, c.PerspectiveKey, c.PerspectiveCA = "/nonexistent/cert.pem", files.ClientKey, files.CA
				}, "--perspective-cert"},
				{"plain-http perspective", func(c *app.Config) {
					c.Perspectives = []string{"http://127.0.0.1:8443"}
					c.PerspectiveCert, c.PerspectiveKey, c.PerspectiveCA = files.ClientCert, files.ClientKey, files.CA
				}, "--perspective: mpic: perspective \"http://127.0.0.1:8443\" is not an https URL"},
				{"resolver without a port", func(c *app.Config) { c.DNSResolver = "127.0.0.1" }, "--dns-resolver"},
				{"bad CAA identity", func(c *app.Config) { c.CAAIdentities = []string{"not a name"} }, "--caa-identity"},
				{"port out of range", func(c *app.Config) { c.HTTPValidationPort = 70000 }, "--http-validation-port"},
			}
			for _, c := range cases {
				cfg := app.Config{DB: backendDSN(t, backend), KeyDir: t.TempDir(), PublicURL: "http://pki.vetca-test.com"}
				c.set(&cfg)
				a, err := app.Open(ctx, cfg, clock.Real{}, slog.New(slog.NewTextHandler(io.Discard, nil)), app.Options{Migrate: true, Write: true, CreateAuditKey: true})
				if err == nil {
					a.Close()
					t.Errorf("%s: opened", c.name)
					continue
				}
				if !strings.Contains(err.Error(), c.flag) {
					t.Errorf("%s: %v does not name %s", c.name, err, c.flag)
				}
			}
		})
	}
}

// backendDSN is a fresh database of backend.
func backendDSN(t *testing.T, backend string) string {
	t.Helper()
	if backend == apptest.Postgres {
		return storetest.PostgresDSN(t)
	}
	return storetest.SQLiteDSN(t)
}
