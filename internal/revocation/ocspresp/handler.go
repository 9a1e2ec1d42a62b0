package ocspresp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"

	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/conditional"
)

// Source supplies the responses a Handler serves; the caller implements it
// over its database of pre-signed responses.
//
// Response returns the DER of a complete OCSPResponse for the request's
// certificate. It returns an error wrapping ErrNotFound when it cannot answer
// authoritatively: the CertID names an issuer that is not ours, or a serial
// that was never issued (and has no issuance intent). The Handler then
// answers "unauthorized" (RFC 5019 §2.2.3). A Source that prefers to answer
// unissued serials with a signed "revoked" response (BR §4.9.9 allows either,
// as long as it is never "good") simply returns that response instead.
// Any other error is an internal failure.
type Source interface {
	Response(ctx context.Context, req *ocsp.Request) ([]byte, error)
}

// ErrNotFound is returned, possibly wrapped, by a Source that has no
// authoritative response for a request.
var ErrNotFound = errors.New("ocspresp: no authoritative response for this certificate")

// Options configure a Handler.
type Options struct {
	// Clock gives the current time, for Cache-Control max-age and to refuse
	// to serve a response past its nextUpdate. Required.
	Clock clock.Clock
	// Logger receives failures of the Source and unusable responses. Nil
	// discards them.
	Logger *slog.Logger
	// Prefix is the path under which GET requests carry the base64 request:
	// GET <Prefix><base64>. The default is "/ocsp/". POST requests may use
	// any path. Behind http.StripPrefix("/ocsp", h), set it to "/".
	Prefix string
	// MaxAge caps the Cache-Control max-age of a response; it is never more
	// than the time left before nextUpdate. It bounds how long a cache may
	// keep serving a "good" response after a revocation. Default one hour.
	MaxAge time.Duration
	// MaxRequestBytes bounds the DER request (and a POST body). Default 4096,
	// far above the ~100 bytes of an RFC 5019 request.
	MaxRequestBytes int
}

// Handler is an OCSP responder (RFC 6960 Appendix A, RFC 5019 §5) over a
// Source. It answers:
//
//   - GET and HEAD <Prefix><base64 of the DER request>, with the base64
//     URL-encoded or not (RFC 5019 §5: '+', '/' and '=' may arrive as %2B,
//     %2F, %3D or raw), padded or not, standard or URL-safe alphabet;
//   - POST with Content-Type application/ocsp-request (or none) and the DER
//     request as body.
//
// Every answer that is an OCSP response has Content-Type
// application/ocsp-response. Authoritative responses carry the RFC 5019 §6.2
// caching headers: Last-Modified (thisUpdate), Expires (nextUpdate), ETag
// (hex SHA-256 of the response) and Cache-Control "max-age=N, public,
// no-transform, must-revalidate"; conditional GETs get 304. Error statuses
// are unsigned responses with Cache-Control no-cache, no-store
// (RFC 5019 §6.2 for non-authoritative answers):
//
//   - malformedRequest (HTTP 200) for an undecodable or unparsable request,
//     a signed request, or one asking about more than one certificate
//     (RFC 5019 §2.1.1 allows only one);
//   - unauthorized (HTTP 200) when the Source returns ErrNotFound;
//   - internalError (HTTP 500) when the Source fails or returns a response
//     that is malformed or about another serial;
//   - tryLater (HTTP 503) when the Source's response is past its nextUpdate,
//     which a client would reject anyway (RFC 5019 §4).
//
// Other methods get 405, other POST content types 415, oversized bodies 413
// and oversized GET paths 414.
//
// Base64 may contain "//", which http.ServeMux "cleans" with a redirect.
// Route GET requests to this handler without a ServeMux path cleaning step
// in front (for example, dispatch on strings.HasPrefix(r.URL.Path, "/ocsp/")
// before the mux), or clients whose request encodes to "//" will fail.
type Handler struct {
	src    Source
	mem    MemorySource // src, when it keeps responses in memory
	clock  clock.Clock
	log    *slog.Logger
	prefix string
	maxAge time.Duration
	max    int
	// cacheControl is the Cache-Control value of a response with at least
	// maxAge left before its nextUpdate (all but the last of its life).
	cacheControl []string
	// bufs holds the buffers GET requests are decoded into on the fast
	// path (a request's DER is not kept past the answer).
	bufs sync.Pool
}

