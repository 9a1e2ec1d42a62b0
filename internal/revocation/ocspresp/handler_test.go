package ocspresp_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"

	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/revocation/ocspresp"
)

// memSource is a Source over an in-memory table of issued certificates. It
// signs with the real Signer on first use and keeps the result, as a store
// of pre-signed responses would; which answer it gives is what the lead's
// database-backed Source will decide.
type memSource struct {
	ca     *testCA
	signer *ocspresp.Signer

	mu       sync.Mutex
	issued   map[string]ocspresp.Response // serial hex -> status
	signed   map[string][]byte            // serial hex + hash -> pre-signed DER
	fail     error                        // if set, every call fails
	tamper   func([]byte) []byte          // if set, applied to every response
	override []byte                       // if set, returned as is
}

func newMemSource(t *testing.T) *memSource {
	ca := ecdsaCA()
	s, err := ocspresp.NewSigner(ocspresp.SignerConfig{Issuer: ca.cert, Key: ca.key})
	if err != nil {
		t.Fatal(err)
	}
	return &memSource{ca: ca, signer: s, issued: map[string]ocspresp.Response{}, signed: map[string][]byte{}}
}

func (m *memSource) issue(serial *big.Int, status ocspresp.Status, reason int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := goodResponse(serial)
	if status == ocspresp.Revoked {
		r.Status, r.Reason, r.RevokedAt = ocspresp.Revoked, reason, t0.Add(-3*time.Hour)
	}
	m.issued[serial.Text(16)] = r
}

func (m *memSource) Response(_ context.Context, req *ocsp.Request) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	if m.override != nil {
		return m.override, nil
	}
	if !ocspresp.MatchesIssuer(req, m.ca.cert) {
		return nil, fmt.Errorf("issuer: %w", ocspresp.ErrNotFound)
	}
	r, ok := m.issued[req.SerialNumber.Text(16)]
	if !ok {
		return nil, fmt.Errorf("serial %x: %w", req.SerialNumber, ocspresp.ErrNotFound)
	}
	key := fmt.Sprintf("%x/%v", req.SerialNumber, req.HashAlgorithm)
	der, ok := m.signed[key]
	if !ok {
		r.IssuerHash = req.HashAlgorithm
		var err error
		if der, err = m.signer.Sign(r); err != nil {
			return nil, err
		}
		m.signed[key] = der
	}
	if m.tamper != nil {
		der = m.tamper(der)
	}
	return der, nil
}

type env struct {
	src   *memSource
	clock *clock.Fake
	srv   *httptest.Server
}

func newEnv(t *testing.T, opts ocspresp.Options) *env {
	e := &env{src: newMemSource(t), clock: clock.NewFake(t0.Add(time.Hour))}
	opts.Clock = e.clock
	h, err := ocspresp.NewHandler(e.src, opts)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

func request(t *testing.T, issuer *x509.Certificate, serial *big.Int, h crypto.Hash) []byte {
	t.Helper()
	der, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: serial}, issuer, &ocsp.RequestOptions{Hash: h})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// findSerial returns a serial whose SHA-1 request base64-encodes to a string
// accepted by match, so GET encodings with '+', '/' and '=' are exercised.
func findSerial(t *testing.T, issuer *x509.Certificate, match func(string) bool) *big.Int {
	r := mrand.New(mrand.NewPCG(9, 9))
	for i := 0; i < 100000; i++ {
		s := new(big.Int).SetUint64(r.Uint64() | 1<<63)
		s.Lsh(s, 8)
		if match(base64.StdEncoding.EncodeToString(request(t, issuer, s, crypto.SHA1))) {
			return s
		}
	}
	t.Fatal("no suitable serial found")
	return nil
}

type result struct {
	code   int
	header http.Header
	body   []byte
}

func do(t *testing.T, req *http.Request) result {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return result{resp.StatusCode, resp.Header, body}
}

func get(t *testing.T, rawURL string, header ...string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return do(t, req)
}

func post(t *testing.T, url, contentType string, body []byte) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return do(t, req)
}

