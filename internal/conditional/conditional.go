// Package conditional evaluates the conditional request headers of a GET
// for the objects vetca publishes to relying parties (OCSP responses and
// CRLs), whose Last-Modified is a signed time with one-second resolution.
package conditional

import (
	"net/http"
	"strings"
	"time"
)

// NotModified reports whether a GET or HEAD of a representation with etag
// and lastModified may be answered 304 Not Modified. It evaluates
// If-None-Match, then If-Modified-Since (RFC 9110 §13.2.2). Last-Modified
// (thisUpdate) counts whole seconds, so a response re-signed revoked in
// the same second as the good one a cache holds (or a CRL built again in
// the second of the last) has the same Last-Modified: it is a weak validator (RFC 9110 §8.8.2.2), and
// If-Modified-Since gets 304 only for a copy from a later second than the
// response's, never for one from the same second. The ETag (the
// response's hash) tells them apart.
func NotModified(r *http.Request, etag string, lastModified time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == etag || t == "*" {
				return true
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && lastModified.Truncate(time.Second).Before(t) {
			return true
		}
	}
	return false
}