// NewHandler returns a Handler serving src.
func NewHandler(src Source, opts Options) (*Handler, error) {
	if src == nil {
		return nil, errors.New("ocspresp: NewHandler needs a Source")
	}
	if opts.Clock == nil {
		return nil, errors.New("ocspresp: NewHandler needs a Clock")
	}
	h := &Handler{src: src, clock: opts.Clock, log: opts.Logger, prefix: opts.Prefix, maxAge: opts.MaxAge, max: opts.MaxRequestBytes}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.prefix == "" {
		h.prefix = "/ocsp/"
	}
	if h.maxAge <= 0 {
		h.maxAge = time.Hour
	}
	if h.max <= 0 {
		h.max = 4096
	}
	h.mem, _ = src.(MemorySource)
	h.cacheControl = []string{cacheControl(h.maxAge)}
	h.bufs.New = func() any { return new([maxFastGET]byte) }
	return h, nil
}

// Unsigned error responses (RFC 6960 §4.2.1): OCSPResponse with only a status.
var (
	respMalformed    = []byte{0x30, 0x03, 0x0a, 0x01, statusMalformedRequest}
	respInternal     = []byte{0x30, 0x03, 0x0a, 0x01, statusInternalError}
	respTryLater     = []byte{0x30, 0x03, 0x0a, 0x01, statusTryLater}
	respUnauthorized = []byte{0x30, 0x03, 0x0a, 0x01, statusUnauthorized}
)

const (
	contentTypeRequest  = "application/ocsp-request"
	contentTypeResponse = "application/ocsp-response"
)

// Header values every answer shares (never modified).
var (
	hdrResponseType = []string{contentTypeResponse}
	hdrNoCache      = []string{"no-cache, no-store"}
)

func cacheControl(maxAge time.Duration) string {
	return fmt.Sprintf("max-age=%d, public, no-transform, must-revalidate", int64(maxAge/time.Second))
}

