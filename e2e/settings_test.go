package e2e

import (
	"strings"
	"testing"
)

// The first serve after init keeps the public URL init put into the CA
// certificates (their CRL and caIssuers URLs): one started with another
// (a --listen address and no --public-url, say) refuses, naming both,
// instead of replacing it unasked; with the recorded one it starts.
func TestFirstServeKeepsInitsPublicURL(t *testing.T) {
	in := New(t, "sqlite")
	code, out := in.ServeFails("--public-url", "http://127.0.0.1:18999")
	if code == 0 || !strings.Contains(out, "--public-url http://127.0.0.1:18999 (recorded "+in.PublicURL+" by vetca init") {
		t.Fatalf("first serve with another public URL: exit %d\n%s", code, out)
	}
	if got := in.SQL("SELECT value FROM settings WHERE id = 'public_url'"); !strings.Contains(got, in.PublicURL) {
		t.Fatalf("the recorded public URL changed: %s", got)
	}
	in.Serve()
	in.Stop()
}