// statusOf returns the OCSPResponseStatus error of an unsuccessful response,
// or nil for a successful one.
func statusOf(t *testing.T, body []byte, issuer *x509.Certificate) (*ocsp.Response, error) {
	t.Helper()
	r, err := ocsp.ParseResponse(body, issuer)
	var re ocsp.ResponseError
	if errors.As(err, &re) {
		return nil, re
	}
	if err != nil {
		t.Fatalf("unparsable response: %v (%x)", err, body)
	}
	return r, nil
}

// getEncodings returns the ways a client may put a request in a GET URL
// (RFC 5019 §5 and what real clients do).
func getEncodings(der []byte) map[string]string {
	std := base64.StdEncoding.EncodeToString(der)
	return map[string]string{
		"path-escaped":      url.PathEscape(std),
		"query-escaped":     url.QueryEscape(std), // '+' as %2B, '/' as %2F, '=' as %3D
		"raw":               std,
		"unpadded":          strings.TrimRight(std, "="),
		"url-safe":          base64.URLEncoding.EncodeToString(der),
		"url-safe unpadded": base64.RawURLEncoding.EncodeToString(der),
	}
}

// TestHandlerAnswers sends real requests made with ocsp.CreateRequest by GET
// in every encoding and by POST, with SHA-1 and SHA-256 CertIDs, for a good
// and revoked certificates, and checks the signed answer and the RFC 5019
// §6.2 headers.
func TestHandlerAnswers(t *testing.T) {
	e := newEnv(t, ocspresp.Options{})
	ca := e.src.ca
	// Serials whose request encodes with '+', '/' and padding, and with "//".
	tricky := findSerial(t, ca.cert, func(s string) bool {
		return strings.Contains(s, "+") && strings.Contains(s, "/") && strings.HasSuffix(s, "=")
	})
	slashes := findSerial(t, ca.cert, func(s string) bool { return strings.Contains(s, "//") })
	cases := []struct {
		serial *big.Int
		status ocspresp.Status
		reason int
	}{
		{tricky, ocspresp.Good, 0},
		{slashes, ocspresp.Revoked, 1},
		{big.NewInt(0x1001), ocspresp.Revoked, 0},
		{big.NewInt(0x1002), ocspresp.Revoked, 9},
	}
	for _, c := range cases {
		e.src.issue(c.serial, c.status, c.reason)
	}
	check := func(t *testing.T, res result, c struct {
		serial *big.Int
		status ocspresp.Status
		reason int
	}, h crypto.Hash) {
		t.Helper()
		if res.code != http.StatusOK {
			t.Fatalf("HTTP %d: %s", res.code, res.body)
		}
		// ParseResponseForCert checks the signature against the issuer and
		// picks the SingleResponse for this serial.
		r, err := ocsp.ParseResponseForCert(res.body, &x509.Certificate{SerialNumber: c.serial}, ca.cert)
		if err != nil {
			t.Fatalf("ParseResponseForCert: %v", err)
		}
		// BR §4.9.9: 8 h <= nextUpdate - thisUpdate <= 10 days.
		if d := r.NextUpdate.Sub(r.ThisUpdate); d < 8*time.Hour || d > 10*24*time.Hour {
			t.Errorf("validity %v", d)
		}
		if r.SerialNumber.Cmp(c.serial) != 0 || r.Status != int(c.status) || r.RevocationReason != c.reason || r.IssuerHash != h {
			t.Errorf("got serial %x status %d reason %d hash %v", r.SerialNumber, r.Status, r.RevocationReason, r.IssuerHash)
		}
		hd := res.header
		sum := sha256.Sum256(res.body)
		want := map[string]string{
			"Content-Type":  "application/ocsp-response",
			"Last-Modified": r.ThisUpdate.Format(http.TimeFormat),
			"Expires":       r.NextUpdate.Format(http.TimeFormat),
			"ETag":          `"` + hex.EncodeToString(sum[:]) + `"`,
			"Cache-Control": "max-age=3600, public, no-transform, must-revalidate",
		}
		for k, v := range want {
			if got := hd.Get(k); got != v {
				t.Errorf("%s: %q, want %q", k, got, v)
			}
		}
		if hd.Get("Date") == "" || hd.Get("Content-Length") != fmt.Sprint(len(res.body)) {
			t.Errorf("Date %q Content-Length %q", hd.Get("Date"), hd.Get("Content-Length"))
		}
	}
	for _, c := range cases {
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
			der := request(t, ca.cert, c.serial, h)
			for name, enc := range getEncodings(der) {
				t.Run(fmt.Sprintf("GET %s %x %v", name, c.serial, h), func(t *testing.T) {
					check(t, get(t, e.srv.URL+"/ocsp/"+enc), c, h)
				})
			}
			t.Run(fmt.Sprintf("POST %x %v", c.serial, h), func(t *testing.T) {
				check(t, post(t, e.srv.URL+"/ocsp", "application/ocsp-request", der), c, h)
			})
			t.Run(fmt.Sprintf("POST without Content-Type %x %v", c.serial, h), func(t *testing.T) {
				check(t, post(t, e.srv.URL+"/", "", der), c, h)
			})
		}
	}
}