// ServeHTTP answers one OCSP request. A request for a response its
// MemorySource holds is answered from memory: the GET path decoded into a
// pooled buffer, the CertID read in place, the headers precomputed.
// Everything else takes the full path below.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var der []byte
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		// The fast path reads the percent-decoded path, which is what
		// decodeGET makes of the escaped one; both must carry the prefix.
		if h.mem != nil && (r.URL.RawPath == "" || strings.HasPrefix(r.URL.RawPath, h.prefix)) {
			if raw, ok := strings.CutPrefix(r.URL.Path, h.prefix); ok {
				buf := h.bufs.Get().(*[maxFastGET]byte)
				d, ok := decodeGETInto(buf, raw)
				served := ok && h.serveFromMemory(w, r, d)
				h.bufs.Put(buf)
				if served {
					return
				}
			}
		}
		raw, ok := strings.CutPrefix(r.URL.EscapedPath(), h.prefix)
		if !ok || raw == "" {
			h.writeError(w, http.StatusOK, respMalformed)
			return
		}
		if len(raw) > 4*h.max {
			http.Error(w, "OCSP request too long for GET; use POST", http.StatusRequestURITooLong)
			return
		}
		var err error
		if der, err = decodeGET(raw); err != nil || len(der) > h.max {
			h.log.Debug("ocsp: undecodable GET request", "path", r.URL.EscapedPath(), "error", err)
			h.writeError(w, http.StatusOK, respMalformed)
			return
		}
	case http.MethodPost:
		if ct := r.Header.Get("Content-Type"); ct != "" {
			if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != contentTypeRequest {
				http.Error(w, "Content-Type must be "+contentTypeRequest, http.StatusUnsupportedMediaType)
				return
			}
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(h.max)))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				http.Error(w, "OCSP request too large", http.StatusRequestEntityTooLarge)
				return
			}
			h.writeError(w, http.StatusOK, respMalformed)
			return
		}
		der = body
		if h.mem != nil && h.serveFromMemory(w, r, der) {
			return
		}
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}

	req, err := parseRequest(der)
	if err != nil {
		h.log.Debug("ocsp: malformed request", "error", err)
		h.writeError(w, http.StatusOK, respMalformed)
		return
	}
	resp, err := h.src.Response(r.Context(), req)
	switch {
	case errors.Is(err, ErrNotFound):
		h.writeError(w, http.StatusOK, respUnauthorized)
		return
	case err != nil:
		if r.Context().Err() == nil {
			h.log.Error("ocsp: source failed", "serial", req.SerialNumber.Text(16), "error", err)
		}
		h.writeError(w, http.StatusInternalServerError, respInternal)
		return
	}
	meta, err := readResponseMeta(resp)
	if err != nil {
		h.log.Error("ocsp: source returned a malformed response", "serial", req.SerialNumber.Text(16), "error", err)
		h.writeError(w, http.StatusInternalServerError, respInternal)
		return
	}
	if meta.status != statusSuccessful {
		// A pre-made error response from the Source; pass it on uncached.
		h.writeError(w, http.StatusOK, resp)
		return
	}
	if meta.serial.Cmp(req.SerialNumber) != 0 {
		h.log.Error("ocsp: source returned a response for another serial", "serial", req.SerialNumber.Text(16), "responseSerial", meta.serial.Text(16))
		h.writeError(w, http.StatusInternalServerError, respInternal)
		return
	}
	now := h.clock.Now()
	if meta.nextUpdate.IsZero() || now.After(meta.nextUpdate) {
		h.log.Error("ocsp: source returned a stale response", "serial", req.SerialNumber.Text(16), "nextUpdate", meta.nextUpdate)
		h.writeError(w, http.StatusServiceUnavailable, respTryLater)
		return
	}
	h.writeResponse(w, r, resp, meta, now)
}

