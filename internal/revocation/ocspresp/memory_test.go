package ocspresp_test

import (
	"bytes"
	"crypto"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vetca/vetca/internal/clock"
	"github.com/vetca/vetca/internal/revocation/ocspresp"
)

// memorySource is memSource with its signed responses also offered from
// memory (ocspresp.MemorySource), counting what it answered there.
type memorySource struct {
	*memSource
	hits  atomic.Int64
	wrong []byte // if set, Lookup returns a response for this DER instead
}

func (m *memorySource) Lookup(id ocspresp.CertID, now time.Time) *ocspresp.Prepared {
	name, key, err := ocspresp.IssuerHashes(m.ca.cert, id.Hash)
	if err != nil || !bytes.Equal(name, id.NameHash) || !bytes.Equal(key, id.KeyHash) {
		return nil
	}
	m.mu.Lock()
	der, ok := m.signed[fmt.Sprintf("%x/%v", new(big.Int).SetBytes(id.Serial), id.Hash)]
	m.mu.Unlock()
	if !ok {
		return nil
	}
	if m.wrong != nil {
		der = m.wrong
	}
	p, err := ocspresp.Prepare(der)
	if err != nil {
		return nil
	}
	m.hits.Add(1)
	return p
}

// TestMemoryAnswersAsTheSource sends the same requests (GET in every
// encoding, HEAD, POST, conditional GETs, SHA-1 and SHA-256, good and
// revoked, and late in a response's life) to a Handler over a Source and
// to one over the same responses offered from memory, and requires the
// same status, headers (but Date) and body, and that memory answered.
func TestMemoryAnswersAsTheSource(t *testing.T) {
	src := newMemSource(t)
	mem := &memorySource{memSource: src}
	clk := clock.NewFake(t0.Add(time.Hour))
	plain, err := ocspresp.NewHandler(src, ocspresp.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	fast, err := ocspresp.NewHandler(mem, ocspresp.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	slashes := findSerial(t, src.ca.cert, func(s string) bool { return strings.Contains(s, "//") && strings.Contains(s, "+") })
	src.issue(slashes, ocspresp.Good, 0)
	src.issue(big.NewInt(0x80aa), ocspresp.Revoked, 4)
	send := func(h http.Handler, method, target string, body []byte, header ...string) *httptest.ResponseRecorder {
		var req *http.Request
		if body != nil {
			req = httptest.NewRequest(method, target, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/ocsp-request")
		} else {
			req = httptest.NewRequest(method, target, nil)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	same := func(t *testing.T, method, target string, body []byte, header ...string) {
		t.Helper()
		before := mem.hits.Load()
		a := send(plain, method, target, body, header...)
		b := send(fast, method, target, body, header...)
		if a.Code != b.Code || !bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) {
			t.Fatalf("%s %s: source %d %x, memory %d %x", method, target, a.Code, a.Body.Bytes(), b.Code, b.Body.Bytes())
		}
		a.Header().Del("Date")
		b.Header().Del("Date")
		if fmt.Sprint(a.Header()) != fmt.Sprint(b.Header()) {
			t.Fatalf("%s %s: headers from the source %v, from memory %v", method, target, a.Header(), b.Header())
		}
		if mem.hits.Load() == before {
			t.Fatalf("%s %s: not answered from memory", method, target)
		}
	}
	for _, serial := range []*big.Int{slashes, big.NewInt(0x80aa)} {
		for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA256} {
			der := request(t, src.ca.cert, serial, h)
			first := send(plain, http.MethodPost, "/ocsp", der) // signs it once, as the database would hold it
			if first.Code != http.StatusOK {
				t.Fatalf("HTTP %d", first.Code)
			}
			etag, lastMod := first.Header().Get("ETag"), first.Header().Get("Last-Modified")
			for name, enc := range getEncodings(der) {
				t.Run(fmt.Sprintf("%x %v %s", serial, h, name), func(t *testing.T) {
					target := "/ocsp/" + enc
					same(t, http.MethodGet, target, nil)
					same(t, http.MethodHead, target, nil)
					same(t, http.MethodGet, target, nil, "If-None-Match", etag)
					same(t, http.MethodGet, target, nil, "If-None-Match", `"other"`)
					same(t, http.MethodGet, target, nil, "If-Modified-Since", lastMod)
					clk.Set(t0.Add(4*24*time.Hour - 30*time.Minute)) // max-age shrinks to nextUpdate
					same(t, http.MethodGet, target, nil)
					clk.Set(t0.Add(time.Hour))
				})
			}
			same(t, http.MethodPost, "/ocsp", der)
		}
	}
	t.Run("memory is not believed about another serial, nor past nextUpdate", func(t *testing.T) {
		der := request(t, src.ca.cert, slashes, crypto.SHA1)
		other := send(plain, http.MethodPost, "/ocsp", request(t, src.ca.cert, big.NewInt(0x80aa), crypto.SHA1)).Body.Bytes()
		mem.wrong = other
		defer func() { mem.wrong = nil }()
		a, b := send(plain, http.MethodPost, "/ocsp", der), send(fast, http.MethodPost, "/ocsp", der)
		if !bytes.Equal(a.Body.Bytes(), b.Body.Bytes()) {
			t.Fatal("memory's response for another serial was served")
		}
		mem.wrong = nil
		clk.Set(t0.Add(4*24*time.Hour + time.Second)) // after nextUpdate
		defer clk.Set(t0.Add(time.Hour))
		if b := send(fast, http.MethodPost, "/ocsp", der); b.Code != http.StatusServiceUnavailable {
			t.Fatalf("a response past its nextUpdate: HTTP %d", b.Code)
		}
	})
}