// TestHandlerNeverGoodForUnissued checks BR §4.9.9: a serial that was never
// issued, or a request naming another CA, gets "unauthorized" (RFC 5019
// §2.2.3), uncached, and never a good response.
func TestHandlerNeverGoodForUnissued(t *testing.T) {
	e := newEnv(t, ocspresp.Options{})
	e.src.issue(big.NewInt(0x2001), ocspresp.Good, 0)
	for name, der := range map[string][]byte{
		"unissued serial":         request(t, e.src.ca.cert, big.NewInt(0x2002), crypto.SHA1),
		"unissued serial SHA-256": request(t, e.src.ca.cert, big.NewInt(0x2002), crypto.SHA256),
		"another issuer":          request(t, rsaCA().cert, big.NewInt(0x2001), crypto.SHA1),
	} {
		for _, res := range []result{
			get(t, e.srv.URL+"/ocsp/"+url.PathEscape(base64.StdEncoding.EncodeToString(der))),
			post(t, e.srv.URL+"/ocsp", "application/ocsp-request", der),
		} {
			_, err := statusOf(t, res.body, e.src.ca.cert)
			if res.code != http.StatusOK || !errors.Is(err, ocsp.ResponseError{Status: ocsp.Unauthorized}) {
				t.Errorf("%s: HTTP %d, OCSP %v; want unauthorized", name, res.code, err)
			}
			if cc := res.header.Get("Cache-Control"); !strings.Contains(cc, "no-cache") {
				t.Errorf("%s: Cache-Control %q for a non-authoritative answer (RFC 5019 §6.2)", name, cc)
			}
		}
	}
}