// serveFromMemory answers r from the MemorySource, if der is a request of
// the shape ParseCertID reads and the source holds a fresh response for
// it; it reports whether it answered.
func (h *Handler) serveFromMemory(w http.ResponseWriter, r *http.Request, der []byte) bool {
	id, ok := ParseCertID(der)
	if !ok {
		return false
	}
	now := h.clock.Now()
	p := h.mem.Lookup(id, now)
	if p == nil || !bytes.Equal(p.serial, id.Serial) || !now.Before(p.nextUpdate) {
		return false
	}
	hd := w.Header()
	hd["Content-Type"] = hdrResponseType
	hd["Last-Modified"] = p.lastModified
	hd["Expires"] = p.expires
	hd["Etag"] = p.etag
	if left := p.nextUpdate.Sub(now); left >= h.maxAge {
		hd["Cache-Control"] = h.cacheControl
	} else {
		hd["Cache-Control"] = []string{cacheControl(left)}
	}
	if r.Method != http.MethodPost && conditional.NotModified(r, p.etag[0], p.thisUpdate) {
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	hd["Content-Length"] = p.length
	w.WriteHeader(http.StatusOK)
	w.Write(p.der)
	return true
}

// decodeGET turns the path remainder of a GET request into DER. It undoes
// URL encoding (RFC 5019 §5), restores '+' that a proxy turned into a space,
// and accepts padded or unpadded, standard or URL-safe base64.
func decodeGET(raw string) ([]byte, error) {
	s, err := url.PathUnescape(raw)
	if err != nil {
		return nil, err
	}
	s = strings.NewReplacer(" ", "+", "-", "+", "_", "/").Replace(s)
	s = strings.TrimRight(s, "=")
	return base64.RawStdEncoding.DecodeString(s)
}

// parseRequest parses an OCSPRequest, refusing one that asks about more than
// one certificate (RFC 5019 §2.1.1): ocsp.ParseRequest would silently answer
// only the first. It also refuses malformed requestExtensions and
// singleRequestExtensions (RFC 6960 §4.1.1), and anything after
// tbsRequest, which ocsp.ParseRequest skips without reading.
func parseRequest(der []byte) (*ocsp.Request, error) {
	in := cryptobyte.String(der)
	var req, tbs, list, single cryptobyte.String
	if !in.ReadASN1(&req, cbasn1.SEQUENCE) || !req.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!tbs.SkipOptionalASN1(cbasn1.Tag(0).ContextSpecific().Constructed()) || // version
		!tbs.SkipOptionalASN1(cbasn1.Tag(1).ContextSpecific().Constructed()) || // requestorName
		!tbs.ReadASN1(&list, cbasn1.SEQUENCE) ||
		!list.ReadASN1(&single, cbasn1.SEQUENCE) {
		return nil, errors.New("not an OCSP request")
	}
	if !list.Empty() {
		return nil, errors.New("more than one certificate in one request")
	}
	// Nothing may follow tbsRequest: not a signature, which is refused,
	// nor anything else, which ocsp.ParseRequest would skip unread.
	if !req.Empty() || !in.Empty() {
		return nil, errors.New("a signature or other data after tbsRequest")
	}
	if !single.SkipASN1(cbasn1.SEQUENCE) || // reqCert
		!readOptionalExtensions(&single, cbasn1.Tag(0).ContextSpecific().Constructed()) || !single.Empty() ||
		!readOptionalExtensions(&tbs, cbasn1.Tag(2).ContextSpecific().Constructed()) || !tbs.Empty() {
		return nil, errors.New("malformed OCSP request")
	}
	r, err := ocsp.ParseRequest(der)
	if err != nil {
		return nil, err
	}
	if r.SerialNumber == nil {
		return nil, errors.New("no serial")
	}
	return r, nil
}

// readOptionalExtensions reads an optional [tag] EXPLICIT Extensions
// (RFC 5280 §4.1: SEQUENCE SIZE (1..MAX) OF Extension) and reports whether
// it is well formed. The values are not interpreted.
func readOptionalExtensions(s *cryptobyte.String, tag cbasn1.Tag) bool {
	var wrap, exts cryptobyte.String
	var present bool
	if !s.ReadOptionalASN1(&wrap, &present, tag) {
		return false
	}
	if !present {
		return true
	}
	if !wrap.ReadASN1(&exts, cbasn1.SEQUENCE) || !wrap.Empty() || exts.Empty() {
		return false
	}
	for !exts.Empty() {
		var ext, value cryptobyte.String
		var id asn1.ObjectIdentifier
		var critical bool
		if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&id) ||
			!ext.ReadOptionalASN1Boolean(&critical, cbasn1.BOOLEAN, false) ||
			!ext.ReadASN1(&value, cbasn1.OCTET_STRING) || !ext.Empty() {
			return false
		}
	}
	return true
}

func (h *Handler) writeError(w http.ResponseWriter, code int, body []byte) {
	hd := w.Header()
	hd["Content-Type"] = hdrResponseType
	hd.Set("Content-Length", strconv.Itoa(len(body)))
	hd["Cache-Control"] = hdrNoCache
	w.WriteHeader(code)
	w.Write(body)
}

func (h *Handler) writeResponse(w http.ResponseWriter, r *http.Request, resp []byte, m responseMeta, now time.Time) {
	sum := sha256.Sum256(resp)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`
	maxAge := m.nextUpdate.Sub(now)
	if maxAge > h.maxAge {
		maxAge = h.maxAge
	}
	hd := w.Header()
	hd.Set("Content-Type", contentTypeResponse)
	hd.Set("Last-Modified", m.thisUpdate.UTC().Format(http.TimeFormat))
	hd.Set("Expires", m.nextUpdate.UTC().Format(http.TimeFormat))
	hd.Set("ETag", etag)
	hd.Set("Cache-Control", cacheControl(maxAge))
	if r.Method != http.MethodPost && conditional.NotModified(r, etag, m.thisUpdate) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd.Set("Content-Length", strconv.Itoa(len(resp)))
	w.WriteHeader(http.StatusOK)
	w.Write(resp)
}
