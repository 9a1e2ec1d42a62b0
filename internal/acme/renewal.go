package acme

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vetca/vetca/internal/apperr"
	"github.com/vetca/vetca/internal/issuance"
	"github.com/vetca/vetca/internal/serial"
	"github.com/vetca/vetca/internal/store"
)

// ACME Renewal Information (RFC 9773). A client asks, for one of its
// certificates, when it should renew; the answer is a window. Three cases,
// first match wins:
//
//   - the certificate is revoked or expired: the window lies in the past,
//     so the client renews at once;
//   - an open incident holds the certificate unrevoked: the window opens now
//     and closes halfway to the incident's revocation deadline (BR
//     §4.9.1.1), so that automated subscribers have a new certificate in
//     place before the CA revokes the old one;
//   - otherwise: the window is the third of the validity period that ends
//     one sixth of it before notAfter.
//
// The answer is public (RFC 9773 §4.2: no JWS), as OCSP is.

// Exposures tells whether an open incident must revoke a certificate,
// and by when (incident.Service).
type Exposures interface {
	// RevocationDue is the earliest revocation deadline an open incident
	// sets for the certificate serialHex; false when none does.
	RevocationDue(ctx context.Context, serialHex string) (time.Time, bool, error)
}

// Retry-After values of a renewalInfo answer (RFC 9773 §4.3): how soon a
// client should ask again. A certificate under an incident is polled more
// often, so that a deadline moved by a delay incident is seen in time.
const (
	renewalRetry        = 6 * time.Hour
	renewalRetryExposed = time.Hour
)

// renewalWindow is a suggested window.
type renewalWindow struct {
	Start, End time.Time
	Retry      time.Duration
}

// certID is a parsed RFC 9773 §4.1 certificate identifier.
type certID struct {
	AKI    []byte // the keyIdentifier of the certificate's authority key identifier
	Serial string // serial.Hex form
}

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// maxCertID bounds the identifier read (a 20-octet key identifier and a
// 20-octet serial are 55 characters).
const maxCertID = 256

// parseCertID reads base64url(AKI keyIdentifier) "." base64url(serial),
// both unpadded, the serial as the DER INTEGER's content octets: positive
// and minimally encoded (a leading 00 only before an octet with its high
// bit set).
func parseCertID(s string) (certID, error) {
	if len(s) > maxCertID {
		return certID{}, fmt.Errorf("longer than %d characters", maxCertID)
	}
	akiText, snText, ok := strings.Cut(s, ".")
	// The decoder skips CR and LF; an identifier is exactly its alphabet.
	if !ok || strings.Trim(akiText+snText, base64URLAlphabet) != "" {
		return certID{}, fmt.Errorf("it is not base64url(keyIdentifier) \".\" base64url(serial)")
	}
	aki, err := base64.RawURLEncoding.Strict().DecodeString(akiText)
	if err != nil || len(aki) == 0 {
		return certID{}, fmt.Errorf("the key identifier is not unpadded base64url")
	}
	sn, err := base64.RawURLEncoding.Strict().DecodeString(snText)
	if err != nil || len(sn) == 0 {
		return certID{}, fmt.Errorf("the serial is not unpadded base64url")
	}
	switch {
	case sn[0]&0x80 != 0:
		return certID{}, fmt.Errorf("the serial is negative")
	case len(sn) > 1 && sn[0] == 0 && sn[1]&0x80 == 0:
		return certID{}, fmt.Errorf("the serial is not minimally encoded")
	}
	n := new(big.Int).SetBytes(sn)
	if n.Sign() == 0 {
		return certID{}, fmt.Errorf("the serial is zero")
	}
	return certID{AKI: aki, Serial: serial.Hex(n)}, nil
}

// CertID returns the RFC 9773 identifier of a certificate.
func CertID(aki []byte, sn *big.Int) string {
	b := sn.Bytes()
	if len(b) > 0 && b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	return base64.RawURLEncoding.EncodeToString(aki) + "." + base64.RawURLEncoding.EncodeToString(b)
}

