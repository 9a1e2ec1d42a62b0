package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/store/storetest"
)

// OCSP serves every answer of the run from memory (the bench checks each
// answer's bytes), on both backends, and its figures add up.
func TestOCSPAnswersFromMemory(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := "sqlite:scratch"
			if backend == "postgres" {
				dsn = storetest.PostgresDSN(t)
			}
			r, err := OCSP(context.Background(), dsn, 3, 2, 200*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if r.What != "ocsp" || r.Backend != backend || r.N <= 0 || !(r.PerSecond > 0) || !(r.RawPerSecond > 0) {
				t.Fatalf("result %+v", r)
			}
			if !strings.Contains(r.Notes, "from its memory (3 responses held)") || !strings.Contains(r.Notes, "net/http's client instead") {
				t.Fatalf("notes: %s", r.Notes)
			}
		})
	}
}