// TestHandlerMalformed checks requests that are not OCSP requests, or ask
// about more than one certificate (RFC 5019 §2.1.1), get malformedRequest.
func TestHandlerMalformed(t *testing.T) {
	e := newEnv(t, ocspresp.Options{})
	ca := e.src.ca
	e.src.issue(big.NewInt(0x3001), ocspresp.Good, 0)
	one := request(t, ca.cert, big.NewInt(0x3001), crypto.SHA1)
	two := twoCertRequest(t, one)
	if _, err := ocsp.ParseRequest(two); err != nil {
		t.Fatalf("the two-certificate request should parse as OCSP: %v", err)
	}
	gets := map[string]string{
		"empty":         "/ocsp/",
		"not base64":    "/ocsp/!!!not-base64",
		"base64 junk":   "/ocsp/" + base64.StdEncoding.EncodeToString([]byte("hello")),
		"truncated":     "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(one[:len(one)-3])),
		"trailing data": "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(append(bytes.Clone(one), 0))),
		"two certs":     "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(two)),
		"wrong prefix":  "/other/" + url.PathEscape(base64.StdEncoding.EncodeToString(one)),
	}
	for name, path := range gets {
		res := get(t, e.srv.URL+path)
		_, err := statusOf(t, res.body, ca.cert)
		if res.code != http.StatusOK || !errors.Is(err, ocsp.ResponseError{Status: ocsp.Malformed}) {
			t.Errorf("GET %s: HTTP %d, OCSP %v; want malformedRequest", name, res.code, err)
		}
	}
	nonce := []byte{0x30, 0x11, 0x30, 0x0f, 0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02, 0x04, 0x02, 0x04, 0x00}
	if res := post(t, e.srv.URL+"/ocsp", "application/ocsp-request", withExtensions(t, one, nonce)); res.code != http.StatusOK {
		t.Fatalf("a request with a nonce: HTTP %d", res.code)
	} else if r, err := statusOf(t, res.body, ca.cert); err != nil || r.SerialNumber.Cmp(big.NewInt(0x3001)) != 0 {
		t.Fatalf("a request with a nonce: %v", err)
	}
	for name, body := range map[string][]byte{"empty": nil, "junk": []byte("hello"), "two certs": two,
		// RFC 6960 §4.1.1: ocsp.ParseRequest skips requestExtensions unread.
		"malformed requestExtensions": withExtensions(t, one, []byte{0x30, 0x31, 0x30, 0x2f}),
		"empty requestExtensions":     withExtensions(t, one, []byte{0x30, 0x00}),
		// Documented above: a signed request is refused, and so is
		// anything else after tbsRequest, which ocsp.ParseRequest ignores.
		"signed":                          afterTBS(t, one, []byte{0xa0, 0x0c, 0x30, 0x0a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x01, 0x00}),
		"a sequence after tbsRequest":     afterTBS(t, one, []byte{0x30, 0x03, 0x02, 0x01, 0x00}),
		"truncated data after tbsRequest": afterTBS(t, one, []byte{0x30, 0x30, 0x30}),
	} {
		res := post(t, e.srv.URL+"/ocsp", "application/ocsp-request", body)
		_, err := statusOf(t, res.body, ca.cert)
		if res.code != http.StatusOK || !errors.Is(err, ocsp.ResponseError{Status: ocsp.Malformed}) {
			t.Errorf("POST %s: HTTP %d, OCSP %v; want malformedRequest", name, res.code, err)
		}
	}
}

// twoCertRequest builds an OCSPRequest whose requestList holds the single
// Request of one twice.
func twoCertRequest(t *testing.T, one []byte) []byte {
	in := cryptobyte.String(one)
	var req, tbs, list, single cryptobyte.String
	if !in.ReadASN1(&req, cbasn1.SEQUENCE) || !req.ReadASN1(&tbs, cbasn1.SEQUENCE) ||
		!tbs.ReadASN1(&list, cbasn1.SEQUENCE) || !list.ReadASN1Element(&single, cbasn1.SEQUENCE) {
		t.Fatal("cannot take the request apart")
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddBytes(single)
				b.AddBytes(single)
			})
		})
	})
	return b.BytesOrPanic()
}

// withExtensions returns one with exts (the DER of an Extensions, well
// formed or not) added as its requestExtensions.
func withExtensions(t *testing.T, one, exts []byte) []byte {
	in := cryptobyte.String(one)
	var req, tbs cryptobyte.String
	if !in.ReadASN1(&req, cbasn1.SEQUENCE) || !req.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		t.Fatal("cannot take the request apart")
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddBytes(tbs)
			b.AddASN1(cbasn1.Tag(2).ContextSpecific().Constructed(), func(b *cryptobyte.Builder) { b.AddBytes(exts) })
		})
	})
	return b.BytesOrPanic()
}

// afterTBS returns one with extra (DER elements, well formed or not) after
// its tbsRequest, inside the OCSPRequest: where optionalSignature goes.
func afterTBS(t *testing.T, one, extra []byte) []byte {
	in := cryptobyte.String(one)
	var req cryptobyte.String
	if !in.ReadASN1(&req, cbasn1.SEQUENCE) {
		t.Fatal("cannot take the request apart")
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(req)
		b.AddBytes(extra)
	})
	return b.BytesOrPanic()
}

