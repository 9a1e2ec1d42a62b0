package web

import (
	"errors"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/actor"
	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/auth"
)

// Console sign-in, sign-out and the signed-in user's own page. The rules
// (sessions, expiry, failed sign-in limits) are in package auth; see
// docs/architecture.md, "Console sign-in and sessions".

func (s *Server) signinPage(w http.ResponseWriter, r *http.Request) {
	_, err := s.sessionActor(r)
	if err == nil {
		http.Redirect(w, r, "/console", http.StatusSeeOther)
		return
	}
	if apperr.IsKind(err, apperr.KindUnauthenticated) {
		s.clearSessionCookie(w, r)
	}
	s.render(w, http.StatusOK, "signin", &Page{Title: "Sign in"})
}

// remoteIP is the client's address, which the failed sign-in limits count
// per: the TCP peer, unless the peer is one of the configured trusted
// proxies (--trusted-proxy). Then it is the rightmost X-Forwarded-For
// address that is not itself a trusted proxy: every address to its left
// was written by the client or a proxy it chose, and can be anything.
// Without trusted proxies no forwarded header is read at all.
func (s *Server) remoteIP(r *http.Request) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	if !s.trustedProxy(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop := strings.TrimSpace(hops[i])
		if _, err := netip.ParseAddr(hop); err != nil {
			break // malformed: the proxy did not write it
		}
		if !s.trustedProxy(hop) {
			return hop
		}
		peer = hop
	}
	return peer
}

func (s *Server) trustedProxy(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range s.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// secureCookies reports whether the session cookie gets Secure: always
// when the configured public URL is https (a TLS-terminating proxy in
// front of vetca leaves r.TLS nil), and for any request that came over
// TLS.
func (s *Server) secureCookies(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	u, err := url.Parse(s.PublicURL)
	return err == nil && strings.EqualFold(u.Scheme, "https")
}

func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, secret string, expires time.Time) {
	maxAge := int(math.Ceil(expires.Sub(s.Clock.Now()).Seconds()))
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: secret, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.secureCookies(r), MaxAge: max(maxAge, 1)})
}

// clearSessionCookie tells the browser to drop a session cookie it sent.
func (s *Server) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	if _, err := r.Cookie(cookieName); err != nil {
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: s.secureCookies(r), MaxAge: -1})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(r) {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	_ = r.ParseForm()
	if err := badTextInValues(r.PostForm); err != nil {
		s.render(w, http.StatusBadRequest, "signin", &Page{Title: "Sign in", Error: err.Error()})
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	in := auth.SignIn{Name: name, Token: strings.TrimSpace(r.PostForm.Get("token")), Remote: s.remoteIP(r)}
	secret, sess, err := s.Auth.StartSession(r.Context(), in)
	if err != nil {
		page := &Page{Title: "Sign in", Data: signinData{Name: name}}
		var th *auth.ThrottledError
		switch {
		case errors.As(err, &th):
			secs := int(math.Ceil(th.RetryAfter.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			page.Error = "Too many failed sign-ins from this address or for this user. Try again in " + th.RetryAfter.String() + "."
			s.render(w, http.StatusTooManyRequests, "signin", page)
		case apperr.HasCode(err, apperr.CodeIntegrityViolation):
			s.log.Error("integrity violation at console sign-in", "request", requestID(r), "err", err)
			page.Error = err.Error()
			s.render(w, http.StatusUnauthorized, "signin", page)
		case apperr.IsKind(err, apperr.KindUnauthenticated):
			page.Error = "That name and token do not match an active user or account, or the token was revoked."
			s.render(w, http.StatusUnauthorized, "signin", page)
		default:
			s.log.Error("console sign-in", "request", requestID(r), "err", err)
			page.Error = "internal error; logged as request " + requestID(r)
			s.render(w, http.StatusInternalServerError, "signin", page)
		}
		return
	}
	s.setSessionCookie(w, r, secret, sess.ExpiresAt)
	http.Redirect(w, r, "/console", http.StatusSeeOther)
}

// logout ends the session (an audited revocation), so the cookie's value
// is refused from then on even if the browser keeps it, and clears the
// cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if !s.sameOrigin(r) {
		http.Error(w, "cross-site request refused", http.StatusForbidden)
		return
	}
	if c, err := r.Cookie(cookieName); err == nil && c.Value != "" {
		if err := s.Auth.EndSession(r.Context(), c.Value); err != nil {
			s.log.Error("console sign-out", "request", requestID(r), "err", err)
			s.clearSessionCookie(w, r)
			s.render(w, http.StatusInternalServerError, "signin", &Page{Title: "Sign in", Error: "Signing out failed; logged as request " + requestID(r)})
			return
		}
	}
	s.clearSessionCookie(w, r)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// signinData is the sign-in page's after a failed attempt: the name
// given, so it need not be typed again (never the token).
type signinData struct {
	Name string
}

type meData struct {
	CanRotate bool
	NewToken  string
}

func (s *Server) mePage(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	return &Page{Title: "My account", Data: meData{CanRotate: by.IsStaff()}}, "me", nil
}

// meRotateToken gives the signed-in staff user a new API token
// (auth.Service.RotateOwnToken, as POST /api/v1/me/token does) and shows it
// once. The old token is revoked, and a session is refused once its token
// is: every console session signed in with it, in any browser, ends. This
// browser's session is ended explicitly and replaced by one signed in
// with the new token.
func (s *Server) meRotateToken(w http.ResponseWriter, r *http.Request, by actor.Actor) (*Page, string, error) {
	token, err := s.Auth.RotateOwnToken(r.Context(), by)
	if err != nil {
		return &Page{Title: "My account", Data: meData{CanRotate: by.IsStaff()}}, "me", err
	}
	page := &Page{Title: "My account", Data: meData{CanRotate: true, NewToken: token},
		Flash: "Your API token was rotated. Every console session signed in with the old token has ended."}
	if c, err := r.Cookie(cookieName); err == nil {
		if err := s.Auth.EndSession(r.Context(), c.Value); err != nil {
			s.log.Error("end console session after token rotation", "request", requestID(r), "err", err)
		}
	}
	secret, sess, err := s.Auth.StartSession(r.Context(), auth.SignIn{Name: by.Name, Token: token, Remote: s.remoteIP(r)})
	if err != nil {
		s.log.Error("console session with the rotated token", "request", requestID(r), "err", err)
		s.clearSessionCookie(w, r)
		page.Error = "This browser is signed out: sign in again with the new token below."
		return page, "me", nil
	}
	s.setSessionCookie(w, r, secret, sess.ExpiresAt)
	return page, "me", nil
}
