package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// The start-up warnings about serving settings (no CAA identity; a public
// URL that is not a public DNS name) belong to `vetca serve`: `vetca init`
// and `vetca user add`, which open the same services, do not print them,
// and serve still does.
func TestServeWarningsOnlyWhenServing(t *testing.T) {
	in := &Instance{t: t, Backend: "sqlite", Dir: t.TempDir(), Bin: vetcaBin}
	in.DSN = "sqlite:" + filepath.Join(in.Dir, "vetca.db")
	warnings := []string{"no CAA identity", "--public-url is not a public DNS name"}
	const publicURL = "http://127.0.0.1:8080" // no DNS name: both warnings apply
	for _, args := range [][]string{
		{"init", "--json", "--public-url", publicURL},
		{"user", "add", "alice", "--role", "verifier"},
	} {
		out, errOut, code := in.CLI(args...)
		if code != 0 {
			t.Fatalf("vetca %s: exit %d: %s %s", strings.Join(args, " "), code, out, errOut)
		}
		for _, w := range warnings {
			if strings.Contains(out+errOut, w) {
				t.Errorf("vetca %s printed the serve warning %q:\n%s", strings.Join(args, " "), w, errOut)
			}
		}
	}
	in.Serve("--public-url", publicURL)
	logs := in.Logs()
	for _, w := range warnings {
		if !strings.Contains(logs, w) {
			t.Errorf("vetca serve did not warn %q:\n%s", w, logs)
		}
	}
}