// TestHandlerSourceProblems checks what the client sees when the Source
// fails, answers about another serial, returns garbage or a stale response.
func TestHandlerSourceProblems(t *testing.T) {
	e := newEnv(t, ocspresp.Options{})
	ca := e.src.ca
	e.src.issue(big.NewInt(0x4001), ocspresp.Good, 0)
	e.src.issue(big.NewInt(0x4002), ocspresp.Revoked, 1)
	der := request(t, ca.cert, big.NewInt(0x4001), crypto.SHA1)
	other, err := e.src.Response(context.Background(), must(ocsp.ParseRequest(request(t, ca.cert, big.NewInt(0x4002), crypto.SHA1))))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		setup    func()
		httpCode int
		status   ocsp.ResponseStatus
	}{
		{"source fails", func() { e.src.fail = errors.New("database down") }, http.StatusInternalServerError, ocsp.InternalError},
		{"response for another serial", func() { e.src.override = other }, http.StatusInternalServerError, ocsp.InternalError},
		{"garbage response", func() { e.src.override = []byte("garbage") }, http.StatusInternalServerError, ocsp.InternalError},
		{"truncated response", func() { e.src.tamper = func(b []byte) []byte { return b[:len(b)-10] } }, http.StatusInternalServerError, ocsp.InternalError},
		{"stale response (RFC 5019 §4)", func() { e.clock.Set(t0.Add(4*24*time.Hour + time.Second)) }, http.StatusServiceUnavailable, ocsp.TryLater},
		{"pre-made unauthorized response", func() { e.src.override = ocsp.UnauthorizedErrorResponse }, http.StatusOK, ocsp.Unauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.src.fail, e.src.override, e.src.tamper = nil, nil, nil
			e.clock.Set(t0.Add(time.Hour))
			tc.setup()
			res := post(t, e.srv.URL+"/ocsp", "application/ocsp-request", der)
			_, err := statusOf(t, res.body, ca.cert)
			if res.code != tc.httpCode || !errors.Is(err, ocsp.ResponseError{Status: tc.status}) {
				t.Errorf("HTTP %d, OCSP %v; want HTTP %d status %d", res.code, err, tc.httpCode, tc.status)
			}
			if !strings.Contains(res.header.Get("Cache-Control"), "no-store") {
				t.Errorf("error answer cacheable: %q", res.header.Get("Cache-Control"))
			}
		})
	}
}

