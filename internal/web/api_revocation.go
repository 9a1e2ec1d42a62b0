package web

import (
	"net/http"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/conditional"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/order"
	"github.com/vetca/vetca/internal/revocation"
	"github.com/vetca/vetca/internal/revocation/crl"
	"github.com/vetca/vetca/internal/revocation/ocspresp"
)

func (s *Server) revocationRoutes() {
	s.mux.HandleFunc("POST /api/v1/certificates/{serial}/revoke", s.api(s.revokeCertificate))
	s.mux.HandleFunc("GET /api/v1/crl", s.api(s.listShards))
	s.mux.HandleFunc("GET /crl/{issuer}/{file}", s.serveCRL)
	h, err := ocspresp.NewHandler(s.OCSP, ocspresp.Options{Clock: s.Clock, Logger: s.log, Prefix: "/ocsp/"})
	if err != nil {
		panic(err) // only on a programming error in the options above
	}
	s.ocsp = h
}

// certificateRecord is the record of GET /certificates/{serial}: the
// inventory record with, once revoked, revokedAt and reason.
type certificateRecord struct {
	order.Record
	RevokedAt  *time.Time             `json:"revokedAt,omitempty"`
	Reason     string                 `json:"reason,omitempty"`
	Revocation *revocation.Revocation `json:"revocation,omitempty"`
}

func (s *Server) certificateRecord(r *http.Request, rec order.Record) (certificateRecord, error) {
	out := certificateRecord{Record: rec}
	rv, ok, err := s.Revocations.Find(r.Context(), rec.Serial)
	if err != nil {
		return out, err
	}
	if ok {
		at := rv.RevokedAt
		out.RevokedAt, out.Reason, out.Revocation = &at, rv.Reason, &rv
	}
	return out, nil
}

func (s *Server) revokeCertificate(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	var in revocation.Input
	if err := decode(w, r, &in, decodeOptions{allowEmpty: true}); err != nil {
		return err
	}
	serial := strings.ToLower(r.PathValue("serial"))
	if _, _, err := s.Revocations.Revoke(r.Context(), by, serial, in); err != nil {
		return err
	}
	return s.writeCertificate(w, r, by, serial)
}

// revocationColumns fills the inventory CSV's revocation columns.
func (s *Server) revocationColumns(r *http.Request, c issuance.Certificate) (string, string) {
	rv, ok, err := s.Revocations.Find(r.Context(), c.Serial)
	if err != nil || !ok {
		return "", ""
	}
	return rv.RevokedAt.UTC().Format(time.RFC3339), rv.Reason
}

func (s *Server) listShards(w http.ResponseWriter, r *http.Request, by actor.Actor) error {
	if _, err := query(r); err != nil {
		return err
	}
	list, err := s.CRLs.ListShards(r.Context(), by)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, shardsResponse{Shards: list})
	return nil
}

// serveCRL serves the current CRL whose Issuing Distribution Point names
// the requested URL, the one certificates name. The URL is rebuilt from the Host header;
// when that is not a URL vetca publishes (a proxy in front), the public
// URL's host is tried.
func (s *Server) serveCRL(w http.ResponseWriter, r *http.Request) {
	if _, err := crl.ParseShardFileName(r.PathValue("file")); err != nil {
		http.NotFound(w, r)
		return
	}
	path := "/crl/" + r.PathValue("issuer") + "/" + r.PathValue("file")
	der, rec, err := s.CRLs.Get(r.Context(), "http://"+r.Host+path)
	if apperr.IsKind(err, apperr.KindNotFound) {
		der, rec, err = s.CRLs.Get(r.Context(), s.CRLs.PublicURL()+path)
	}
	if err != nil {
		s.writePublicError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/pkix-crl")
	w.Header().Set("Last-Modified", rec.ThisUpdate.UTC().Format(http.TimeFormat))
	w.Header().Set("Expires", rec.NextUpdate.UTC().Format(http.TimeFormat))
	w.Header().Set("Cache-Control", "public, max-age=60, must-revalidate")
	etag := `"` + rec.SHA256[:32] + `"`
	w.Header().Set("ETag", etag)
	// A poller that has this CRL gets 304 (RFC 9110 §13.2.1), not the
	// whole list every minute.
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && conditional.NotModified(r, etag, rec.ThisUpdate) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(der)
}

// writePublicError answers a failed fetch of a published object (a CA
// certificate or a CRL, fetched by relying parties, not API clients): a
// plain 404 when there is no such object, the API error shape otherwise.
func (s *Server) writePublicError(w http.ResponseWriter, r *http.Request, err error) {
	if apperr.IsKind(err, apperr.KindNotFound) {
		http.NotFound(w, r)
		return
	}
	s.writeError(w, r, err)
}
