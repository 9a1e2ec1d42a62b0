package app

import "testing"

// serve defaults --public-url to http://LISTEN; only such non-public
// hosts get the AIA internal-name warning tolerated.
func TestInternalURLTolerance(t *testing.T) {
	for u, want := range map[string]bool{
		"http://127.0.0.1:8080":        true,
		"http://[::1]:8080":            true,
		"http://localhost:8080":        true,
		"http://pki.example":           true,
		"http://pki.vetca-test.com":    false,
		"https://pki.acme-ca.com/base": false,
	} {
		if got := internalURLTolerance(u) != nil; got != want {
			t.Errorf("%s: tolerated %v, want %v", u, got, want)
		}
	}
}