// TestHandlerHTTP checks the HTTP side: caching headers near nextUpdate,
// conditional GETs, HEAD, methods, content types and size limits.
func TestHandlerHTTP(t *testing.T) {
	e := newEnv(t, ocspresp.Options{MaxRequestBytes: 512})
	ca := e.src.ca
	serial := big.NewInt(0x5001)
	e.src.issue(serial, ocspresp.Good, 0)
	der := request(t, ca.cert, serial, crypto.SHA1)
	path := e.srv.URL + "/ocsp/" + url.PathEscape(base64.StdEncoding.EncodeToString(der))

	first := get(t, path)
	if first.code != http.StatusOK {
		t.Fatalf("HTTP %d", first.code)
	}
	etag, lastMod := first.header.Get("ETag"), first.header.Get("Last-Modified")

	t.Run("max-age never beyond nextUpdate (RFC 5019 §6.1)", func(t *testing.T) {
		e.clock.Set(t0.Add(4*24*time.Hour - 30*time.Minute))
		defer e.clock.Set(t0.Add(time.Hour))
		if cc := get(t, path).header.Get("Cache-Control"); cc != "max-age=1800, public, no-transform, must-revalidate" {
			t.Errorf("Cache-Control %q", cc)
		}
	})
	t.Run("If-None-Match", func(t *testing.T) {
		if r := get(t, path, "If-None-Match", etag); r.code != http.StatusNotModified || len(r.body) != 0 {
			t.Errorf("HTTP %d with %d bytes", r.code, len(r.body))
		}
		if r := get(t, path, "If-None-Match", `"other"`); r.code != http.StatusOK {
			t.Errorf("HTTP %d for a different ETag", r.code)
		}
	})
	t.Run("If-Modified-Since", func(t *testing.T) {
		// A copy from the response's own second may be an earlier response
		// of that second (good, then revoked): the whole response.
		if r := get(t, path, "If-Modified-Since", lastMod); r.code != http.StatusOK {
			t.Errorf("HTTP %d for a copy of the same second", r.code)
		}
		lm, err := http.ParseTime(lastMod)
		if err != nil {
			t.Fatal(err)
		}
		later := lm.Add(time.Second).Format(http.TimeFormat)
		if r := get(t, path, "If-Modified-Since", later); r.code != http.StatusNotModified {
			t.Errorf("HTTP %d for a copy from a later second", r.code)
		}
		earlier := t0.Add(-time.Second).Format(http.TimeFormat)
		if r := get(t, path, "If-Modified-Since", earlier); r.code != http.StatusOK {
			t.Errorf("HTTP %d for an older copy", r.code)
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodHead, path, nil)
		r := do(t, req)
		if r.code != http.StatusOK || len(r.body) != 0 || r.header.Get("ETag") != etag {
			t.Errorf("HTTP %d, %d bytes, ETag %q", r.code, len(r.body), r.header.Get("ETag"))
		}
	})
	t.Run("method not allowed", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPut, e.srv.URL+"/ocsp", bytes.NewReader(der))
		r := do(t, req)
		if r.code != http.StatusMethodNotAllowed || !strings.Contains(r.header.Get("Allow"), "POST") {
			t.Errorf("HTTP %d Allow %q", r.code, r.header.Get("Allow"))
		}
	})
	t.Run("wrong content type", func(t *testing.T) {
		if r := post(t, e.srv.URL+"/ocsp", "application/json", der); r.code != http.StatusUnsupportedMediaType {
			t.Errorf("HTTP %d", r.code)
		}
		if r := post(t, e.srv.URL+"/ocsp", "application/ocsp-request; charset=binary", der); r.code != http.StatusOK {
			t.Errorf("HTTP %d with a parameter on the right type", r.code)
		}
	})
	t.Run("POST too large", func(t *testing.T) {
		if r := post(t, e.srv.URL+"/ocsp", "application/ocsp-request", make([]byte, 513)); r.code != http.StatusRequestEntityTooLarge {
			t.Errorf("HTTP %d", r.code)
		}
	})
	t.Run("GET too long", func(t *testing.T) {
		if r := get(t, e.srv.URL+"/ocsp/"+strings.Repeat("A", 4*512+1)); r.code != http.StatusRequestURITooLong {
			t.Errorf("HTTP %d", r.code)
		}
	})
	t.Run("POST responses carry the caching headers too", func(t *testing.T) {
		r := post(t, e.srv.URL+"/ocsp", "application/ocsp-request", der)
		if r.header.Get("ETag") == "" || !strings.HasPrefix(r.header.Get("Cache-Control"), "max-age=") {
			t.Errorf("headers %v", r.header)
		}
	})
}

