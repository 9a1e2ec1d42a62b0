package web

import (
	"net/http"

	"github.com/vetca/vetca/internal/apperr"
)

// Public audit endpoints: the installation's audit public key and the
// newest signed checkpoint of the chain head, for auditors to fetch and
// keep. With copies kept outside vetca, a chain later truncated or rebuilt
// is caught (`vetca audit verify --checkpoint FILE`).
func (s *Server) publicAuditRoutes() {
	s.mux.HandleFunc("GET /audit/public-key", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(s.Audit.PublicKeyPEM())
	})
	s.mux.HandleFunc("GET /audit/checkpoint", func(w http.ResponseWriter, r *http.Request) {
		cp, err := s.Audit.LatestCheckpoint(r.Context())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if cp == nil {
			s.writeError(w, r, apperr.NotFound(apperr.CodeNotFound, apperr.NoField, "no signed checkpoint yet"))
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		writeJSON(w, http.StatusOK, cp)
	})
}
