package dcv

import (
	"net/url"
	"strings"
	"testing"
)

// A website-change redirect must stay under /.well-known/pki-validation/
// (BR §3.2.2.4.18): whatever spelling a path uses to leave the directory
// once a server decodes and normalizes it is refused at the decision point.
func TestRedirectStaysInDirectory(t *testing.T) {
	c := &HTTPChecker{cfg: HTTPConfig{Port: 80, HTTPSPort: 443}}
	sp := httpSpec{m: WebsiteChange, dir: WellKnownDir, sameDir: true}
	base, _ := url.Parse("http://shop.example.com" + WellKnownDir + "f.txt")
	tests := []struct {
		loc  string
		want bool // followed
	}{
		{WellKnownDir + "moved.txt", true},
		{WellKnownDir + "sub/moved.txt", true},
		{WellKnownDir + "a..b.txt", true},
		{"/value.txt", false},
		{WellKnownDir + "../value.txt", false},
		{WellKnownDir + "%2e%2e/value.txt", false},
		{WellKnownDir + "..%2fvalue.txt", false},
		{WellKnownDir + "%2e%2e", false},  // decodes to the parent directory itself
		{WellKnownDir + "%2E%2E/", false}, // the same, with a slash
		{WellKnownDir + "x/%2e%2e/%2e%2e", false},
		{WellKnownDir + "..%5cvalue.txt", false}, // a backslash is a separator to some servers
		{WellKnownDir + "%2e", true},             // "." stays in the directory
	}
	for _, tc := range tests {
		next, err := base.Parse(tc.loc)
		if err != nil {
			t.Fatalf("%s: %v", tc.loc, err)
		}
		reason := c.checkRedirect("shop.example.com", next, sp)
		if got := reason == ""; got != tc.want {
			t.Errorf("redirect to %s (path %q): followed = %v (%s); want %v", tc.loc, next.Path, got, reason, tc.want)
		} else if !tc.want && !strings.Contains(reason, "not under") {
			t.Errorf("redirect to %s: reason %q", tc.loc, reason)
		}
	}
}