// TestHandlerBehindStripPrefix checks the documented mounting under a
// ServeMux with http.StripPrefix and Prefix "/".
func TestHandlerBehindStripPrefix(t *testing.T) {
	src := newMemSource(t)
	serial := big.NewInt(0x6001)
	src.issue(serial, ocspresp.Revoked, 5)
	h, err := ocspresp.NewHandler(src, ocspresp.Options{Clock: clock.NewFake(t0), Prefix: "/"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ocsp/", http.StripPrefix("/ocsp", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	der := request(t, src.ca.cert, serial, crypto.SHA1)
	for _, res := range []result{
		get(t, srv.URL+"/ocsp/"+url.QueryEscape(base64.StdEncoding.EncodeToString(der))),
		post(t, srv.URL+"/ocsp/", "application/ocsp-request", der),
	} {
		r, err := statusOf(t, res.body, src.ca.cert)
		if err != nil || r.Status != ocsp.Revoked || r.RevocationReason != 5 {
			t.Errorf("HTTP %d: %v %+v", res.code, err, r)
		}
	}
}

func TestNewHandlerNeedsSourceAndClock(t *testing.T) {
	if _, err := ocspresp.NewHandler(nil, ocspresp.Options{Clock: clock.Real{}}); err == nil {
		t.Error("no source accepted")
	}
	if _, err := ocspresp.NewHandler(newMemSource(t), ocspresp.Options{}); err == nil {
		t.Error("no clock accepted")
	}
}

// FuzzHandlerGET feeds arbitrary GET paths to the handler, with one serial
// issued: it must never panic, must answer 200 (or 414 for an overlong
// path) with an OCSP response, and may answer successfully only with a
// response signed by the CA about the issued serial; a handler whose source
// also offers its responses from memory answers the same.
func FuzzHandlerGET(f *testing.F) {
	ca := ecdsaCA()
	issued := big.NewInt(0x7001)
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
		der, err := ocsp.CreateRequest(&x509.Certificate{SerialNumber: issued}, ca.cert, &ocsp.RequestOptions{Hash: h})
		if err != nil {
			f.Fatal(err)
		}
		for _, enc := range getEncodings(der) {
			f.Add(enc)
		}
	}
	f.Add("")
	f.Add("%")
	f.Add("MAA=")
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.ParseRequestURI("/ocsp/" + raw)
		if err != nil {
			return // net/http answers 400 before any handler runs
		}
		src := newMemSource(t)
		src.issue(issued, ocspresp.Good, 0)
		h, err := ocspresp.NewHandler(src, ocspresp.Options{Clock: clock.NewFake(t0.Add(time.Hour))})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}, Body: http.NoBody})
		// The same request answered with the responses offered from memory
		// gets the same answer.
		fast, err := ocspresp.NewHandler(&memorySource{memSource: src}, ocspresp.Options{Clock: clock.NewFake(t0.Add(time.Hour))})
		if err != nil {
			t.Fatal(err)
		}
		frec := httptest.NewRecorder()
		fast.ServeHTTP(frec, &http.Request{Method: http.MethodGet, URL: u, Header: http.Header{}, Body: http.NoBody})
		if frec.Code != rec.Code || !bytes.Equal(frec.Body.Bytes(), rec.Body.Bytes()) {
			t.Fatalf("GET %q: HTTP %d from the source, %d with memory, or different bodies", raw, rec.Code, frec.Code)
		}
		switch rec.Code {
		case http.StatusOK:
		case http.StatusRequestURITooLong:
			if len(u.EscapedPath()) <= 4*4096 {
				t.Fatalf("414 for a path of %d bytes", len(u.EscapedPath()))
			}
			return
		default:
			t.Fatalf("GET %q: HTTP %d", raw, rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/ocsp-response" {
			t.Fatalf("GET %q: Content-Type %q", raw, ct)
		}
		resp, err := ocsp.ParseResponse(rec.Body.Bytes(), ca.cert)
		if err != nil {
			var re ocsp.ResponseError
			if !errors.As(err, &re) || (re.Status != ocsp.Malformed && re.Status != ocsp.Unauthorized) {
				t.Fatalf("GET %q: neither a signed response nor malformed/unauthorized: %v", raw, err)
			}
			return
		}
		if resp.SerialNumber.Cmp(issued) != 0 || resp.Status != ocsp.Good {
			t.Fatalf("GET %q: answered %+v", raw, resp)
		}
	})
}

// FuzzHandlerPOST feeds arbitrary bodies to the handler: it must never
// panic, and a body that is not a request for an issued serial must never
// get a successful response.
func FuzzHandlerPOST(f *testing.F) {
	ca := ecdsaCA()
	one, _ := ocsp.CreateRequest(&x509.Certificate{SerialNumber: big.NewInt(0x7001)}, ca.cert, nil)
	f.Add(one)
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, body []byte) {
		src := newMemSource(t)
		h, err := ocspresp.NewHandler(src, ocspresp.Options{Clock: clock.NewFake(t0)})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/ocsp", bytes.NewReader(body))
		h.ServeHTTP(rec, req)
		if _, err := ocsp.ParseResponse(rec.Body.Bytes(), nil); err == nil {
			t.Fatalf("successful response to %x with nothing issued", body)
		}
	})
}