// certificateByID finds the certificate an identifier names: a malformed
// identifier is malformed, one that names no certificate of this CA (an
// unknown serial, or another authority's key identifier) is 404.
func (s *Service) certificateByID(ctx context.Context, id string) (issuance.Certificate, error) {
	cid, err := parseCertID(id)
	if err != nil {
		return issuance.Certificate{}, malformed("certificate identifier %q: %v", id, err)
	}
	cert, err := s.Certificates.Certificate(ctx, cid.Serial)
	if apperr.IsKind(err, apperr.KindNotFound) {
		return issuance.Certificate{}, notFound("this server issued no certificate %q", id)
	}
	if err != nil {
		return issuance.Certificate{}, err
	}
	x, err := cert.X509()
	if err != nil {
		return issuance.Certificate{}, err
	}
	if !bytes.Equal(x.AuthorityKeyId, cid.AKI) {
		return issuance.Certificate{}, notFound("this server issued no certificate %q", id)
	}
	return cert, nil
}

// window computes the suggested renewal window of cert at now.
func (s *Service) window(ctx context.Context, cert issuance.Certificate, now time.Time) (renewalWindow, error) {
	past := renewalWindow{Start: now.Add(-time.Hour), End: now, Retry: renewalRetry}
	if !cert.NotAfter.After(now) {
		return past, nil
	}
	if _, revoked, err := s.Revocations.Find(ctx, cert.Serial); err != nil {
		return renewalWindow{}, err
	} else if revoked {
		return past, nil
	}
	if s.Exposures != nil {
		due, exposed, err := s.Exposures.RevocationDue(ctx, cert.Serial)
		if err != nil {
			return renewalWindow{}, err
		}
		if exposed {
			if !due.After(now) {
				return renewalWindow{Start: past.Start, End: past.End, Retry: renewalRetryExposed}, nil
			}
			end := now.Add(max(due.Sub(now)/2, time.Minute)).Truncate(time.Second)
			return renewalWindow{Start: now, End: end, Retry: renewalRetryExposed}, nil
		}
	}
	life := cert.NotAfter.Sub(cert.NotBefore)
	return renewalWindow{Start: cert.NotAfter.Add(-life / 2).Truncate(time.Second),
		End: cert.NotAfter.Add(-life / 6).Truncate(time.Second), Retry: renewalRetry}, nil
}

// renewalInfo is GET /acme/renewal-info/{id} (RFC 9773 §4.2).
func (s *Service) renewalInfo(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	cert, err := s.certificateByID(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	win, err := s.window(ctx, cert, s.now())
	if err != nil {
		return err
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(win.Retry/time.Second)))
	return s.writeJSON(w, r, http.StatusOK, map[string]any{"suggestedWindow": map[string]string{
		"start": win.Start.UTC().Format(time.RFC3339), "end": win.End.UTC().Format(time.RFC3339)}})
}

// checkReplaces checks a new order's replaces field (RFC 9773 §5): it
// must name a certificate of this CA issued to the same vetca account
// that shares at least one name with the order.
func (s *Service) checkReplaces(ctx context.Context, acct *Account, id string, names []string) error {
	cert, err := s.certificateByID(ctx, id)
	var p *Problem
	if errors.As(err, &p) {
		return malformed("replaces: %s", p.Detail)
	}
	if err != nil {
		return err
	}
	if cert.AccountID != acct.AccountID {
		return malformed("replaces: this server issued no certificate %q", id)
	}
	if !slices.ContainsFunc(cert.DNSNames, func(n string) bool { return slices.Contains(names, n) }) {
		return malformed("replaces: certificate %q shares no name with this order", id)
	}
	return s.notReplaced(ctx, s.db, id, "")
}

// notReplaced refuses, with RFC 9773's alreadyReplaced (409), a
// certificate that another order than except already replaced: one naming
// it in replaces that is being finalized or was (processing or valid). A
// pending or ready order does not count, so a client that abandoned one can
// renew with another; finalize checks again inside its transaction,
// serialized with every other finalize naming the same certificate
// (lockReplaced), so two orders never both replace it.
func (s *Service) notReplaced(ctx context.Context, q store.Querier, certID, except string) error {
	named, err := s.tab.orders.Select(ctx, q, `WHERE replaces = ?`, certID)
	if err != nil {
		return err
	}
	for _, o := range named {
		if o.ID != except && (o.Status == StatusProcessing || o.Status == StatusValid) {
			return problem(ProbAlreadyReplaced, http.StatusConflict, "certificate %q was already replaced by order %s", certID, o.ID)
		}
	}
	return nil
}

// lockReplaced serializes the transactions that finalize orders naming
// certID in replaces: a PostgreSQL transaction-scoped advisory lock on the
// identifier (SQLite's write transaction already excludes every other).
func lockReplaced(ctx context.Context, tx *store.Tx, certID string) error {
	return tx.LockName(ctx, "vetca.acme.replaces:"+certID)
}
